"""The benchmark script runs end to end (--quick); its figures are reported, never asserted."""
import os
import re
import subprocess
import sys

import pytest

from helpers import REPO_ROOT


@pytest.mark.slow  # a minute; the benchmark is run by hand for its figures
def test_benchmark_quick_prints_every_row():
    result = subprocess.run([sys.executable, "experiments/benchmark.py", "--quick"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=900, check=True)
    rows = {m.group(1).strip(): m.group(2) for m in re.finditer(r"^  (.+?)\s+([\d,]+\.\d\d) ", result.stdout, re.M)}
    for name in ("floor: fused train step / 4 + greedy action", "stock keras-rl2 fit: learning", "ours: learning",
                 "ours: warm-up", "replay sample: ours (uint8 arrays)", "checkpoint save, 2,000 frames",
                 "training process resident, 1M frames (extrap.)"):
        assert name in rows, f"missing row {name!r} in:\n{result.stdout}"
        assert float(rows[name].replace(",", "")) > 0


def test_benchmark_config_without_loop_only_is_refused_in_one_line():
    result = subprocess.run([sys.executable, "experiments/benchmark.py", "--config", "pong"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == ("benchmark.py: --config and --set apply to the --loop-only and --train-step rows; "
                                                          "add one of them")
    assert "Traceback" not in result.stderr and "Benchmark on" not in result.stdout


def test_benchmark_loop_only_and_train_step_together_are_refused_in_one_line():
    result = subprocess.run([sys.executable, "experiments/benchmark.py", "--loop-only", "--train-step"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == \
        "benchmark.py: --loop-only and --train-step are two separate runs; give one"
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # a minute: twelve nets' train steps built and timed
def test_benchmark_train_step_prints_a_row_for_each_net_window_and_batch():
    result = subprocess.run([sys.executable, "experiments/benchmark.py", "--train-step", "--config", "pong", "--quick"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=True)
    rows = re.findall(r"^  train step: (\w+), (\d) frames, batch (\d+)\s+[\d,]+\.\d\d ms\s+\d+ us a sample$",
                      result.stdout, re.M)
    assert sorted(rows) == sorted((net, window, size) for net in ("nature", "nips2013") for window in "42"
                                  for size in ("32", "64", "128")), result.stdout
    assert re.search(r"^  floor: the keras_rl preset's train step\s+[\d.]+ ms", result.stdout, re.M)


def test_variant_rows_time_one_env_for_the_config_and_each_variant_on_top_of_it():
    sys.path.insert(0, os.path.join(REPO_ROOT, "experiments"))
    import argparse
    import benchmark

    args = argparse.Namespace(quick=True, warmup=200, learning_steps=400, config="pong",
                              sets=["net=nips2013", "window_length=2"], variants=["n_step=3 batch_size=16"])
    rows = []
    benchmark.variant_rows(args, lambda *r: rows.append(r), rounds=1)
    assert [r[0] for r in rows] == ["floor: the keras_rl preset's train step", "learning, one env: as configured",
                                    "learning, one env: n_step=3 batch_size=16"]
    assert all(r[1] > 0 for r in rows) and rows[1][3] == "best of 1; 1.00x as configured"


def test_a_variant_that_is_not_a_config_is_refused_in_one_line():
    result = subprocess.run([sys.executable, "experiments/benchmark.py", "--loop-only", "--variant", "n_step=zero"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("benchmark.py: --variant: ")


def test_a_bad_set_beside_a_good_variant_is_blamed_on_the_set():
    result = subprocess.run([sys.executable, "experiments/benchmark.py", "--loop-only", "--set", "n_step=zero",
                             "--variant", "n_step=3"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("benchmark.py: ") and "--variant" not in last and "n_step" in last


@pytest.mark.parametrize("flags, line", [
    (["--loop-only", "--set", "num_envs=4"],
     "benchmark.py: --set num_envs: the benchmark sets num_envs itself (each row sets its own); drop it"),
    (["--loop-only", "--variant", "n_step=3 nb_steps_warmup=100"],
     "benchmark.py: --variant nb_steps_warmup: the benchmark sets nb_steps_warmup itself (give --warmup instead); "
     "drop it"),
    (["--train-step", "--set", "actor_process=true"],
     "benchmark.py: --set actor_process: the benchmark sets actor_process itself (--train-step times the train "
     "step alone, with no envs); drop it"),
    (["--train-step", "--set", "net=nips2013"],
     "benchmark.py: --set net: the benchmark sets net itself (--train-step times each net, window length and batch "
     "size); drop it"),
])
def test_keys_the_rows_set_themselves_are_refused_not_overwritten(flags, line):
    result = subprocess.run([sys.executable, "experiments/benchmark.py", *flags], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == line


def test_the_train_step_rows_build_the_net_frames_and_batch_they_name():
    sys.path.insert(0, os.path.join(REPO_ROOT, "experiments"))
    import benchmark

    config = benchmark.bench_config(1000, 5000, preset="pong", sets=["net=nips2013", "window_length=2", "batch_size=64"])
    agent, batch = benchmark.train_step_setup(config)
    assert agent.model.name == "nips2013" and tuple(agent.model.input.shape[1:]) == (2, 84, 84)
    assert batch.state0.shape == batch.state1.shape == (64, 2, 84, 84) and batch.action.shape == (64,)
    assert benchmark.time_train_step(config, repeats=2, rounds=1) > 0


@pytest.mark.slow  # two minutes: 14 short runs of the Pong preset's loop
def test_benchmark_loop_rows_follow_the_preset():
    result = subprocess.run([sys.executable, "experiments/benchmark.py", "--loop-only", "--config", "pong", "--quick"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=True)
    assert "--config pong (PongNoFrameskip-v4, nature net, 4 frames a state, batch 32, train interval 1)" in result.stdout
    for name in ("ours: learning at epsilon 0.01, num_envs 4, actor process", "loop ceiling: trivial model, num_envs 8",
                 "floor: the keras_rl preset's train step"):
        assert re.search(rf"^  {re.escape(name)}\s+[\d,]+\.\d\d (steps/s|ms)", result.stdout, re.M), result.stdout


def test_the_loop_rows_take_the_presets_frames_and_net_in_both_ways_of_acting():
    """The loop rows build what the preset and --set ask for: the near-free learner stacks as many
    frames as the config (2 here, seed 002's wrappers), in this process and in the actor process,
    and the real rows build the config's net."""
    sys.path.insert(0, os.path.join(REPO_ROOT, "experiments"))
    import benchmark

    two_frames = ["window_length=2", "noop_max=0", "max_pool_frames=false"]
    for process in (False, True):
        warm, learn = benchmark.time_our_loop(400, 400, epsilon=0.01, model=benchmark.trivial_model, num_envs=2,
                                              actor_process=process, preset="pong", sets=two_frames)
        assert warm > 0 and learn > 0
    config = benchmark.bench_config(100, 20_000, preset="pong", sets=two_frames + ["net=nips2013"])
    assert (config.window_length, config.net, config.frame_skip, config.max_pool_frames) == (2, "nips2013", 4, False)
    assert benchmark.time_our_loop(400, 400, epsilon=0.01, preset="pong", sets=["net=nips2013"])[1] > 0

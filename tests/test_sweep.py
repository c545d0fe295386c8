"""Sweeps on a real local Ray instance (two CPUs): trials complete, a killed trial worker is
restarted by Ray and ends identical to an uninterrupted trial, a finished sweep starts nothing,
and bad specs are refused in one line before anything starts."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers import REPO_ROOT, log_without_wall_clock

SWEEP = os.path.join(REPO_ROOT, "experiments", "sweep.py")
SPEC = ["--config", "smoke", "--set", "total_steps=1200", "--set", "video=false", "--set", "checkpoint_every=400"]


def sweep(*args, check=True, **kwargs):
    result = subprocess.run([sys.executable, SWEEP, *map(str, args)], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=900, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"sweep failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result




@pytest.fixture(scope="module")
def two_trials(tmp_path_factory):
    sweep_dir = tmp_path_factory.mktemp("sweep") / "two"
    result = sweep("--sweep-dir", sweep_dir, *SPEC, "--seeds", "1,2")
    return sweep_dir, result


def test_a_two_trial_sweep_completes_both_run_folders_and_the_summary(two_trials):
    sweep_dir, result = two_trials
    assert "2 trials: 0 finished, 2 to train" in result.stdout
    for seed in (1, 2):
        run_dir = sweep_dir / f"BreakoutDeterministic-v4-seed{seed}"
        config = json.loads((run_dir / "config.json").read_text())
        assert config["seed"] == seed and config["preset"] == "smoke"
        log = log_without_wall_clock(run_dir)
        assert log[-1]["step"] >= 1200 and [r["episode"] for r in log] == list(range(len(log)))
        assert (run_dir / "weights.h5").stat().st_size > 0
    rows = list(csv.DictReader(open(sweep_dir / "summary.csv")))
    assert [r["seed"] for r in rows] == ["1", "2"] and all(int(r["steps"]) >= 1200 for r in rows)
    assert all(r["eval_mean"] != "" for r in rows)  # the smoke preset evaluates every 1,000 steps
    assert (sweep_dir / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "score mean" in result.stdout and "BreakoutDeterministic-v4  2" in result.stdout
    # Ray holds where each checkpoint is, never the run folders' contents (replay memory).
    pointers = [os.path.join(d, f) for d, _, files in os.walk(sweep_dir / "ray") for f in files if f == "run_checkpoint.json"]
    assert pointers and all(json.load(open(p))["run_dir"].startswith(str(sweep_dir)) for p in pointers)
    assert not [f for _, _, files in os.walk(sweep_dir / "ray") for f in files if f.startswith("entries-")]


def test_rerunning_a_finished_sweep_starts_nothing(two_trials):
    sweep_dir, _ = two_trials
    before = {p: os.path.getmtime(sweep_dir / p / "weights.h5") for p in os.listdir(sweep_dir) if p.startswith("Breakout")}
    result = sweep("--sweep-dir", sweep_dir, *SPEC, "--seeds", "1,2")
    assert "2 trials: 2 finished, 0 to train" in result.stdout
    assert before == {p: os.path.getmtime(sweep_dir / p / "weights.h5") for p in before}


def test_a_killed_trial_worker_is_restarted_and_ends_identical(two_trials, tmp_path):
    reference = two_trials[0] / "BreakoutDeterministic-v4-seed1"
    sweep_dir = tmp_path / "killed"
    run_dir = sweep_dir / "BreakoutDeterministic-v4-seed1"
    process = subprocess.Popen([sys.executable, SWEEP, "--sweep-dir", str(sweep_dir), *SPEC, "--seeds", "1"],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and process.poll() is None and time.monotonic() < deadline:
        checkpoints = os.listdir(run_dir / "checkpoints") if (run_dir / "checkpoints").is_dir() else []
        complete = [n for n in checkpoints if (run_dir / "checkpoints" / n / "MANIFEST.json").exists()]
        if complete and (run_dir / "LOCK").exists():
            try:
                killed = json.loads((run_dir / "LOCK").read_text())["pid"]  # the trial's worker process
                os.kill(killed, signal.SIGKILL)
            except (ValueError, OSError):
                killed = None
        time.sleep(0.05)
    output, _ = process.communicate(timeout=600)
    assert killed is not None, output[-3000:]
    assert process.returncode == 0, output[-3000:]
    assert (run_dir / "weights.h5").read_bytes() == (reference / "weights.h5").read_bytes()
    assert log_without_wall_clock(run_dir) == log_without_wall_clock(reference)
    starts = [json.loads(line) for line in open(run_dir / "segments.jsonl") if '"start"' in line]
    assert len(starts) == 2 and starts[1]["step"] > 0  # Ray restarted it, and it resumed from its checkpoint


@pytest.mark.parametrize("args, fragment", [
    (["--grid", "gama=0.9,0.8"], "unknown config key 'gama'"),
    (["--set", "nope=1"], "unknown config key 'nope'"),
    (["--env-name", "Foo-v4"], "unknown Atari game 'Foo'"),
    (["--grid", "gamma="], "--grid gamma= lists no values"),
    (["--seeds", "one"], "--seeds expects whole numbers"),
    (["--address", "127.0.0.1:9"], "no Ray cluster answers at 127.0.0.1:9"),
])
def test_bad_specs_are_refused_in_one_line_before_anything_starts(tmp_path, args, fragment):
    sweep_dir = tmp_path / "bad"
    result = sweep("--sweep-dir", sweep_dir, *SPEC, *args, check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(errors) == 1 and fragment in errors[0], result.stderr[-2000:]
    assert not sweep_dir.exists()  # nothing started


def test_without_ray_the_sweep_says_how_to_install_it(monkeypatch, capsys, tmp_path):
    import importlib.util
    import runpy

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real_find_spec(name, *a))
    module = runpy.run_path(SWEEP)
    assert module["main"](["--sweep-dir", str(tmp_path / "s")]) == 2
    assert 'pip install ".[sweep]"' in capsys.readouterr().err

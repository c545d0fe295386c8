"""Sweeps on a real local Ray instance (two CPUs): trials complete and print a line as each
starts and ends, a killed trial worker is restarted by Ray (saying so) and ends identical to an
uninterrupted trial, a finished sweep starts nothing, Ray's files stay in the sweep folder, bad
specs are refused in one line before anything starts; and, in-process on the sweep's real run
folders: each trial's config is resolved once, its step read without hashing, and the curves
and table say what they show."""
import csv
import io
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from helpers import REPO_ROOT, log_without_wall_clock

SWEEP = os.path.join(REPO_ROOT, "experiments", "sweep.py")
SPEC = ["--config", "smoke", "--set", "total_steps=1200", "--set", "video=false", "--set", "checkpoint_every=400"]


def sweep(*args, check=True):
    """Run experiments/sweep.py ARGS as a user does; the result also has the driver's `pid`."""
    process = subprocess.Popen([sys.executable, SWEEP, *map(str, args)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    stdout, stderr = process.communicate(timeout=900)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    result.pid = process.pid
    if check and result.returncode != 0:
        raise AssertionError(f"sweep failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result




@pytest.fixture(scope="module")
def two_trials():
    # A short path (pytest's own are too long for Ray's sockets), so Ray's session goes under it.
    root = tempfile.mkdtemp(prefix="sweep-", dir="/tmp")
    sweep_dir = pathlib.Path(root) / "two"
    result = sweep("--sweep-dir", sweep_dir, *SPEC, "--seeds", "1,2")
    yield sweep_dir, result
    shutil.rmtree(root, ignore_errors=True)


def test_a_two_trial_sweep_completes_both_run_folders_and_the_summary(two_trials):
    sweep_dir, result = two_trials
    assert "2 trials: 0 finished, 2 to train" in result.stdout
    for seed in (1, 2):
        run_dir = sweep_dir / f"BreakoutDeterministic-v4-seed{seed}"
        config = json.loads((run_dir / "config.json").read_text())
        assert config["seed"] == seed and config["preset"] == "smoke"
        log = log_without_wall_clock(run_dir)
        assert log[-1]["step"] <= 1200 and [r["episode"] for r in log] == list(range(len(log)))
        assert (run_dir / "weights.h5").stat().st_size > 0
    rows = list(csv.DictReader(open(sweep_dir / "summary.csv")))
    assert [r["seed"] for r in rows] == ["1", "2"] and all(int(r["steps"]) == 1200 for r in rows)  # trained exactly to total_steps
    assert all(r["eval_mean"] != "" for r in rows)  # the smoke preset evaluates every 1,000 steps
    assert (sweep_dir / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "score mean" in result.stdout and "BreakoutDeterministic-v4  2" in result.stdout
    # Ray holds where each checkpoint is, never the run folders' contents (replay memory).
    pointers = [os.path.join(d, f) for d, _, files in os.walk(sweep_dir / "ray") for f in files if f == "run_checkpoint.json"]
    assert pointers and all(json.load(open(p))["run_dir"].startswith(str(sweep_dir)) for p in pointers)
    assert not [f for _, _, files in os.walk(sweep_dir / "ray") for f in files if f.startswith("entries-")]


def test_a_sweep_prints_a_line_as_each_trial_starts_and_ends_and_the_kits_tensorboard_command(two_trials):
    sweep_dir, result = two_trials
    lines = result.stdout.splitlines()
    table = lines.index(next(line for line in lines if line.startswith("env_name")))
    for seed in (1, 2):
        name = f"BreakoutDeterministic-v4-seed{seed}"
        starts = [i for i, line in enumerate(lines) if re.fullmatch(rf"\d\d:\d\d:\d\d  start +{name}: step 0 -> 1,200", line)]
        ends = [i for i, line in enumerate(lines)
                if re.fullmatch(rf"\d\d:\d\d:\d\d  end +{name} at step 1,[\d]{{3}}: eval mean -?[\d.]+ \([12] of 2 trials ended\)", line)]
        assert len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0] < table, result.stdout
    assert f"tensorboard --logdir {sweep_dir}" in result.stdout
    # Ray's own output is off: no tables, and no TensorBoard hint pointing at Ray's files.
    assert "TensorBoard" not in result.stdout + result.stderr and "Configuration for experiment" not in result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


def test_rays_session_files_are_in_the_sweep_folder_not_in_tmp_ray(two_trials):
    sweep_dir, result = two_trials
    # Ray names a session after the process that started it: the sweep's driver.
    sessions = [n for n in os.listdir(sweep_dir / "ray") if re.fullmatch(r"session_[\d_-]+", n)]
    assert len(sessions) == 1 and sessions[0].endswith(f"_{result.pid}"), sessions
    assert (sweep_dir / "ray" / sessions[0] / "logs").is_dir()
    default_dir = os.path.join(tempfile.gettempdir(), "ray")
    others = os.listdir(default_dir) if os.path.isdir(default_dir) else []  # other processes' sessions
    assert not [n for n in others if n.endswith(f"_{result.pid}")]


def test_a_sweep_folder_that_cannot_hold_rays_sockets_keeps_rays_default_and_says_why(monkeypatch):
    import errno
    import socket

    from dqnkit.sweeps import driver

    path, why_not = driver.ray_temp_dir("/tmp/" + "x" * 40)
    assert path is None and "at most 43 characters (it has 49)" in why_not and "shorter --sweep-dir" in why_not

    class DriveSocket(socket.socket):  # a file system that refuses unix sockets
        def bind(self, address):
            raise OSError(errno.EPERM, "Operation not permitted")

    short = tempfile.mkdtemp(prefix="s-", dir="/tmp")
    try:
        assert driver.ray_temp_dir(short) == (os.path.join(short, "ray"), None)
        assert os.listdir(os.path.join(short, "ray")) == []  # the probe socket is gone
        monkeypatch.setattr(driver.socket, "socket", DriveSocket)
        path, why_not = driver.ray_temp_dir(short)
        assert path is None and "cannot hold Ray's sockets (Operation not permitted)" in why_not
    finally:
        shutil.rmtree(short)


def test_the_planner_resolves_each_trials_config_once_and_ray_gets_it_as_plain_data(monkeypatch, tmp_path):
    from dqnkit import resolve
    from dqnkit.sweeps import driver
    from dqnkit.sweeps.trainable import trial_params

    calls = []
    real_resolve = resolve.resolve_config
    monkeypatch.setattr(resolve, "resolve_config", lambda *args: calls.append(args) or real_resolve(*args))
    handed = []
    monkeypatch.setattr(driver, "_fit_on_ray", lambda sweep_dir, todo, *rest: handed.extend(todo))
    driver.run(tmp_path / "s", "smoke", ["BreakoutDeterministic-v4"], [1, 2], {"gamma": [0.99, 0.9]},
               ["total_steps=1200"], stream=io.StringIO())
    assert len(calls) == 4 and len(handed) == 4
    params = [trial_params(trial, 1, 0) for trial in handed]
    assert [p["name"] for p in params] == [f"BreakoutDeterministic-v4-gamma={g}-seed{s}" for g in ("0.99", "0.9")
                                           for s in (1, 2)]
    assert all(type(p["config"]) is dict and p["config"]["total_steps"] == 1200 for p in params)
    assert [(p["config"]["gamma"], p["config"]["seed"]) for p in params] == [(0.99, 1), (0.99, 2), (0.9, 1), (0.9, 2)]
    assert all(p["run_dir"] == str(tmp_path / "s" / p["name"]) and p["target_step"] == 1200 for p in params)


def test_the_trainable_trains_the_planned_config_as_it_is(monkeypatch, tmp_path):
    from dqnkit import configs, resolve
    from dqnkit.configs import parsing
    from dqnkit.sweeps.plan import plan
    from dqnkit.training import runner
    from dqnkit.sweeps.trainable import run_trial, trial_params

    import tensorflow as tf

    trial, = plan(str(tmp_path), "smoke", ["BreakoutDeterministic-v4"], [3], {}, ["total_steps=1200"], steps=500)
    params = trial_params(trial, 1, 0)
    for setter in ("set_intra_op_parallelism_threads", "set_inter_op_parallelism_threads"):
        monkeypatch.setattr(tf.config.threading, setter, lambda n: None)  # TF refuses them once started

    def refuse(*args, **kwargs):
        raise AssertionError("the worker read or checked the config again")

    for module, name in [(resolve, "resolve_config"), (parsing, "from_json_text"), (parsing, "make_config")]:
        monkeypatch.setattr(module, name, refuse)
    trained = []
    monkeypatch.setattr(runner, "train", lambda config, run_dir, steps, **kwargs: trained.append((config, run_dir, steps)))
    run_trial(params)
    (config, run_dir, steps), = trained
    assert configs.to_dict(config) == configs.to_dict(trial.config) and config.seed == 3
    assert run_dir == str(tmp_path / "BreakoutDeterministic-v4-seed3") and steps == 500


def test_a_trial_ended_by_eval_patience_is_finished_counting_only_what_its_checkpoint_holds(tmp_path):
    """A sweep rerun skips a trial eval_patience has ended; an evaluation past the trial's newest
    checkpoint (a kill before the checkpoint that follows it) is redone on resume, so it does not count."""
    from dqnkit.sweeps.plan import plan

    folder = tmp_path / "BreakoutDeterministic-v4-seed3"
    (folder / "checkpoints" / f"ckpt-{500:012d}").mkdir(parents=True)
    (folder / "checkpoints" / f"ckpt-{500:012d}" / "MANIFEST.json").write_text("{}")
    evaluations = [{"step": 250, "mean": 2.0}, {"step": 500, "mean": 2.0}]  # equal is no new best
    (folder / "eval.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evaluations))

    def finished(patience):
        trial, = plan(str(tmp_path), "smoke", ["BreakoutDeterministic-v4"], [3], {},
                      ["eval_every=250", f"eval_patience={patience}"])
        assert trial.start_step == 500
        return trial.finished

    assert finished(1) and not finished(2) and not finished(0)
    with open(folder / "eval.jsonl", "a") as f:
        f.write(json.dumps({"step": 750, "mean": 1.0}) + "\n")
    assert not finished(2)


def test_a_trials_step_is_read_from_its_newest_manifest_without_hashing(two_trials, monkeypatch):
    from dqnkit.run import checkpoint
    from dqnkit.run.folder import RunFolder
    from dqnkit.sweeps.plan import checkpointed_step

    folder = RunFolder(two_trials[0] / "BreakoutDeterministic-v4-seed1")
    verified_step, _ = checkpoint.Checkpointer(folder.checkpoint_dir).latest_complete()
    assert verified_step >= 1200

    def no_hashing(*args, **kwargs):
        raise AssertionError("hashed a checkpoint file")

    monkeypatch.setattr(checkpoint, "sha256_of", no_hashing)
    assert checkpointed_step(folder) == verified_step
    assert checkpointed_step(RunFolder(two_trials[0] / "not-started")) == 0


def test_curves_draw_one_colour_per_setting_a_line_style_per_seed_and_say_their_window(two_trials):
    import matplotlib.colors
    from matplotlib.legend import Legend

    from dqnkit.reporting.plotting import seed_style, sweep_curves_figure

    log = {seed: str(two_trials[0] / f"BreakoutDeterministic-v4-seed{seed}" / "log.jsonl") for seed in (1, 2)}
    fig = sweep_curves_figure([(log[1], "gamma=0.99", 1), (log[2], "gamma=0.99", 2),
                               (log[1], "gamma=0.9", 1), (log[2], "gamma=0.9", 2)])
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert sorted(lines) == ["gamma=0.9, seed 1", "gamma=0.9, seed 2", "gamma=0.99, seed 1", "gamma=0.99, seed 2"]
    colour = {label: matplotlib.colors.to_hex(line.get_color()) for label, line in lines.items()}
    style = {label: (line.get_linestyle(), line.get_marker()) for label, line in lines.items()}
    assert colour["gamma=0.99, seed 1"] == colour["gamma=0.99, seed 2"] != colour["gamma=0.9, seed 1"] == colour["gamma=0.9, seed 2"]
    assert style["gamma=0.99, seed 1"] == style["gamma=0.9, seed 1"] != style["gamma=0.99, seed 2"] == style["gamma=0.9, seed 2"]
    legend_texts = [text.get_text() for legend in ax.findobj(Legend) for text in legend.get_texts()]
    assert sorted(legend_texts) == ["gamma=0.9", "gamma=0.99", "seed 1", "seed 2"]
    # A smoke trial plays a handful of games, not 100: the label says the window shrinks to them.
    assert ax.get_ylabel() == "score: mean of the last min(100, n) games at game n"
    assert len({seed_style(i) for i in range(20)}) == 20  # 20 seeds still look different
    many = sweep_curves_figure([(log[1], f"gamma={g}", 1) for g in range(25)]).axes[0].get_lines()
    assert len({matplotlib.colors.to_hex(line.get_color()) for line in many}) == 25  # and 25 settings


def test_progress_lines_and_rays_messages_from_other_threads_never_share_a_line():
    import threading

    from dqnkit.sweeps.progress import WholeLines

    out = io.StringIO()
    stream = WholeLines(out)
    halfway, done = threading.Event(), threading.Event()

    def ray_thread():  # like print() in Ray's error listener: the text, then the newline
        stream.write("(raylet) A worker died")
        halfway.set()
        done.wait(5)
        stream.write("\n")

    thread = threading.Thread(target=ray_thread)
    thread.start()
    halfway.wait(5)
    stream.write("22:41:28  failed   trial-seed1 (...)\n")
    done.set()
    thread.join(5)
    stream.write("unfinished")
    stream.finish()
    assert out.getvalue() == "22:41:28  failed   trial-seed1 (...)\n(raylet) A worker died\nunfinished"


def test_the_table_says_a_settings_steps_are_a_range_over_its_seeds():
    from dqnkit.sweeps.report import summary_table

    rows = [{"env_name": "Pong", "gamma": 0.9, "steps": steps, "eval_mean": score, "last_games_mean": None}
            for steps, score in ((900, 1.0), (1200, 3.0))]
    header, row, note = summary_table(rows, ["gamma"]).splitlines()
    assert header.split() == ["env_name", "gamma", "seeds", "steps", "(min-max)", "score", "mean", "score", "std"]
    assert row.split() == ["Pong", "0.9", "2", "900-1,200", "2.00", "1.00"]
    assert note.startswith("score: the latest evaluation's mean")


def test_a_trial_that_fails_for_good_says_so_in_one_line_and_the_summary_is_still_written(two_trials, tmp_path):
    sweep_dir = tmp_path / "changed"
    shutil.copytree(two_trials[0] / "BreakoutDeterministic-v4-seed1", sweep_dir / "BreakoutDeterministic-v4-seed1")
    # gamma defines the run: the worker's training refuses to resume it under another value.
    result = sweep("--sweep-dir", sweep_dir, *SPEC, "--set", "total_steps=2400", "--set", "gamma=0.5", "--seeds", "1",
                   "--max-failures", "0", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stdout[-3000:] + result.stderr[-3000:]
    failure = re.search(r"^\d\d:\d\d:\d\d  failed +BreakoutDeterministic-v4-seed1 for good after 0 restarts "
                        r"\((.+)\); its traceback: (\S+) \(1 of 1 trials ended\)$", result.stdout, re.MULTILINE)
    assert failure and "different config (gamma: 0.99 -> 0.5)" in failure.group(1), result.stdout[-3000:]
    assert os.path.isfile(failure.group(2))
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [("error: 1 trial(s) failed after 0 restarts (their lines above say why); fix that and run "
                       "the same command again: every trial continues from its run folder")], result.stderr[-3000:]
    rows = list(csv.DictReader(open(sweep_dir / "summary.csv")))
    assert [r["trial"] for r in rows] == ["BreakoutDeterministic-v4-seed1"] and int(rows[0]["steps"]) == 1200


def test_rerunning_a_finished_sweep_starts_nothing(two_trials):
    sweep_dir, _ = two_trials
    before = {p: os.path.getmtime(sweep_dir / p / "weights.h5") for p in os.listdir(sweep_dir) if p.startswith("Breakout")}
    result = sweep("--sweep-dir", sweep_dir, *SPEC, "--seeds", "1,2")
    assert "2 trials: 2 finished, 0 to train" in result.stdout
    assert before == {p: os.path.getmtime(sweep_dir / p / "weights.h5") for p in before}


@pytest.mark.slow  # a real Ray restart after a SIGKILL, about 40 s; test_resume.py covers kills in training
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
    # ... and said so as it happened, in this order:
    events = [m.group(1) for m in re.finditer(r"^\d\d:\d\d:\d\d  (\w+) +BreakoutDeterministic-v4-seed1", output, re.MULTILINE)]
    assert events == ["start", "failed", "restart", "end"], output[-3000:]
    assert re.search(r"failed +\S+ \(.+\); Ray restarts it \(restart 1 of 3\)$", output, re.MULTILINE), output[-3000:]
    assert f"restart  BreakoutDeterministic-v4-seed1 from its checkpoint at step {starts[1]['step']:,} -> 1,200" in output
    # pytest's tmp_path is too long for Ray's sockets: Ray keeps its default temp dir, and says why.
    assert "note: Ray's session files go to its default temp dir" in output


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

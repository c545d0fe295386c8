"""What several test modules share: where the checkout is, running the CLI as a user does,
reading a run's log without its wall-clock fields (the only ones two equal runs differ in), and
checking that two run folders hold the same run."""
import json
import os
import signal
import subprocess
import sys
import time

from dqnkit.reporting.runlog import continuity_problems, is_wall_clock_field, read_log

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(REPO_ROOT, "experiments", "dqn_atari.py")


def run_cli(*args, timeout=600, check=True, env=None, fresh_process=False):
    """Run `python experiments/dqn_atari.py ARGS` as a user would, and return its exit code,
    stdout and stderr (a ``subprocess.CompletedProcess``).

    By default the CLI's own ``main()`` runs in this process, from the checkout's folder, with a
    new Keras session (``_run_cli_in_this_process``): the same run, byte for byte, as in a process
    of its own, without TensorFlow's seconds of start-up (tests/test_cli.py checks the two agree).
    `fresh_process=True` (implied by `env`) runs it as a subprocess: for what only a real process
    shows (TensorFlow's start-up lines, signals, an interpreter's exit)."""
    if fresh_process or env is not None:
        result = subprocess.run([sys.executable, CLI, *map(str, args)], capture_output=True, text=True,
                                timeout=timeout, cwd=REPO_ROOT, env=env)
    else:
        result = _run_cli_in_this_process([str(arg) for arg in args])
    if check and result.returncode != 0:
        raise AssertionError(f"CLI failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}")
    return result


def _run_cli_in_this_process(argv):
    """``dqn_atari.main(argv)`` with what a new process would give it: a new Keras session (a
    second model in the same graph would name its layers conv1_1, ... in weights.h5), the
    checkout as the working folder, ``sys.argv[0]`` the script, every warning shown once per
    place (``simplefilter("default")``, which shows DeprecationWarnings too; pytest records
    warnings, here they are written to stderr, as the CLI writes them), and ``sys.stdout`` and
    ``sys.stderr`` captured. An exception main() lets through (a bug) becomes exit code 1 and its
    traceback, as in a process.

    What a process would give and this does not: ``run_cli``'s timeout (nothing can stop a call
    in this thread), and the lines of a logging handler made before the call, which holds the
    real stderr (use ``fresh_process=True`` to test those)."""
    import contextlib
    import io
    import traceback
    import warnings

    import tensorflow as tf

    import dqn_atari

    tf.keras.backend.clear_session()
    stdout, stderr = io.StringIO(), io.StringIO()
    old_cwd, old_argv0, old_format = os.getcwd(), sys.argv[0], warnings.formatwarning
    os.chdir(REPO_ROOT)
    sys.argv[0] = CLI
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                returncode = dqn_atari.main(argv)
            except SystemExit as exc:  # argparse: --help, or a bad argument
                if exc.code is not None and not isinstance(exc.code, int):
                    print(exc.code, file=sys.stderr)  # what the interpreter prints for sys.exit("...")
                returncode = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except KeyboardInterrupt:  # Ctrl-C on the suite: stop it, as in a process
                raise
            except BaseException:  # noqa: BLE001 (a bug: the traceback, as a process would print it)
                traceback.print_exc()
                returncode = 1
        for warning in caught:
            stderr.write(warnings.formatwarning(warning.message, warning.category, warning.filename, warning.lineno))
    finally:
        os.chdir(old_cwd)
        sys.argv[0], warnings.formatwarning = old_argv0, old_format
    return subprocess.CompletedProcess(["dqn_atari.py", *argv], returncode, stdout.getvalue(), stderr.getvalue())


def log_without_wall_clock(run_dir):
    """The run's log.jsonl records with every wall-clock field (`runlog.is_wall_clock_field`) left out."""
    with open(os.path.join(run_dir, "log.jsonl"), encoding="utf-8") as f:
        return [{k: v for k, v in json.loads(line).items() if not is_wall_clock_field(k)} for line in f]


def tensorboard_scalars(run_dir):
    """Every scalar of the run's TensorBoard files, as TensorBoard itself reads them (it drops
    points a killed segment logged after the checkpoint the next segment resumed from)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def assert_same_run(run_dir, reference, num_envs=1):
    """Two runs are one: weights, best weights, evaluations, TensorBoard scalars and log.jsonl equal
    but wall clock, and the log one continuous story (every game once, each env's games back to back)."""
    assert (run_dir / "weights.h5").read_bytes() == (reference / "weights.h5").read_bytes()
    ours, theirs = tensorboard_scalars(run_dir), tensorboard_scalars(reference)
    assert set(ours) == set(theirs) and "game/score_smoothed" in ours and "eval/mean" in ours
    for tag in theirs:
        if tag == "speed/steps_per_second":  # wall clock: the only scalar that may differ
            assert [s for s, _ in ours[tag]] == [s for s, _ in theirs[tag]]
        else:
            assert ours[tag] == theirs[tag], tag
    assert (run_dir / "eval.jsonl").read_text() == (reference / "eval.jsonl").read_text()
    if (reference / "best_weights.h5").exists():
        assert (run_dir / "best_weights.h5").read_bytes() == (reference / "best_weights.h5").read_bytes()
    ours, theirs = log_without_wall_clock(run_dir), log_without_wall_clock(reference)
    assert [r["episode"] for r in ours] == list(range(len(ours)))  # every episode once, in order
    assert continuity_problems(read_log(run_dir / "log.jsonl"), read_log(run_dir / "eval.jsonl"), num_envs) == []
    assert ours == theirs


def sigterm_after_first_game(args, run_dir, whole_group=False):
    """Start the CLI with `args` on `run_dir`, send SIGTERM once its first game is logged (to its
    whole process group with `whole_group`, as `timeout` and Slurm do), and return (exit code,
    stderr)."""
    process = subprocess.Popen([sys.executable, CLI, *map(str, args), "--run-dir", str(run_dir)], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=whole_group)
    log, deadline = os.path.join(run_dir, "log.jsonl"), time.monotonic() + 300
    while not os.path.exists(log) or not os.path.getsize(log):
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before its first game"
        time.sleep(0.05)
    if whole_group:
        os.killpg(process.pid, signal.SIGTERM)
    else:
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


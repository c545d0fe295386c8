"""Resuming is indistinguishable from never stopping (smoke preset, 1,200 steps).

A run of the smoke preset with every option on (standard Atari preprocessing, life-loss
terminals, Double and dueling DQN, soft target updates, evaluation) straight through, split into
three segments, stopped by SIGTERM and SIGINT, killed with SIGKILL at random moments and during a
checkpoint write (those in real subprocesses), and restarted from a damaged newest checkpoint: all end with byte-identical ``weights.h5`` and
``best_weights.h5``, the same ``eval.jsonl`` and the same ``log.jsonl`` apart from wall-clock
fields. The example's own settings get a split-run test of their own.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from helpers import CLI, REPO_ROOT, assert_same_run, log_without_wall_clock, run_cli, sigterm_after_first_game
from dqnkit.reporting.runlog import continuity_problems, read_log

PLAIN_SMOKE = ["--mode", "train", "--config", "smoke", "--no-video"]
EVERY_OPTION = ["noop_max=30", "max_pool_frames=true", "terminal_on_life_loss=true", "fire_reset=true",
                "enable_double_dqn=true", "enable_dueling_network=true", "target_model_update=0.05",
                "adam_epsilon=1.5e-4", "delta_clip=inf"]
# 1,200 steps, not the preset's 2,000: learning from step 500, the checkpoint and the evaluation at
# step 1,000, and the run's end at 1,200 in the middle of a game, in about half the time.
SMOKE = PLAIN_SMOKE + ["--set", "total_steps=1200"] + [arg for option in EVERY_OPTION for arg in ("--set", option)]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    run_cli(*SMOKE, "--run-dir", run_dir)
    return run_dir


def test_three_segments_equal_one(straight, tmp_path):
    """Split at step 100 (warm-up, inside game 0) and at 1,001 (learning, inside game 4, just
    after a train step: the next action was drawn before it, and the checkpoint keeps that draw).
    Also with videos on (the straight run has none): recording changes nothing, and a video a
    later segment starts carries the run's episode number, not one restarting at 0."""
    run_dir = tmp_path / "split"
    first = run_cli(*SMOKE, "--video", "--run-dir", run_dir, "--steps", "100")
    assert "Started" in first.stdout
    ends = {r["step"] for r in read_log(straight / "log.jsonl")}
    assert min(ends) > 100 and 1001 not in ends  # so both splits fall inside a game
    first_videos = set(os.listdir(run_dir / "videos"))
    # A resume in a process of its own: nothing may carry over in the test process's memory.
    second = run_cli(*SMOKE, "--video", "--run-dir", run_dir, "--steps", "901", fresh_process=True)
    assert f"Resumed {run_dir} at step 100, in the middle of game" in second.stdout
    checkpoint_state = json.loads((run_dir / "checkpoints" / f"ckpt-{1001:012d}" / "state.json").read_text())
    assert "drawn_action" in checkpoint_state["game"]  # transition 1,000 trained (train_interval 4)
    third = run_cli(*SMOKE, "--video", "--run-dir", run_dir)
    assert f"Resumed {run_dir} at step 1,001, in the middle of game" in third.stdout
    assert_same_run(run_dir, straight)
    episodes = len(log_without_wall_clock(run_dir))
    expected = {f"train-episode-{e}.mp4" for e in (0, 1, 8, 27) if e < episodes}
    assert set(os.listdir(run_dir / "videos")) == expected
    assert first_videos < expected  # some of them were recorded by a later segment
    again = run_cli(*SMOKE, "--video", "--run-dir", run_dir)  # a finished run stays finished
    assert "Nothing to do" in again.stdout and "--set total_steps=N" in again.stdout
    assert_same_run(run_dir, straight)


# The last commit before the kit moved into subpackages (and the runner into phases): its run folders
# must resume unchanged, checkpoints and all.
FLAT_KIT_COMMIT = "0af31ba"


def test_a_run_folder_written_by_the_flat_kit_resumes_as_one_run(straight, tmp_path):
    """The first segment by commit 0af31ba's code (taken from this checkout's git history), the
    second by today's: the run is the straight run of today's code, bitwise."""
    old_kit = tmp_path / "flat-kit"
    old_kit.mkdir()
    archive = subprocess.run(["git", "archive", FLAT_KIT_COMMIT, "experiments", "processors"], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old_kit)], input=archive, check=True)
    env = {**os.environ, "PYTHONPATH": f"{old_kit / 'experiments'}{os.pathsep}{old_kit}"}
    run_dir = tmp_path / "run"
    first = subprocess.run([sys.executable, str(old_kit / "experiments" / "dqn_atari.py"), *SMOKE, "--run-dir",
                            str(run_dir), "--steps", "1000"], capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    imported = subprocess.run([sys.executable, "-c", "import dqnkit.training; print(dqnkit.training.__file__)"],
                              capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert imported == str(old_kit / "experiments" / "dqnkit" / "training.py")  # the flat kit ran, not today's
    second = run_cli(*SMOKE, "--run-dir", run_dir)
    assert f"Resumed {run_dir} at step 1,000" in second.stdout
    assert_same_run(run_dir, straight)


@pytest.mark.slow  # a minute; test_three_segments_equal_one covers splitting with every option on
def test_two_segments_equal_one_with_the_examples_settings(tmp_path):
    straight_run, split_run = tmp_path / "plain-straight", tmp_path / "plain-split"
    run_cli(*PLAIN_SMOKE, "--run-dir", straight_run)
    run_cli(*PLAIN_SMOKE, "--run-dir", split_run, "--steps", "700")
    run_cli(*PLAIN_SMOKE, "--run-dir", split_run)
    assert_same_run(split_run, straight_run)


def test_evaluation_changes_nothing_in_training(straight, tmp_path):
    """The straight run evaluates at step 1,000; one that evaluates (and checkpoints) at step
    1,001 instead trains the same. That step falls just after a train step (train_interval 4):
    between the next action's draw, made before that train step, and the step that takes it."""
    assert [r["step"] for r in read_log(straight / "eval.jsonl")] == [1000]
    drawn_ahead = tmp_path / "eval-after-a-train-step"
    run_cli(*SMOKE, "--run-dir", drawn_ahead, "--set", "eval_every=1001", "--set", "checkpoint_every=1001")
    assert [r["step"] for r in read_log(drawn_ahead / "eval.jsonl")] == [1001]
    assert (drawn_ahead / "weights.h5").read_bytes() == (straight / "weights.h5").read_bytes()
    assert log_without_wall_clock(drawn_ahead) == log_without_wall_clock(straight)


# The killed process checkpoints every 300 steps (a schedule key: the run is the same), so the write
# it dies in comes early, in the warm-up, and the restart, which finds no complete checkpoint before
# it, has 300 steps to redo rather than 1,000.
EARLY_CHECKPOINTS = ["--set", "checkpoint_every=300"]


def _start(run_dir):
    return subprocess.Popen([sys.executable, CLI, *SMOKE, *EARLY_CHECKPOINTS, "--run-dir", str(run_dir)],
                            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _checkpoint_being_written(run_dir):
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return None
    for name in os.listdir(folder):
        if name.startswith("ckpt-") and not (folder / name / "MANIFEST.json").exists():
            return name
    return None


def test_killed_during_a_checkpoint_write_then_restarted(straight, tmp_path):
    run_dir = tmp_path / "killed-in-checkpoint"
    process = _start(run_dir)
    caught = None
    deadline = time.monotonic() + 300
    while caught is None and process.poll() is None and time.monotonic() < deadline:
        name = _checkpoint_being_written(run_dir)
        if name is not None:
            # Freeze it first, then look: the manifest may have landed between poll and signal.
            process.send_signal(signal.SIGSTOP)
            if (run_dir / "checkpoints" / name / "MANIFEST.json").exists():
                process.send_signal(signal.SIGCONT)  # too late for this one; wait for the next
                while _checkpoint_being_written(run_dir) == name:
                    time.sleep(0.001)
            else:
                caught = name
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert caught is not None, "the run ended before a checkpoint write could be interrupted"
    assert not (run_dir / "checkpoints" / caught / "MANIFEST.json").exists()  # really half-written
    # The newest complete checkpoint before the half-written one, or none: the run starts again.
    complete = sorted(int(p.parent.name[len("ckpt-"):]) for p in (run_dir / "checkpoints").glob("ckpt-*/MANIFEST.json"))
    result = run_cli(*SMOKE, "--run-dir", run_dir)
    expected = f"Resumed {run_dir} at step {complete[-1]:,}" if complete else f"Started {run_dir}"
    assert expected in result.stdout, result.stdout
    assert_same_run(run_dir, straight)


def _one_stop_line(stderr, signal_name):
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.startswith("Stopped by")]
    assert len(lines) == 1 and lines[0].startswith(f"Stopped by {signal_name} at step "), stderr[-3000:]
    return lines[0]


def test_sigterm_stops_with_one_line_releases_the_lock_and_the_run_resumes(straight, tmp_path):
    """timeout, Slurm and docker stop send SIGTERM: handled like Ctrl-C, not a silent death."""
    run_dir = tmp_path / "terminated"
    returncode, stderr = sigterm_after_first_game(SMOKE, run_dir)
    assert returncode == 128 + signal.SIGTERM
    line = _one_stop_line(stderr, "SIGTERM")
    stopped_at = int(line.split(" at step ")[1].split(".")[0].replace(",", ""))
    assert line.endswith(f"resume from the checkpoint at step {stopped_at:,}.")  # that very step: nothing to redo
    assert not (run_dir / "LOCK").exists()
    resumed = run_cli(*SMOKE, "--run-dir", run_dir)
    assert "Took over" not in resumed.stdout  # there was no dead trainer's lock to take over
    assert_same_run(run_dir, straight)


def test_ctrl_c_during_a_checkpoint_write_lets_the_write_finish(straight, tmp_path):
    run_dir = tmp_path / "interrupted-in-checkpoint"
    process = subprocess.Popen([sys.executable, CLI, *SMOKE, "--run-dir", str(run_dir)], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    caught = None
    deadline = time.monotonic() + 300
    while caught is None and process.poll() is None and time.monotonic() < deadline:
        name = _checkpoint_being_written(run_dir)
        if name is not None:
            process.send_signal(signal.SIGSTOP)  # freeze it, then look: the manifest may have landed
            if (run_dir / "checkpoints" / name / "MANIFEST.json").exists():
                process.send_signal(signal.SIGCONT)
                while _checkpoint_being_written(run_dir) == name:
                    time.sleep(0.001)
            else:
                caught = name
        time.sleep(0.001)
    assert caught is not None, "the run ended before a checkpoint write could be interrupted"
    process.send_signal(signal.SIGINT)  # arrives in the middle of the write ...
    process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGINT
    assert (run_dir / "checkpoints" / caught / "MANIFEST.json").exists()  # ... which was finished
    step = int(caught.split("-")[1])
    assert f"resume from the checkpoint at step {step:,}" in _one_stop_line(stderr, "SIGINT")
    assert not (run_dir / "LOCK").exists()
    resumed = run_cli(*SMOKE, "--run-dir", run_dir)
    assert f"Resumed {run_dir} at step {step:,}" in resumed.stdout or step >= 1200
    assert_same_run(run_dir, straight)


def test_weights_h5_a_checkpoint_behind_is_rewritten_when_the_run_resumes(straight, tmp_path):
    """A kill between a checkpoint's manifest and weights.h5 (written just after it) leaves
    weights.h5 one checkpoint behind; at the run's last step nothing is left to train, so the
    resume itself puts the checkpoint's weights there (found by the random-kill test below)."""
    run_dir = tmp_path / "behind"
    shutil.copytree(straight, run_dir)
    shutil.copyfile(run_dir / "best_weights.h5", run_dir / "weights.h5")  # weights of an earlier step
    assert (run_dir / "weights.h5").read_bytes() != (straight / "weights.h5").read_bytes()
    result = run_cli(*SMOKE, "--run-dir", run_dir)
    assert "Nothing to do: the run is at step 1,200" in result.stdout
    assert_same_run(run_dir, straight)


@pytest.mark.slow  # a minute of random kills; the kills that matter have tests of their own (mid-write, just after)
def test_killed_at_random_moments_then_restarted(straight, tmp_path):
    run_dir = tmp_path / "killed-randomly"
    rng = random.Random(os.getpid())
    for _ in range(3):
        process = _start(run_dir)
        time.sleep(rng.uniform(4.0, 20.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
    run_cli(*SMOKE, "--run-dir", run_dir)
    assert_same_run(run_dir, straight)


def _damage_truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _damage_flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("target, damage", [
    ("arrays.npz", _damage_truncate),
    pytest.param("memory-chunk", _damage_flip_byte, marks=pytest.mark.slow),  # the same fallback, other files
    pytest.param("MANIFEST.json", _damage_truncate, marks=pytest.mark.slow),
])
def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(straight, tmp_path, target, damage):
    run_dir = tmp_path / "damaged"
    shutil.copytree(straight, run_dir)
    checkpoints = run_dir / "checkpoints"
    newest = sorted(n for n in os.listdir(checkpoints) if n.startswith("ckpt-"))[-1]
    if target == "memory-chunk":
        manifest = json.loads((checkpoints / newest / "MANIFEST.json").read_text())
        path = checkpoints / manifest["memory_chunks"][-1]  # the chunk only the newest one uses
    else:
        path = checkpoints / newest / target
    damage(path)
    (run_dir / "weights.h5").unlink()
    result = run_cli(*SMOKE, "--run-dir", run_dir)
    assert "falling back to an earlier checkpoint" in result.stderr
    assert "Resumed" in result.stdout
    assert_same_run(run_dir, straight)


def test_schedule_keys_may_change_between_segments(straight, tmp_path):
    run_dir = tmp_path / "longer"
    shutil.copytree(straight, run_dir)
    before = log_without_wall_clock(run_dir)
    result = run_cli(*SMOKE, "--run-dir", run_dir, "--set", "total_steps=1700", "--set", "log_interval=250")
    assert "Resumed" in result.stdout
    after = log_without_wall_clock(run_dir)
    assert after[: len(before)] == before and len(after) > len(before)
    assert "Segment done: step 1,700 of 1,700" in result.stdout  # exactly there, in the middle of a game or not
    assert json.loads((run_dir / "config.json").read_text())["total_steps"] == 1700


def test_eval_patience_ends_the_run_alike_in_one_segment_or_two_and_it_stays_ended(tmp_path):
    """eval_patience=2: the run ends at the second evaluation in a row that brings no new best
    mean (equal is not better), with a checkpoint. Split between those two evaluations, the count
    carries over the resume. A run so ended says so when run again, and trains on once the
    patience is lifted. (Evaluations every 150 steps, so the run ends within a few hundred steps:
    the count works the same in the warm-up as after it.)"""
    patient = [*PLAIN_SMOKE, "--set", "eval_every=150", "--set", "eval_patience=2"]
    straight_run, split_run = tmp_path / "straight", tmp_path / "split"
    result = run_cli(*patient, "--run-dir", straight_run)
    evaluations = read_log(straight_run / "eval.jsonl")
    best, in_a_row = evaluations[0]["mean"], []  # in_a_row[i]: evaluations without a new best, up to i
    for evaluation in evaluations:
        in_a_row.append(0 if evaluation["mean"] > best or not in_a_row else in_a_row[-1] + 1)
        best = max(best, evaluation["mean"])
    assert in_a_row[-1] == 2 and 2 not in in_a_row[:-1]  # it ended at the first chance, and evaluated no further
    end = evaluations[-1]["step"]
    assert end < 2000 and f"Run ended by eval_patience=2 at step {end:,} (total_steps 2,000)" in result.stdout
    assert "eval_patience=2: no new best mean in 2 evaluation(s) in a row; the run ends here." in result.stdout
    assert read_log(straight_run / "segments.jsonl")[-1]["reason"] == "eval_patience"

    run_cli(*patient, "--run-dir", split_run, "--steps", str(end - 150))  # ends at the first of the two
    run_cli(*patient, "--run-dir", split_run)
    assert_same_run(split_run, straight_run)
    again = run_cli(*patient, "--run-dir", split_run)
    assert "Nothing to do: the run has ended by eval_patience=2" in again.stdout
    assert "--set eval_patience=0" in again.stdout and "best_weights.h5" in again.stdout
    lifted = run_cli(*PLAIN_SMOKE, "--set", "eval_every=150", "--run-dir", split_run, "--steps", "150")
    assert f"Segment done: step {end + 150:,} of 2,000" in lifted.stdout


def test_output_stays_bounded(tmp_path):
    """A rewritten progress line on a terminal, a summary line per log interval, nothing else."""
    # run_cli keeps every "\r" (a subprocess's text mode would turn them into line breaks)
    stdout = run_cli(*SMOKE, "--run-dir", tmp_path / "run", "--steps", "800", "--progress", "terminal",
                     "--set", "log_interval=100").stdout
    updates = stdout.count("\r")
    lines = stdout.count("\n")
    assert updates >= 2  # the bar was drawn and rewritten
    assert len(stdout) < 200 * (updates + lines)  # O(1) bytes per update
    # throttled to two updates a second, whatever the step rate
    seconds = sum(json.loads(line)["episode_time"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines())
    assert updates <= 2 * seconds + 50
    assert lines <= 800 // 100 + 10
    quiet = run_cli(*SMOKE, "--run-dir", tmp_path / "run2", "--steps", "300")  # not a terminal: no bar at all
    assert "\r" not in quiet.stdout and quiet.stdout.count("\n") < 10


def test_the_continuity_check_catches_a_replayed_a_lost_and_a_shifted_game(straight):
    log, evaluations = read_log(straight / "log.jsonl"), read_log(straight / "eval.jsonl")
    assert len(log) >= 4 and continuity_problems(log, evaluations) == []
    replayed = log[:3] + log[2:]
    lost = log[:2] + log[3:]
    shifted = log[:2] + [dict(log[2], step=log[2]["step"] + 1)] + log[3:]
    assert "episode 2, expected 3" in continuity_problems(replayed)[0]
    assert "episode 3, expected 2" in continuity_problems(lost)[0]
    assert "starts at step" in continuity_problems(shifted)[0]
    # The 1,200-step run evaluates once: a second evaluation, at an earlier step, goes backwards.
    backwards = evaluations + [dict(evaluations[-1], step=evaluations[-1]["step"] - 1)]
    assert "do not increase" in continuity_problems(log, backwards)[0]

"""num_envs = 4 through the CLI, as a user runs it, with and without the actor process: resuming
from any moment (a split inside games, SIGTERM, SIGKILL of either process) ends with the straight
run's bytes, switching actor_process between segments changes nothing, each env plays its own
games (test_training.py compares the one-env actor with keras-rl2's own step)."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from helpers import CLI, REPO_ROOT, assert_same_run, log_without_wall_clock, run_cli, sigterm_after_first_game
from dqnkit.reporting.runlog import read_log

# Every preprocessing option, Double DQN and soft target updates: every piece of state a resume
# needs. 1,200 steps (learning from step 500): checkpoints and evaluations at 600 and 1,200.
FOUR_ENVS = ["--mode", "train", "--config", "smoke", "--no-video", "--set", "num_envs=4"] + [
    arg for option in ("noop_max=30", "max_pool_frames=true", "terminal_on_life_loss=true", "fire_reset=true",
                       "enable_double_dqn=true", "target_model_update=0.05", "train_interval=2",
                       "total_steps=1200", "checkpoint_every=600", "eval_every=600")
    for arg in ("--set", option)]
WITH_ACTOR_PROCESS = ["--set", "actor_process=true"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("four-envs") / "run"
    run_cli(*FOUR_ENVS, "--run-dir", run_dir)
    return run_dir


def test_each_env_plays_its_own_games_in_one_log(straight):
    log = log_without_wall_clock(straight)
    assert {r["env"] for r in log} == {0, 1, 2, 3} and len(log) >= 5
    assert [r["step"] for r in log] == sorted(r["step"] for r in log)  # in the order they end
    # env e's transitions are steps e+1, e+5, ...: a game's last step tells its env
    assert all((r["step"] - r["env"] - 1) % 4 == 0 for r in log)
    first_games = {}
    for r in log:
        first_games.setdefault(r["env"], (r["length"], r["reward"]))
    assert len(set(first_games.values())) > 1  # seeded apart: not four copies of one game


@pytest.mark.slow  # half a minute; the SIGTERM test below (the same run with the actor process) and
# tests/test_n_step.py (the actor process in one segment, not in the next) cover it by default
def test_the_actor_process_is_the_same_run_and_may_switch_on_and_off_between_segments(straight, tmp_path):
    """The first segment plays in an actor process and stops inside games; the second plays in
    one process: the straight one-process run, byte for byte, and videos of env 0 from both."""
    run_dir = tmp_path / "switched"
    first = run_cli(*FOUR_ENVS, *WITH_ACTOR_PROCESS, "--video", "--run-dir", run_dir, "--steps", "804")
    assert "Started" in first.stdout
    second = run_cli(*FOUR_ENVS, "--video", "--run-dir", run_dir)
    assert f"Resumed {run_dir} at step 804" in second.stdout and "4 of 4 envs in the middle of a game" in second.stdout
    assert_same_run(run_dir, straight, num_envs=4)
    starts = [r for r in read_log(run_dir / "segments.jsonl") if r["event"] == "start"]
    assert [r["actor_process"] for r in starts] == [True, False]  # the race's variants
    env0_games = sum(r["env"] == 0 for r in read_log(run_dir / "log.jsonl"))
    videos = set(os.listdir(run_dir / "videos"))
    # every finished game of env 0 on the schedule (0, 1, 8, ...), and the one it was playing at the end
    assert {f"train-episode-{e}.mp4" for e in (0, 1, 8) if e < env0_games} <= videos
    assert videos <= {f"train-episode-{e}.mp4" for e in (0, 1, 8) if e <= env0_games}


@pytest.mark.slow  # the in-process twin of the actor process's SIGTERM test below
def test_sigterm_mid_game_checkpoints_that_step_and_resumes_exactly(straight, tmp_path):
    run_dir = tmp_path / "terminated"
    returncode, stderr = sigterm_after_first_game(FOUR_ENVS, run_dir)
    assert returncode == 128 + signal.SIGTERM and "Traceback" not in stderr
    (line,) = [line for line in stderr.splitlines() if line.startswith("Stopped by SIGTERM at step ")]
    stopped_at = int(line.split(" at step ")[1].split(".")[0].replace(",", ""))
    assert stopped_at % 4 == 0 and line.endswith(f"resume from the checkpoint at step {stopped_at:,}.")
    assert not (run_dir / "LOCK").exists()
    run_cli(*FOUR_ENVS, "--run-dir", run_dir)
    assert_same_run(run_dir, straight, num_envs=4)


def _actor_processes(learner_pid):
    """Pids of the actor processes a learner started (its spawned Python children)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                command = f.read()
        except OSError:
            continue
        if parent == learner_pid and b"spawn_main" in command:
            found.append(int(name))
    return found


def test_eval_patience_ends_the_run_at_the_same_step_with_or_without_the_actor_process(tmp_path):
    """The actor process has played up to the evaluation's step when the learner decides to end
    the run there: the run ends cleanly, and is the one-process run, byte for byte."""
    patient = [*FOUR_ENVS, "--set", "eval_every=300", "--set", "eval_patience=1"]
    in_process, with_actor = tmp_path / "in-process", tmp_path / "actor-process"
    run_cli(*patient, "--run-dir", in_process)
    result = run_cli(*patient, *WITH_ACTOR_PROCESS, "--run-dir", with_actor)
    end = read_log(with_actor / "eval.jsonl")[-1]["step"]
    assert end < 1200 and f"Run ended by eval_patience=1 at step {end:,}" in result.stdout
    assert read_log(with_actor / "segments.jsonl")[-1]["reason"] == "eval_patience"
    assert_same_run(with_actor, in_process, num_envs=4)


@pytest.mark.slow  # half a minute; test_n_step's SIGTERM split (2 envs, the actor process, the whole group) is its default twin
def test_sigterm_with_the_actor_process_stops_both_and_resumes_exactly(straight, tmp_path):
    """SIGTERM to the whole process group (`timeout`, Slurm): the actor ignores it, the learner
    checkpoints and stops both."""
    run_dir = tmp_path / "terminated"
    returncode, stderr = sigterm_after_first_game(FOUR_ENVS + WITH_ACTOR_PROCESS, run_dir, whole_group=True)
    assert returncode == 128 + signal.SIGTERM and "Traceback" not in stderr
    (line,) = [line for line in stderr.splitlines() if line.startswith("Stopped by SIGTERM at step ")]
    stopped_at = int(line.split(" at step ")[1].split(".")[0].replace(",", ""))
    assert stopped_at % 4 == 0 and line.endswith(f"resume from the checkpoint at step {stopped_at:,}.")
    assert not (run_dir / "LOCK").exists()
    run_cli(*FOUR_ENVS, *WITH_ACTOR_PROCESS, "--run-dir", run_dir)
    assert_same_run(run_dir, straight, num_envs=4)


def test_a_killed_actor_process_stops_the_learner_with_one_line_and_the_run_resumes(straight, tmp_path):
    run_dir = tmp_path / "actor-killed"
    process = subprocess.Popen([sys.executable, CLI, *FOUR_ENVS, *WITH_ACTOR_PROCESS, "--run-dir", str(run_dir)],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (run_dir / "log.jsonl").exists() or not (run_dir / "log.jsonl").read_text():
        assert process.poll() is None and time.monotonic() < deadline, "the run ended before its first game"
        time.sleep(0.05)
    (actor,) = _actor_processes(process.pid)
    os.kill(actor, signal.SIGKILL)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2 and "Traceback" not in stderr, stderr[-3000:]
    assert "the actor process ended unexpectedly (exit code -9); run the same command again" in stderr
    assert not (run_dir / "LOCK").exists()
    run_cli(*FOUR_ENVS, *WITH_ACTOR_PROCESS, "--run-dir", run_dir)
    assert_same_run(run_dir, straight, num_envs=4)


@pytest.mark.slow  # three kills and a restart: about two minutes
@pytest.mark.parametrize("actor_process", [False, True])
def test_killed_at_random_moments_then_restarted(straight, tmp_path, actor_process):
    """SIGKILL to the learner; with an actor process, that one dies with it (no orphan left)."""
    run_dir = tmp_path / "killed-randomly"
    args = FOUR_ENVS + (WITH_ACTOR_PROCESS if actor_process else [])
    rng = random.Random(os.getpid())
    for _ in range(3):
        process = subprocess.Popen([sys.executable, CLI, *args, "--run-dir", str(run_dir)], cwd=REPO_ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(4.0, 20.0))
        actors = _actor_processes(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 10
        while any(os.path.exists(f"/proc/{pid}") for pid in actors) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in actors if os.path.exists(f"/proc/{pid}")], "an actor process outlived its learner"
    run_cli(*args, "--run-dir", run_dir)
    assert_same_run(run_dir, straight, num_envs=4)


def test_steps_and_sizes_that_do_not_split_into_vector_steps_are_refused(tmp_path):
    steps = run_cli(*FOUR_ENVS, "--run-dir", tmp_path / "a", "--steps", "1001", check=False)
    assert steps.returncode == 2 and "--steps (1,001) must be a multiple of num_envs (4)" in steps.stderr
    assert "Traceback" not in steps.stderr
    limit = run_cli(*FOUR_ENVS, "--run-dir", tmp_path / "b", "--set", "memory_limit=5001", check=False)
    assert limit.returncode == 2 and "memory_limit (5,001) must be a multiple of num_envs (4)" in limit.stderr
    one_env_process = run_cli("--mode", "train", "--config", "smoke", "--run-dir", tmp_path / "c", *WITH_ACTOR_PROCESS,
                              check=False)
    assert one_env_process.returncode == 2 and "actor_process needs num_envs >= 2" in one_env_process.stderr
    resumed_otherwise = run_cli(*FOUR_ENVS, "--run-dir", tmp_path / "a", "--steps", "8")
    assert "Started" in resumed_otherwise.stdout
    one_env = [arg if arg != "num_envs=4" else "num_envs=1" for arg in FOUR_ENVS]
    other = run_cli(*one_env, "--run-dir", tmp_path / "a", check=False)  # the same run with one env
    assert other.returncode == 2 and "num_envs: 4 -> 1" in other.stderr


def test_an_actor_that_fails_to_start_reports_its_own_error_not_the_close(monkeypatch):
    """When restoring the envs' state fails, the actor closes the envs it made; if a close fails
    too, the restore's error is the one raised, with the close's as a note."""
    from dqnkit import configs
    from dqnkit.acting import local_actor

    made = []

    def make_envs_whose_first_close_fails(config, render_first):
        envs, seeds = real_make(config, render_first=render_first)
        made.extend(envs)

        def broken_close():
            raise OSError("close failed")
        envs[0].close = broken_close
        return envs, seeds

    def broken_restore(*args):
        raise RuntimeError("restore failed")

    real_make = local_actor.make_run_envs
    monkeypatch.setattr(local_actor, "make_run_envs", make_envs_whose_first_close_fails)
    monkeypatch.setattr(local_actor, "restore_envs", broken_restore)
    config = configs.make_config("smoke", {"num_envs": 2})
    with pytest.raises(RuntimeError, match="restore failed") as raised:
        local_actor.LocalActor(config, None, None, None, None, checkpoint=({}, {}))
    assert raised.value.__notes__ == ["closing the envs afterwards also failed: OSError('close failed')"]
    del made[0].close  # the real close, for the env the test broke
    made[0].close()

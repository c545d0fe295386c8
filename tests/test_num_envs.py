"""num_envs = 4 through the CLI, as a user runs it: resuming from any moment (a split inside
games, SIGTERM, SIGKILL, Ctrl-C during a checkpoint write) ends with the straight run's bytes,
each env plays its own games, and one env's run is the run of before (test_training.py compares
the actor with keras-rl2's one-env step)."""
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from helpers import CLI, REPO_ROOT, assert_same_run, log_without_wall_clock, run_cli, sigterm_after_first_game
from dqnkit.runlog import read_log

# Every preprocessing option, Double DQN and soft target updates: every piece of state a resume needs.
FOUR_ENVS = ["--mode", "train", "--config", "smoke", "--no-video", "--set", "num_envs=4"] + [
    arg for option in ("noop_max=30", "max_pool_frames=true", "terminal_on_life_loss=true", "fire_reset=true",
                       "enable_double_dqn=true", "target_model_update=0.05", "train_interval=2")
    for arg in ("--set", option)]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("four-envs") / "run"
    run_cli(*FOUR_ENVS, "--run-dir", run_dir)
    return run_dir


def test_each_env_plays_its_own_games_in_one_log(straight):
    log = log_without_wall_clock(straight)
    assert {r["env"] for r in log} == {0, 1, 2, 3} and len(log) >= 8
    assert [r["step"] for r in log] == sorted(r["step"] for r in log)  # in the order they end
    # env e's transitions are steps e+1, e+5, ...: a game's last step tells its env
    assert all((r["step"] - r["env"] - 1) % 4 == 0 for r in log)
    first_games = {}
    for r in log:
        first_games.setdefault(r["env"], (r["length"], r["reward"]))
    assert len(set(first_games.values())) > 1  # seeded apart: not four copies of one game


def test_split_inside_games_equals_one_run_with_videos_of_env_0(straight, tmp_path):
    run_dir = tmp_path / "split"
    run_cli(*FOUR_ENVS, "--video", "--run-dir", run_dir, "--steps", "1004")
    second = run_cli(*FOUR_ENVS, "--video", "--run-dir", run_dir)
    assert f"Resumed {run_dir} at step 1,004" in second.stdout and "4 of 4 envs in the middle of a game" in second.stdout
    assert_same_run(run_dir, straight, num_envs=4)
    env0_games = sum(r["env"] == 0 for r in read_log(run_dir / "log.jsonl"))
    assert set(os.listdir(run_dir / "videos")) == {f"train-episode-{e}.mp4" for e in (0, 1, 8) if e < env0_games}


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


@pytest.mark.slow  # three kills and a restart: about two minutes
def test_killed_at_random_moments_then_restarted(straight, tmp_path):
    run_dir = tmp_path / "killed-randomly"
    rng = random.Random(os.getpid())
    for _ in range(3):
        process = subprocess.Popen([sys.executable, CLI, *FOUR_ENVS, "--run-dir", str(run_dir)], cwd=REPO_ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(4.0, 20.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
    run_cli(*FOUR_ENVS, "--run-dir", run_dir)
    assert_same_run(run_dir, straight, num_envs=4)


def test_steps_and_sizes_that_do_not_split_into_vector_steps_are_refused(tmp_path):
    steps = run_cli(*FOUR_ENVS, "--run-dir", tmp_path / "a", "--steps", "1001", check=False)
    assert steps.returncode == 2 and "--steps (1,001) must be a multiple of num_envs (4)" in steps.stderr
    assert "Traceback" not in steps.stderr
    limit = run_cli(*FOUR_ENVS, "--run-dir", tmp_path / "b", "--set", "memory_limit=5001", check=False)
    assert limit.returncode == 2 and "memory_limit (5,001) must be a multiple of num_envs (4)" in limit.stderr
    resumed_otherwise = run_cli(*FOUR_ENVS, "--run-dir", tmp_path / "a", "--steps", "8")
    assert "Started" in resumed_otherwise.stdout
    one_env = [arg if arg != "num_envs=4" else "num_envs=1" for arg in FOUR_ENVS]
    other = run_cli(*one_env, "--run-dir", tmp_path / "a", check=False)  # the same run with one env
    assert other.returncode == 2 and "num_envs: 4 -> 1" in other.stderr

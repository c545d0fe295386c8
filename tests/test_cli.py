"""The CLI end to end, as a new user runs it (CleanRL style), and its bad inputs.

The trained run every test here reads is made by a process of its own; most other commands run
the CLI's main() in the test process (helpers.run_cli), and the first test checks that the two
ways make the same run."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers import CLI, REPO_ROOT, assert_same_run, run_cli

LOG_FIELDS = {"step", "episode", "reward", "length", "epsilon", "loss", "mean_q", "episode_time", "sps", "time"}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "smoke"
    result = run_cli("--mode", "train", "--config", "smoke", "--run-dir", run_dir, fresh_process=True)
    return run_dir, result


def test_the_cli_run_in_the_test_process_makes_the_same_run_as_a_process_of_its_own(trained_run, tmp_path):
    """What lets most tests skip TensorFlow's start-up: helpers.run_cli in this process (a second
    Keras session in it, after the tests before) trains the run a new process trains, bitwise;
    also after ``tf.keras.utils.set_random_seed``, as a notebook's first cell may call it (it
    installs a seed generator of tf-keras' own, which the run must not draw its weights from)."""
    import tf_keras

    run_dir, in_a_process = trained_run
    tf_keras.utils.set_random_seed(7)
    here = run_cli("--mode", "train", "--config", "smoke", "--run-dir", tmp_path / "here")
    assert here.stdout.replace(str(tmp_path / "here"), str(run_dir)).splitlines()[0] == in_a_process.stdout.splitlines()[0]
    assert_same_run(tmp_path / "here", run_dir)
    assert sorted(os.listdir(tmp_path / "here" / "videos")) == sorted(os.listdir(run_dir / "videos"))


def test_train_fills_the_run_folder(trained_run):
    run_dir, result = trained_run
    assert "Segment done" in result.stdout
    for name in ("config.json", "log.jsonl", "weights.h5", "eval.jsonl", "best_weights.h5"):
        assert (run_dir / name).stat().st_size > 0, name
    evaluations = [json.loads(line) for line in (run_dir / "eval.jsonl").read_text().splitlines()]
    assert [e["step"] // 1000 for e in evaluations] == [1, 2]  # the smoke preset evaluates every 1,000 steps
    assert all(len(e["scores"]) == e["episodes"] == 1 for e in evaluations)
    assert result.stdout.count("evaluation at step") == 2
    config = json.loads((run_dir / "config.json").read_text())
    assert config["preset"] == "smoke" and config["total_steps"] == 2000
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert LOG_FIELDS <= set(records[0])
    assert [r["episode"] for r in records] == list(range(len(records)))
    assert records[-1]["step"] <= 2000 and sum(r["length"] for r in records) == records[-1]["step"]
    assert any(r["loss"] is not None for r in records)  # learning started within the smoke budget
    # The segment ends at total_steps exactly, in the middle of a game or not.
    assert [n for n in sorted(os.listdir(run_dir / "checkpoints")) if n.startswith("ckpt-")][-1] == f"ckpt-{2000:012d}"
    videos = sorted(os.listdir(run_dir / "videos"))
    assert videos[:2] == ["train-episode-0.mp4", "train-episode-1.mp4"] and "train-episode-8.mp4" in videos


def test_time_to_solve_reads_the_runs_logs(trained_run):
    """experiments/time_to_solve.py on a real run: solved at the first game for a threshold every
    score meets, not solved for one none meets; the segment is named with what ended it."""
    run_dir, _ = trained_run
    script = os.path.join(REPO_ROOT, "experiments", "time_to_solve.py")
    records = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    low = subprocess.run([sys.executable, script, "--run-dir", str(run_dir), "--threshold", "-1000"],
                         capture_output=True, text=True, check=True).stdout
    assert f"solved (mean of the last 100 games >= -1000: {records[0]['reward']:.2f}) at game 1, step " \
           f"{records[0]['step']:,}" in low
    high = subprocess.run([sys.executable, script, "--run-dir", str(run_dir), "--threshold", "1000"],
                          capture_output=True, text=True, check=True).stdout
    assert "not solved yet" in high and f"{len(records):,} games, step {records[-1]['step']:,}" in high
    assert "at step 0 to" in high and ": done" in high  # one segment, ended at total_steps
    # A second run of another variant (its config edited, its first game dropped from its log).
    variant_dir = run_dir.parent / "variant"
    variant_dir.mkdir()
    for name in ("segments.jsonl", "eval.jsonl"):
        shutil.copyfile(run_dir / name, variant_dir / name)
    config = json.loads((run_dir / "config.json").read_text())
    (variant_dir / "config.json").write_text(json.dumps({**config, "n_step": 3, "gamma": 0.98, "eval_every": 250}))
    (variant_dir / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[1:]))
    table = subprocess.run([sys.executable, script, "--run-dir", str(run_dir), "--run-dir", str(variant_dir),
                            "--threshold", "-1000"], capture_output=True, text=True, check=True).stdout
    assert "| run | preset | net | n_step | other changes | seed | num_envs | actor process |" in table
    # One row a run, with what it changed from its preset (a schedule key like eval_every is no change).
    assert f"| smoke | smoke | nature | 1 | - | 123 | 1 | no | 1 | {records[0]['step']:,} | " \
           f"{records[0]['reward']:.2f} | " in table
    assert f"| variant | smoke | nature | 3 | gamma=0.98 | 123 | 1 | no | 1 | {records[1]['step']:,} | " in table
    steps = sorted((records[0]["step"], records[1]["step"]))
    assert f"solved: 2 of 2 runs; agent steps median {sum(steps) / 2:,.0f} (spread {steps[0]:,} to {steps[1]:,})" in table
    missing = subprocess.run([sys.executable, script, "--run-dir", str(run_dir / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr


def test_test_mode_plays_scores_and_records_one_video_per_episode(trained_run):
    run_dir, _ = trained_run
    first = run_cli("--mode", "test", "--run-dir", run_dir, "--episodes", "2")
    assert "Episode 1: score" in first.stdout and "Episode 2: score" in first.stdout
    assert "Mean score over 2 episodes" in first.stdout
    # Where the videos went, numbered as the console counts the episodes (from 1).
    assert f"Videos: {run_dir / 'videos' / 'test-001-episode-1.mp4'} to test-001-episode-2.mp4" in first.stdout
    first_video = (run_dir / "videos" / "test-001-episode-1.mp4").read_bytes()
    second = run_cli("--mode", "test", "--run-dir", run_dir, "--episodes", "1")
    assert f"Videos: {run_dir / 'videos' / 'test-002-episode-1.mp4'}\n" in second.stdout
    # gymnasium warns "Overwriting existing videos" for any existing folder; we silence it because
    # nothing is overwritten: each invocation gets its own prefix.
    assert "Overwriting existing videos" not in first.stderr + second.stderr
    assert (run_dir / "videos" / "test-001-episode-1.mp4").read_bytes() == first_video
    videos = os.listdir(run_dir / "videos")
    for name in ("test-001-episode-1.mp4", "test-001-episode-2.mp4", "test-002-episode-1.mp4"):
        assert name in videos and (run_dir / "videos" / name).stat().st_size > 1000, name
    assert not [name for name in videos if name.startswith("test-") and name.endswith("-episode-0.mp4")]


def test_plot_mode_draws_the_learning_curve(trained_run):
    run_dir, _ = trained_run
    run_cli("--mode", "plot", "--run-dir", run_dir)
    png = (run_dir / "learning_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def _bad(args, fragment):
    _assert_one_line_error(run_cli(*args, check=False), fragment)


def _assert_one_line_error(result, fragment):
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and fragment in error_lines[0], result.stderr[-2000:]


@pytest.mark.parametrize("args, fragment", [
    (["--env-name", "Foo-v4"], "unknown Atari game 'Foo'"),
    (["--env-name", "CartPole-v1"], "unknown env name"),
    (["--set", "nope=1"], "unknown config key 'nope'; valid keys:"),
    (["--set", "gamma=abc"], "gamma must be float"),
    (["--set", "gamma=2"], "gamma must be in [0, 1]"),
    (["--config", "fastest"], "unknown config preset 'fastest'"),
    (["--config", "smoke", "--env-name", "Breakout-v4", "--set", "max_pool_frames=true"], "skips 2 to 4 frames at random"),
    (["--config", "smoke", "--env-name", "PongNoFrameskip-v4", "--set", "max_pool_frames=true"],
     "steps one frame at a time; set frame_skip=4"),
    (["--config", "smoke", "--set", "frame_skip=fast"], "frame_skip must be a whole number, or none"),
    (["--config", "smoke", "--set", "dueling_type=mean"], "dueling_type must be one of avg, max, naive"),
    (["--steps", "0", "--config", "smoke"], "--steps must be a positive number"),
])
def test_bad_names_and_values(tmp_path, args, fragment):
    _bad(args + ["--run-dir", tmp_path / "run"], fragment)


def test_bad_weights(trained_run, tmp_path):
    run_dir, _ = trained_run
    _bad(["--mode", "test", "--run-dir", run_dir, "--weights", tmp_path / "missing.h5"], "does not exist")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file" * 100)
    _bad(["--mode", "test", "--run-dir", run_dir, "--weights", garbage], "cannot read weights")
    _bad(["--mode", "test", "--run-dir", run_dir, "--env-name", "PongDeterministic-v4", "--no-video"],
         "do not fit the net this config builds for PongDeterministic-v4: nature, 4 frames a state, 6 actions")
    _bad(["--mode", "test", "--run-dir", tmp_path / "empty", "--config", "smoke", "--env-name", "ALE/Pong-v5"],
         "no weights found")  # weights/ ships a Breakout agent, none for Pong


def test_weights_given_as_a_folder(trained_run):
    run_dir, _ = trained_run
    _bad(["--mode", "test", "--run-dir", run_dir, "--weights", run_dir, "--no-video"],
         f"weights {run_dir} is a folder, not a weights file; pass one of its files (best_weights.h5, weights.h5)")


def test_a_dueling_config_with_plain_weights_names_the_models_shape(trained_run):
    run_dir, _ = trained_run
    _bad(["--mode", "test", "--run-dir", run_dir, "--set", "enable_dueling_network=true", "--no-video"],
         "this config builds for BreakoutDeterministic-v4: nature, 4 frames a state, 4 actions, dueling; the file "
         "holds nature, 4 frames a state, 4 actions, plain")


def _read_only(folder):
    """A command prefix that runs a command with `folder` mounted read-only (a private mount in a
    user namespace: as root, as CI runs, file permissions alone would not stop the writes)."""
    return ["unshare", "--map-root-user", "--mount", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(folder)]


@pytest.mark.parametrize("mode_args", [["--mode", "test", "--episodes", "1"], ["--mode", "plot"]])
def test_read_only_run_folder_in_test_and_plot_modes(trained_run, tmp_path, mode_args):
    import shutil
    import subprocess
    import sys

    from helpers import CLI, REPO_ROOT

    run_dir = tmp_path / "read-only-run"
    shutil.copytree(trained_run[0], run_dir, ignore=shutil.ignore_patterns("videos", "checkpoints"))
    result = subprocess.run([*_read_only(run_dir), sys.executable, CLI, *mode_args, "--run-dir", str(run_dir)],
                            capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    _assert_one_line_error(result, f"error: cannot write to {run_dir}")
    assert "(Read-only file system)" in result.stderr


def test_unwritable_run_folder(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    _bad(["--config", "smoke", "--run-dir", blocker / "run"], "cannot write to run folder")


def test_resuming_with_a_different_run_defining_config_is_refused(trained_run):
    run_dir, _ = trained_run
    _bad(["--run-dir", run_dir, "--config", "smoke", "--set", "gamma=0.5", "--set", "window_length=2"],
         "different config (window_length: 4 -> 2, gamma: 0.99 -> 0.5)")


def test_help_lists_every_config_key():
    result = run_cli("--help")
    assert "epsilon_steps" in result.stdout and "--env-name" in result.stdout
    for key in ("enable_double_dqn", "dueling_type", "adam_epsilon", "noop_max", "max_pool_frames",
                "terminal_on_life_loss", "fire_reset", "eval_every", "eval_episodes", "n_step", "nips2013", "pong_fast"):
        assert key in result.stdout, key


def test_the_same_entry_point_takes_an_easydict(trained_run):
    """Notebooks call run() with an easydict instead of argv (argparse fails in notebooks)."""
    from easydict import EasyDict

    import dqn_atari

    run_dir, _ = trained_run
    png = dqn_atari.run(EasyDict(mode="plot", run_dir=str(run_dir)))
    assert png.endswith("learning_curve.png") and os.path.getsize(png) > 10_000
    with pytest.raises(dqn_atari.UserError, match="unknown mode"):
        dqn_atari.run(EasyDict(mode="watch", run_dir=str(run_dir)))


def test_the_installed_console_script_is_the_same_cli():
    """pip install . (CI: -e .) puts a `dqn-atari` command beside the interpreter."""
    import shutil
    import subprocess
    import sys

    script = shutil.which("dqn-atari", path=os.path.dirname(sys.executable))
    assert script is not None
    result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--mode" in result.stdout and "fire_reset" in result.stdout


STARTUP_NOISE = ("absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers",
                 "failed call to cuInit", "A.L.E: Arcade Learning Environment", "[Powered by Stella]")


def test_a_missing_weights_file_is_one_line_and_nothing_is_made(tmp_path):
    """Checked before anything is printed or created: no "Playing ..." line, no ALE banner, no
    empty runs/.../videos/, and none of TensorFlow's start-up lines."""
    result = subprocess.run([sys.executable, CLI, "--mode", "test", "--weights", str(tmp_path / "nonexistent.h5")],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [f"error: weights file {tmp_path / 'nonexistent.h5'} does not exist; "
                                                  "check the path or train first"]
    assert os.listdir(tmp_path) == []


def test_tensorflows_start_up_lines_are_quiet_unless_the_user_asks_for_them(trained_run, tmp_path):
    """Train (with the actor process: a second process that loads TensorFlow too) and test mode
    print none of TensorFlow's start-up lines (nor, on a machine without a GPU, its cuInit error),
    ALE's banner or gymnasium's "Overwriting existing videos" warning; a TF_CPP_MIN_LOG_LEVEL the
    user set brings TensorFlow's lines back."""
    run_dir, _ = trained_run
    trained = run_cli("--mode", "train", "--config", "smoke", "--run-dir", tmp_path / "two", "--steps", "200",
                      "--set", "num_envs=2", "--set", "actor_process=true", "--set", "eval_every=0",
                      fresh_process=True)
    tested = run_cli("--mode", "test", "--run-dir", run_dir, "--episodes", "1", fresh_process=True)
    for result in (trained, tested):
        output = result.stdout + result.stderr
        assert not [noise for noise in STARTUP_NOISE if noise in output], output
        assert "Overwriting existing videos" not in output
    asked = run_cli("--mode", "test", "--run-dir", run_dir, "--episodes", "1", "--no-video",
                    env={**{k: v for k, v in os.environ.items() if k != "DQNKIT_SET_TF_CPP_MIN_LOG_LEVEL"},
                         "TF_CPP_MIN_LOG_LEVEL": "0"})  # as a user's shell has it: the kit's marker is not there
    assert "oneDNN custom operations" in asked.stderr or "absl::InitializeLog" in asked.stderr


def test_tensorflows_errors_still_show_after_start_up():
    """Quieting the start-up keeps TensorFlow's C++ ERROR lines (a level of 3 would hide them for
    the whole run) and hides its WARNING lines; here TensorFlow's own PrintV2 op logs one of each."""
    script = ("import dqnkit.compat, tensorflow as tf\n"
              "ops = [tf.raw_ops.PrintV2(input=tf.constant(f'a C++ {level} line'), output_stream=f'log({level})')\n"
              "       for level in ('error', 'warning')]\n"
              "tf.compat.v1.Session().run(ops)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "DQNKIT_SET_TF_CPP_MIN_LOG_LEVEL")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert "a C++ error line" in result.stderr and "a C++ warning line" not in result.stderr

"""The kit's wheel, built as the README says (``pip wheel --no-deps -w dist .``), for the tests
that install it. Imports nothing of the kit: the Colab-runtime tests use it before the kit is there."""
import os
import shutil
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def copy_of_the_kit(target):
    """The checkout as a user has it: its files, none of this machine's build or run leftovers
    (setuptools writes build/ and *.egg-info into the folder it builds, so tests build copies)."""
    shutil.copytree(REPO_ROOT, target, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "runs", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    return target


def build_wheel(source):
    """The wheel built from the checkout `source` (a copy_of_the_kit) with the running interpreter's pip."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", "dist", "."], cwd=source,
                   check=True, capture_output=True, timeout=600)
    (wheel,) = (source / "dist").glob("dqn_atari_kit-*.whl")
    return wheel


def play_from_an_empty_folder(command, folder):
    """`command --mode test --episodes 1` (an installed dqn-atari) run in the empty `folder`
    without PYTHONPATH; checks that it played the shipped Breakout agent from the installed
    package and recorded its video where it says."""
    os.makedirs(folder)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what is installed
    result = subprocess.run([command, "--mode", "test", "--episodes", "1"], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    shipped = os.path.join("site-packages", "dqnkit", "shipped", "dqn_BreakoutDeterministic-v4_weights.h5")
    assert f"Playing {os.path.dirname(os.path.dirname(command))}" in result.stdout and shipped in result.stdout, result.stdout
    assert "Episode 1: score" in result.stdout and "Mean score over 1 episodes" in result.stdout
    video = os.path.join(folder, "runs", "BreakoutDeterministic-v4-fast-seed123", "videos", "test-001-episode-1.mp4")
    assert f"Videos: {video}" in result.stdout and os.path.getsize(video) > 10_000
    return result

"""The kit as a wheel: what goes in (the shipped agents, not their pictures), and that an installed
wheel in a fresh virtual environment plays the shipped agent from any folder (slow; CI's Colab
step, tests/test_colab_runtime.py, does the same in its environment)."""
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from wheel_build import build_wheel, copy_of_the_kit, play_from_an_empty_folder


def test_the_wheel_carries_every_shipped_agent_and_nothing_else_of_weights(tmp_path):
    source = copy_of_the_kit(tmp_path / "kit")
    # An agent added to weights/ later (say Pong's) travels without touching pyproject.toml.
    for suffix in ("_weights.h5", "_config.json", ".gif"):
        shutil.copyfile(source / "weights" / f"dqn_BreakoutDeterministic-v4{suffix}",
                        source / "weights" / f"dqn_PongNoFrameskip-v4{suffix}")
    with zipfile.ZipFile(build_wheel(source)) as wheel:
        shipped = sorted(name for name in wheel.namelist() if name.startswith("dqnkit/shipped/"))
        originals = {name: wheel.read(name) for name in shipped}
        modules = {name for name in wheel.namelist() if name.endswith(".py")}
    # Every module of the kit goes in: a subpackage left out of pyproject.toml's list fails here.
    kit = source / "experiments"
    assert {str(p.relative_to(kit)) for p in (kit / "dqnkit").rglob("*.py")} <= modules
    assert shipped == [f"dqnkit/shipped/dqn_{env}_{kind}" for env in ("BreakoutDeterministic-v4", "PongNoFrameskip-v4")
                       for kind in ("config.json", "weights.h5")]
    for name, data in originals.items():
        assert data == (source / "weights" / os.path.basename(name)).read_bytes(), name


def test_a_checkouts_own_weights_come_before_the_installed_copies(tmp_path, monkeypatch):
    """While developing, the agent in weights/ (about to be shipped) is the one test mode plays."""
    from dqnkit import resolve
    from wheel_build import REPO_ROOT

    monkeypatch.chdir(tmp_path)
    installed = str(tmp_path / "site-packages" / "dqnkit" / "shipped")
    monkeypatch.setattr(resolve, "installed_weights_dirs", lambda: [installed])
    assert resolve.shipped_weights_dirs() == [str(tmp_path / "weights"), os.path.join(REPO_ROOT, "weights"), installed]


@pytest.mark.slow
def test_a_fresh_venv_with_the_wheel_plays_the_shipped_agent_from_an_empty_folder(tmp_path):
    """Minutes: the virtual environment gets TensorFlow and the rest from pip (its cache helps)."""
    wheel = build_wheel(copy_of_the_kit(tmp_path / "kit"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=600)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=1800)
    play_from_an_empty_folder(str(venv / "bin" / "dqn-atari"), str(tmp_path / "empty"))

"""The notebook in a Colab-like runtime: each of its three ways into the kit, on Colab's packages.

Run by .ci/colab_runtime inside the virtual environment it builds (Python 3.13 with Colab's own
packages at Colab's versions, colab/colab-constraints.txt, and nothing of the kit). Every test
here uninstalls the kit from the interpreter that runs it, so they run only there: marked
`colab` (left out by default) and refused elsewhere. Run without this folder's conftest.py (it
imports the kit): ``python -m pytest --noconftest -m colab tests/test_colab_runtime.py``.

Each way in executes the whole notebook with the stand-in google.colab on the smoke preset, as a
fresh runtime (the kit and keras-rl2 uninstalled first); the set-up cell installs the kit as it
does in Colab, and afterwards every package the runtime had before has the version it had.
"""
import json
import os
import re
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from wheel_build import REPO_ROOT, build_wheel, copy_of_the_kit, play_from_an_empty_folder

pytestmark = pytest.mark.colab

NOTEBOOK = os.path.join(REPO_ROOT, "colab", "dqn_breakout.ipynb")
FAKE_COLAB = os.path.join(REPO_ROOT, "tests", "fake_colab")
CONSTRAINTS = os.path.join(REPO_ROOT, "colab", "colab-constraints.txt")
# What a fresh Colab runtime does not have: the set-up cell installs them.
NOT_IN_COLAB = ("dqn-atari-kit", "keras-rl2")
SHIPPED = os.path.join("dqnkit", "shipped", "dqn_BreakoutDeterministic-v4_weights.h5")


@pytest.fixture(scope="module", autouse=True)
def colab_like_runtime():
    if os.environ.get("DQN_COLAB_RUNTIME") != sys.prefix:
        pytest.fail("these tests uninstall the kit from the running environment: run them with .ci/colab_runtime")


def pip(*args):
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=True).stdout


def installed():
    return {p["name"].lower(): p["version"] for p in json.loads(pip("list", "--format=json"))}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return build_wheel(copy_of_the_kit(tmp_path_factory.mktemp("wheel-build") / "kit"))


@pytest.fixture
def fresh_runtime():
    """A runtime without the kit; yields Colab's package set as it was before the notebook ran."""
    present = [name for name in NOT_IN_COLAB if name in installed()]
    if present:
        pip("uninstall", "-y", "-q", *present)
    before = installed()
    assert not set(NOT_IN_COLAB) & set(before)
    yield before


def execute(tmp_path, parameters, upload=None, cells=None, fails=False):
    """Run the notebook in `tmp_path/content` (Colab's /content) with `parameters` injected after
    the parameters cell, on the smoke preset; `cells` (source fragments) picks the code cells to run.
    `fails`: a cell must fail (its kernel reply an error, which stops "Run all" in Colab)."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    values = {**dict(PRESET="smoke", RUN_DIR="nb-run", USE_DRIVE=True, DRIVE_MOUNT=str(tmp_path / "drive"),
                     TOTAL_STEPS=600, SEGMENT_STEPS=600, TEST_EPISODES=2), **parameters}
    injected = nbformat.v4.new_code_cell("import google.colab  # the stand-in\n"
                                         + "".join(f"{name} = {value!r}\n" for name, value in values.items()))
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    if cells:
        nb.cells = nb.cells[:index + 2] + [c for c in nb.cells[index + 2:] if any(f in c.source for f in cells)]
    else:  # after the whole notebook: which Keras the kit trained with, beside Colab's Keras 3
        nb.cells.append(nbformat.v4.new_code_cell(
            "import keras, tensorflow as tf\nprint(f'Keras installed {keras.__version__}, tf.keras in use {tf.keras.__version__}')"))
    content = tmp_path / "content"
    content.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the kit comes only from the way in
    env.update(PYTHONPATH=FAKE_COLAB, FAKE_COLAB_LOG=str(tmp_path / "colab-calls.jsonl"), FAKE_COLAB_UPLOAD=upload or "",
               FAKE_COLAB_DRIVE=str(tmp_path / "on-drive"))  # what the user's Drive holds
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(content)}})
    if fails:
        with pytest.raises(CellExecutionError):
            client.execute(env=env)
    else:
        client.execute(env=env)
    return nb


def text_of(nb, fragment):
    cell = next(c for c in nb.cells if c.cell_type == "code" and fragment in c.source)
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def calls(tmp_path):
    return [json.loads(line) for line in (tmp_path / "colab-calls.jsonl").read_text().splitlines()]


def assert_trained_watched_and_downloaded(nb, tmp_path):
    run_path = tmp_path / "on-drive" / "dqn-runs" / "nb-run"
    assert "Segment done" in text_of(nb, "nb.train_segment(") and (run_path / "weights.h5").exists()
    assert "Mean score over 2 episodes" in text_of(nb, "nb.watch(")
    downloads = [c for c in calls(tmp_path) if c["call"] == "files.download" and f"{os.sep}nb-run{os.sep}" in c["path"]]
    assert len(downloads) == 1 and downloads[0]["path"].endswith("-episodes.zip") and downloads[0]["size"] > 2000
    pins = dict(line.strip().lower().split("==") for line in open(CONSTRAINTS) if "==" in line)
    # Colab's Keras 3 is there, and the kit trained with tf-keras, at Colab's version of each.
    assert f"Keras installed {pins['keras']}, tf.keras in use {pins['tf_keras']}" in text_of(nb, "tf.keras.__version__")


def assert_colabs_packages_unchanged(before):
    after = installed()
    changed = {name: (version, after.get(name)) for name, version in before.items() if after.get(name) != version}
    assert not changed, f"installing the kit changed Colab's own packages: {changed}"
    assert set(NOT_IN_COLAB) <= set(after)


def test_way_in_1_repo_url_clones_and_installs_the_kit(tmp_path, fresh_runtime):
    published = copy_of_the_kit(tmp_path / "published")  # stands for the kit's public git repository
    git = ["git", "-C", str(published), "-c", "user.name=ci", "-c", "user.email=ci@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "the kit"], check=True)
    nb = execute(tmp_path, dict(REPO_URL=f"file://{published}"))
    assert (tmp_path / "content" / "dqn-atari" / "pyproject.toml").exists()  # cloned where Colab's /content is
    assert f"installing the kit from {tmp_path / 'content' / 'dqn-atari'}" in text_of(nb, "kit_source()")
    assert_trained_watched_and_downloaded(nb, tmp_path)
    assert_colabs_packages_unchanged(fresh_runtime)


def test_way_in_2_kit_dir_installs_a_copy_of_the_checkout_on_drive(tmp_path, fresh_runtime):
    copy_of_the_kit(tmp_path / "on-drive" / "dqn-atari")  # uploaded to Drive; seen once Drive is mounted
    kit_dir = tmp_path / "drive" / "MyDrive" / "dqn-atari"
    nb = execute(tmp_path, dict(KIT_DIR=str(kit_dir)))
    assert f"installing the kit from {kit_dir}" in text_of(nb, "kit_source()")
    assert calls(tmp_path)[0] == {"call": "drive.mount", "mountpoint": str(tmp_path / "drive")}  # by the set-up cell
    assert_trained_watched_and_downloaded(nb, tmp_path)
    assert_colabs_packages_unchanged(fresh_runtime)


def test_way_in_3_an_uploaded_wheel_installs_the_kit_and_its_shipped_agent(tmp_path, fresh_runtime, wheel):
    # First the watch cell right after set-up and config, as a new user does: the shipped agent,
    # found in the installed wheel.
    nb = execute(tmp_path, dict(TEST_EPISODES=1, RUN_DIR="watch-first"), upload=str(wheel), cells=["kit_source()", "nb.make_config(", "nb.watch("])
    assert f"installing the kit from {tmp_path / 'content' / wheel.name}" in text_of(nb, "kit_source()")
    assert [c["chosen"] for c in calls(tmp_path) if c["call"] == "files.upload"] == [str(wheel)]
    watched = text_of(nb, "nb.watch(")
    assert re.search(rf"Playing \S+site-packages/{re.escape(SHIPPED)}", watched), watched
    assert "Mean score over 1 episodes" in watched
    # Then the whole notebook in the same runtime: the kit is there (no second upload); it trains
    # its own run and watches that.
    nb = execute(tmp_path, {})
    assert "installed: nothing, all present" in text_of(nb, "kit_source()")
    assert len([c for c in calls(tmp_path) if c["call"] == "files.upload"]) == 1
    assert_trained_watched_and_downloaded(nb, tmp_path)
    assert_colabs_packages_unchanged(fresh_runtime)


def test_the_installed_wheel_plays_the_shipped_agent_from_an_empty_folder(tmp_path, fresh_runtime, wheel):
    pip("install", "-q", str(wheel))
    play_from_an_empty_folder(os.path.join(os.path.dirname(sys.executable), "dqn-atari"), str(tmp_path / "empty"))
    assert_colabs_packages_unchanged(fresh_runtime)


@pytest.mark.parametrize("parameters, upload, reason", [
    (dict(REPO_URL="file:///nowhere/dqn-atari"), None, "cannot clone REPO_URL file:///nowhere/dqn-atari ("),
    (dict(KIT_DIR="/content/drive/MyDrive/no-such-kit"), None, "KIT_DIR /content/drive/MyDrive/no-such-kit holds no checkout"),
    ({}, None, "the kit is not installed and none of its sources is given"),  # no URL, no folder, upload cancelled
    ({}, "WHEEL", "pip could not install the kit from "),  # a file that is no wheel of the kit
])
def test_a_way_in_that_fails_says_which_to_use_in_one_line(tmp_path, fresh_runtime, parameters, upload, reason):
    if upload == "WHEEL":
        upload = tmp_path / "dqn_atari_kit-0.2.0-py3-none-any.whl"
        upload.write_bytes(b"not a zip archive")
        upload = str(upload)
    nb = execute(tmp_path, parameters, upload=upload, cells=["kit_source()"], fails=True)
    outputs = next(c for c in nb.cells if "kit_source()" in c.source).outputs
    (output,) = [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]
    assert output.output_type == "stream" and "Traceback" not in json.dumps(outputs)  # one line, no traceback
    assert output.text.count("\n") == 1 and output.text.startswith(f"KitNotFound: {reason}")
    assert "set REPO_URL to the kit's git URL, or KIT_DIR to a copy of its checkout" in output.text
    assert "dqn-atari-kit" not in installed()

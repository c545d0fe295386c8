"""colab/dqn_breakout.ipynb executed headlessly with nbclient and a stand-in google.colab.

Parameters are injected after the cell tagged `parameters` (papermill's convention). The
smoke preset trains a few hundred steps; a second execution with a larger TOTAL_STEPS must
resume where the first stopped.
"""
import base64
import json
import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

from helpers import REPO_ROOT

NOTEBOOK = os.path.join(REPO_ROOT, "colab", "dqn_breakout.ipynb")
FAKE_COLAB = os.path.join(REPO_ROOT, "tests", "fake_colab")


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("PRESET", "ENV_NAME", "RUN_DIR", "USE_DRIVE", "TOTAL_STEPS", "SEGMENT_STEPS", "TEST_EPISODES"):
        assert re.search(rf"^{name} = ", tagged[0].source, re.M), name


def execute(tmp_path, total_steps, log_path, colab=True):
    """Run the notebook with parameters injected; `colab=False` is plain local Jupyter."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    run_dir = "nb-run" if colab else str(tmp_path / "local-run")
    injected = nbformat.v4.new_code_cell(
        ("import google.colab  # the stand-in: the notebook now believes it runs in Colab\n" if colab else "")
        + f'PRESET = "smoke"\nRUN_DIR = {run_dir!r}\nUSE_DRIVE = True\nDRIVE_MOUNT = {str(tmp_path / "drive")!r}\n'
        f"TOTAL_STEPS = {total_steps}\nSEGMENT_STEPS = 600\nTEST_EPISODES = 2\n")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    # Plain Jupyter gets no stand-in at all: TensorBoard's magic, like our helpers, detects Colab by
    # trying `import google.colab`.
    paths = [FAKE_COLAB] if colab else []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]),
               FAKE_COLAB_LOG=str(log_path))
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}}).execute(env=env)
    return nb


def outputs_of(nb, source_fragment):
    cell = next(c for c in nb.cells if c.cell_type == "code" and source_fragment in c.source)
    return cell.outputs


def text_of(outputs):
    parts = []
    for out in outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif "text/plain" in out.get("data", {}):
            parts.append(out.data["text/plain"])
    return "".join(parts)


@pytest.fixture(scope="module")
def executions(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("notebook")
    log_path = tmp_path / "colab-calls.jsonl"
    first = execute(tmp_path, 1000, log_path)
    first_calls = [json.loads(line) for line in log_path.read_text().splitlines()]
    second = execute(tmp_path, 1600, log_path)
    calls = [json.loads(line) for line in log_path.read_text().splitlines()]
    return tmp_path, first, second, first_calls, calls


def test_first_execution_trains_plots_records_and_downloads(executions):
    tmp_path, first, _, first_calls, _ = executions
    run_path = tmp_path / "drive" / "MyDrive" / "dqn-runs" / "nb-run"
    assert {"call": "drive.mount", "mountpoint": str(tmp_path / "drive")} in first_calls
    assert (run_path / "weights.h5").exists() and (run_path / "log.jsonl").exists()

    segment_outputs = outputs_of(first, "nb.train_segment(")
    assert any("image/png" in out.get("data", {}) for out in segment_outputs)
    png = next(out.data["image/png"] for out in segment_outputs if "image/png" in out.get("data", {}))
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"

    test_outputs = outputs_of(first, "nb.watch(")
    html = "".join(out.data.get("text/html", "") for out in test_outputs if out.output_type == "display_data")
    assert "data:video/mp4;base64," in html
    assert "Mean score over 2 episodes" in text_of(test_outputs)

    downloads = [c for c in first_calls if c["call"] == "files.download"]
    assert len(downloads) == 2
    for call in downloads:
        assert call["path"].endswith(".mp4") and os.path.getsize(call["path"]) == call["size"] > 1000


def test_tensorboard_cell_shows_the_runs_metrics(executions):
    tmp_path, first, _, _, _ = executions
    outputs = outputs_of(first, "%tensorboard")
    shown = "".join(out.get("data", {}).get("text/html", "") + out.get("data", {}).get("text/plain", "")
                    for out in outputs if out.output_type == "display_data")
    assert shown, [o.output_type for o in outputs]  # TensorBoard started and its panel was displayed
    events = os.listdir(tmp_path / "drive" / "MyDrive" / "dqn-runs" / "nb-run" / "tensorboard")
    assert any(name.startswith("events.out.tfevents.") for name in events)


def test_training_output_stays_small(executions):
    _, first, _, _, _ = executions
    for fragment in ("nb.train_segment(", "nb.train_until_done("):
        outputs = outputs_of(first, fragment)
        assert len(outputs) <= 12, [o.output_type for o in outputs]
        assert len(json.dumps([dict(o) for o in outputs])) < 400_000  # one curve PNG and a few lines


def test_second_execution_resumes_where_the_first_stopped(executions):
    tmp_path, first, second, _, _ = executions
    first_text = text_of(outputs_of(first, "nb.train_until_done("))
    finished_at = int(re.findall(r"Segment done: step ([\d,]+)", first_text)[-1].replace(",", ""))
    second_text = text_of(outputs_of(second, "nb.train_segment("))
    assert "Resumed" in second_text and f"at step {finished_at:,}," in second_text
    log = [json.loads(line) for line in
           (tmp_path / "drive" / "MyDrive" / "dqn-runs" / "nb-run" / "log.jsonl").read_text().splitlines()]
    assert [r["episode"] for r in log] == list(range(len(log)))
    assert log[-1]["step"] >= 1600


def test_plain_local_jupyter(tmp_path):
    """Without google.colab: Drive is skipped with a note, downloads print paths."""
    nb = execute(tmp_path, 700, tmp_path / "unused.jsonl", colab=False)
    assert "Not in Colab: USE_DRIVE ignored" in text_of(outputs_of(nb, "nb.run_path("))
    test_text = text_of(outputs_of(nb, "nb.watch("))
    assert test_text.count("Saved: ") == 2
    assert (tmp_path / "local-run" / "weights.h5").exists() and not (tmp_path / "drive").exists()

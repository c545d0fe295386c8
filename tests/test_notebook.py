"""colab/dqn_breakout.ipynb executed headlessly with nbclient and a stand-in google.colab.

Parameters are injected after the cell tagged `parameters` (papermill's convention). The
smoke preset trains a few hundred steps; a second execution with a larger TOTAL_STEPS must
resume where the first stopped.
"""
import asyncio
import base64
import json
import os
import re
import threading
import time
import zipfile

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
    for name in ("PRESET", "ENV_NAME", "RUN_DIR", "USE_DRIVE", "TOTAL_STEPS", "SEGMENT_STEPS", "TEST_EPISODES",
                 "REPO_URL", "KIT_DIR", "DRIVE_MOUNT"):
        assert re.search(rf"^{name} = ", tagged[0].source, re.M), name


def execute(tmp_path, total_steps, log_path, colab=True, segment_steps=600, cells=None, interrupt_when=None):
    """Run the notebook with parameters injected; `colab=False` is plain local Jupyter. `cells`
    (source fragments) picks the code cells after the parameters; `interrupt_when`, a check
    polled while the notebook runs, interrupts the kernel once (Colab's stop button) when true."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    run_dir = "nb-run" if colab else str(tmp_path / "local-run")
    injected = nbformat.v4.new_code_cell(
        ("import google.colab  # the stand-in: the notebook now believes it runs in Colab\n" if colab else "")
        + f'PRESET = "smoke"\nRUN_DIR = {run_dir!r}\nUSE_DRIVE = True\nDRIVE_MOUNT = {str(tmp_path / "drive")!r}\n'
        f"TOTAL_STEPS = {total_steps}\nSEGMENT_STEPS = {segment_steps}\nTEST_EPISODES = 2\n")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, injected)
    if cells:
        nb.cells = nb.cells[:index + 2] + [c for c in nb.cells[index + 2:] if any(f in c.source for f in cells)]
    # Plain Jupyter gets no stand-in at all: TensorBoard's magic, like our helpers, detects Colab by
    # trying `import google.colab`.
    paths = [FAKE_COLAB] if colab else []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths + [os.environ.get("PYTHONPATH", "")]),
               FAKE_COLAB_LOG=str(log_path))
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    if interrupt_when is None:
        client.execute(env=env)
        return nb
    runner = threading.Thread(target=client.execute, kwargs=dict(env=env))
    runner.start()
    deadline = time.monotonic() + 600
    while runner.is_alive() and not interrupt_when():
        assert time.monotonic() < deadline, "the notebook never reached the point to interrupt it at"
        time.sleep(0.5)
    if runner.is_alive():
        # What Colab's stop button does: SIGINT to the kernel, a KeyboardInterrupt in the running cell.
        asyncio.run(client.km.interrupt_kernel())  # nbclient's kernel manager is asynchronous
    runner.join(600)
    assert not runner.is_alive(), "the notebook did not stop after the interrupt"
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

    # Two videos go to the browser as one zip: browsers block every download of a page but the first.
    (download,) = [c for c in first_calls if c["call"] == "files.download"]
    assert download["path"].endswith("test-001-episodes.zip") and os.path.getsize(download["path"]) == download["size"]
    with zipfile.ZipFile(download["path"]) as zf:
        assert sorted(zf.namelist()) == ["test-001-episode-1.mp4", "test-001-episode-2.mp4"]
        assert all(info.file_size > 1000 for info in zf.infolist())


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
    checkpoints = tmp_path / "drive" / "MyDrive" / "dqn-runs" / "nb-run" / "checkpoints"
    assert max(p.parent.name for p in checkpoints.glob("ckpt-*/MANIFEST.json")) == f"ckpt-{1600:012d}"  # TOTAL_STEPS


def test_plain_local_jupyter(tmp_path):
    """Without google.colab: Drive is skipped with a note, downloads print paths."""
    nb = execute(tmp_path, 700, tmp_path / "unused.jsonl", colab=False)
    assert "Not in Colab: USE_DRIVE ignored" in text_of(outputs_of(nb, "nb.run_path("))
    test_text = text_of(outputs_of(nb, "nb.watch("))
    assert test_text.count("Saved: ") == 1 and f"Saved: {tmp_path / 'local-run' / 'videos' / 'test-001-episodes.zip'}" in test_text
    assert (tmp_path / "local-run" / "weights.h5").exists() and not (tmp_path / "drive").exists()


def test_the_stop_button_ends_a_training_cell_in_one_line_and_the_next_run_resumes(tmp_path):
    """Colab's stop button interrupts the kernel (a KeyboardInterrupt in the running cell)."""
    log_path = tmp_path / "colab-calls.jsonl"
    checkpoints = tmp_path / "drive" / "MyDrive" / "dqn-runs" / "nb-run" / "checkpoints"
    training_cells = ["kit_source()", "nb.make_config(", "nb.train_segment("]
    first = execute(tmp_path, 100_000, log_path, segment_steps=100_000, cells=training_cells,
                    interrupt_when=lambda: any(checkpoints.glob("ckpt-*/MANIFEST.json")))
    outputs = outputs_of(first, "nb.train_segment(")
    assert not [o for o in outputs if o.output_type == "error"]
    saved = max(int(p.parent.name[len("ckpt-"):]) for p in checkpoints.glob("ckpt-*/MANIFEST.json"))
    # A checkpoint at the very step the interrupt found, then one line:
    assert text_of(outputs).rstrip().endswith(f"Stopped by SIGINT at step {saved:,}. Run the cell again to resume "
                                              f"from the checkpoint at step {saved:,}.")
    second = execute(tmp_path, 100_000, log_path, segment_steps=300, cells=training_cells)
    assert re.search(rf"Resumed \S+ at step {saved:,},", text_of(outputs_of(second, "nb.train_segment(")))

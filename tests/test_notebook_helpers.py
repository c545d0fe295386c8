"""The notebook helpers outside Colab (and with the stand-in google.colab), on real files."""
import inspect
import io
import json
import os
import sys
import zipfile

import pytest

from dqnkit import notebook
from dqnkit.training.progress import Progress
from dqnkit.envs import video

FAKE_COLAB = os.path.join(os.path.dirname(__file__), "fake_colab")


@pytest.fixture
def fake_colab(tmp_path, monkeypatch):
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_COLAB_LOG", str(log))
    monkeypatch.syspath_prepend(FAKE_COLAB)
    for name in [m for m in sys.modules if m == "google.colab" or m.startswith("google.colab.")]:
        monkeypatch.delitem(sys.modules, name)
    import google.colab  # noqa: F401
    yield log
    for name in [m for m in sys.modules if m == "google.colab" or m.startswith("google.colab.")]:
        del sys.modules[name]


def _files(tmp_path, count):
    paths = []
    for i in range(count):
        path = tmp_path / f"test-001-episode-{i}.mp4"
        path.write_bytes(os.urandom(2000))
        paths.append(str(path))
    return paths


def test_download_outside_colab_prints_paths(tmp_path, capsys):
    paths = _files(tmp_path, 1)
    assert notebook.download(paths) == paths
    assert capsys.readouterr().out == f"Saved: {paths[0]}\n"


def test_two_files_or_more_go_as_one_zip(tmp_path, capsys):
    """Browsers let a page start one download: from two files on, the files go zipped."""
    paths = _files(tmp_path, 2)
    (sent,) = notebook.download(paths)
    assert sent == str(tmp_path / "test-001-episodes.zip") and capsys.readouterr().out == f"Saved: {sent}\n"
    with zipfile.ZipFile(sent) as zf:
        assert sorted(zf.namelist()) == ["test-001-episode-0.mp4", "test-001-episode-1.mp4"]


def test_download_in_colab_zips_many_files(tmp_path, fake_colab):
    paths = _files(tmp_path, 7)
    sent = notebook.download(paths, max_files=5)
    assert len(sent) == 1 and sent[0].endswith("test-001-episodes.zip")
    with zipfile.ZipFile(sent[0]) as zf:
        assert sorted(zf.namelist()) == sorted(os.path.basename(p) for p in paths)
    calls = [json.loads(line) for line in fake_colab.read_text().splitlines()]
    assert calls == [{"call": "files.download", "path": sent[0], "size": os.path.getsize(sent[0])}]


def test_download_of_missing_files_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        notebook.download([str(tmp_path / "nope.mp4")])


def test_run_path_mounts_drive_in_colab_and_is_local_elsewhere(tmp_path, fake_colab, monkeypatch):
    path = notebook.run_path("my-run", use_drive=True, mount_point=str(tmp_path / "drive"))
    assert path == str(tmp_path / "drive" / "MyDrive" / "dqn-runs" / "my-run") and os.path.isdir(path)
    monkeypatch.delitem(sys.modules, "google.colab")
    monkeypatch.chdir(tmp_path)
    assert notebook.run_path("my-run", use_drive=True) == str(tmp_path / "my-run")


def test_big_videos_are_not_embedded(tmp_path, capsys):
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (3 * 2**20))
    assert notebook.show_video(str(big), max_megabytes=2) is None
    assert "not embedded" in capsys.readouterr().out


def test_terminal_progress_rewrites_one_line_and_is_throttled():
    stream = io.StringIO()
    progress = Progress(total=1000, stream=stream, mode="terminal", min_interval=3600)
    for step in range(1000):
        progress.update(step)
    progress.print("summary")
    progress.close()
    text = stream.getvalue()
    assert text.count("\r") == 2  # one draw (then throttled), one clear before the summary line
    assert text.count("\n") == 1 and "summary" in text


def test_training_videos_follow_gym_monitors_capped_cubic_schedule():
    schedule = inspect.signature(video.record_episodes).parameters["trigger"].default  # gymnasium's own
    assert [e for e in range(3001) if schedule(e)] == [0, 1, 8, 27, 64, 125, 216, 343, 512, 729,
                                                                     1000, 2000, 3000]


def test_train_until_done_returns_when_eval_patience_ends_the_run(tmp_path, capsys, monkeypatch):
    """The notebook's loop of segments stops at the run's end, not only at total_steps: a run
    ended by eval_patience must not send it round forever."""
    from dqnkit.training import runner

    segments, train = [], runner.train

    def counted(*args, **kwargs):
        segments.append(kwargs.get("steps"))
        assert len(segments) <= 8, "train_until_done went on after the run had ended"  # 2,000 steps / 250
        return train(*args, **kwargs)

    monkeypatch.setattr(runner, "train", counted)
    config = notebook.make_config("smoke", str(tmp_path / "run"), eval_every=250, eval_patience=1, video=False,
                                  tensorboard=False)
    result = notebook.train_until_done(config, str(tmp_path / "run"), 250)
    assert result.finished and result.end_step < config.total_steps
    out = capsys.readouterr().out
    assert "the run ends here" in out and "Nothing to do" not in out  # the segment that ended it said so


def test_the_progress_line_shows_the_segments_goal_beside_the_runs_total():
    segment = Progress(total=2_000_000, initial=0, stream=io.StringIO(), mode="none", segment_goal=5_000)
    assert "2,403/2,000,000 (this segment to 5,000) " in segment.text(2_403)
    whole_run = Progress(total=2_000_000, stream=io.StringIO(), mode="none", segment_goal=2_000_000)
    assert "2,403/2,000,000 " in whole_run.text(2_403) and "segment" not in whole_run.text(2_403)

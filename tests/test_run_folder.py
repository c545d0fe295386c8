"""The run folder: one trainer at a time (a real second process is refused, stale locks are
taken over), and a lost or garbled config.json is restored from the checkpoints or refused."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from helpers import CLI, REPO_ROOT, run_cli
from dqnkit.run.lock import RunLock, RunLockedError

SMOKE = ["--mode", "train", "--config", "smoke", "--no-video"]


def write_lock(run_dir, **fields):
    os.makedirs(run_dir, exist_ok=True)
    record = {"host": socket.gethostname(), "pid": os.getpid(), "token": "theirs", "since": "earlier",
              "heartbeat": time.time()} | fields
    with open(os.path.join(run_dir, "LOCK"), "w") as f:
        json.dump(record, f)


def test_a_live_holder_on_this_machine_keeps_the_lock(tmp_path):
    write_lock(tmp_path, pid=os.getpid())  # this very process: certainly alive
    with pytest.raises(RunLockedError, match=rf"in use by another trainer \(pid {os.getpid()} on {socket.gethostname()}"):
        RunLock(str(tmp_path)).acquire()


def test_a_dead_holder_on_this_machine_is_taken_over_at_once(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    write_lock(tmp_path, pid=int(dead.stdout))
    with RunLock(str(tmp_path)) as lock:
        assert lock.took_over["pid"] == int(dead.stdout)
        assert json.loads((tmp_path / "LOCK").read_text())["token"] == lock.token
    assert not (tmp_path / "LOCK").exists()  # released


def test_another_machines_lock_counts_until_its_heartbeat_is_old(tmp_path):
    write_lock(tmp_path, host="colab-vm-1", pid=1, heartbeat=time.time() - 10)
    with pytest.raises(RunLockedError, match="pid 1 on colab-vm-1"):
        RunLock(str(tmp_path), stale_after=90).acquire()
    write_lock(tmp_path, host="colab-vm-1", pid=1, heartbeat=time.time() - 600)  # that runtime was reset
    with RunLock(str(tmp_path), stale_after=90) as lock:
        assert lock.took_over["host"] == "colab-vm-1"


def test_the_heartbeat_keeps_a_lock_fresh(tmp_path):
    with RunLock(str(tmp_path), heartbeat=0.1) as lock:
        first = json.loads((tmp_path / "LOCK").read_text())["heartbeat"]
        time.sleep(0.5)
        assert json.loads((tmp_path / "LOCK").read_text())["heartbeat"] > first
        assert not lock.is_stale(json.loads((tmp_path / "LOCK").read_text()))


def test_a_second_trainer_on_a_busy_run_folder_stops_at_once_and_a_killed_ones_lock_never_blocks(tmp_path):
    run_dir = tmp_path / "run"
    # The first trainer gets far more steps than it can finish while the second starts, on a busy
    # machine too; it is killed below.
    first = subprocess.Popen([sys.executable, CLI, *SMOKE, "--set", "total_steps=200000", "--run-dir", str(run_dir)],
                             cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "LOCK").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = run_cli(*SMOKE, "--set", "total_steps=200000", "--run-dir", run_dir, check=False)
        assert second.returncode == 2 and "Traceback" not in second.stderr
        errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and f"in use by another trainer (pid {first.pid} on {socket.gethostname()}" in errors[0]
        assert first.poll() is None  # at once, not after the first finished; and the first trains on
    finally:
        first.kill()
        first.wait()
    assert (run_dir / "LOCK").exists()  # SIGKILL left it behind
    resumed = run_cli(*SMOKE, "--steps", "300", "--run-dir", run_dir)
    assert "Took over the lock of a trainer that is gone" in resumed.stdout and "Segment done" in resumed.stdout
    assert not (run_dir / "LOCK").exists()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cfg") / "run"
    run_cli(*SMOKE, "--run-dir", run_dir, "--steps", "600", "--set", "gamma=0.97")
    return run_dir


@pytest.mark.parametrize("damage", ["missing", "garbled"])
def test_a_lost_or_garbled_config_json_is_restored_from_the_checkpoint(finished_run, tmp_path, damage):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    if damage == "missing":
        (run_dir / "config.json").unlink()
    else:
        (run_dir / "config.json").write_text('{"env_name": "Breakout')  # half synced
    # Resumed without --config: before, this silently became the keras_rl preset.
    result = run_cli("--mode", "train", "--run-dir", run_dir, "--no-video", "--steps", "200")
    assert "restored it from the checkpoint at step" in result.stderr and "Resumed" in result.stdout
    restored = json.loads((run_dir / "config.json").read_text())
    assert restored["preset"] == "smoke" and restored["gamma"] == 0.97


def test_without_a_config_anywhere_the_run_is_refused_in_one_line(finished_run, tmp_path):
    """Checkpoints written before configs were saved in them, and config.json gone."""
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run, run_dir)
    (run_dir / "config.json").unlink()
    for folder in (run_dir / "checkpoints").iterdir():
        state_path = folder / "state.json"
        if not state_path.exists():
            continue
        state = json.loads(state_path.read_text())
        state.pop("config")
        state_path.write_text(json.dumps(state))
        manifest = json.loads((folder / "MANIFEST.json").read_text())  # keep the checkpoint intact
        from dqnkit.run.checkpoint import sha256_of
        manifest["files"][f"{folder.name}/state.json"] = {"size": state_path.stat().st_size,
                                                          "sha256": sha256_of(str(state_path))}
        (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    result = run_cli("--mode", "train", "--run-dir", run_dir, check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1 and "predate saved configs" in errors[0]
    assert not (run_dir / "config.json").exists()  # nothing was started under a guessed config

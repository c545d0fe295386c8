"""One trainer per run folder: ``<run>/LOCK`` names its holder and carries a heartbeat.

Two notebook tabs, two Colab sessions on one Drive folder, or a forgotten background job would
otherwise write the same checkpoints. File locks (``flock``) do not reach across machines and
Google Drive's FUSE mount may ignore them, so the lock is a small JSON file:

- taken with an exclusive create (``O_EXCL``); its content names the holder (host, pid, start
  time) and a heartbeat time that a background thread rewrites every ``heartbeat`` seconds;
- a second trainer stops at once with one line naming the holder;
- a lock left by a killed trainer never blocks for long: on the same host it is taken over as
  soon as its pid is gone; from another host (a Colab runtime that was reset) once its
  heartbeat is older than ``stale_after`` seconds. A takeover writes, waits, then reads back its
  own token, so two trainers racing for one stale lock do not both win.
"""
import json
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timezone

from dqnkit.errors import UserFacingError

LOCK_NAME = "LOCK"
HEARTBEAT = 15.0  # seconds between the holder's heartbeats
STALE_AFTER = 90.0  # a lock from another host whose heartbeat is older than this is taken over


class RunLockedError(UserFacingError):
    """The run folder is in use by another trainer."""


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True


class RunLock:
    """Hold ``<run_path>/LOCK`` while training; use as a context manager."""

    def __init__(self, run_path, heartbeat=HEARTBEAT, stale_after=STALE_AFTER):
        self.path = os.path.join(run_path, LOCK_NAME)
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self.token = uuid.uuid4().hex
        self.took_over = None  # the holder record of a stale lock this one replaced
        self._stop = threading.Event()
        self._thread = None

    def _record(self):
        return {"host": socket.gethostname(), "pid": os.getpid(), "token": self.token,
                "since": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"), "heartbeat": time.time()}

    def _read(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _write(self, record):
        with open(self.path, "w", encoding="utf-8") as f:
            json.dump(record, f)

    def is_stale(self, holder):
        """A lock is stale when its holder is gone: a dead pid on this host, else an old heartbeat."""
        if holder is None:  # unreadable: a write cut short; judge by the file's age
            try:
                return time.time() - os.path.getmtime(self.path) > self.stale_after
            except OSError:
                return True
        if holder.get("host") == socket.gethostname():
            return not _pid_alive(int(holder.get("pid", -1)))
        return time.time() - float(holder.get("heartbeat", 0)) > self.stale_after

    def acquire(self):
        self._record_held = self._record()
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self._record_held, f)
        except FileExistsError:
            holder = self._read()
            if not self.is_stale(holder):
                raise RunLockedError(self._busy_message(holder)) from None
            self._write(self._record_held)
            time.sleep(0.2)  # let a racing takeover land, then see who holds it
            now = self._read()
            if not now or now.get("token") != self.token:
                raise RunLockedError(self._busy_message(now)) from None
            self.took_over = holder or {}
        self._thread = threading.Thread(target=self._beat, name="run-lock-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _busy_message(self, holder):
        holder = holder or {}
        age = time.time() - float(holder.get("heartbeat", time.time()))
        return (f"{os.path.dirname(self.path)} is in use by another trainer (pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, since {holder.get('since', '?')}, last heartbeat {age:.0f} s ago); "
                f"wait for it to finish or stop it (a lock whose trainer is gone is taken over after "
                f"{self.stale_after:.0f} s, at once on the same machine)")

    def _beat(self):
        while not self._stop.wait(self.heartbeat):
            current = self._read()
            if current is not None and current.get("token") != self.token:
                return  # someone took it over (we were presumed dead): leave their lock alone
            self._record_held["heartbeat"] = time.time()
            try:
                self._write(self._record_held)
            except OSError:
                pass  # a transient FUSE error; the next beat tries again

    def release(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        current = self._read()
        if current is not None and current.get("token") == self.token:
            try:
                os.remove(self.path)
            except OSError:
                pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

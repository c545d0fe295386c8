"""The run folder's JSONL logs: ``log.jsonl`` (one JSON object per finished game, appended and
flushed), ``eval.jsonl`` (one per evaluation) and ``segments.jsonl`` (the wall clock).

Fields of ``log.jsonl``: ``episode`` (0-based, counted over the whole run), ``step`` (global agent step when the
episode ended), ``reward`` (the game's real score, before clipping), ``length`` (agent steps),
``epsilon``, ``loss`` and ``mean_q`` (means over the episode's training steps, null before
learning starts), ``episode_time`` and ``sps`` (wall clock; the only fields that differ
between a straight and a resumed run: their names contain ``time`` or ``sps``).
"""
import json
import math
import os
import socket
import time


def is_wall_clock_field(name):
    return any(part in name for part in ("time", "fps", "sps"))


class EpisodeLog:
    """Appends episode records to ``log.jsonl``; the file always ends with a whole line."""

    def __init__(self, path):
        self.path = path
        self._file = open(path, "a", encoding="utf-8")

    def write(self, record):
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        self._file.write(json.dumps(clean) + "\n")
        self._file.flush()

    def close(self):
        self._file.close()


class SegmentJournal:
    """``segments.jsonl``: when each segment started and reached each checkpoint, on the wall clock.

    Unlike the other logs it is never rolled back on resume: it is the run's history, including
    the work a kill threw away. Lines: ``{"event": "start" | "checkpoint", "step", "time" (Unix
    seconds), "segment_start_step"}``; the "start" line also names the host and pid."""

    def __init__(self, path, start_step):
        self.start_step = start_step
        self._log = EpisodeLog(path)
        self._log.write({"event": "start", "step": start_step, "time": round(time.time(), 1),
                         "segment_start_step": start_step, "host": socket.gethostname(), "pid": os.getpid()})

    def checkpoint(self, step):
        self._log.write({"event": "checkpoint", "step": step, "time": round(time.time(), 1),
                         "segment_start_step": self.start_step})

    def close(self):
        self._log.close()


def read_log(path):
    """Episode records from ``log.jsonl``; a partial last line (a kill mid-write) is ignored."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            records.append(json.loads(line))
    return records

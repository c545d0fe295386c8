"""The run folder's ``log.jsonl``: one JSON object per finished episode, appended and flushed.

Fields: ``episode`` (0-based, counted over the whole run), ``step`` (global agent step when the
episode ended), ``reward`` (the game's real score, before clipping), ``length`` (agent steps),
``epsilon``, ``loss`` and ``mean_q`` (means over the episode's training steps, null before
learning starts), ``episode_time`` and ``sps`` (wall clock; the only fields that differ
between a straight and a resumed run: their names contain ``time`` or ``sps``).
"""
import json
import math
import os


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

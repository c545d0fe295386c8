"""The run folder's JSONL logs: ``log.jsonl`` (one JSON object per finished game, appended and
flushed), ``eval.jsonl`` (one per evaluation) and ``segments.jsonl`` (the wall clock).

Fields of ``log.jsonl``: ``episode`` (0-based, counted over the whole run), ``step`` (global agent step when the
episode ended), ``reward`` (the game's real score, before clipping), ``length`` (agent steps),
``epsilon``, ``loss`` and ``mean_q`` (means over the episode's training steps, null before
learning starts), ``episode_time`` and ``sps`` (of the part of the game the segment that
ended it played: all of it unless it was resumed in its middle), ``env`` (which env played it;
only with ``num_envs`` > 1, where games are listed in the order they end), ``time`` (Unix seconds when it ended;
records written before it existed lack it) - wall clock, the only fields that differ between a
straight and a resumed run: their names contain ``time`` or ``sps``.
"""
import json
import math
import os
import socket
import time


def is_wall_clock_field(name):
    return any(part in name for part in ("time", "fps", "sps"))


class JsonlAppender:
    """Appends records to a JSONL log (log.jsonl, eval.jsonl, segments.jsonl), one line each, flushed:
    the file always ends with a whole line."""

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
    the work a kill threw away. Lines: ``{"event": "start" | "checkpoint" | "progress" | "end",
    "step", "time" (Unix seconds), "segment_start_step"}``; the "start" line also names the host,
    the pid and `actor_process` (a schedule key that may change between segments: the race's
    variants are told apart by it), the "end" line what ended the segment (``done``,
    ``eval_patience``, ``SIGINT``, ``SIGTERM`` or an exception's name). A segment without an "end" line was killed (or predates
    end lines): its last line is the last moment known to belong to it."""

    def __init__(self, path, start_step, actor_process=False):
        self.start_step = start_step
        self._log = JsonlAppender(path)
        self._log.write({"event": "start", "step": start_step, "time": round(time.time(), 1),
                         "segment_start_step": start_step, "host": socket.gethostname(), "pid": os.getpid(),
                         "actor_process": bool(actor_process)})

    def checkpoint(self, step):
        self._event("checkpoint", step)

    def progress(self, step):
        """A sign of life between checkpoints (at each summary line), so that the wall clock of
        a segment a kill ends is known to within a log interval."""
        self._event("progress", step)

    def end(self, step, reason):
        self._event("end", step, reason=reason)

    def _event(self, event, step, **extra):
        self._log.write({"event": event, "step": step, "time": round(time.time(), 1),
                         "segment_start_step": self.start_step, **extra})

    def close(self):
        self._log.close()


def since_best(records):
    """The best of eval.jsonl's `records` (the first to reach the highest mean; None before any)
    and how many evaluations came after it: the count `eval_patience` is compared with."""
    best, since = None, 0
    for record in records:
        if best is None or record["mean"] > best["mean"]:
            best, since = record, 0
        else:
            since += 1
    return best, since


def patience_spent(config, since):
    """Whether the run is over by `eval_patience`: the last `since` evaluations brought no new best."""
    return config.eval_patience > 0 and since >= config.eval_patience


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


def continuity_problems(log, evaluations=(), num_envs=1):
    """What breaks the story of one continuous run in `log` (log.jsonl records) and `evaluations`
    (eval.jsonl records); an empty list when every game appears once, in order, each starting where
    the previous game of its env ended, and evaluations come at increasing steps.

    With `num_envs` > 1 each record names its ``env``; env e's transitions are global steps
    e + 1, e + 1 + num_envs, ... so a game's end step gives that env's own step count.
    A resume that replayed or dropped games shows up here as a repeated, missing or overlapping
    episode; ship_weights.py prints the verdict as the run's evidence."""
    problems = []
    previous_end = {}  # env -> its own step count when its previous game ended
    for index, record in enumerate(log):
        if record["episode"] != index:
            problems.append(f"line {index + 1}: episode {record['episode']}, expected {index}")
            break
        env = record.get("env", 0)
        offset = record["step"] - env - 1
        if offset % num_envs:
            problems.append(f"episode {index} ends at step {record['step']:,}, which is not a step of env {env}")
            break
        end = offset // num_envs + 1
        if end - record["length"] != previous_end.get(env, 0):
            where = "" if num_envs == 1 else f" of env {env} (its own steps)"
            problems.append(f"episode {index} starts at step {end - record['length']:,}{where}, "
                            f"but the previous game ended at {previous_end.get(env, 0):,}")
            break
        previous_end[env] = end
    eval_steps = [e["step"] for e in evaluations]
    if any(a >= b for a, b in zip(eval_steps, eval_steps[1:])):
        problems.append(f"evaluation steps do not increase: {eval_steps}")
    return problems

"""One progress display whose output stays small however long a segment runs.

Colab caps a cell's output at about 10 MB, and a ``\\r`` progress bar adds every rewrite to it
(keras-rl's example died this way at 380k steps). So:

- in a notebook, one display is created and *replaced* (``display_id`` updates), which keeps
  a single output however often it changes;
- on a terminal, the line is rewritten with ``\\r`` at most twice a second;
- anywhere else (a log file, CI), nothing is printed between summary lines.

Summary lines (one per ``log_interval`` steps) are ordinary prints in every case.
"""
import sys
import time


def in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ in ("ZMQInteractiveShell", "Shell")


class Progress:
    """Shows `step / total` with a rate and a short status; call `update` as often as you like.
    `segment_goal`: the step this segment stops at (``--steps``), shown beside the run's total."""

    def __init__(self, total, initial=0, stream=None, min_interval=0.5, mode=None, segment_goal=None):
        self.total = total
        self.segment_goal = segment_goal if segment_goal != total else None  # where this segment stops
        self.stream = stream or sys.stdout
        self.min_interval = min_interval
        self.mode = mode or self._detect_mode()
        self._last_draw = float("-inf")  # draw the first update at once
        self._start_time = time.monotonic()
        self._start_step = initial
        self._handle = None
        self._drawn = False

    def _detect_mode(self):
        if in_notebook():
            return "notebook"
        if hasattr(self.stream, "isatty") and self.stream.isatty():
            return "terminal"
        return "none"

    def text(self, step, status=""):
        elapsed = max(time.monotonic() - self._start_time, 1e-9)
        rate = (step - self._start_step) / elapsed
        width = 24
        filled = int(width * min(step / self.total, 1.0)) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        segment = f" (this segment to {self.segment_goal:,})" if self.segment_goal is not None else ""
        return f"[{bar}] {step:,}/{self.total:,}{segment} {rate:,.0f} steps/s {status}".rstrip()

    def update(self, step, status="", force=False):
        now = time.monotonic()
        if not force and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        line = self.text(step, status)
        if self.mode == "notebook":
            from IPython.display import display

            if self._handle is None:
                self._handle = display({"text/plain": line}, raw=True, display_id=True)
            else:
                self._handle.update({"text/plain": line}, raw=True)
        elif self.mode == "terminal":
            self.stream.write("\r\x1b[2K" + line)
            self.stream.flush()
            self._drawn = True

    def print(self, message):
        """A summary line that stays; on a terminal it goes above the bar."""
        if self.mode == "terminal" and self._drawn:
            self.stream.write("\r\x1b[2K")
        print(message, file=self.stream, flush=True)
        self._drawn = False

    def close(self):
        if self.mode == "terminal" and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

"""What a running sweep prints: a line when a trial starts, is restarted, ends or fails, as Ray
Tune's driver learns of it (a ``ray.tune.Callback``; Ray's own progress output is switched off
by the runner)::

    22:10:03  start    BreakoutDeterministic-v4-seed1: step 0 -> 1,200
    22:10:03  start    BreakoutDeterministic-v4-seed2: step 0 -> 1,200
    22:11:02  failed   BreakoutDeterministic-v4-seed2 (The actor is dead because its worker process has died.); Ray restarts it (restart 1 of 3)
    22:11:09  restart  BreakoutDeterministic-v4-seed2 from its checkpoint at step 800 -> 1,200
    22:11:40  end      BreakoutDeterministic-v4-seed1 at step 1,204: eval mean 1.40 (1 of 2 trials ended)
"""
import contextlib
import os
import sys
import threading
import time

from ray import tune

from dqnkit.sweeps.plan import checkpointed_step
from dqnkit.sweeps.report import LAST_GAMES


class SweepProgress(tune.Callback):
    """Prints a line per trial start, restart, end and failure to `stream` (default stdout)."""

    def __init__(self, trials, max_failures, stream=None):
        self.trials = {trial.name: trial for trial in trials}
        self.max_failures = max_failures
        self.stream = stream
        self.ended = 0

    def _print(self, event, text):
        print(f"{time.strftime('%H:%M:%S')}  {event:<8} {text}", file=self.stream or sys.stdout, flush=True)

    @staticmethod
    def _name(ray_trial):
        return ray_trial.config["trial"]["name"]

    def on_trial_start(self, iteration, trials, trial, **info):
        planned = self.trials[self._name(trial)]
        if trial.num_failures:
            # The run folder, not Ray's last report, says where the restart resumes: a
            # checkpoint written just before the process died may not have been reported.
            at = checkpointed_step(planned.folder)
            self._print("restart", f"{planned.name} from its checkpoint at step {at:,} -> {planned.target_step:,}")
        else:
            self._print("start", f"{planned.name}: step {planned.start_step:,} -> {planned.target_step:,}")

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.ended += 1
        result = trial.last_result or {}
        if result.get("eval_mean") is not None:
            score = f"eval mean {result['eval_mean']:.2f}"
        elif result.get("last_games_mean") is not None:
            score = f"mean of its last {min(LAST_GAMES, result['games'])} games {result['last_games_mean']:.2f}"
        else:
            score = "no games yet"
        self._print("end", f"{self._name(trial)} at step {result.get('checkpoint_step', 0):,}: {score} "
                           f"({self.ended} of {len(self.trials)} trials ended)")

    def on_trial_recover(self, iteration, trials, trial, **info):
        self._print("failed", f"{self._name(trial)} ({_error_line(trial)}); Ray restarts it "
                              f"(restart {trial.num_failures} of {self.max_failures})")

    def on_trial_error(self, iteration, trials, trial, **info):
        self.ended += 1
        self._print("failed", f"{self._name(trial)} for good after {self.max_failures} restarts "
                              f"({_error_line(trial)}); its traceback: {_stored_error_file(trial)} "
                              f"({self.ended} of {len(self.trials)} trials ended)")


def _error_line(trial, limit=300):
    """The last line of the trial's latest failure (its exception), at most `limit` characters.
    Ray appends each failure to the trial's error file as it handles it."""
    try:
        with open(trial.error_file, encoding="utf-8", errors="replace") as f:
            latest = f.read().rsplit("Failure # ", 1)[-1]
    except (OSError, TypeError):  # no error file (TypeError: its path is None)
        latest = ""
    lines = [line.strip() for line in latest.splitlines()[1:] if line.strip()]
    if not lines:
        return "its process died"
    line = lines[-1]
    if len(line) > limit:  # a paragraph (Ray's "The actor is dead because ..."): its first sentence
        first_sentence = line.split(". ", 1)[0] + "."
        line = first_sentence if len(first_sentence) <= limit else line[:limit - 3] + "..."
    return line


def _stored_error_file(trial):
    """Where the trial's error file stays after the sweep: its folder in the sweep's Ray storage."""
    name = trial.run_metadata.error_filename
    return os.path.join(trial.storage.trial_fs_path, name) if name else "not saved"


class WholeLines:
    """A text stream that passes on each thread's writes a whole line at a time.

    Ray prints a dying worker's message from a thread of its own, with ``print``, which writes the
    text and the newline separately; a progress line printed between the two ran into Ray's text.
    """

    def __init__(self, stream):
        self._stream = stream
        self._lock = threading.Lock()
        self._partial = {}  # thread id -> text written since its last newline

    def write(self, text):
        key = threading.get_ident()
        lines, newline, rest = (self._partial.pop(key, "") + text).rpartition("\n")
        if rest:
            self._partial[key] = rest
        if newline:
            with self._lock:
                self._stream.write(lines + newline)
                self._stream.flush()
        return len(text)

    def flush(self):  # a line still open waits for its newline, or for `finish`
        self._stream.flush()

    def finish(self):
        """Pass on what was left without a newline."""
        with self._lock:
            for key in list(self._partial):
                self._stream.write(self._partial.pop(key))
            self._stream.flush()

    def __getattr__(self, name):  # encoding, isatty, fileno, ...: the wrapped stream's
        return getattr(self._stream, name)


@contextlib.contextmanager
def whole_lines_on_stdout():
    """sys.stdout as `WholeLines` for the duration of the block."""
    stream = WholeLines(sys.stdout)
    try:
        with contextlib.redirect_stdout(stream):
            yield stream
    finally:
        stream.finish()

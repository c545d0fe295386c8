"""Stopping a training segment by signal without losing a checkpoint or leaving the lock behind.

Ctrl-C (SIGINT, also Colab's and Jupyter's stop button) and SIGTERM (``timeout``, Slurm,
``docker stop``, a machine shutting down) both raise `Stopped` in the training loop, a
``KeyboardInterrupt``, so the code that already handles Ctrl-C (the CLI, the notebook, the run
lock's ``with`` block) handles SIGTERM the same way: one line, the lock released, a non-zero
exit. Python's default for SIGTERM is to die on the spot, which skips all of that.

In the training loop a signal is acted on between two agent steps: the loop writes a checkpoint
at that step (checkpoints hold a game in progress, so nothing is played again) and then stops.
A signal that arrives while a checkpoint is being written waits until the write is complete
(`SignalGuard.deferred`): interrupting it would throw away the newest checkpoint.

Handlers can only be installed in the main thread; elsewhere (a Ray trial's worker thread) the
guard does nothing and stopping works as it did before.
"""
import signal
import threading
from contextlib import contextmanager

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during training. The loop fills in `step` (where it stopped)
    and `checkpoint_step` (where the next segment resumes), for `describe`."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.step = None
        self.checkpoint_step = None

    @property
    def exit_code(self):
        return 128 + self.signum  # what a shell reports for a process ended by this signal

    def describe(self, resume_with="Run the same command again"):
        """One line: which signal, at which step, and how the run goes on (`resume_with` names
        the user's way: the CLI's command, a notebook's cell)."""
        name = signal.Signals(self.signum).name
        if self.step is None:
            return f"Stopped by {name}. {resume_with} to resume from the last checkpoint."
        if self.checkpoint_step is None:
            return (f"Stopped by {name} at step {self.step:,}, before the run's first checkpoint: "
                    f"{resume_with[0].lower() + resume_with[1:]} to start it again.")
        redo = self.step - self.checkpoint_step
        return (f"Stopped by {name} at step {self.step:,}. {resume_with} to resume from the checkpoint "
                f"at step {self.checkpoint_step:,}" + (f" ({redo:,} steps are played again)." if redo else "."))


class SignalGuard:
    """While entered (in the main thread), SIGINT and SIGTERM raise `Stopped` at once, except:

    - inside `polled()` (the training loop) a signal only sets `pending`, which the loop reads
      after every step: it then writes a checkpoint at that step and raises `Stopped` itself. A
      second signal while one is pending raises at once (an impatient second Ctrl-C);
    - inside `deferred()` (a checkpoint write) nothing is raised until the block has finished.
    """

    def __init__(self):
        self._previous = {}
        self._deferring = 0
        self._polling = False
        self.pending = None  # the signal number the loop has yet to act on

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        return False

    def _on_signal(self, signum, _frame):
        if self._deferring or (self._polling and self.pending is None):
            self.pending = signum
            return
        raise Stopped(signum)

    @contextmanager
    def polled(self):
        """Signals become `pending` for the block's own code to act on."""
        self._polling = True
        try:
            yield self
        finally:
            self._polling = False

    @contextmanager
    def held(self):
        """Run the block to its end whatever signal arrives, and leave it `pending` for the caller
        (clean-up after a stop: a second Ctrl-C must not cut short closing files or the lock)."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1

    @contextmanager
    def deferred(self):
        """Run the block to its end whatever signal arrives; outside `polled`, raise `Stopped`
        after it if one did."""
        with self.held():
            yield
        if not self._deferring and not self._polling and self.pending is not None:
            signum, self.pending = self.pending, None
            raise Stopped(signum)

"""Live metrics for TensorBoard: ``<run>/tensorboard/``, written with TensorFlow's own summary
writer (no new dependency; reading them needs the ``tensorboard`` package, which Colab has).

Per game, at the global step where it ended: the real score and its smoothed average (exponential,
alpha 0.98, as the book behind seed 002 smooths rewards: Lapan, Deep RL Hands-On 2nd ed., ch. 9), the length, the mean loss and its smoothed average, epsilon, and steps
per second. Per evaluation: its mean, std, min and max.

A resumed segment first writes a ``SessionLog.START`` at the step after its checkpoint: TensorBoard
drops every point a killed segment logged after that checkpoint, so the curve is one unbroken run
with each game once (the smoothed averages restart from the restored log, so they match too). The
loop flushes the writer before each checkpoint, so every point up to a complete checkpoint is on
disk whenever the process is killed.
"""
import tensorflow as tf

SMOOTHING = 0.98


def smooth(previous, value):
    return value if previous is None else SMOOTHING * previous + (1.0 - SMOOTHING) * value


class TensorBoardLog:
    """Writes one run's scalars; `history` is the restored log.jsonl (the smoothed averages' past)."""

    def __init__(self, directory, resumed_step, history):
        # FileWriter is TensorFlow's graph-mode writer; keras-rl2 runs the process in graph mode.
        # It writes in the background every flush_secs; the loop also flushes before each checkpoint.
        self.writer = tf.compat.v1.summary.FileWriter(directory, flush_secs=10)
        start = tf.compat.v1.SessionLog(status=tf.compat.v1.SessionLog.START)
        # TensorBoard keeps the points before a START's step: resuming at step C keeps 0..C.
        self.writer.add_session_log(start, global_step=max(resumed_step, -1) + 1)
        self.smoothed_score = self.smoothed_loss = None
        for record in history:
            self._smooth(record)

    def _smooth(self, record):
        self.smoothed_score = smooth(self.smoothed_score, record["reward"])
        if record.get("loss") is not None:
            self.smoothed_loss = smooth(self.smoothed_loss, record["loss"])

    def _scalars(self, step, values):
        summary = tf.compat.v1.Summary(value=[tf.compat.v1.Summary.Value(tag=tag, simple_value=float(value))
                                              for tag, value in values.items() if value is not None])
        self.writer.add_summary(summary, global_step=step)

    def game(self, record):
        """One log.jsonl record (runlog.py)."""
        self._smooth(record)
        self._scalars(record["step"], {
            "game/score": record["reward"], "game/score_smoothed": self.smoothed_score,
            "game/length": record["length"], "train/loss": record.get("loss"),
            "train/loss_smoothed": self.smoothed_loss if record.get("loss") is not None else None,
            "train/epsilon": record["epsilon"], "speed/steps_per_second": record["sps"]})

    def evaluation(self, result):
        """One eval.jsonl record."""
        self._scalars(result["step"], {"eval/mean": result["mean"], "eval/std": result["std"],
                                       "eval/min": result["min"], "eval/max": result["max"]})

    def flush(self):
        self.writer.flush()

    def close(self):
        self.writer.close()

"""Training in resumable segments: ``train`` (``runner.py``: the segment's phases), the
evaluation and checkpoint schedule (``schedule.py``), evaluations (``evaluation.py``), signals
(``stopping.py``) and the progress line (``progress.py``).

``from dqnkit import training; training.train(config, run_dir, steps)`` is the entry point."""
from dqnkit._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "runner": ["train", "SegmentResult", "StepsError"],
    "stopping": ["Stopped"],
})

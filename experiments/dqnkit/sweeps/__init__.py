"""Many runs on Ray Tune (``experiments/sweep.py``): the trials (``plan.py``), the Ray trainable
(``trainable.py``), Ray's progress as whole lines (``progress.py``), the summary
(``report.py``), and the driver that ties them (``driver.py``)."""
from dqnkit._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "driver": ["run"],
    "trainable": ["run_trial", "trial_params"],
    "plan": ["SweepError", "parse_grid", "parse_seeds"],
})

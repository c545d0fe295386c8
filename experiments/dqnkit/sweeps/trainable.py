"""The Ray trainable of a sweep: one trial in a Ray worker process, trained by the kit's own
``training.train`` in its run folder, reporting each checkpoint's location and latest scores to Ray.

What crosses from the driver to the worker is `trial_params`: plain data (Ray pickles it with the
rest of the param space). The config in it was resolved and validated by the planner; the worker
trains it as it is.
"""
import json
import os
import tempfile
import time

from easydict import EasyDict

from dqnkit import configs
from dqnkit.run.folder import RunFolder
from dqnkit.sweeps.plan import checkpointed_step, resources
from dqnkit.sweeps.report import latest_scores

POINTER_FILE = "run_checkpoint.json"


def trial_params(trial, cpus, gpus):
    """What the worker of `trial` needs, as plain data: its name (Ray's trial name too), run
    folder, config, target step, threads and the resources Ray reserves for it."""
    return {"name": trial.name, "run_dir": trial.folder.path, "config": configs.to_dict(trial.config),
            "target_step": trial.target_step, "cpus": cpus, "resources": resources(trial.config, cpus, gpus)}


def run_trial(params):
    """Train the trial of `params` (see `trial_params`) up to its target step. A trial that Ray
    restarts after its process died runs this again and resumes from its newest checkpoint."""
    from dqnkit import compat  # noqa: F401  (tf-keras before TensorFlow, in this fresh worker)

    import tensorflow as tf

    from dqnkit import training
    from dqnkit.run.lock import STALE_AFTER, RunLockedError

    tf.config.threading.set_intra_op_parallelism_threads(params["cpus"])
    tf.config.threading.set_inter_op_parallelism_threads(params["cpus"])
    config = EasyDict(params["config"])
    folder = RunFolder(params["run_dir"])

    for attempt in range(2):
        at = checkpointed_step(folder)  # once per attempt: the wait below lets a dead attempt's step go stale
        if at >= params["target_step"]:
            report_checkpoint(folder, at)
            return
        try:
            training.train(config, folder.path, steps=params["target_step"] - at, progress_mode="none",
                           on_checkpoint=lambda step: report_checkpoint(folder, step))
            return
        except RunLockedError:
            if attempt:
                raise
            # A restart on another machine finds the dead attempt's lock still fresh: wait until
            # it is stale (a live trainer keeps it fresh, and the second attempt fails).
            time.sleep(STALE_AFTER + 5)


def report_checkpoint(folder, step):
    """Tell Ray where the checkpoint at `step` is (a small pointer, never the run folder's
    contents: Ray copies what it is given into its storage) and the trial's latest scores."""
    from ray import tune

    with tempfile.TemporaryDirectory() as pointer:
        with open(os.path.join(pointer, POINTER_FILE), "w") as f:
            json.dump({"run_dir": folder.path, "step": step}, f)
        tune.report({**latest_scores(folder), "checkpoint_step": step},
                    checkpoint=tune.Checkpoint.from_directory(pointer))

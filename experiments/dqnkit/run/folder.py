"""The run folder: everything one run owns, named by what the run is, found again on restart.

::

    <run>/config.json     the config of the latest segment (run-defining keys never change)
    <run>/log.jsonl       one line per episode (whole game) over the whole run (see runlog.py)
    <run>/eval.jsonl      one line per evaluation: step, mean, std, min, max, episodes, scores
    <run>/weights.h5      latest online weights (keras save_weights), for --mode test
    <run>/best_weights.h5 the weights with the best evaluation mean so far
    <run>/segments.jsonl  wall-clock start and checkpoints of every segment (never rolled back)
    <run>/tensorboard/    TensorBoard event files (tensorboard_log.py)
    <run>/checkpoints/    complete checkpoints (see checkpoint.py)
    <run>/videos/         train-episode-<N>.mp4 and test-<K>-episode-<N>.mp4
    <run>/learning_curve.png  drawn by --mode plot and the notebook
"""
import os
import warnings

from dqnkit import configs
from dqnkit.run.checkpoint import Checkpointer, write_atomic
from dqnkit.errors import UserFacingError


class RunFolderError(UserFacingError):
    """The run folder cannot be used as asked (unwritable, or holds a different run)."""


def default_run_dir(config, root="runs"):
    """runs/<env>-<preset>-seed<seed>: no timestamp, so a restart finds its own checkpoints."""
    env = config.env_name.replace("/", "_")
    return os.path.join(root, f"{env}-{config.get('preset', configs.CUSTOM)}-seed{config.seed}")


class RunFolder:
    def __init__(self, path):
        self.path = os.path.abspath(path)

    config_path = property(lambda self: os.path.join(self.path, "config.json"))
    log_path = property(lambda self: os.path.join(self.path, "log.jsonl"))
    eval_log_path = property(lambda self: os.path.join(self.path, "eval.jsonl"))
    segments_path = property(lambda self: os.path.join(self.path, "segments.jsonl"))
    tensorboard_dir = property(lambda self: os.path.join(self.path, "tensorboard"))
    weights_path = property(lambda self: os.path.join(self.path, "weights.h5"))
    best_weights_path = property(lambda self: os.path.join(self.path, "best_weights.h5"))
    checkpoint_dir = property(lambda self: os.path.join(self.path, "checkpoints"))
    video_dir = property(lambda self: os.path.join(self.path, "videos"))
    learning_curve_path = property(lambda self: os.path.join(self.path, "learning_curve.png"))

    def has_config(self):
        return os.path.exists(self.config_path)

    def ensure_writable(self):
        try:
            os.makedirs(self.path, exist_ok=True)
            probe = os.path.join(self.path, ".write-test")
            with open(probe, "w") as f:
                f.write("ok")
            os.remove(probe)
        except OSError as exc:
            raise RunFolderError(f"cannot write to run folder {self.path} ({exc.strerror}); "
                                 "choose another --run-dir") from None

    def saved_config(self):
        """config.json as a config; None if there is none; RunFolderError if it is unreadable."""
        if not self.has_config():
            return None
        try:
            with open(self.config_path, encoding="utf-8") as f:
                return configs.from_json_text(f.read())
        except (OSError, ValueError) as exc:
            raise RunFolderError(f"{self.config_path} is unreadable ({exc})") from None

    def checkpoint_config(self):
        """The config the newest complete checkpoint was trained with: (step, config or None)."""
        step, data = Checkpointer(self.checkpoint_dir).latest_config()
        if data is None:
            return step, None
        return step, configs.from_saved(data)

    def run_config(self):
        """This run's config, or None for a new run. The checkpoints' copy stands in for a
        config.json that is missing or unreadable (a half-synced Drive file) and is written back;
        without either the run is refused rather than resumed under some other config."""
        try:
            saved = self.saved_config()
        except RunFolderError as exc:
            problem = str(exc)
        else:
            if saved is not None:
                return saved
            problem = f"{self.config_path} is missing"
        step, from_checkpoint = self.checkpoint_config()
        if step is None:
            if self.has_config():
                raise RunFolderError(f"{problem}; fix or remove it")
            return None
        if from_checkpoint is None:
            raise RunFolderError(f"{problem} and the checkpoints of {self.path} predate saved configs; restore "
                                 "config.json from a copy, or train with the --config and --set values the run had")
        warnings.warn(f"{problem}; restored it from the checkpoint at step {step:,}", stacklevel=2)
        self.save_config(from_checkpoint)
        return from_checkpoint

    def check_same_run(self, config, checkpoint_config=None):
        """Stop if `config` changes what this run is; schedule keys may change. The checkpoints'
        own config is the reference where they have one (`checkpoint_config`: the dict of one the
        caller has verified already, which saves hashing it again)."""
        if checkpoint_config is not None:
            saved = configs.from_saved(checkpoint_config)
        else:
            _, saved = self.checkpoint_config()
        if saved is None:
            saved = self.saved_config()
        if saved is None:
            return
        differing = configs.run_defining_differences(saved, config)
        if differing:
            details = ", ".join(f"{k}: {saved[k]!r} -> {config[k]!r}" for k in differing)
            raise RunFolderError(
                f"{self.path} holds a run with a different config ({details}); resume with the "
                "same values or use a new --run-dir")

    def save_config(self, config):
        write_atomic(self.config_path, (configs.to_json(config) + "\n").encode())

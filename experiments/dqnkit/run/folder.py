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
import tempfile
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


def check_writable(folder, advice, what=""):
    """Refuse a folder a mode must write into (a read-only mount, a Drive folder shared read-only)
    in one line, before the write fails deep inside moviepy, matplotlib or a checkpoint: it is made
    if missing and a file is written and removed."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise RunFolderError(f"cannot write to {what}{folder} ({exc.strerror}); {advice}") from None


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
        check_writable(self.path, "choose another --run-dir", what="run folder ")

    def saved_config(self):
        """config.json as a config; None if there is none; ConfigError (one line) if it is unreadable."""
        return configs.read_config_file(self.config_path) if self.has_config() else None

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
        except configs.ConfigError as exc:
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

"""What to run, decided in one place for the CLI and the notebook: the config, the run folder,
and the weights test mode plays.

Config: an existing run's own config (``config.json``, or its newest checkpoint's copy when
``config.json`` is lost or garbled) unless a preset is named; otherwise the preset (default
``keras_rl``); then the overrides. Run folder: as given, or ``runs/<env>-<preset>-seed<seed>``.
Test weights: ``--weights``, else the run folder's ``weights.h5``, else the agent shipped for
that env (in the checkout's ``weights/``, or installed with the package). Unless a preset is named
or ``--run-dir`` gives a run with a config, ``--weights`` and shipped agents play with the config
saved beside them (``config_beside``); with none there, the default preset's, said in one line.
"""
import importlib.util
import os
import pathlib

from dqnkit import configs
from dqnkit.errors import UserFacingError
from dqnkit.run.folder import RunFolder, default_run_dir

DEFAULT_PRESET = "keras_rl"


class NoWeightsError(UserFacingError):
    """Test mode found nothing to play."""


def compose(base, overrides=None, sets=()):
    """`base` (a preset's or a saved config) with `overrides` (a dict: the CLI's flags, the
    notebook's parameters) and then `sets` (--set KEY=VALUE strings) applied, and checked
    (``envs.check_runnable``): the one way the CLI, the notebook and sweeps turn what a user
    asked for into a config."""
    from dqnkit.envs.ale import check_runnable  # gymnasium: loaded only once a config is composed

    configs.apply_overrides(base, overrides or {})
    configs.apply_overrides(base, list(sets))
    return check_runnable(base)


def resolve_config(preset=None, run_dir=None, overrides=None, sets=()):
    """(config, run folder path). `overrides` is a dict (the CLI's --env-name, --seed, --video;
    the notebook's parameters), `sets` the --set KEY=VALUE strings; both are type-checked."""
    saved = RunFolder(run_dir).run_config() if run_dir else None
    base = saved if saved is not None and not preset else configs.make_config(preset or DEFAULT_PRESET)
    config = compose(base, overrides, sets)
    return config, run_dir or default_run_dir(config)


def shipped_weights_dirs():
    """Where trained agents ship, first match wins: ./weights, weights/ of the checkout this code
    runs from (a clone, or an editable install: a checkout's own agents win while developing),
    then the copies installed with the package (``dqnkit.shipped``, pyproject.toml's package data),
    which an installed kit finds from any folder."""
    checkout = pathlib.Path(__file__).resolve().parents[2]
    dirs = [os.path.abspath("weights"), str(checkout / "weights"), *installed_weights_dirs()]
    return [d for i, d in enumerate(dirs) if d not in dirs[:i]]


def installed_weights_dirs():
    """The folders of the data-only package ``dqnkit.shipped`` (no ``__init__.py``, so a namespace
    package: it may have several), or none when the kit runs from a checkout it was not installed from."""
    try:
        spec = importlib.util.find_spec("dqnkit.shipped")
    except ImportError:
        return []
    return list(spec.submodule_search_locations or []) if spec else []


def shipped_paths(env_name, directory):
    """(weights, config) file names of the agent shipped for `env_name` in `directory`:
    ``dqn_<env>_weights.h5`` (the name keras-rl's example saved) and ``dqn_<env>_config.json``."""
    stem = os.path.join(directory, f"dqn_{env_name.replace('/', '_')}")
    return f"{stem}_weights.h5", f"{stem}_config.json"


def shipped_agent(env_name, weights_dirs=None):
    """(weights path, config path or None) of the agent shipped for `env_name`, or None."""
    for directory in weights_dirs or shipped_weights_dirs():
        weights, config = shipped_paths(env_name, directory)
        if os.path.isfile(weights):
            return weights, config if os.path.isfile(config) else None
    return None


def resolve_test(preset=None, run_dir=None, overrides=None, sets=(), weights=None, weights_dirs=None):
    """(config, weights path, video folder) for test mode; see the module docstring.
    `weights_dirs` replaces the folders searched for shipped agents (a notebook knows its checkout)."""
    if weights and not (os.path.exists(weights) or os.path.isfile(f"{weights}.index")):  # (a TF checkpoint prefix)
        raise NoWeightsError(f"weights file {weights} does not exist; check the path or train first")
    config, resolved_dir = resolve_config(preset, run_dir, overrides, sets)
    folder = RunFolder(resolved_dir)
    if not weights and os.path.isfile(folder.weights_path):
        return config, folder.weights_path, folder.video_dir
    # Weights from elsewhere play with the preprocessing and epsilon they were trained and evaluated
    # with (an agent trained with a 4-frame max-pooled skip loses every game at 1 frame a step),
    # unless a preset is named or --run-dir gives a run with a config of its own.
    use_saved = not preset and not (run_dir and folder.has_config())
    if weights:
        saved = config_beside(weights) if use_saved else None
        if use_saved and saved is None and not os.path.isdir(weights):  # a folder: loading refuses it
            print(f"No config is saved beside {weights}: playing it with the {DEFAULT_PRESET} preset's settings "
                  "(pass --config PRESET if it was trained with another)")
    else:
        shipped = shipped_agent(config.env_name, weights_dirs)
        if shipped is None:
            raise NoWeightsError(f"no weights found: {folder.weights_path} does not exist and weights/ ships none "
                                 f"for {config.env_name}; train first with --mode train --run-dir {resolved_dir}, "
                                 "or pass --weights FILE")
        weights, shipped_config = shipped
        saved = read_config_file(shipped_config) if use_saved and shipped_config else None
    if saved is not None:
        config = compose(saved, overrides, sets)
        if not run_dir:
            folder = RunFolder(default_run_dir(config))
    return config, weights, folder.video_dir


RUN_WEIGHTS = ("weights.h5", "best_weights.h5")


def config_beside(weights):
    """The config saved with a weights file, or None: ``<name>_config.json`` beside
    ``<name>_weights...`` (how weights/ ships agents: ``dqn_<env>_config.json``), or for a run
    folder's ``weights.h5`` or ``best_weights.h5`` that run's config (its config.json, else the
    newest checkpoint's copy). Only these: a stray config.json elsewhere says nothing about the file."""
    directory, name = os.path.split(weights)
    if "_weights" in name:
        path = os.path.join(directory, name.rsplit("_weights", 1)[0] + "_config.json")
        if os.path.isfile(path):
            return read_config_file(path)
    if name in RUN_WEIGHTS:
        folder = RunFolder(directory or ".")
        saved = folder.saved_config()
        return saved if saved is not None else folder.checkpoint_config()[1]
    return None


def read_config_file(path):
    """The config saved beside weights (or a run's): one line if it is garbled."""
    return configs.read_config_file(path, "pass --config PRESET (or --run-dir) to say what the weights were "
                                          "trained with")

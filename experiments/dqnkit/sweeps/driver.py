"""Sweeps over games, seeds and settings on Ray Tune: one trial per combination, each a normal
run folder under the sweep folder, trained in segments by the kit's own ``training.train``.

Why Ray, and what it does here: Ray Tune schedules the trials on this machine or a cluster
within the CPUs, GPUs and memory each needs, and restarts a trial whose process died
(``FailureConfig``). What makes a restart cheap is ours: a trial resumes from its run folder's
newest checkpoint exactly. Ray is told where each checkpoint is (a small pointer directory, which
Ray copies into its storage); the run folder, replay memory included, never leaves its place.

A sweep command is idempotent: it plans every trial from the command line, skips those that have
reached ``total_steps`` (or were ended by ``eval_patience``), and trains the others (``--steps N``: N more steps each, one segment per
call, as in training). So after a kill of the whole sweep, the same command continues it.

This module runs a sweep; its parts are ``sweep_plan`` (the trials, each config resolved once),
``sweep_trainable`` (a trial in a Ray worker), ``sweep_progress`` (the lines printed while it
runs) and ``sweep_report`` (summary.csv, curves.png and the table).
"""
import contextlib
import os
import socket
import sys

from dqnkit.sweeps.plan import SweepError, check_address, plan
from dqnkit.sweeps.report import summarize, summary_table

RAY_DIR = "ray"  # in the sweep folder: Ray's results (tune/) and, when started here, its session files
# Ray puts unix sockets at <temp dir>/session_<date>_<time>_<microseconds>_<pid>/sockets/plasma_store;
# Linux allows 107 bytes for a socket's path, so the temp dir may have 107 - 64 of them.
SOCKET_PATH_MAX = 107
SOCKET_SUFFIX = len("/session_2026-12-01_22-07-35_141215_4194304/sockets/plasma_store")
QUIET_TUNE = {
    "RAY_AIR_NEW_OUTPUT": "0",  # the legacy reporter, silent at verbose=0: no tables, no TensorBoard hint
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # no tensorboardX copy of the reports (the runs have their own)
    "TUNE_PRINT_ALL_TRIAL_ERRORS": "0",  # a failure is one line from SweepProgress, its traceback in Ray's files
}


def run(sweep_dir, preset, env_names, seeds, grid, sets, steps=None, address=None, cpus_per_trial=1,
        gpus_per_trial=0, max_failures=3, stream=None):
    """Plan, skip finished trials, train the rest on Ray, then write the summary. Returns the rows."""
    sweep_dir = os.path.abspath(sweep_dir)
    trials = plan(sweep_dir, preset, env_names, seeds, grid, sets, steps)
    check_address(address)
    os.makedirs(sweep_dir, exist_ok=True)
    todo = [trial for trial in trials if not trial.finished]

    def say(text):
        print(text, file=stream or sys.stdout, flush=True)

    say(f"{len(trials)} trials: {len(trials) - len(todo)} finished, {len(todo)} to train")
    failed = _fit_on_ray(sweep_dir, todo, address, cpus_per_trial, gpus_per_trial, max_failures, stream, say) \
        if todo else 0
    rows = summarize(sweep_dir, trials, list(grid))  # the others' results, even when some failed
    say(summary_table(rows, list(grid)))
    say(f"Curves: {os.path.join(sweep_dir, 'curves.png')}; every trial's live metrics: "
        f"tensorboard --logdir {sweep_dir}")
    if failed:
        raise SweepError(f"{failed} trial(s) failed after {max_failures} restarts (their lines above say why); "
                         "fix that and run the same command again: every trial continues from its run folder")
    return rows


def ray_temp_dir(sweep_dir):
    """(Ray's temp dir under the sweep folder, or None for Ray's default, and why not)."""
    path = os.path.join(sweep_dir, RAY_DIR)
    room = SOCKET_PATH_MAX - SOCKET_SUFFIX
    if len(path.encode()) > room:
        return None, (f"Ray's session files go to its default temp dir, not {path}: Ray's sockets need "
                      f"that path to be at most {room} characters (it has {len(path.encode())}); "
                      "a shorter --sweep-dir keeps them in the sweep folder")
    problem = _unix_socket_problem(path)
    if problem:
        return None, (f"Ray's session files go to its default temp dir, not {path}: that folder cannot "
                      f"hold Ray's sockets ({problem}); a --sweep-dir on a local disk keeps them there")
    return path, None


def _unix_socket_problem(directory):
    """Why a unix socket cannot be made in `directory` (some network and FUSE file systems refuse
    them: a sweep folder on a mounted Drive may be on one), or None."""
    if not hasattr(socket, "AF_UNIX"):  # Windows: Ray uses TCP there
        return None
    probe = os.path.join(directory, "socket-probe")
    try:
        os.makedirs(directory, exist_ok=True)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(probe)
        os.remove(probe)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _fit_on_ray(sweep_dir, todo, address, cpus, gpus, max_failures, stream, say):
    """Train the trials of `todo` on Ray, printing their progress; returns how many failed for good."""
    import ray
    from ray import tune
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    from dqnkit.sweeps.progress import SweepProgress, whole_lines_on_stdout
    from dqnkit.sweeps.trainable import run_trial, trial_params

    if address in (None, "local"):
        temp_dir, why_not = ray_temp_dir(sweep_dir)
        if why_not:
            say(f"note: {why_not}")
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, _temp_dir=temp_dir)
    else:  # a cluster keeps its files where `ray start` put them
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        params = [trial_params(trial, cpus, gpus) for trial in todo]
        trainable = tune.with_resources(lambda space: run_trial(space["trial"]),
                                        resources=lambda space: space["trial"]["resources"])
        tuner = tune.Tuner(
            trainable, param_space={"trial": tune.grid_search(params)},
            tune_config=tune.TuneConfig(trial_name_creator=_ray_trial_name, trial_dirname_creator=_ray_trial_name),
            run_config=tune.RunConfig(
                name="tune", storage_path=os.path.join(sweep_dir, RAY_DIR), verbose=0,
                failure_config=tune.FailureConfig(max_failures=max_failures),
                callbacks=[SweepProgress(todo, max_failures, stream), CSVLoggerCallback(), JsonLoggerCallback()]))
        with _environment(QUIET_TUNE), whole_lines_on_stdout():
            results = tuner.fit()
        return sum(result.error is not None for result in results)
    finally:
        ray.shutdown()


@contextlib.contextmanager
def _environment(variables):
    """Set environment variables for the duration of the block (Ray Tune reads these options
    from the environment only), then restore them: a notebook's later Tune runs are its own."""
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _ray_trial_name(ray_trial):
    return ray_trial.config["trial"]["name"]

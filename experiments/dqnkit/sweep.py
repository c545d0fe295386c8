"""Sweeps over games, seeds and settings on Ray Tune: one trial per combination, each a normal
run folder under the sweep folder, trained in segments by the kit's own ``training.train``.

Why Ray, and what it does here: Ray Tune schedules the trials on this machine or a cluster
within the CPUs, GPUs and memory each needs, and restarts a trial whose process died
(``FailureConfig``). What makes a restart cheap is ours: a trial resumes from its run folder's
newest checkpoint exactly. Ray is told where each checkpoint is (a small pointer directory, which
Ray copies into its storage); the run folder, replay memory included, never leaves its place.

A sweep command is idempotent: it plans every trial from the command line, skips those that have
reached ``total_steps``, and trains the others (``--steps N``: N more steps each, one segment per
call, as in training). So after a kill of the whole sweep, the same command continues it.
"""
import csv
import itertools
import json
import os
import socket
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from dqnkit import configs, envs
from dqnkit.checkpoint import Checkpointer
from dqnkit.errors import UserFacingError
from dqnkit.runlog import read_log

BYTES_PER_ENTRY = 84 * 84 + 25  # a stored frame plus action, reward and flag (RingMemory)
RUNTIME_BYTES = 1.5e9  # TensorFlow, the nets and the env, per trial


class SweepError(UserFacingError, ValueError):
    """A sweep spec that cannot run; the message says what to change."""


@dataclass
class Trial:
    name: str
    run_dir: str
    overrides: dict  # env_name, seed and the grid's values
    setting: dict = field(default_factory=dict)  # env_name and the grid's values: what seeds are averaged over


def parse_grid(items):
    """--grid KEY=V1,V2 items -> {key: [typed values]}, refusing unknown keys and empty grids."""
    grid = {}
    for item in items:
        if "=" not in item:
            raise SweepError(f"--grid expects KEY=V1,V2,..., got {item!r}")
        key, values = (part.strip() for part in item.split("=", 1))
        choices = [v.strip() for v in values.split(",") if v.strip()]
        if not choices:
            raise SweepError(f"--grid {key}= lists no values; give at least one, like {key}=0.99,0.98")
        if key in ("env_name", "seed"):
            raise SweepError(f"use --env-name and --seeds for {key}, not --grid")
        grid[key] = [configs.convert_value(key, choice) for choice in choices]
    return grid


def parse_seeds(text):
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise SweepError(f"--seeds expects whole numbers separated by commas, like 1,2,3; got {text!r}") from None
    if not seeds:
        raise SweepError("--seeds lists no seeds; give at least one, like --seeds 1,2,3")
    return seeds


def _value_label(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def plan(sweep_dir, preset, env_names, seeds, grid, sets):
    """Every trial of the sweep, each config built and validated before anything starts."""
    from dqnkit import resolve

    trials = []
    keys = list(grid)
    for env_name in env_names:
        envs.resolve_env(env_name)  # an unknown game stops the sweep here, with one line
        for values in itertools.product(*(grid[k] for k in keys)):
            setting = {"env_name": env_name, **dict(zip(keys, values))}
            for seed in seeds:
                label = "-".join([env_name.replace("/", "_")] + [f"{k}={_value_label(v)}" for k, v in zip(keys, values)]
                                 + [f"seed{seed}"])
                overrides = {**setting, "seed": seed}
                config, _ = resolve.resolve_config(preset, None, overrides, sets)
                envs.check_preprocessing(config.env_name, config.max_pool_frames, config.get("frame_skip"))
                trials.append(Trial(name=label, run_dir=os.path.join(os.path.abspath(sweep_dir), label),
                                    overrides=overrides, setting=setting))
    return trials


def trial_config(trial, preset, sets):
    from dqnkit import resolve

    config, _ = resolve.resolve_config(preset, None, trial.overrides, sets)
    return config


def current_step(run_dir):
    """The step of the run's newest complete checkpoint (0 for a run not started)."""
    step, _ = Checkpointer(os.path.join(run_dir, "checkpoints")).latest_config()
    return step or 0


def resources(config, cpus, gpus):
    """What one trial needs: Ray schedules no more trials at once than the machine holds."""
    needed = {"cpu": cpus, "memory": int(config.memory_limit * BYTES_PER_ENTRY + RUNTIME_BYTES)}
    if gpus:
        needed["gpu"] = gpus
    return needed


def check_address(address, timeout=5.0):
    """Fail in one line, before Ray starts, if a cluster address does not answer."""
    if address in (None, "auto", "local"):
        return
    host_port = address.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        raise SweepError(f"--address expects HOST:PORT of a Ray head node (ray start --head), got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise SweepError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
                         "`ray start --head` there, or leave out --address to run on this machine") from None


# -- the Ray trainable ------------------------------------------------------------------------------
def run_trial(params):
    """One trial in a Ray worker: train its run folder up to the target step, reporting each
    checkpoint's location and latest scores to Ray. A restarted trial simply resumes."""
    from dqnkit import compat  # noqa: F401  (tf-keras before TensorFlow, in this fresh worker)

    import tensorflow as tf
    from ray import tune
    from ray.tune import Checkpoint

    from dqnkit import training
    from dqnkit.lock import STALE_AFTER, RunLockedError

    tf.config.threading.set_intra_op_parallelism_threads(params["cpus"])
    tf.config.threading.set_inter_op_parallelism_threads(params["cpus"])
    config = configs.from_json_text(json.dumps(params["config"]))
    run_dir = params["run_dir"]

    def report(step):
        with tempfile.TemporaryDirectory() as pointer:
            with open(os.path.join(pointer, "run_checkpoint.json"), "w") as f:
                json.dump({"run_dir": run_dir, "step": step}, f)  # where it is; not its contents
            tune.report(latest_scores(run_dir), checkpoint=Checkpoint.from_directory(pointer))

    for attempt in range(2):
        remaining = params["target_step"] - current_step(run_dir)
        if remaining <= 0:
            report(current_step(run_dir))
            return
        try:
            training.train(config, run_dir, steps=remaining, progress_mode="none", on_checkpoint=report)
            return
        except RunLockedError:
            if attempt:
                raise
            # A restart on another machine finds the dead attempt's lock still fresh: wait until
            # it is stale (a live trainer keeps it fresh, and the second attempt fails).
            time.sleep(STALE_AFTER + 5)


def latest_scores(run_dir):
    """A trial's figures: steps, the latest evaluation, and the mean of its last 100 games."""
    log = read_log(os.path.join(run_dir, "log.jsonl"))
    evaluations = read_log(os.path.join(run_dir, "eval.jsonl"))
    last = [r["reward"] for r in log[-100:]]
    return {"steps": log[-1]["step"] if log else 0, "games": len(log),
            "eval_step": evaluations[-1]["step"] if evaluations else None,
            "eval_mean": evaluations[-1]["mean"] if evaluations else None,
            "eval_std": evaluations[-1]["std"] if evaluations else None,
            "last_games_mean": float(np.mean(last)) if last else None}


# -- the sweep ------------------------------------------------------------------------------------
def run(sweep_dir, preset, env_names, seeds, grid, sets, steps=None, address=None, cpus_per_trial=1,
        gpus_per_trial=0, max_failures=3, stream=None):
    """Plan, skip finished trials, train the rest on Ray, then write the summary. Returns the rows."""
    trials = plan(sweep_dir, preset, env_names, seeds, grid, sets)
    check_address(address)
    os.makedirs(sweep_dir, exist_ok=True)
    todo = []
    for trial in trials:
        config = trial_config(trial, preset, sets)
        at = current_step(trial.run_dir)
        if at >= config.total_steps:
            continue
        target = config.total_steps if steps is None else min(config.total_steps, at + int(steps))
        todo.append((trial, config, target))
    print(f"{len(trials)} trials: {len(trials) - len(todo)} finished, {len(todo)} to train", file=stream, flush=True)
    if todo:
        _fit_on_ray(sweep_dir, todo, address, cpus_per_trial, gpus_per_trial, max_failures)
    rows = summarize(sweep_dir, trials, list(grid))
    print(summary_table(rows, list(grid)), file=stream, flush=True)
    return rows


def _fit_on_ray(sweep_dir, todo, address, cpus, gpus, max_failures):
    import ray
    from ray import tune

    if address in (None, "local"):
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        plans = [{"name": trial.name, "run_dir": trial.run_dir, "config": configs.to_dict(config),
                  "target_step": target, "cpus": cpus, "resources": resources(config, cpus, gpus)}
                 for trial, config, target in todo]
        trainable = tune.with_resources(lambda params: run_trial(params["trial"]),
                                        resources=lambda space: space["trial"]["resources"])
        tuner = tune.Tuner(
            trainable, param_space={"trial": tune.grid_search(plans)},
            tune_config=tune.TuneConfig(trial_name_creator=_ray_trial_name, trial_dirname_creator=_ray_trial_name),
            run_config=tune.RunConfig(name="tune", storage_path=os.path.join(os.path.abspath(sweep_dir), "ray"),
                                      verbose=0, failure_config=tune.FailureConfig(max_failures=max_failures)))
        results = tuner.fit()
        failed = [r for r in results if r.error is not None]
        if failed:
            raise SweepError(f"{len(failed)} trial(s) failed after {max_failures} restarts ({failed[0].error!r:.200}); "
                             "run the same command again to continue them")
    finally:
        ray.shutdown()


def _ray_trial_name(ray_trial):
    return ray_trial.config["trial"]["name"]


def summarize(sweep_dir, trials, grid_keys):
    """summary.csv (one row per trial) and curves.png; returns the rows."""
    rows = []
    for trial in trials:
        scores = latest_scores(trial.run_dir)
        rows.append({"trial": trial.name, "env_name": trial.overrides["env_name"], "seed": trial.overrides["seed"],
                     **{k: trial.overrides[k] for k in grid_keys}, **scores})
    columns = ["trial", "env_name", "seed", *grid_keys, "steps", "games", "eval_step", "eval_mean", "eval_std",
               "last_games_mean"]
    with open(os.path.join(sweep_dir, "summary.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    from dqnkit.plotting import plot_sweep_curves

    plot_sweep_curves([(t.run_dir, _setting_label(t.setting)) for t in trials], os.path.join(sweep_dir, "curves.png"))
    return rows


def _setting_label(setting):
    return " ".join(f"{k}={_value_label(v)}" if k != "env_name" else str(v) for k, v in setting.items())


def score_of(row):
    """A trial's figure for comparisons: its latest evaluation, else its last games' mean."""
    return row["eval_mean"] if row["eval_mean"] is not None else row["last_games_mean"]


def summary_table(rows, grid_keys):
    """Mean and spread across seeds for each setting, as aligned text."""
    groups = {}
    for row in rows:
        key = (row["env_name"], *(row[k] for k in grid_keys))
        groups.setdefault(key, []).append(row)
    header = ["env_name", *grid_keys, "seeds", "steps", "score mean", "score std"]
    lines = [header]
    for key, members in groups.items():
        scores = [score_of(r) for r in members if score_of(r) is not None]
        mean = f"{np.mean(scores):.2f}" if scores else "-"
        spread = f"{np.std(scores):.2f}" if scores else "-"
        lines.append([*(_value_label(v) for v in key), str(len(members)),
                      f"{min(r['steps'] for r in members):,}", mean, spread])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    note = "score: the latest evaluation's mean where one ran, else the mean of the last 100 games"
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in lines) + "\n" + note

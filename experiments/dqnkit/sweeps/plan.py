"""Planning a sweep: the trials a command line asks for, each config resolved and validated once,
and where each trial stands (its run folder's newest complete checkpoint).

Everything here runs in the driver before Ray starts, so a bad spec (an unknown key or game, an
empty grid, a cluster that does not answer) is refused in one line before anything is written.
"""
import itertools
import os
import socket
from dataclasses import dataclass

from dqnkit import configs
from dqnkit.envs import ale
from dqnkit.reporting import runlog
from dqnkit.run.checkpoint import MANIFEST, Checkpointer
from dqnkit.errors import UserFacingError
from dqnkit.run.folder import RunFolder

BYTES_PER_ENTRY = 84 * 84 + 25  # a stored frame plus action, reward and flag (RingMemory)
RUNTIME_BYTES = 1.5e9  # TensorFlow, the nets and the env, per trial


class SweepError(UserFacingError, ValueError):
    """A sweep spec that cannot run; the message says what to change."""


@dataclass
class Trial:
    """One game x seed x grid value: its run folder, its resolved config and where it stands."""
    name: str  # also its run folder's name: <env>-<key>=<value>-seed<N>
    folder: RunFolder
    config: dict  # resolved and validated by the planner; the worker trains it as it is
    setting: dict  # env_name and the grid's values: what its seeds are averaged over
    seed: int
    start_step: int = 0  # the step of the run folder's newest complete checkpoint
    target_step: int = 0  # where this call's segment ends

    @property
    def finished(self):
        """At total_steps, or ended by eval_patience (counting the evaluations its checkpoint holds)."""
        if self.start_step >= self.config.total_steps:
            return True
        checkpointed = [r for r in runlog.read_log(self.folder.eval_log_path) if r["step"] <= self.start_step]
        return runlog.patience_spent(self.config, runlog.since_best(checkpointed)[1])


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
    """--seeds 1,2,3 -> [1, 2, 3], refusing anything but whole numbers."""
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise SweepError(f"--seeds expects whole numbers separated by commas, like 1,2,3; got {text!r}") from None
    if not seeds:
        raise SweepError("--seeds lists no seeds; give at least one, like --seeds 1,2,3")
    return seeds


def value_label(value):
    """A grid value as it appears in trial names and tables (0.99, not 0.9900000000000001)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def setting_label(setting):
    """`BreakoutDeterministic-v4 gamma=0.99`: a setting as the curves' legend and the table name it."""
    return " ".join(f"{k}={value_label(v)}" if k != "env_name" else str(v) for k, v in setting.items())


def plan(sweep_dir, preset, env_names, seeds, grid, sets, steps=None):
    """Every trial of the sweep in order (game, grid values, seed), each config resolved and
    validated here once, with the step its run folder is at and the step this call trains it to
    (`steps` more, or to total_steps)."""
    from dqnkit import resolve

    trials = []
    keys = list(grid)
    for env_name in env_names:
        ale.resolve_env(env_name)  # an unknown game stops the sweep here, with one line
        for values in itertools.product(*(grid[k] for k in keys)):
            grid_values = dict(zip(keys, values))
            setting = {"env_name": env_name, **grid_values}
            for seed in seeds:
                name = "-".join([env_name.replace("/", "_")] + [f"{k}={value_label(v)}" for k, v in grid_values.items()]
                                + [f"seed{seed}"])
                config, _ = resolve.resolve_config(preset, None, {**setting, "seed": seed}, sets)
                folder = RunFolder(os.path.join(sweep_dir, name))
                start = checkpointed_step(folder)
                target = config.total_steps if steps is None else min(config.total_steps, start + int(steps))
                trials.append(Trial(name=name, folder=folder, config=config, setting=setting, seed=seed,
                                    start_step=start, target_step=target))
    return trials


def checkpointed_step(folder):
    """The step of `folder`'s newest complete checkpoint (0 for a run not started).

    Complete means its manifest exists: the manifest is written last and atomically, so this
    reads no checkpoint data (a whole run's checksums take seconds per trial). Training checks
    every checksum when it loads, and falls back to an older checkpoint if one is damaged; the
    trial then ends that much short of its target, and the next sweep command trains the rest."""
    checkpointer = Checkpointer(folder.checkpoint_dir)
    for step in checkpointer.checkpoint_steps():
        if os.path.exists(os.path.join(checkpointer.path(step), MANIFEST)):
            return step
    return 0


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

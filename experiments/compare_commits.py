"""Check that two commits of this repository train the same runs, bit for bit.

    python experiments/compare_commits.py BEFORE_REF AFTER_REF [--work DIR] [--keep] [--only NAME ...]

For a refactoring that must not change behaviour: each commit is checked out in a detached
``git worktree`` (under --work, default a temporary folder), and each scenario below trains one
short smoke run per commit with that worktree's own CLI (``python <worktree>/experiments/dqn_atari.py
--mode train ...``, with ``PYTHONPATH=<worktree>/experiments:<worktree>`` so that the worktree's
``dqnkit`` and ``processors`` are imported, not the editable install's: checked once at start).
The two run folders are then compared:

- ``weights.h5`` and ``best_weights.h5``: every dataset (and attribute) of the HDF5 file, bit for bit;
- ``log.jsonl``, ``eval.jsonl``, ``segments.jsonl``: as many lines, each record equal but the
  wall-clock fields (`WALL_CLOCK_FIELDS`);
- the newest checkpoint in ``checkpoints/``: every array of ``arrays.npz``, ``state.json``, the
  copies of the logs (as above), the manifest's layout, and the replay entries of the memory chunks
  it lists, by content. Each run's files are checked against its own manifest (size, SHA-256), and
  the manifests are compared, sizes and hashes too, except the ``log.jsonl`` copy's: that file
  holds wall-clock fields, so its hash differs between equal runs (it is compared by content, as
  above). Everything else a checkpoint writes is byte-identical between equal runs (the ``.npz``
  members carry no timestamps);
- ``config.json``, the TensorBoard scalars (all but `WALL_CLOCK_SCALARS`) and the videos (bytes).

What counts as wall clock (read from ``dqnkit/reporting/runlog.py`` and ``dqnkit/training/runner.py``): in ``log.jsonl``
``time`` (Unix seconds when the game ended), ``episode_time`` and ``sps`` (seconds and steps per
second of the game); in ``segments.jsonl`` ``time`` and, though not a clock, the trainer's ``pid``;
the TensorBoard scalar ``speed/steps_per_second`` (the ``sps`` of each game: its steps are compared,
not its values). ``eval.jsonl`` and the checkpoint's ``state.json`` hold no wall clock.

The SIGTERM scenario splits a run at a moment that varies from run to run, so each commit's split
run is compared with a straight run of the same commit, and the two commits' straight runs with each
other. Between a split run and a straight one these legitimately differ: ``segments.jsonl`` (one more
segment, ended by SIGTERM), which checkpoints are kept besides the newest (the one taken at the
signal), and where the memory chunks begin and end (the entries themselves are compared). In
``log.jsonl`` the game the split fell in has ``episode_time`` and ``sps`` of its second part only:
wall clock, ignored as in any two runs.

Prints ``PASS name`` or ``FAIL name: <first difference>`` per scenario and a summary; exits 0 only
if every scenario passed, 1 otherwise, 2 on bad input or when the worktrees cannot be set up.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

# Wall clock, per JSONL file (the checkpoint's copies of log.jsonl and eval.jsonl too): fields that
# differ between two equal runs, so are left out of the comparison. log.jsonl's `time` is when a
# game ended, `episode_time` and `sps` its seconds and steps per second (training/runner.py's
# _episode_record); segments.jsonl's `time` is when each event happened, and `pid` the trainer's
# process id (runlog.SegmentJournal). Every other field must be equal.
WALL_CLOCK_FIELDS = {
    "log.jsonl": frozenset({"time", "episode_time", "sps"}),
    "eval.jsonl": frozenset(),
    "segments.jsonl": frozenset({"time", "pid"}),
}
# TensorBoard scalars that are wall clock (tensorboard_log.py: a game's `sps`): their steps are
# compared, their values are not. Event wall times are never compared.
WALL_CLOCK_SCALARS = frozenset({"speed/steps_per_second"})

WEIGHTS = ("weights.h5", "best_weights.h5")
LOGS = ("log.jsonl", "eval.jsonl", "segments.jsonl")
MANIFEST = "MANIFEST.json"
CHECKPOINT_DIR = re.compile(r"^ckpt-(\d{12})$")
MEMORY_CHUNK = re.compile(r"^(env\d+-)?entries-(\d{12})-(\d{12})\.npz$")
STOPPED_AT = re.compile(r"Stopped by SIGTERM at step ([\d,]+)")
RUN_TIMEOUT = 1800  # seconds one CLI call may take before the scenario fails

COMMON = ("--mode", "train", "--config", "smoke", "--progress", "none")
BASE_ENV = dict(os.environ)  # the trainers' environment, whatever this process sets later


def sets(*pairs):
    return tuple(arg for pair in pairs for arg in ("--set", pair))


@dataclass(frozen=True)
class Scenario:
    name: str
    args: tuple  # CLI arguments after COMMON
    segments: tuple = (None,)  # --steps of each segment of the run; None: on to total_steps
    sigterm_after_step: int = 0  # > 0: SIGTERM once a game ends at or after this step, then resume


FOUR_ENVS = sets("num_envs=4", "total_steps=1200", "checkpoint_every=600", "eval_every=600", "train_interval=2",
                 "enable_double_dqn=true", "terminal_on_life_loss=true", "fire_reset=true") + ("--no-video",)

SCENARIOS = (
    # Every option that changes a run's path, in one run of two segments (split inside a game, off
    # the checkpoint schedule): preprocessing, Double and dueling (max) DQN, soft target updates, a
    # train step every 2 agent steps, a memory smaller than the run (the ring wraps), evaluations
    # with eval_patience, 3 checkpoints kept, TensorBoard and videos.
    Scenario("smoke_all_options", sets(
        "noop_max=30", "max_pool_frames=true", "terminal_on_life_loss=true", "fire_reset=true",
        "enable_double_dqn=true", "enable_dueling_network=true", "dueling_type=max", "target_model_update=0.05",
        "adam_epsilon=1.5e-4", "delta_clip=inf", "train_interval=2", "memory_limit=1500", "checkpoint_every=500",
        "keep_checkpoints=3", "eval_every=500", "eval_episodes=2", "eval_patience=3", "log_interval=250",
        "tensorboard=true") + ("--video",), segments=(1100, None)),
    # Four envs side by side, in this process and in an actor process; split inside games.
    Scenario("envs4", FOUR_ENVS, segments=(804, None)),
    Scenario("envs4_actor_process", FOUR_ENVS + sets("actor_process=true"), segments=(804, None)),
    # The smoke preset stopped by SIGTERM after its first games past warm-up, then resumed.
    Scenario("sigterm_split", ("--no-video",), sigterm_after_step=700),
)


class InputError(Exception):
    """Bad input (a ref, a folder): one line, exit 2."""


class SetupError(Exception):
    """The worktrees cannot be made or do not import their own code: one line, exit 2."""


class RunFailed(Exception):
    """A training run did not end as it should: its scenario fails."""


@dataclass
class Side:
    """One commit under comparison and its worktree."""
    label: str  # before / after
    ref: str
    sha: str
    worktree: str

    @property
    def env(self):
        env = dict(BASE_ENV)
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(self.worktree, "experiments"), self.worktree])
        return env

    @property
    def cli(self):
        return os.path.join(self.worktree, "experiments", "dqn_atari.py")


# -- git and worktrees ---------------------------------------------------------------------------

def git(repo, *args):
    result = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"git {' '.join(args)} failed"]
        raise SetupError(lines[-1])
    return result.stdout.strip()


def repo_root(directory):
    if not os.path.isdir(directory):
        raise InputError(f"{directory} is not a directory")
    try:
        return git(directory, "rev-parse", "--show-toplevel")
    except SetupError:
        raise InputError(f"{os.path.abspath(directory)} is not in a git repository; run this inside a checkout "
                         f"(or pass --repo)") from None


def resolve_commit(repo, ref):
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except SetupError:
        raise InputError(f"unknown commit {ref!r} in {repo}") from None


def add_worktree(repo, label, ref, sha, work):
    path = os.path.join(work, label)
    git(repo, "worktree", "add", "--detach", "--quiet", path, sha)
    side = Side(label, ref, sha, path)
    if not os.path.exists(side.cli):
        raise SetupError(f"{ref} ({sha[:10]}) has no experiments/dqn_atari.py")
    return side


def remove_worktree(repo, side):
    try:
        git(repo, "worktree", "remove", "--force", side.worktree)
    except SetupError as exc:
        print(f"warning: could not remove the worktree {side.worktree}: {exc}", file=sys.stderr)


def check_imports(side, cwd):
    """Fail unless `side`'s environment imports dqnkit and processors from its own worktree."""
    code = ("import importlib.util, dqnkit; print(dqnkit.__file__); "
            "print(importlib.util.find_spec('processors').origin)")
    result = subprocess.run([sys.executable, "-c", code], env=side.env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SetupError(f"{side.label}: cannot import dqnkit: {last_line(result.stderr)}")
    dqnkit_file, processors_file = result.stdout.split()
    for path in (dqnkit_file, processors_file):
        if not os.path.realpath(path).startswith(os.path.realpath(side.worktree) + os.sep):
            raise SetupError(f"{side.label}: {path} is imported, not {side.worktree}'s own code")
    print(f"{side.label}: {side.ref} = {side.sha[:10]}, dqnkit.__file__ = {dqnkit_file}", file=sys.stderr)


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


# -- training runs -------------------------------------------------------------------------------

def start_cli(side, args, log_base, cwd):
    """Start `side`'s CLI with `args`; its stdout and stderr go to log_base.out and .err."""
    with open(log_base + ".out", "w") as out, open(log_base + ".err", "w") as err:
        return subprocess.Popen([sys.executable, side.cli, *args], stdout=out, stderr=err, env=side.env, cwd=cwd)


def finish(process, log_base, what, expected=0):
    """Wait for `process`; RunFailed unless it exits with `expected`. Returns its stderr."""
    try:
        returncode = process.wait(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise RunFailed(f"{what} took over {RUN_TIMEOUT} s") from None
    with open(log_base + ".err") as f:
        stderr = f.read()
    if returncode != expected:
        raise RunFailed(f"{what} exited with {returncode}, not {expected}: {last_line(stderr)}")
    return stderr


def train_in_segments(side, scenario, run_dir, log_base, cwd):
    """Train the run in `run_dir` in the scenario's segments, one CLI call each."""
    command = [*COMMON, *scenario.args, "--run-dir", run_dir]
    for number, steps in enumerate(scenario.segments, 1):
        extra = [] if steps is None else ["--steps", str(steps)]
        base = f"{log_base}-segment{number}"
        finish(start_cli(side, command + extra, base, cwd), base, f"{side.label}'s segment {number}")


def train_split_by_sigterm(side, scenario, run_dir, log_base, cwd):
    """Start the run, SIGTERM it once a game ends at step >= scenario.sigterm_after_step, resume it
    with the same command; returns the step it stopped at."""
    command = [*COMMON, *scenario.args, "--run-dir", run_dir]
    process = start_cli(side, command, log_base + "-terminated", cwd)
    log, deadline = os.path.join(run_dir, "log.jsonl"), time.monotonic() + RUN_TIMEOUT
    while last_logged_step(log) < scenario.sigterm_after_step:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RunFailed(f"{side.label}'s run ended (or took too long) before a game ended at step "
                            f"{scenario.sigterm_after_step:,} or later: no SIGTERM sent")
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stderr = finish(process, log_base + "-terminated", f"{side.label}'s run sent SIGTERM", 128 + signal.SIGTERM)
    match = STOPPED_AT.search(stderr)
    if match is None:
        raise RunFailed(f"{side.label}'s run sent SIGTERM did not say where it stopped: {last_line(stderr)}")
    stopped = int(match.group(1).replace(",", ""))
    finish(start_cli(side, command, log_base + "-resumed", cwd), log_base + "-resumed", f"{side.label}'s resume")
    starts = [r for r in read_jsonl(os.path.join(run_dir, "segments.jsonl")) if r.get("event") == "start"]
    if len(starts) != 2 or starts[-1].get("step") != stopped:
        raise RunFailed(f"{side.label}'s second segment did not resume at step {stopped:,} (segments.jsonl)")
    return stopped


def last_logged_step(path):
    """The step of the last complete line of a log.jsonl being written (-1 before any)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line for line in f if line.endswith("\n")]
    except FileNotFoundError:
        return -1
    return json.loads(lines[-1])["step"] if lines else -1


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# -- comparing two run folders ---------------------------------------------------------------------

def run_differences(a, b, strict, names):
    """One line per file that differs between run folders `a` and `b` (its first difference).
    `strict`: the runs were made the same way (not a split run against a straight one)."""
    found = [compare_json_files(a, b, "config.json", names)]
    for name in LOGS:
        if strict or name != "segments.jsonl":  # a split run has one more segment, by design
            found.append(compare_jsonl(os.path.join(a, name), os.path.join(b, name), name, names))
    for name in WEIGHTS:
        found.append(compare_weights(os.path.join(a, name), os.path.join(b, name), name, names))
    found.append(compare_checkpoints(os.path.join(a, "checkpoints"), os.path.join(b, "checkpoints"), strict, names))
    found.append(compare_tensorboard(os.path.join(a, "tensorboard"), os.path.join(b, "tensorboard"), names))
    found.append(compare_videos(os.path.join(a, "videos"), os.path.join(b, "videos")))
    return [difference for difference in found if difference]


def presence(path_a, path_b, name, names, required=False):
    """(difference or None, whether both exist) for two files or folders that should match."""
    there = os.path.exists(path_a), os.path.exists(path_b)
    if there == (True, True):
        return None, True
    if there == (False, False):
        return (f"{name} is missing in both runs" if required else None), False
    return f"{name} exists only in the {names[0] if there[0] else names[1]} run", False


# Config keys the AFTER commit adds (--new-config-key): a config saved before a key existed reads
# it as its default, so config.json and a checkpoint's config may hold it on one side only.
NEW_CONFIG_KEYS = set()


def json_difference(a, b, where):
    """Where two JSON values first differ (None if equal); floats bit for bit (NaN equals NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                if key in NEW_CONFIG_KEYS and where in ("", "config"):  # config.json, a checkpoint's config
                    continue
                return f"{where} key {key!r} is on one side only"
            difference = json_difference(a[key], b[key], f"{where}.{key}" if where else str(key))
            if difference:
                return difference
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{where} has {len(a)} items != {len(b)}"
        for index, (x, y) in enumerate(zip(a, b)):
            difference = json_difference(x, y, f"{where}[{index}]")
            if difference:
                return difference
        return None
    if type(a) is type(b) and (a == b or (isinstance(a, float) and a != a and b != b)):
        return None
    return f"{where} {a!r} != {b!r}"


def compare_json_files(dir_a, dir_b, name, names):
    path_a, path_b = os.path.join(dir_a, name), os.path.join(dir_b, name)
    missing, both = presence(path_a, path_b, name, names, required=name == "config.json")
    if not both:
        return missing
    with open(path_a, encoding="utf-8") as fa, open(path_b, encoding="utf-8") as fb:
        difference = json_difference(json.load(fa), json.load(fb), "")
    return difference and f"{name} {difference}"


def compare_jsonl(path_a, path_b, name, names):
    """Same number of lines, each record equal but for the file's wall-clock fields."""
    missing, both = presence(path_a, path_b, name, names, required=name == "log.jsonl")
    if not both:
        return missing
    ignored = WALL_CLOCK_FIELDS.get(os.path.basename(path_a), frozenset())
    records_a, records_b = read_jsonl(path_a), read_jsonl(path_b)
    counts = "" if len(records_a) == len(records_b) else f"{name} has {len(records_a)} lines != {len(records_b)}"
    for number, (ra, rb) in enumerate(zip(records_a, records_b), 1):
        ra = {k: v for k, v in ra.items() if k not in ignored}
        rb = {k: v for k, v in rb.items() if k not in ignored}
        difference = json_difference(ra, rb, "")
        if difference:
            return f"{name} line {number} field {difference}" + (f" ({counts})" if counts else "")
    return counts or None


def array_difference(name, a, b):
    """Where two arrays first differ, bit for bit (None if they do not)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return f"{name}: {a.dtype}{list(a.shape)} != {b.dtype}{list(b.shape)}"
    if a.dtype == object:
        return None if a.tolist() == b.tolist() else f"{name} differs"
    if a.tobytes() == b.tobytes():
        return None
    if a.ndim == 0:
        return f"{name}: {a.item()!r} != {b.item()!r}"
    bits_a = np.ascontiguousarray(a).view(np.uint8).reshape(a.size, -1)
    bits_b = np.ascontiguousarray(b).view(np.uint8).reshape(b.size, -1)
    unequal = np.flatnonzero((bits_a != bits_b).any(axis=1))
    first = tuple(int(i) for i in np.unravel_index(unequal[0], a.shape))
    return (f"{name} differs in {len(unequal):,} of {a.size:,} elements, first at {first}: "
            f"{a[first].item()!r} != {b[first].item()!r}")


def h5_contents(path):
    """{dataset path: array} and {object path: attributes} of an HDF5 file."""
    import h5py

    datasets, attributes = {}, {}
    with h5py.File(path, "r") as f:
        def visit(name, item):
            attributes[name] = {k: np.asarray(v).tolist() for k, v in item.attrs.items()}
            if isinstance(item, h5py.Dataset):
                datasets[name] = item[()]
        visit("/", f)
        f.visititems(visit)
    return datasets, attributes


def compare_weights(path_a, path_b, name, names):
    """Every dataset of two Keras weight files bit for bit, and their attributes (layer names)."""
    missing, both = presence(path_a, path_b, name, names, required=name == "weights.h5")
    if not both:
        return missing
    (data_a, attrs_a), (data_b, attrs_b) = h5_contents(path_a), h5_contents(path_b)
    if sorted(data_a) != sorted(data_b):
        only = sorted(set(data_a) ^ set(data_b))
        return f"{name} datasets differ: {only[:3]} on one side only"
    for dataset in data_a:
        difference = array_difference(f"{name} dataset {dataset}", data_a[dataset], data_b[dataset])
        if difference:
            return difference
    difference = json_difference(attrs_a, attrs_b, "")
    return difference and f"{name} attribute {difference}"


def load_npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def compare_npz(path_a, path_b, name):
    arrays_a, arrays_b = load_npz(path_a), load_npz(path_b)
    if list(arrays_a) != list(arrays_b):
        only = sorted(set(arrays_a) ^ set(arrays_b))
        return f"{name} holds other arrays: {only[:3] or 'in another order'}"
    for key in arrays_a:
        difference = array_difference(f"{name} array {key}", arrays_a[key], arrays_b[key])
        if difference:
            return difference
    return None


# -- checkpoints -------------------------------------------------------------------------------------

def complete_checkpoints(directory):
    """Names of the checkpoint folders that have a manifest, oldest first."""
    return sorted(name for name in os.listdir(directory)
                  if CHECKPOINT_DIR.match(name) and os.path.exists(os.path.join(directory, name, MANIFEST)))


def manifest_problem(directory, manifest, name):
    """A file a checkpoint's manifest lists with another size or SHA-256 than it has (None if none)."""
    for relpath, expected in manifest["files"].items():
        full = os.path.join(directory, relpath)
        if not os.path.exists(full) or os.path.getsize(full) != expected["size"]:
            return f"the {name} run's checkpoints/{relpath} is missing or not the size its manifest says"
        with open(full, "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != expected["sha256"]:
                return f"the {name} run's checkpoints/{relpath} does not have the SHA-256 its manifest says"
    return None


def manifest_outline(manifest, strict):
    """The manifest as equal runs have it: without the size and hash of files with wall-clock fields
    (compared by content instead), nor of state.json where AFTER adds config keys; between a split run and a straight one, also without the memory
    chunks (where they begin and end depends on the split; their entries are compared)."""
    outline = {key: value for key, value in manifest.items() if key not in ("files", "memory_chunks")}
    outline["files"] = {}
    for path, description in manifest["files"].items():
        if strict or not path.startswith("memory" + os.sep):
            name = os.path.basename(path)
            if WALL_CLOCK_FIELDS.get(name):
                description = "(wall clock)"
            elif name == "state.json" and NEW_CONFIG_KEYS:  # holds the config: compared by content instead
                description = "(config keys added)"
            outline["files"][path] = description
    if strict:
        outline["memory_chunks"] = manifest["memory_chunks"]
    return outline


def compare_checkpoints(dir_a, dir_b, strict, names):
    """The newest complete checkpoint of two runs: manifest, its folder's files, memory entries."""
    missing, both = presence(dir_a, dir_b, "checkpoints/", names, required=True)
    if not both:
        return missing
    kept_a, kept_b = complete_checkpoints(dir_a), complete_checkpoints(dir_b)
    if not kept_a or not kept_b:
        return f"checkpoints/ has no complete checkpoint in the {names[0] if not kept_a else names[1]} run"
    if (kept_a != kept_b) if strict else (kept_a[-1] != kept_b[-1]):
        return f"checkpoints/ keeps {kept_a} != {kept_b}"
    newest = kept_a[-1]
    manifests = []
    for directory, name in zip((dir_a, dir_b), names):
        with open(os.path.join(directory, newest, MANIFEST), encoding="utf-8") as f:
            manifests.append(json.load(f))
        problem = manifest_problem(directory, manifests[-1], name)
        if problem:
            return problem
    difference = json_difference(*(manifest_outline(m, strict) for m in manifests), "")
    if difference:
        return f"checkpoints/{newest}/{MANIFEST} {difference}"
    difference = compare_checkpoint_files(os.path.join(dir_a, newest), os.path.join(dir_b, newest), names)
    return difference or compare_memory(dir_a, dir_b, manifests, newest)


def compare_checkpoint_files(folder_a, folder_b, names):
    """Every file of one checkpoint's folder but the manifest, each by its kind of content."""
    files = sorted(set(os.listdir(folder_a)) | set(os.listdir(folder_b)))
    for name in files:
        if name == MANIFEST:
            continue
        path_a, path_b = os.path.join(folder_a, name), os.path.join(folder_b, name)
        label = f"checkpoints/{os.path.basename(folder_a)}/{name}"
        missing, both = presence(path_a, path_b, label, names)
        if not both:
            difference = missing
        elif name.endswith(".npz"):
            difference = compare_npz(path_a, path_b, label)
        elif name.endswith(".jsonl"):
            difference = compare_jsonl(path_a, path_b, label, names)
        elif name.endswith(".json"):
            difference = compare_json_files(folder_a, folder_b, name, names)
            difference = difference and f"checkpoints/{os.path.basename(folder_a)}/{difference}"
        else:
            with open(path_a, "rb") as fa, open(path_b, "rb") as fb:
                difference = None if fa.read() == fb.read() else f"{label} differs"
        if difference:
            return difference
    return None


def memory_entries(directory, manifest):
    """{stream prefix: (first, end, {key: array})}: the replay entries of each stream (env) that
    the checkpoint's memory chunks hold, joined in order."""
    chunks = {}
    for relpath in manifest["memory_chunks"]:
        match = MEMORY_CHUNK.match(os.path.basename(relpath))
        chunks.setdefault(match.group(1) or "", []).append((int(match.group(2)), int(match.group(3)), relpath))
    streams = {}
    for prefix, ranges in chunks.items():
        ranges.sort()
        if any(end != next_first for (_, end, _), (next_first, _, _) in zip(ranges, ranges[1:])):
            raise RunFailed(f"checkpoint memory chunks {[r[2] for r in ranges]} leave a gap")
        parts = [load_npz(os.path.join(directory, relpath)) for _, _, relpath in ranges]
        joined = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
        streams[prefix] = (ranges[0][0], ranges[-1][1], joined)
    return streams


def compare_memory(dir_a, dir_b, manifests, newest):
    """The replay entries both checkpoints' chunks hold, by content (chunk boundaries aside)."""
    try:
        streams_a, streams_b = (memory_entries(d, m) for d, m in zip((dir_a, dir_b), manifests))
    except RunFailed as exc:
        return str(exc)
    if sorted(streams_a) != sorted(streams_b):
        return f"checkpoints/{newest} has memory streams {sorted(streams_a)} != {sorted(streams_b)}"
    for prefix, (first_a, end_a, arrays_a) in streams_a.items():
        first_b, end_b, arrays_b = streams_b[prefix]
        if end_a != end_b or sorted(arrays_a) != sorted(arrays_b):
            return f"checkpoints/{newest} memory {prefix or 'stream'} ends at entry {end_a:,} != {end_b:,}"
        start = max(first_a, first_b)
        for key in arrays_a:
            where = f"checkpoints/{newest} memory {prefix}{key} from entry {start:,}"
            difference = array_difference(where, arrays_a[key][start - first_a:], arrays_b[key][start - first_b:])
            if difference:
                return difference
    return None


# -- TensorBoard and videos ---------------------------------------------------------------------------

def tensorboard_scalars(directory):
    """Every scalar as TensorBoard reads it: {tag: [(step, value)]} (wall times left out)."""
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up lines, if tensorboard loads it
    logging.getLogger("tensorboard").setLevel(logging.ERROR)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(directory, size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [[e.step, e.value] for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def compare_tensorboard(dir_a, dir_b, names):
    missing, both = presence(dir_a, dir_b, "tensorboard/", names)
    if not both:
        return missing
    scalars_a, scalars_b = tensorboard_scalars(dir_a), tensorboard_scalars(dir_b)
    if sorted(scalars_a) != sorted(scalars_b):
        return f"tensorboard/ tags {sorted(scalars_a)} != {sorted(scalars_b)}"
    for tag, points_a in scalars_a.items():
        points_b = scalars_b[tag]
        if tag in WALL_CLOCK_SCALARS:
            points_a, points_b = [step for step, _ in points_a], [step for step, _ in points_b]
        difference = json_difference(points_a, points_b, f"tensorboard/ {tag}")
        if difference:
            return difference
    return None


def compare_videos(dir_a, dir_b):
    """Which games were recorded, and the mp4 files byte for byte (the encoder writes no date)."""
    videos_a = sorted(os.listdir(dir_a)) if os.path.isdir(dir_a) else []
    videos_b = sorted(os.listdir(dir_b)) if os.path.isdir(dir_b) else []
    if videos_a != videos_b:
        return f"videos/ {videos_a} != {videos_b}"
    for name in videos_a:
        with open(os.path.join(dir_a, name), "rb") as fa, open(os.path.join(dir_b, name), "rb") as fb:
            if fa.read() != fb.read():
                return f"videos/{name} differs"
    return None


# -- scenarios -------------------------------------------------------------------------------------------

def train_scenario(scenario, sides, root, cwd):
    """Train the scenario's runs with each side's CLI: {(label, variant): run folder}."""
    folders = {}
    for side in sides:
        variants = ("straight", "split") if scenario.sigterm_after_step else ("run",)
        for variant in variants:
            run_dir = os.path.join(root, f"{side.label}-{variant}")
            log_base = os.path.join(root, "logs", f"{side.label}-{variant}")
            os.makedirs(os.path.dirname(log_base), exist_ok=True)
            started = time.monotonic()
            if variant == "split":
                stopped = train_split_by_sigterm(side, scenario, run_dir, log_base, cwd)
                how = f"SIGTERM at step {stopped:,}, resumed"
            else:
                train_in_segments(side, scenario, run_dir, log_base, cwd)
                how = " + ".join("rest" if s is None else str(s) for s in scenario.segments) + " steps"
            print(f"  {scenario.name}: {side.label} {variant} trained ({how}) in {time.monotonic() - started:.0f} s",
                  file=sys.stderr)
            folders[side.label, variant] = run_dir
    return folders


def scenario_comparisons(scenario, sides):
    """(prefix, (label, variant), (label, variant), strict) of each pair of runs to compare."""
    before, after = sides[0].label, sides[1].label
    if not scenario.sigterm_after_step:
        return [("", (before, "run"), (after, "run"), True)]
    return [("straight runs: ", (before, "straight"), (after, "straight"), True),
            (f"{before}'s split vs straight: ", (before, "split"), (before, "straight"), False),
            (f"{after}'s split vs straight: ", (after, "split"), (after, "straight"), False)]


def run_scenario(scenario, sides, work):
    """Train and compare one scenario; returns (passed, first difference or None, seconds)."""
    started = time.monotonic()
    root = os.path.join(work, "runs", scenario.name)
    try:
        folders = train_scenario(scenario, sides, root, work)
    except RunFailed as exc:
        return False, str(exc), time.monotonic() - started
    differences = []
    for prefix, key_a, key_b, strict in scenario_comparisons(scenario, sides):
        names = (key_a[0], key_b[0]) if strict else (key_a[1], key_b[1])
        found = run_differences(folders[key_a], folders[key_b], strict, names)
        differences += [prefix + difference for difference in found]
    first = None
    if differences:
        more = len(differences) - 1
        first = differences[0] + (f" (and {more} more: " + "; ".join(differences[1:4]) + ")" if more else "")
    return not differences, first, time.monotonic() - started


# -- command line ------------------------------------------------------------------------------------------

def parse_args(argv):
    names = [scenario.name for scenario in SCENARIOS]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", metavar="BEFORE_REF", help="the commit before the change")
    parser.add_argument("after", metavar="AFTER_REF", help="the commit after it")
    parser.add_argument("--work", default=None, help="folder for the worktrees and runs (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the worktrees and run folders")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help=f"scenarios: {', '.join(names)}")
    parser.add_argument("--repo", default=".", help="a folder of the repository (default: the current one)")
    parser.add_argument("--new-config-key", action="append", default=[], metavar="KEY",
                        help="a config key AFTER adds (at its default, which keeps BEFORE's runs): allowed in "
                             "AFTER's config.json and checkpoint configs only (repeatable)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.only or () if name not in names]
    if unknown:
        parser.exit(2, f"error: unknown scenario {', '.join(unknown)}; choose from {', '.join(names)}\n")
    return args


def prepare_work(work):
    """(work folder, whether this script made it); refuses one that already holds worktrees or runs."""
    if work is None:
        return tempfile.mkdtemp(prefix="compare_commits-"), True
    work = os.path.abspath(work)
    taken = [name for name in ("before", "after", "runs") if os.path.exists(os.path.join(work, name))]
    if taken:
        raise InputError(f"{work} already holds {', '.join(taken)}; pass an empty or new --work folder")
    made = not os.path.exists(work)
    try:
        os.makedirs(work, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot make --work folder {work} ({exc.strerror})") from None
    return work, made


def clean_up(repo, sides, work, made, keep):
    if keep:
        print(f"kept the worktrees and runs in {work} (remove the worktrees with: git worktree remove --force "
              f"{' '.join(side.worktree for side in sides)})", file=sys.stderr)
        return
    for side in sides:
        remove_worktree(repo, side)
    shutil.rmtree(os.path.join(work, "runs"), ignore_errors=True)
    if made:
        shutil.rmtree(work, ignore_errors=True)


def compare(args, repo, shas, work):
    """Set up both worktrees and run every chosen scenario; returns the exit code."""
    scenarios = [s for s in SCENARIOS if args.only is None or s.name in args.only]
    sides = []
    try:
        for label, ref, sha in zip(("before", "after"), (args.before, args.after), shas):
            sides.append(add_worktree(repo, label, ref, sha, work))
        for side in sides:
            check_imports(side, work)
        results = []
        for scenario in scenarios:
            passed, difference, seconds = run_scenario(scenario, sides, work)
            print(f"PASS {scenario.name}" if passed else f"FAIL {scenario.name}: {difference}", flush=True)
            results.append((scenario.name, passed, seconds))
    finally:
        clean_up(repo, sides, work, args.made_work, args.keep)
    passed = sum(ok for _, ok, _ in results)
    times = ", ".join(f"{name} {seconds:.0f} s" for name, _, seconds in results)
    print(f"{passed} of {len(results)} scenarios passed ({args.before} -> {args.after}; {times})")
    return 0 if passed == len(results) else 1


def main(argv=None):
    args = parse_args(argv)
    NEW_CONFIG_KEYS.update(args.new_config_key)
    try:
        repo = repo_root(args.repo)
        shas = [resolve_commit(repo, ref) for ref in (args.before, args.after)]
        work, args.made_work = prepare_work(args.work)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return compare(args, repo, shas, work)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""Crash-safe checkpoints of a whole training run, with an incremental replay memory.

On-disk layout under ``<run>/checkpoints/``::

    memory/entries-<first>-<end>.npz   replay entries with append numbers [first, end), written
                                       once by the checkpoint that first saw them, compressed
    memory/env<i>-entries-<first>-<end>.npz   the same for env i's stream, with num_envs > 1
    ckpt-<step>/arrays.npz             online, target and optimizer weights; numpy's global RNG
                                       key; the ALE state (bytes)
    ckpt-<step>/state.json             step, episode, counters, every other RNG state, config
    ckpt-<step>/log.jsonl              the run's logs up to this checkpoint: episodes, and
    ckpt-<step>/eval.jsonl             evaluations (older checkpoints have no eval.jsonl)
    ckpt-<step>/MANIFEST.json          written last and atomically: size and SHA-256 of every
                                       file above and of every memory chunk this checkpoint uses

A checkpoint counts only if its manifest parses and every file it lists has the listed size and
checksum, so a kill at any moment - or Drive syncing files in any order - leaves the previous
complete checkpoint usable. Loading tries the newest first and falls back with a warning.
Nothing here unpickles: arrays are read with ``allow_pickle=False`` and the rest is JSON.
"""
import hashlib
import json
import os
import re
import shutil
import warnings
import zipfile

import numpy as np

from dqnkit.errors import UserFacingError

MANIFEST = "MANIFEST.json"
_CKPT_DIR = re.compile(r"^ckpt-(\d{12})$")
_CHUNK = re.compile(r"^(env\d+-)?entries-(\d{12})-(\d{12})\.npz$")
FORMAT_VERSION = 1


class CheckpointError(UserFacingError):
    """No usable checkpoint, or one that does not belong to this run."""


def sha256_of(path, block=8 << 20):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_file(path):
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:  # some FUSE mounts (Drive) do not support fsync; the manifest still guards
        pass


def write_atomic(path, data: bytes):
    """Write `data` to a temp file beside `path`, fsync it, then rename it over `path`."""
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        try:
            os.fsync(f.fileno())
        except OSError:
            pass
    os.replace(tmp, path)


def save_npz(path, arrays, compress_level=1):
    """Like ``np.savez_compressed`` with a fast zlib level (frames compress ~20x even at 1)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compress_level) as zf:
        for name, array in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
    _fsync_file(path)


def load_npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


class Checkpointer:
    """Writes, verifies, loads and prunes the checkpoints of one run folder."""

    def __init__(self, directory, keep=2):
        self.directory = directory
        self.memory_dir = os.path.join(directory, "memory")
        self.keep = max(1, int(keep))

    # -- listing -----------------------------------------------------------------------------------
    def checkpoint_steps(self):
        """Steps of every checkpoint folder, complete or not, newest first."""
        if not os.path.isdir(self.directory):
            return []
        steps = [int(m.group(1)) for name in os.listdir(self.directory) if (m := _CKPT_DIR.match(name))]
        return sorted(steps, reverse=True)

    def path(self, step):
        return os.path.join(self.directory, f"ckpt-{step:012d}")

    def verify(self, step):
        """The manifest of checkpoint `step` if every file it lists is intact; else raise."""
        folder = self.path(step)
        try:
            with open(os.path.join(folder, MANIFEST), "rb") as f:
                manifest = json.loads(f.read())
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"checkpoint at step {step} has no readable manifest ({exc})") from None
        if manifest.get("format") != FORMAT_VERSION or manifest.get("step") != step:
            raise CheckpointError(f"checkpoint at step {step} has a manifest of another format or step")
        for relpath, expected in manifest["files"].items():
            full = os.path.join(self.directory, relpath)
            try:
                size = os.path.getsize(full)
            except OSError:
                raise CheckpointError(f"checkpoint at step {step}: {relpath} is missing") from None
            if size != expected["size"] or sha256_of(full) != expected["sha256"]:
                raise CheckpointError(f"checkpoint at step {step}: {relpath} is damaged (size or checksum differs)")
        return manifest

    def latest_complete(self):
        """(step, manifest) of the newest intact checkpoint, warning about each damaged newer one."""
        for step in self.checkpoint_steps():
            try:
                return step, self.verify(step)
            except CheckpointError as exc:
                warnings.warn(f"{exc}; falling back to an earlier checkpoint", stacklevel=2)
        return None, None

    # -- saving ------------------------------------------------------------------------------------
    def save(self, step, arrays, state, logs, memory, previous_manifest=None):
        """Write checkpoint `step`: new memory entries, arrays, state, log copies, then the manifest.

        `logs` maps file names (``log.jsonl``, ``eval.jsonl``) to the run's files to copy.
        `previous_manifest` is the manifest of the checkpoint this process resumed from or wrote
        last: its memory chunks are reused, and only entries appended since are written.
        """
        os.makedirs(self.memory_dir, exist_ok=True)
        folder = self.path(step)
        if os.path.exists(folder):  # a damaged or stale checkpoint of the same step: replace it
            shutil.rmtree(folder)
        os.makedirs(folder)

        chunks = self._write_memory_chunks(memory, previous_manifest)
        files = {}
        save_npz(os.path.join(folder, "arrays.npz"), arrays)
        write_atomic(os.path.join(folder, "state.json"), json.dumps(state).encode())
        for name, log_path in logs.items():
            log_copy = os.path.join(folder, name)
            if os.path.exists(log_path):
                shutil.copyfile(log_path, log_copy)
            else:
                open(log_copy, "wb").close()
            _fsync_file(log_copy)
        for name in ("arrays.npz", "state.json", *logs):
            relpath = os.path.join(os.path.basename(folder), name)
            files[relpath] = self._describe(relpath)
        for relpath, description in chunks.items():
            files[relpath] = description
        appended = [stream.total_appended for _, stream in _streams(memory)]
        manifest = {"format": FORMAT_VERSION, "step": step, "files": files, "memory_chunks": sorted(chunks),
                    "memory_total_appended": appended[0] if len(appended) == 1 else appended}
        write_atomic(os.path.join(folder, MANIFEST), json.dumps(manifest, indent=1).encode())
        self._prune(step, manifest)
        return manifest

    def _describe(self, relpath):
        full = os.path.join(self.directory, relpath)
        return {"size": os.path.getsize(full), "sha256": sha256_of(full)}

    def _write_memory_chunks(self, memory, previous_manifest):
        """Chunks covering the entries still in memory (in each env's stream): reused ones plus
        one new chunk per stream."""
        chunks = {}
        for prefix, stream in _streams(memory):
            oldest_kept = stream.total_appended - stream.nb_entries
            covered_until = oldest_kept
            if previous_manifest is not None:
                for relpath in previous_manifest["memory_chunks"]:
                    chunk_prefix, first, end = _chunk_range(relpath)
                    if chunk_prefix == prefix and end > oldest_kept:  # holds entries not overwritten yet
                        chunks[relpath] = previous_manifest["files"][relpath]
                        covered_until = max(covered_until, end)
            if covered_until < stream.total_appended:
                relpath = os.path.join("memory", f"{prefix}entries-{covered_until:012d}-{stream.total_appended:012d}.npz")
                save_npz(os.path.join(self.directory, relpath), stream.export_entries(covered_until, stream.total_appended))
                chunks[relpath] = self._describe(relpath)
        return chunks

    def _prune(self, written_step, written_manifest):
        """Keep the newest `keep` complete checkpoints; delete older folders and unused chunks.

        The checkpoint just written counts as complete without hashing its files a second time."""
        kept, referenced = 0, set()
        for step in self.checkpoint_steps():
            try:
                if kept >= self.keep:
                    manifest = None
                elif step == written_step:
                    manifest = written_manifest
                else:
                    manifest = self.verify(step)
            except CheckpointError:
                manifest = None
            if manifest is not None:
                kept += 1
                referenced.update(manifest["memory_chunks"])
            else:
                shutil.rmtree(self.path(step), ignore_errors=True)
        for name in os.listdir(self.memory_dir):
            relpath = os.path.join("memory", name)
            if relpath not in referenced:
                os.remove(os.path.join(self.memory_dir, name))

    # -- loading -----------------------------------------------------------------------------------
    def latest_config(self):
        """(step, config dict) from the newest complete checkpoint, or (step, None) if it predates
        configs in checkpoints, or (None, None) without a complete checkpoint."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # training reports damaged checkpoints when it loads them
            step, _ = self.latest_complete()
        if step is None:
            return None, None
        return step, self.config_of(step)

    def config_of(self, step):
        """The config dict checkpoint `step` was trained with (None if it predates configs in
        checkpoints). Reads its state only: verify it first."""
        with open(os.path.join(self.path(step), "state.json"), "rb") as f:
            return json.loads(f.read()).get("config")

    def load(self, step, manifest, memory):
        """Arrays, state and logs ({file name: bytes}) of checkpoint `step`; fills `memory` from
        its chunks. A log the checkpoint does not hold (it predates that log) comes back empty."""
        folder = self.path(step)
        arrays = load_npz(os.path.join(folder, "arrays.npz"))
        with open(os.path.join(folder, "state.json"), "rb") as f:
            state = json.loads(f.read())
        logs = {}
        for relpath in manifest["files"]:
            if relpath.startswith(os.path.basename(folder) + os.sep) and relpath.endswith(".jsonl"):
                with open(os.path.join(self.directory, relpath), "rb") as f:
                    logs[os.path.basename(relpath)] = f.read()
        streams = _streams(memory)
        totals = manifest["memory_total_appended"]
        totals = totals if isinstance(totals, list) else [totals]
        if len(totals) != len(streams):
            raise CheckpointError(f"checkpoint at step {step} holds the memory of {len(totals)} env(s), this run "
                                  f"plays {len(streams)}; resume it with num_envs={len(totals)}")
        for (prefix, stream), total in zip(streams, totals):
            oldest_kept = max(0, total - stream.limit)
            for relpath in manifest["memory_chunks"]:
                chunk_prefix, first, end = _chunk_range(relpath)
                if chunk_prefix != prefix:
                    continue
                entries = load_npz(os.path.join(self.directory, relpath))
                skip = max(0, oldest_kept - first)
                stream.import_entries(first + skip, {k: v[skip:] for k, v in entries.items()})
            stream.total_appended = total
        return arrays, state, logs


def _streams(memory):
    """(chunk name prefix, RingMemory) of each stream of entries: the memory itself for one env,
    ``env<i>-`` and env i's stream of a ``StreamMemory``."""
    if hasattr(memory, "streams"):
        return [(f"env{i}-", stream) for i, stream in enumerate(memory.streams)]
    return [("", memory)]


def _chunk_range(relpath):
    """(stream prefix, first, end) of a memory chunk's file name."""
    match = _CHUNK.match(os.path.basename(relpath))
    return match.group(1) or "", int(match.group(2)), int(match.group(3))

"""Training in resumable segments, and testing, for keras-rl2's DQN on Atari.

One call of `train` is one *segment*: it resumes from the run's newest complete checkpoint (or
starts the run), trains until ``config.total_steps`` or for `steps` more steps, checkpoints
every ``config.checkpoint_every`` steps and at the end. Our loop, not ``Agent.fit``, owns the
global step (a Python int) and sets ``agent.step`` from it, so epsilon, warm-up and target
updates continue where they were.

Checkpoints at any step: a checkpoint holds the game in progress - the env's state (ALE's
emulator with its RNG, the wrappers' fields), the agent's window of recent frames, the current
observation and the game's score, length and losses so far - so it is taken exactly at every
multiple of ``checkpoint_every`` and ``eval_every`` (after the evaluation), at the segment's last
step, and when SIGINT or SIGTERM arrives (``stopping.py``), whether or not a game is running.
A resumed run is step-for-step identical to one that never stopped. (Before this, checkpoints
waited for the end of a game; such checkpoints still load. With ``terminal_on_life_loss`` a game
holds several of the agent's episodes; the log and the episode count follow whole games.)

Evaluation plays on an env of its own with a seed derived from the run's seed and the step, and
puts the global RNGs back afterwards: it changes nothing in training, and a resumed run repeats
an evaluation it lost exactly.
"""
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass

from dqnkit import compat  # noqa: F401  (tf-keras before TensorFlow)

import h5py
import numpy as np
import tensorflow as tf

from dqnkit import configs, envs, rngs, runlog, video
from dqnkit.agent import build_agent
from dqnkit.checkpoint import Checkpointer, write_atomic
from dqnkit.errors import UserFacingError
from dqnkit.lock import RunLock
from dqnkit.memory import RingMemory
from dqnkit.progress import Progress
from dqnkit.rngs import make_deterministic
from dqnkit.run_folder import RunFolder
from dqnkit.stopping import SignalGuard, Stopped
from dqnkit.tensorboard_log import TensorBoardLog
from processors import AtariProcessor

warnings.filterwarnings("ignore", message=".*Overwriting existing videos.*")


@dataclass
class SegmentResult:
    run_dir: str
    start_step: int
    end_step: int
    episodes: int
    resumed_from: int  # step of the checkpoint resumed from, or -1 for a new run
    seconds: float


@dataclass
class TestResult:
    scores: list
    videos: list
    weights: str

    @property
    def mean(self):
        return float(np.mean(self.scores))

    @property
    def std(self):
        return float(np.std(self.scores))


# -- what a checkpoint holds ----------------------------------------------------------------------
def bundle(agent, env, config, step, episode, game=None):
    """A checkpoint's arrays and JSON state, assembled from each owner's own state: the agent's
    (weights, optimizer, step), the memory's sampler, the env's, the global generators', the
    game in progress if there is one, and the run's counters and config. (The memory's entries
    are written by the checkpointer.)"""
    agent_arrays, agent_state = agent.get_state()
    rng_arrays, rng_state = rngs.get_state()
    env_state = envs.save_env_state(env)
    arrays = {**agent_arrays, **rng_arrays, "ale_state": np.frombuffer(env_state["ale_state"], dtype=np.uint8)}
    wrappers = env_state["wrappers"]
    if "preprocessing" in wrappers:  # its two max-pool frames are arrays; the rest is JSON
        for i, frame in enumerate(wrappers["preprocessing"].pop("obs_buffer")):
            arrays[f"env_obs_buffer_{i}"] = frame
    state = {"step": step, "episode": episode, **rng_state, "memory_rng": agent.memory.get_state()["rng"],
             "env_np_random": env_state["np_random"], "env_wrappers": wrappers, "config": configs.to_dict(config)}
    if game is not None:
        game_arrays, state["game"] = game.get_state()
        arrays.update({f"game_{name}": value for name, value in game_arrays.items()})
    return arrays, state


def unbundle(agent, env, arrays, state, seed):
    """Give each owner back its part of a checkpoint made by `bundle`. Returns the game state
    (arrays, JSON) when the checkpoint was taken in the middle of a game, else None."""
    agent.set_state(arrays, {"step": state["step"]})
    rngs.set_state(arrays, state)
    agent.memory.set_state({"rng": state["memory_rng"]})
    wrappers = state.get("env_wrappers", {})
    if "preprocessing" in wrappers:
        wrappers["preprocessing"]["obs_buffer"] = [arrays[k] for k in sorted(arrays) if k.startswith("env_obs_buffer_")]
    envs.restore_env_state(env, {"ale_state": arrays["ale_state"].tobytes(), "np_random": state["env_np_random"],
                                 "wrappers": wrappers}, seed)
    if "game" not in state:
        return None
    return {k[len("game_"):]: v for k, v in arrays.items() if k.startswith("game_")}, state["game"]


class WeightsError(UserFacingError):
    """A weights file that is missing, unreadable or made for another env or model."""


def load_weights_checked(agent, path, env_name):
    """Load weights (plain arrays: no code runs) with a one-line message for every failure.

    Takes what keras users hold: HDF5 from ``save_weights`` (``.h5``, or the keras-rl example's
    ``.h5f`` from standalone Keras), and the TensorFlow checkpoint that tf-keras writes today for a
    name like ``dqn_..._weights.h5f`` (a ``.index`` and ``.data-*`` pair under that prefix)."""
    tf_checkpoint = os.path.isfile(path + ".index")
    if not tf_checkpoint and os.path.isdir(path):
        files = sorted(name for name in os.listdir(path) if name.endswith((".h5", ".h5f", ".hdf5", ".index")))
        raise WeightsError(f"weights {path} is a folder, not a weights file; pass "
                           + (f"one of its files ({', '.join(files[:6])})" if files else "the file itself"))
    if not tf_checkpoint and not os.path.isfile(path):
        raise WeightsError(f"weights file {path} does not exist; check the path or train first")
    try:
        if tf_checkpoint:
            agent.model.load_weights(path).assert_existing_objects_matched()
        elif h5py.is_hdf5(path) and not path.endswith((".h5", ".hdf5")):
            # tf-keras picks the format by the name's ending: give an HDF5 file the ending it expects.
            with tempfile.TemporaryDirectory() as tmp:
                named = os.path.join(tmp, "weights.h5")
                shutil.copyfile(path, named)
                agent.model.load_weights(named)
        else:
            agent.model.load_weights(path)
        agent.update_target_model_hard()
    except (OSError, KeyError, tf.errors.NotFoundError, tf.errors.DataLossError) as exc:
        raise WeightsError(f"cannot read weights {path} ({exc.__class__.__name__}: {str(exc).splitlines()[0][:160]}); "
                           "pass HDF5 weights (.h5, .h5f) or a TensorFlow checkpoint prefix written by save_weights") from None
    except (ValueError, AssertionError, tf.errors.InvalidArgumentError) as exc:
        shapes = re.search(r"Expected \[[^\]]*\] got \[[^\]]*\]|shape \([^)]*\)[^.]*\([^)]*\)", str(exc))
        detail = shapes.group(0) if shapes else str(exc).splitlines()[0][:160]
        head = "dueling" if agent.enable_dueling_network else "plain (not dueling)"
        raise WeightsError(f"weights {path} do not fit the Mnih net for {env_name}, which this config builds {head} "
                           f"with {agent.nb_actions} actions ({detail}); use weights trained on this env with the same "
                           "enable_dueling_network") from None


def save_weights_atomic(agent, path):
    tmp = path[: -len(".h5")] + ".tmp.h5"
    agent.model.save_weights(tmp, overwrite=True)
    os.replace(tmp, path)


# -- playing games --------------------------------------------------------------------------------
@dataclass
class GameResult:
    score: float  # the game's real score (rewards before clipping)
    steps: int  # agent steps
    losses: list
    mean_qs: list


class Game:
    """One whole game, stepped the way keras-rl2's ``Agent.fit`` (``agent.training``) or
    ``Agent.test`` steps an episode, one agent step per `step` call, so that the training loop
    can evaluate, checkpoint or stop between any two steps of a game.

    With `terminal_on_life_loss` every lost life ends the *agent's* episode - its memory records
    a terminal and its window of frames starts again - while the game goes on.

    Between two steps the game is: the current (processed) observation, the lives left, the
    score, length, losses and Q-values so far, and the agent's window of recent frames (kept by
    its memory). `get_state`/`set_state` save and restore exactly that."""

    def __init__(self, agent, env, processor, terminal_on_life_loss=False):
        self.agent, self.env, self.processor = agent, env, processor
        self.terminal_on_life_loss = terminal_on_life_loss
        self.result = GameResult(score=0.0, steps=0, losses=[], mean_qs=[])
        self.observation = None
        self.lives_left = 0
        self._mean_q_index = agent.metrics_names.index("mean_q") if agent.training else None

    def start(self):
        self.agent.reset_states()
        observation, _ = self.env.reset()
        self.observation = self.processor.process_observation(observation)
        self.lives_left = envs.lives(self.env)
        return self

    def step(self, step=0):
        """Play one agent step; `step` is the global step count before it (training sets
        ``agent.step`` from it). Returns True when the game is over."""
        agent = self.agent
        if agent.training:
            agent.step = step
        action = agent.forward(self.observation)
        raw_observation, raw_reward, terminated, truncated, _ = self.env.step(action)
        observation = self.processor.process_observation(raw_observation)
        game_over = terminated or truncated
        lives_now = envs.lives(self.env)
        life_lost, self.lives_left = lives_now < self.lives_left, lives_now
        episode_over = game_over or (self.terminal_on_life_loss and life_lost)
        metrics = agent.backward(self.processor.process_reward(raw_reward), terminal=episode_over)
        if agent.training and not math.isnan(metrics[0]):
            self.result.losses.append(float(metrics[0]))
            self.result.mean_qs.append(float(metrics[self._mean_q_index]))
        self.result.score += float(raw_reward)
        self.result.steps += 1
        if episode_over:
            # As in Agent.fit: one more forward/backward so the last observation enters the memory.
            if agent.training:
                agent.step = step + 1
            agent.forward(observation)
            agent.backward(0.0, terminal=False)
            if not game_over:
                agent.reset_states()
        self.observation = observation
        return game_over

    def get_state(self):
        """(arrays, JSON-able dict) of the game between two steps (the env's state is the env's)."""
        memory = self.agent.memory
        arrays = {"observation": np.asarray(self.observation)}
        for i, frame in enumerate(memory.recent_observations):
            arrays[f"window_{i:03d}"] = np.asarray(frame)
        return arrays, {"lives_left": int(self.lives_left), "score": self.result.score, "steps": self.result.steps,
                        "losses": list(self.result.losses), "mean_qs": list(self.result.mean_qs),
                        "window_terminals": [bool(t) for t in memory.recent_terminals]}

    def set_state(self, arrays, state):
        """Undo `get_state` (on an env whose own state has been restored)."""
        memory = self.agent.memory
        self.agent.reset_states()
        self.observation = arrays["observation"]
        self.lives_left = state["lives_left"]
        self.result = GameResult(score=state["score"], steps=state["steps"], losses=list(state["losses"]),
                                 mean_qs=list(state["mean_qs"]))
        memory.recent_observations.clear()
        memory.recent_observations.extend(arrays[k] for k in sorted(arrays) if k.startswith("window_"))
        memory.recent_terminals.clear()
        memory.recent_terminals.extend(state["window_terminals"])
        return self


def play_game(agent, env, processor, terminal_on_life_loss=False, step=0, on_step=None):
    """Play one whole game from ``env.reset()`` to its end; in training from global step `step`,
    calling `on_step(step)` after every agent step. Returns its `GameResult`."""
    game = Game(agent, env, processor, terminal_on_life_loss).start()
    while True:
        over = game.step(step)
        step += 1
        if on_step is not None:
            on_step(step)
        if over:
            return game.result


def build_player(config, nb_actions):
    """An agent that only plays (test mode, evaluation): a window of recent frames, no replay."""
    window_only = RingMemory(limit=1, window_length=config.window_length)
    agent = build_agent(config, nb_actions, memory=window_only)
    agent.training = False
    return agent


def evaluation_seed(seed, step):
    """The seed of the evaluation at `step`: from the run's seed and the step, nothing else."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0])


def evaluate(player, env, processor, config, step, episodes):
    """Play `episodes` games at epsilon_test on `env` (seeded from the run's seed and `step`).

    The training streams are untouched: numpy's and Python's global RNGs are put back as they
    were, and the env is not the training env. Returns the record for eval.jsonl."""
    saved = rngs.get_state()
    seed = evaluation_seed(config.seed, step)
    np.random.seed(seed)
    env.reset(seed=seed)
    try:
        scores = [play_game(player, env, processor, config.terminal_on_life_loss).score for _ in range(episodes)]
    finally:
        rngs.set_state(*saved)
    return {"step": step, "mean": float(np.mean(scores)), "std": float(np.std(scores)), "min": float(np.min(scores)),
            "max": float(np.max(scores)), "episodes": episodes, "scores": scores}


class Evaluator:
    """The evaluations of one segment: a player and an env of their own (made at the first
    evaluation), eval.jsonl, and best_weights.h5 whenever an evaluation beats every earlier one."""

    def __init__(self, config, folder, nb_actions, processor):
        self.config, self.folder, self.nb_actions, self.processor = config, folder, nb_actions, processor
        self.best_mean = max((r["mean"] for r in runlog.read_log(folder.eval_log_path)), default=None)
        self.log = runlog.EpisodeLog(folder.eval_log_path)
        self.player = self.env = None

    def __call__(self, agent, step):
        if self.player is None:
            self.player, self.env = build_player(self.config, self.nb_actions), envs.make_config_env(self.config)
        self.player.model.set_weights(agent.model.get_weights())
        result = evaluate(self.player, self.env, self.processor, self.config, step, self.config.eval_episodes)
        self.log.write(result)
        if self.best_mean is None or result["mean"] > self.best_mean:
            self.best_mean = result["mean"]
            save_weights_atomic(agent, self.folder.best_weights_path)
        return result

    def close(self):
        self.log.close()
        if self.env is not None:
            self.env.close()


# -- training -------------------------------------------------------------------------------------
def train(config, run_dir, steps=None, progress_mode=None, stream=None, on_checkpoint=None):
    """Train one segment of the run in `run_dir`; see the module docstring. Returns SegmentResult.

    The run folder is locked for the segment (``lock.py``): a second trainer stops at once.
    `on_checkpoint(step)` is called after each complete checkpoint (a sweep reports to Ray there)."""
    # Checked again here, before anything is written: a notebook may change keys of a config it
    # built, and a script may call train() with a config made by hand.
    configs.check_runnable(config)
    folder = RunFolder(run_dir)
    folder.ensure_writable()
    with SignalGuard() as signals, RunLock(folder.path) as lock:
        if lock.took_over is not None:
            print(f"Took over the lock of a trainer that is gone (pid {lock.took_over.get('pid', '?')} on "
                  f"{lock.took_over.get('host', '?')}).", file=stream or sys.stdout, flush=True)
        return _train_segment(config, folder, steps, progress_mode, stream, on_checkpoint, signals)


def _train_segment(config, folder, steps, progress_mode, stream, on_checkpoint, signals):
    checkpointer = Checkpointer(folder.checkpoint_dir, keep=config.keep_checkpoints)
    resumed_step, manifest = checkpointer.latest_complete()  # verifies its files (the one hashing pass)
    if checkpointer.checkpoint_steps():  # only a run with progress has something to protect
        folder.check_same_run(config, None if resumed_step is None else checkpointer.config_of(resumed_step))
    folder.save_config(config)

    make_deterministic(config.seed)
    base_env = envs.make_config_env(config, render_mode="rgb_array" if config.video else None)
    base_env.reset(seed=config.seed)  # loads the ROM and seeds ALE; episodes then use reset()
    processor = AtariProcessor()
    agent = build_agent(config, base_env.action_space.n)

    step, episode = 0, 0
    logs = {"log.jsonl": folder.log_path, "eval.jsonl": folder.eval_log_path}
    saved_game = None
    if resumed_step is not None:
        arrays, state, saved_logs = checkpointer.load(resumed_step, manifest, agent.memory)
        saved_game = unbundle(agent, base_env, arrays, state, config.seed)
        step, episode = state["step"], state["episode"]
        for name, path in logs.items():  # drop what was logged after this checkpoint
            write_atomic(path, saved_logs.get(name, b""))
    else:
        resumed_step = -1
        for path in logs.values():
            write_atomic(path, b"")

    stop_step = config.total_steps if steps is None else min(config.total_steps, step + int(steps))
    env = base_env
    if config.video:
        # Videos are numbered by game: the next reset starts game `episode`, or the one after
        # the game in progress. (A recording cut by a stop keeps the part before it.)
        next_game = episode + (saved_game is not None)
        env = video.record_episodes(base_env, folder.video_dir, "train", first_episode=next_game)

    progress = Progress(config.total_steps, initial=step, stream=stream, mode=progress_mode)
    if resumed_step >= 0:
        within = f", in the middle of game {episode:,}" if saved_game is not None else f", episode {episode:,}"
        progress.print(f"Resumed {folder.path} at step {step:,}{within}.")
    else:
        progress.print(f"Started {folder.path}.")
    if step >= stop_step:
        progress.print(f"Nothing to do: the run is at step {step:,} of total_steps={config.total_steps:,}. "
                       f"To train on, raise total_steps (--set total_steps=N; TOTAL_STEPS in the notebook).")
        env.close()
        return SegmentResult(folder.path, step, step, episode, resumed_step, 0.0)

    episode_log = runlog.EpisodeLog(folder.log_path)
    journal = runlog.SegmentJournal(folder.segments_path, start_step=step)
    board = evaluator = None
    last_checkpoint = resumed_step if resumed_step >= 0 else None
    try:
        board = TensorBoardLog(folder.tensorboard_dir, resumed_step, runlog.read_log(folder.log_path)) \
            if config.tensorboard else None
        evaluator = Evaluator(config, folder, base_env.action_space.n, processor)
        agent.training = True
        game = None
        game_steps_before = 0  # steps a resumed game had played before this segment (for its speed)
        if saved_game is not None:
            game = Game(agent, env, processor, config.terminal_on_life_loss).set_state(*saved_game)
            game_steps_before = game.result.steps
        game_started = start_time = time.monotonic()
        start_step = step
        recent_scores = [r["reward"] for r in runlog.read_log(folder.log_path)[-20:]]
        next_summary = (step // config.log_interval + 1) * config.log_interval
        with signals.polled():
            while step < stop_step:
                if game is None:
                    game = Game(agent, env, processor, config.terminal_on_life_loss).start()
                    game_started = time.monotonic()
                game_over = game.step(step)
                step += 1
                progress.update(step, f"episode {episode:,}")
                if game_over:
                    record = _episode_record(episode, step, game.result, agent, time.monotonic() - game_started,
                                             game.result.steps - game_steps_before)
                    game_steps_before = 0
                    episode_log.write(record)
                    if board is not None:
                        board.game(record)
                    episode += 1
                    game = None
                    recent_scores = (recent_scores + [record["reward"]])[-20:]
                    video.finish_episode_video(env)
                    if step >= next_summary:
                        progress.print(_summary(step, config.total_steps, episode, recent_scores, record, start_time,
                                                start_step))
                        next_summary = (step // config.log_interval + 1) * config.log_interval
                        journal.progress(step)
                evaluation_due = config.eval_every > 0 and step % config.eval_every == 0
                if evaluation_due:
                    result = evaluator(agent, step)  # its own env and player; training's state is untouched
                    if board is not None:
                        board.evaluation(result)
                    progress.print(_eval_summary(result))
                if step >= stop_step or evaluation_due or step % config.checkpoint_every == 0 or signals.pending:
                    with signals.deferred():  # a signal now would throw this checkpoint away: finish it first
                        if board is not None:
                            board.flush()  # a complete checkpoint has its TensorBoard points on disk too
                        manifest = _checkpoint(checkpointer, agent, base_env, config, step, episode, game, folder,
                                               logs, manifest)
                        journal.checkpoint(step)
                        last_checkpoint = step
                    if on_checkpoint is not None:
                        on_checkpoint(step)
                if signals.pending:
                    raise Stopped(signals.pending)
        if signals.pending:  # arrived after the last step's check: the checkpoint at `step` exists
            raise Stopped(signals.pending)
        journal.end(step, "done")
    except Stopped as stopped:
        stopped.step, stopped.checkpoint_step = step, last_checkpoint
        journal.end(step, signal.Signals(stopped.signum).name)
        raise
    except Exception as exc:
        journal.end(step, type(exc).__name__)
        raise
    finally:
        with signals.held():  # closing files (an mp4 being written) runs to its end whatever arrives
            close_error = _close_all(episode_log, journal, board, evaluator, progress, env)
    if close_error is not None:
        raise close_error
    if signals.pending:  # arrived during clean-up: the segment is complete, stop here all the same
        stopped = Stopped(signals.pending)
        stopped.step, stopped.checkpoint_step = step, last_checkpoint
        raise stopped
    progress.print(f"Segment done: step {step:,} of {config.total_steps:,}; checkpoint and weights.h5 saved in {folder.path}")
    return SegmentResult(folder.path, start_step, step, episode, resumed_step, time.monotonic() - start_time)


def _close_all(*closables):
    """Close each (None is skipped), one failing not keeping the others open. Returns the first
    error (raised by the caller unless another exception is already on its way)."""
    first_error = None
    for closable in closables:
        if closable is None:
            continue
        try:
            closable.close()
        except Exception as exc:  # noqa: BLE001  (returned, so it neither hides nor replaces another)
            first_error = first_error or exc
    return first_error


def _episode_record(episode, step, game, agent, seconds, steps_in_segment):
    """The log.jsonl line of one training game (runlog.py describes the fields). `seconds` and
    `steps_in_segment` are the wall clock and steps of the part this segment played (all of it
    unless the game was resumed in its middle)."""
    return {
        "episode": episode, "step": step, "reward": game.score, "length": game.steps,
        "epsilon": float(agent.policy.get_current_value()),
        "loss": float(np.mean(game.losses)) if game.losses else None,
        "mean_q": float(np.mean(game.mean_qs)) if game.mean_qs else None,
        "episode_time": round(seconds, 3), "sps": round(steps_in_segment / max(seconds, 1e-9), 1),
        "time": round(time.time(), 1),
    }


def _checkpoint(checkpointer, agent, env, config, step, episode, game, folder, logs, previous_manifest):
    arrays, state = bundle(agent, env, config, step, episode, game)
    manifest = checkpointer.save(step, arrays, state, logs, agent.memory, previous_manifest)
    save_weights_atomic(agent, folder.weights_path)
    return manifest


def _summary(step, total, episode, recent_scores, record, start_time, start_step):
    rate = (step - start_step) / max(time.monotonic() - start_time, 1e-9)
    loss = "-" if record["loss"] is None else f"{record['loss']:.4f}"
    return (f"step {step:,}/{total:,} | episode {episode:,} | score {np.mean(recent_scores):.2f} "
            f"(last {len(recent_scores)}) | eps {record['epsilon']:.3f} | loss {loss} | {rate:,.0f} steps/s")


def _eval_summary(result):
    return (f"evaluation at step {result['step']:,}: mean {result['mean']:.2f} +/- {result['std']:.2f} "
            f"(min {result['min']:g}, max {result['max']:g}) over {result['episodes']} games")


# -- testing --------------------------------------------------------------------------------------
def test(config, weights_path, video_dir, episodes=None, stream=None, record_video=True):
    """Play `episodes` games with the test epsilon and the config's preprocessing; print each
    score and the mean; one mp4 per game."""
    episodes = config.test_episodes if episodes is None else int(episodes)
    make_deterministic(config.seed)
    env = envs.make_config_env(config, render_mode="rgb_array" if record_video else None)
    env.reset(seed=config.seed)
    agent = build_player(config, env.action_space.n)
    load_weights_checked(agent, weights_path, config.env_name)
    processor = AtariProcessor()
    prefix = None
    if record_video:
        prefix = _next_test_prefix(video_dir)
        # Numbered from 1 like the console's "Episode N" lines, so test-001-episode-1.mp4 is the first game.
        env = video.record_episodes(env, video_dir, prefix, first_episode=1, trigger=lambda _: True)
    scores = []
    try:
        for episode in range(episodes):
            scores.append(play_game(agent, env, processor, config.terminal_on_life_loss).score)
            video.finish_episode_video(env)
            print(f"Episode {episode + 1}: score {scores[-1]:g}", file=stream, flush=True)
    finally:
        env.close()
    result = TestResult(scores=scores, weights=weights_path,
                        videos=[os.path.join(video_dir, f"{prefix}-episode-{i}.mp4") for i in range(1, episodes + 1)] if prefix else [])
    print(f"Mean score over {episodes} episodes: {result.mean:.2f} +/- {result.std:.2f} (std)", file=stream, flush=True)
    if result.videos:
        last = f" to {os.path.basename(result.videos[-1])}" if len(result.videos) > 1 else ""
        print(f"Videos: {result.videos[0]}{last}", file=stream, flush=True)
    return result


def _next_test_prefix(video_dir):
    """test-001, test-002, ...: each test invocation gets its own video names."""
    existing = [name for name in os.listdir(video_dir) if name.startswith("test-")] if os.path.isdir(video_dir) else []
    numbers = [int(name[5:8]) for name in existing if name[5:8].isdigit()]
    return f"test-{max(numbers, default=0) + 1:03d}"

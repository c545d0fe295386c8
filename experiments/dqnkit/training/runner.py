"""The runner: training in resumable segments, with the actor, the learner and what hangs off them.

One call of `train` is one *segment*: it resumes from the run's newest complete checkpoint (or
starts the run), trains until ``config.total_steps`` or for `steps` more steps (or until
``config.eval_patience`` evaluations in a row bring no new best: the run's end), and checkpoints
every ``config.checkpoint_every`` steps and at the end. The parts, each in its own module:

- the actor (``actor.py``): ``num_envs`` envs, the processor, the policy and the memory appends;
- the learner: keras-rl2's rules and the fused train step (``FastDQNAgent.learn`` in
  ``agent.py``) on the replay memory (``memory.py``, ``stream_memory.py``);
- hanging off this runner: evaluations (``evaluation.py``), logs (``runlog.py``,
  ``tensorboard_log.py``, ``progress.py``), videos (``video.py``), checkpoints
  (``checkpoint.py`` writes what ``run_state.py`` gathers) and signals (``stopping.py``).

The runner owns the global step (a Python int, counting transitions: ``num_envs`` per vector
step) and the actor sets ``agent.step`` from it, so epsilon, warm-up and target updates continue
where they were. A checkpoint holds every env's game in progress, so it is taken exactly at every
multiple of ``checkpoint_every`` and ``eval_every`` (after the evaluation), at the segment's last
step, and when SIGINT or SIGTERM arrives, whether or not games are running. A resumed run is
step-for-step identical to one that never stopped. (Checkpoints of runs from before any-step
checkpoints were taken between games; they still load. With ``terminal_on_life_loss`` a game
holds several of the agent's episodes; the log and the episode count follow whole games.)
"""
import signal
import sys
import time
import warnings
from dataclasses import dataclass

from dqnkit import compat  # noqa: F401  (tf-keras before TensorFlow)

import numpy as np

from dqnkit import configs
from dqnkit.envs import ale, video
from dqnkit.envs.run_envs import make_run_envs
from dqnkit.agent import rngs
from dqnkit.reporting import runlog
from dqnkit.acting.actor import Actor, LaggedQValues, ReplayLearner
from dqnkit.acting.actor_process import ActorProcess
from dqnkit.agent.fast_dqn import build_agent
from dqnkit.run.checkpoint import Checkpointer, write_atomic
from dqnkit.errors import UserFacingError
from dqnkit.training.evaluation import Evaluator
from dqnkit.run.lock import RunLock
from dqnkit.training.progress import Progress
from dqnkit.agent.rngs import make_deterministic
from dqnkit.run.folder import RunFolder
from dqnkit.run.run_state import acting_weights, bundle, saved_games, unbundle
from dqnkit.training.stopping import SignalGuard, Stopped
from dqnkit.reporting.tensorboard_log import TensorBoardLog
from dqnkit.run.weights_io import save_weights_atomic
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
    finished: bool = False  # the run needs no more segments: at total_steps, or ended by eval_patience


class StepsError(UserFacingError):
    """A number of steps to train that the run cannot stop at."""


def train(config, run_dir, steps=None, progress_mode=None, stream=None, on_checkpoint=None):
    """Train one segment of the run in `run_dir`; see the module docstring. Returns SegmentResult.

    The run folder is locked for the segment (``lock.py``): a second trainer stops at once.
    `on_checkpoint(step)` is called after each complete checkpoint (a sweep reports to Ray there)."""
    # Checked again here, before anything is written: a notebook may change keys of a config it
    # built, and a script may call train() with a config made by hand.
    ale.check_runnable(config)
    if steps is not None and int(steps) < 1:
        raise StepsError(f"--steps must be a positive number of steps, got {steps}")
    if steps is not None and int(steps) % config.num_envs:
        raise StepsError(f"--steps ({int(steps):,}) must be a multiple of num_envs ({config.num_envs}): each vector "
                         f"step plays {config.num_envs} transitions")
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
    in_process = not config.actor_process
    if in_process:
        env_list, seeds = make_run_envs(config, render_first=config.video)
        nb_actions = env_list[0].action_space.n
    else:  # the envs live in the actor process; one is made here to ask the number of actions
        env_list, seeds = None, None
        probe = ale.make_config_env(config)
        nb_actions = probe.action_space.n
        probe.close()
    processor = AtariProcessor()
    agent = build_agent(config, nb_actions)
    streams = getattr(agent.memory, "streams", [agent.memory])

    step, episode = 0, 0
    logs = {"log.jsonl": folder.log_path, "eval.jsonl": folder.eval_log_path}
    game_states, checkpoint_arrays, checkpoint_state = [None] * config.num_envs, {}, {}
    if resumed_step is not None:
        checkpoint_arrays, checkpoint_state, saved_logs = checkpointer.load(resumed_step, manifest, agent.memory)
        game_states = unbundle(agent, env_list, checkpoint_arrays, checkpoint_state, seeds)
        step, episode = checkpoint_state["step"], checkpoint_state["episode"]
        for name, path in logs.items():  # drop what was logged after this checkpoint
            write_atomic(path, saved_logs.get(name, b""))
    else:
        resumed_step = -1
        for path in logs.values():
            write_atomic(path, b"")
    games_in_progress = saved_games(checkpoint_state, config.num_envs)

    stop_step = config.total_steps if steps is None else min(config.total_steps, step + int(steps))
    played, video_spec = list(env_list or []), None  # what an in-process actor steps: env 0 may be recorded
    if config.video:
        # Videos are numbered by env 0's games: the next reset starts game `first` (one more if a
        # game is in progress). With one env that is the run's episode number. (A recording cut by
        # a stop keeps the part before it.)
        first = episode if config.num_envs == 1 else sum(r.get("env", 0) == 0 for r in runlog.read_log(folder.log_path))
        video_spec = (folder.video_dir, "train", first + (games_in_progress[0] is not None))
        if in_process:
            played[0] = video.record_episodes(env_list[0], *video_spec)

    progress = Progress(config.total_steps, initial=step, stream=stream, mode=progress_mode)
    if resumed_step >= 0:
        in_progress = sum(game is not None for game in games_in_progress)
        if config.num_envs == 1:
            within = f", in the middle of game {episode:,}" if in_progress else f", episode {episode:,}"
        else:
            within = f", {episode:,} games played, {in_progress} of {config.num_envs} envs in the middle of a game"
        progress.print(f"Resumed {folder.path} at step {step:,}{within}.")
    else:
        progress.print(f"Started {folder.path}.")
    best, evaluations_since_best = runlog.since_best(runlog.read_log(folder.eval_log_path))
    if runlog.patience_spent(config, evaluations_since_best):
        progress.print(f"Nothing to do: the run has ended by eval_patience={config.eval_patience}: no evaluation since "
                       f"step {best['step']:,} brought a new best mean ({evaluations_since_best} of them); "
                       f"{_describe_best(best)}. To train on, raise eval_patience or set it to 0 (--set "
                       f"eval_patience=0; eval_patience=0 in nb.make_config in the notebook).")
        _close_all(*played)
        return SegmentResult(folder.path, step, step, episode, resumed_step, 0.0, finished=True)
    if step >= stop_step:
        progress.print(f"Nothing to do: the run is at step {step:,} of total_steps={config.total_steps:,}. "
                       f"To train on, raise total_steps (--set total_steps=N; TOTAL_STEPS in the notebook).")
        _close_all(*played)
        return SegmentResult(folder.path, step, step, episode, resumed_step, 0.0, finished=True)  # steps >= 1: at total_steps

    episode_log = runlog.EpisodeLog(folder.log_path)
    journal = runlog.SegmentJournal(folder.segments_path, start_step=step, actor_process=config.actor_process)
    board = evaluator = actor = None
    last_checkpoint = resumed_step if resumed_step >= 0 else None
    try:
        board = TensorBoardLog(folder.tensorboard_dir, resumed_step, runlog.read_log(folder.log_path)) \
            if config.tensorboard else None
        evaluator = Evaluator(config, folder, nb_actions, processor)
        agent.training = True
        learner = ReplayLearner(agent, streams)
        pending = acting_weights(checkpoint_arrays) if resumed_step >= 0 else None
        if in_process:
            lagged = LaggedQValues(agent, pending) if config.num_envs > 1 else None
            actor = Actor(agent, played, processor, streams, learner, config.terminal_on_life_loss, q_values=lagged)
            for i, game in enumerate(game_states):
                if game is not None:
                    actor.set_game_state(i, *game)
        else:
            def checkpoint_due(before, after):
                return (config.eval_every > 0 and _crossed(before, after, config.eval_every)) \
                    or _crossed(before, after, config.checkpoint_every)
            env_parts = (checkpoint_arrays, checkpoint_state) if resumed_step >= 0 else None
            actor = ActorProcess(config, agent, learner, step, stop_step, checkpoint_due,
                                 pending or agent.model.get_weights(), env_parts, rngs.get_state(),
                                 games_in_progress, video_spec)
        start_time = time.monotonic()
        # When each env's game (or the part of it this segment plays) started, and its steps before.
        game_started = [start_time] * config.num_envs
        steps_before = [0 if game is None else game["steps"] for game in games_in_progress]
        start_step = step
        recent_scores = [r["reward"] for r in runlog.read_log(folder.log_path)[-20:]]
        next_summary = (step // config.log_interval + 1) * config.log_interval
        with signals.polled():
            while step < stop_step:
                previous_step = step
                finished = actor.step(step)
                step += config.num_envs
                progress.update(step, f"episode {episode:,}")
                for done in finished:
                    record = _episode_record(episode, done, config.num_envs, agent,
                                             time.monotonic() - game_started[done.env_index],
                                             done.result.steps - steps_before[done.env_index])
                    steps_before[done.env_index] = 0
                    game_started[done.env_index] = time.monotonic()  # its next game starts at the next step
                    episode_log.write(record)
                    if board is not None:
                        board.game(record)
                    episode += 1
                    recent_scores = (recent_scores + [record["reward"]])[-20:]
                    if done.env_index == 0 and in_process:
                        video.finish_episode_video(played[0])
                if finished and step >= next_summary:  # at the first game end past each log_interval
                    progress.print(_summary(step, config.total_steps, episode, recent_scores, record, start_time,
                                            start_step))
                    next_summary = (step // config.log_interval + 1) * config.log_interval
                    journal.progress(step)
                evaluation_due = config.eval_every > 0 and _crossed(previous_step, step, config.eval_every)
                if evaluation_due:
                    result = evaluator(agent, step)  # its own env and player; training's state is untouched
                    if board is not None:
                        board.evaluation(result)
                    progress.print(_eval_summary(result))
                    if evaluator.patience_spent:  # the run ends here, with a checkpoint like any evaluation's
                        stop_step = step
                        progress.print(f"eval_patience={config.eval_patience}: no new best mean in "
                                       f"{evaluator.since_best} evaluation(s) in a row; the run ends here.")
                due = step >= stop_step or evaluation_due or _crossed(previous_step, step, config.checkpoint_every)
                if signals.pending and not due and not in_process and not actor.at_checkpointable_step(step):
                    # The actor process is already playing the next vector step: it stops after
                    # that one, and the checkpoint is taken there, one vector step from now.
                    actor.request_state()
                    continue
                if due or signals.pending:
                    with signals.deferred():  # a signal now would throw this checkpoint away: finish it first
                        if board is not None:
                            board.flush()  # a complete checkpoint has its TensorBoard points on disk too
                        manifest = _checkpoint(checkpointer, agent, env_list, actor, config, step, episode, folder,
                                               logs, manifest)
                        journal.checkpoint(step)
                        last_checkpoint = step
                    if on_checkpoint is not None:
                        on_checkpoint(step)
                if signals.pending:
                    raise Stopped(signals.pending)
        if signals.pending:  # arrived after the last step's check: the checkpoint at `step` exists
            raise Stopped(signals.pending)
        ended_by_patience = evaluator.patience_spent
        journal.end(step, "eval_patience" if ended_by_patience else "done")
    except Stopped as stopped:
        stopped.step, stopped.checkpoint_step = step, last_checkpoint
        journal.end(step, signal.Signals(stopped.signum).name)
        raise
    except Exception as exc:
        journal.end(step, type(exc).__name__)
        raise
    finally:
        with signals.held():  # closing files (an mp4 being written) runs to its end whatever arrives
            close_error = _close_all(episode_log, journal, board, evaluator, progress, *played,
                                     actor if isinstance(actor, ActorProcess) else None)
    if close_error is not None:
        raise close_error
    if signals.pending:  # arrived during clean-up: the segment is complete, stop here all the same
        stopped = Stopped(signals.pending)
        stopped.step, stopped.checkpoint_step = step, last_checkpoint
        raise stopped
    if ended_by_patience:
        progress.print(f"Run ended by eval_patience={config.eval_patience} at step {step:,} (total_steps "
                       f"{config.total_steps:,}); checkpoint and weights.h5 (the last weights) saved in {folder.path}; "
                       f"{_describe_best(evaluator.best)}.")
    else:
        progress.print(f"Segment done: step {step:,} of {config.total_steps:,}; checkpoint and weights.h5 saved in "
                       f"{folder.path}")
    return SegmentResult(folder.path, start_step, step, episode, resumed_step, time.monotonic() - start_time,
                         finished=ended_by_patience or step >= config.total_steps)


def _describe_best(best):
    """Where the best evaluation's weights are (a record of eval.jsonl), and how to play them."""
    return (f"the best evaluation (mean {best['mean']:.2f} at step {best['step']:,}) is best_weights.h5; "
            f"play it with --mode test --weights RUN_DIR/best_weights.h5")


def _crossed(before, after, every):
    """Whether a multiple of `every` lies in (before, after]: the vector step from `before` to
    `after` reached it (with one env, ``after % every == 0``)."""
    return after // every > before // every


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


def _episode_record(episode, done, num_envs, agent, seconds, steps_in_segment):
    """The log.jsonl line of the training game `done` (an ``actor.FinishedGame``; runlog.py
    describes the fields; ``env`` only with several envs). `seconds` and `steps_in_segment` are
    the wall clock and steps of the part this segment played (all of it unless the game was
    resumed in its middle)."""
    game = done.result
    where = {"env": done.env_index} if num_envs > 1 else {}
    return {
        "episode": episode, **where, "step": done.step, "reward": game.score, "length": game.steps,
        "epsilon": float(agent.policy.get_current_value()),
        "loss": float(np.mean(game.losses)) if game.losses else None,
        "mean_q": float(np.mean(game.mean_qs)) if game.mean_qs else None,
        "episode_time": round(seconds, 3), "sps": round(steps_in_segment / max(seconds, 1e-9), 1),
        "time": round(time.time(), 1),
    }


def _checkpoint(checkpointer, agent, env_list, actor, config, step, episode, folder, logs, previous_manifest):
    if isinstance(actor, ActorProcess):
        env_parts, rng_parts, acting = actor.checkpoint_parts(step)
        arrays, state = bundle(agent, None, config, step, episode, acting_weights=acting, env_parts=env_parts,
                               rng_parts=rng_parts)
    else:
        game_states = [actor.get_game_state(i) for i in range(actor.num_envs)]
        acting = actor.q_values.pending_weights() if isinstance(actor.q_values, LaggedQValues) else None
        arrays, state = bundle(agent, env_list, config, step, episode, game_states, acting_weights=acting)
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

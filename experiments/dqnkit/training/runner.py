"""The runner: training in resumable segments, with the actor, the learner and what hangs off them.

One call of `train` is one *segment* (a ``Segment``, a runner of named phases as Dopamine's
``Runner`` in ``dopamine/discrete_domains/run_experiment.py`` is): it resumes from the run's newest complete checkpoint (or
starts the run), trains until ``config.total_steps`` or for `steps` more steps (or until
``config.eval_patience`` evaluations in a row bring no new best: the run's end), and checkpoints
every ``config.checkpoint_every`` steps and at the end. The parts, each in its own module:

- the actor (``acting/``): ``num_envs`` envs, the processor, the policy and the memory appends,
  in this process or in one of its own (``acting/start.py`` picks; the runner never asks which);
- the learner: keras-rl2's rules and the fused train step (``FastDQNAgent.learn`` in
  ``agent/fast_dqn.py``) on the replay memory (``memory/``);
- hanging off this runner: the schedule (``schedule.py``), evaluations (``evaluation.py``), logs
  (``reporting/``, ``progress.py``), checkpoints (``run/checkpoint.py`` writes what
  ``run/run_state.py`` gathers from each part) and signals (``stopping.py``).

The runner owns the global step (a Python int, counting transitions: ``num_envs`` per vector
step) and the actor and the learner tell the agent where it is (``FastDQNAgent.at_step``), so epsilon, warm-up and target updates continue
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
from dataclasses import dataclass

from dqnkit import compat  # noqa: F401  (tf-keras before TensorFlow)

import numpy as np

from dqnkit.acting.actor import ReplayLearner
from dqnkit.acting.env_bundle import saved_games
from dqnkit.acting.start import start_actor
from dqnkit.agent.fast_dqn import build_agent
from dqnkit.agent.rngs import make_deterministic
from dqnkit.envs import ale
from dqnkit.errors import UserFacingError
from dqnkit.reporting import runlog
from dqnkit.reporting.tensorboard_log import TensorBoardLog
from dqnkit.run.checkpoint import Checkpointer, write_atomic
from dqnkit.run.folder import RunFolder
from dqnkit.run.lock import RunLock
from dqnkit.run.run_state import bundle, unbundle
from dqnkit.run.weights_io import save_weights_atomic
from dqnkit.training.evaluation import Evaluator
from dqnkit.training.progress import Progress
from dqnkit.training.schedule import Schedule
from dqnkit.training.stopping import SignalGuard, Stopped
from processors import AtariProcessor


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

    The run folder is locked for the segment (``run/lock.py``): a second trainer stops at once.
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
        segment = Segment(config, folder, signals, stream, on_checkpoint)
        return segment.run(steps, progress_mode)


class Segment:
    """One segment of a run, phase by phase: open the run, build the parts, restore or start,
    open the logs, make the actor, train (the loop), close. The fields set in ``__init__`` are what
    the phases share; the agent, the actor and the logs own everything else."""

    def __init__(self, config, folder, signals, stream=None, on_checkpoint=None):
        self.config, self.folder, self.signals = config, folder, signals
        self.stream, self.on_checkpoint = stream, on_checkpoint
        self.schedule = Schedule.of(config)
        self.checkpointer = Checkpointer(folder.checkpoint_dir, keep=config.keep_checkpoints)
        self.logs = {"log.jsonl": folder.log_path, "eval.jsonl": folder.eval_log_path}
        self.step = self.episode = 0  # the global step (transitions) and the games logged
        self.resumed_from = None  # the step of the checkpoint resumed from; None for a new run
        self.checkpoint = None  # its (arrays, state), until the actor and the agent have taken their parts
        self.games_in_progress = [None] * config.num_envs  # each env's game in the checkpoint (score, length)
        self.last_checkpoint = None  # the step of this run's newest complete checkpoint
        self.episode_log = self.journal = self.board = self.evaluator = self.actor = self.progress = None
        self.nb_actions = self.processor = self.agent = self.manifest = None  # built by the phases below
        self.recent_scores, self.last_record = [], None  # the summary line's: the last 20 scores, the last game

    def run(self, steps, progress_mode=None):
        manifest = self._open_run()
        self._build_parts()
        self._restore_or_start(manifest)
        start_step = self.step
        stop_step = self.config.total_steps if steps is None else min(self.config.total_steps, self.step + int(steps))
        self.progress = Progress(self.config.total_steps, initial=self.step, stream=self.stream, mode=progress_mode,
                                 segment_goal=stop_step)
        self._announce()
        if self._nothing_to_do(stop_step):
            return SegmentResult(self.folder.path, self.step, self.step, self.episode, self._resumed_or_new(), 0.0,
                                 finished=True)
        try:
            self._open_logs()
            self._make_actor(stop_step)
            start_time = time.monotonic()  # an actor process's start-up is not training time
            self._train_loop(stop_step, start_time)
            self._end_journal("eval_patience" if self.evaluator.patience_spent else "done")
        except Stopped as stopped:
            self._note_stop(stopped)
            self._end_journal(signal.Signals(stopped.signum).name)
            raise
        except Exception as exc:
            self._end_journal(type(exc).__name__)
            raise
        finally:
            close_error = self._close()
        return self._close_segment(close_error, start_step, start_time)

    # -- phases before the loop ------------------------------------------------------------------
    def _open_run(self):
        """Find the newest complete checkpoint (verifying its files: the one hashing pass), refuse
        a config that would change the run, and save the config. Returns its manifest."""
        self.resumed_from, manifest = self.checkpointer.latest_complete()
        if self.checkpointer.checkpoint_steps():  # only a run with progress has something to protect
            checkpoint_config = None if self.resumed_from is None else self.checkpointer.config_of(self.resumed_from)
            self.folder.check_same_run(self.config, checkpoint_config)
        self.folder.save_config(self.config)
        return manifest

    def _build_parts(self):
        """The seeded generators, the processor and the agent (its net, its memory)."""
        make_deterministic(self.config.seed)
        probe = ale.make_config_env(self.config)  # the envs are the actor's; one here tells the actions
        self.nb_actions = probe.action_space.n
        probe.close()
        self.processor = AtariProcessor()
        self.agent = build_agent(self.config, self.nb_actions)

    def _restore_or_start(self, manifest):
        """Resume from the checkpoint (the agent, its memory and the generators take their state
        back; the logs lose what was written after it), or start the logs of a new run."""
        self.manifest = manifest
        if self.resumed_from is None:
            for path in self.logs.values():
                write_atomic(path, b"")
        else:
            arrays, state, saved_logs = self.checkpointer.load(self.resumed_from, manifest, self.agent.memory)
            unbundle(self.agent, arrays, state)
            # weights.h5 is written just after a checkpoint's manifest: a kill between the two leaves
            # it a checkpoint behind, and a run so killed at its last step has nothing left to train.
            save_weights_atomic(self.agent, self.folder.weights_path)
            self.checkpoint = (arrays, state)
            self.step, self.episode = state["step"], state["episode"]
            self.last_checkpoint = self.resumed_from
            self.games_in_progress = saved_games(state, self.config.num_envs)
            for name, path in self.logs.items():  # drop what was logged after this checkpoint
                write_atomic(path, saved_logs.get(name, b""))
        # Its own env and player, made at the first evaluation; it knows the best so far.
        self.evaluator = Evaluator(self.config, self.folder, self.nb_actions, self.processor)

    def _resumed_or_new(self):
        """The step resumed from, or -1 for a new run (SegmentResult's and TensorBoardLog's convention)."""
        return -1 if self.resumed_from is None else self.resumed_from

    def _announce(self):
        if self.resumed_from is None:
            self.progress.print(f"Started {self.folder.path}.")
            return
        in_progress = sum(game is not None for game in self.games_in_progress)
        if self.config.num_envs == 1:
            within = f", in the middle of game {self.episode:,}" if in_progress else f", episode {self.episode:,}"
        else:
            within = (f", {self.episode:,} games played, {in_progress} of {self.config.num_envs} envs in the middle "
                      f"of a game")
        self.progress.print(f"Resumed {self.folder.path} at step {self.step:,}{within}.")

    def _nothing_to_do(self, stop_step):
        """Say so and close if the run has ended (eval_patience, total_steps): no actor is made."""
        config, evaluator = self.config, self.evaluator
        if evaluator.patience_spent:
            self.progress.print(
                f"Nothing to do: the run has ended by eval_patience={config.eval_patience}: no evaluation since step "
                f"{evaluator.best['step']:,} brought a new best mean ({evaluator.since_best} of them); "
                f"{_describe_best(evaluator.best)}. To train on, raise eval_patience or set it to 0 (--set "
                f"eval_patience=0; eval_patience=0 in nb.make_config in the notebook).")
        elif self.step >= stop_step:  # steps >= 1: only at total_steps
            self.progress.print(f"Nothing to do: the run is at step {self.step:,} of total_steps="
                                f"{config.total_steps:,}. To train on, raise total_steps (--set total_steps=N; "
                                f"TOTAL_STEPS in the notebook).")
        else:
            return False
        close_error = _close_all(evaluator, self.progress)
        if close_error is not None:
            raise close_error
        return True

    def _open_logs(self):
        self.episode_log = runlog.JsonlAppender(self.folder.log_path)
        self.journal = runlog.SegmentJournal(self.folder.segments_path, start_step=self.step,
                                             actor_process=self.config.actor_process)
        history = runlog.read_log(self.folder.log_path)
        self.recent_scores = [r["reward"] for r in history[-20:]]
        if self.config.tensorboard:
            self.board = TensorBoardLog(self.folder.tensorboard_dir, self._resumed_or_new(), history)

    def _video_spec(self):
        """(folder, prefix, first game) of env 0's training videos, or None. Videos are numbered by
        env 0's games: the next reset starts game `first` (one more if a game is in progress);
        with one env that is the run's episode number. (A recording cut by a stop keeps the part
        before it.)"""
        if not self.config.video:
            return None
        if self.config.num_envs == 1:
            first = self.episode
        else:
            first = sum(r.get("env", 0) == 0 for r in runlog.read_log(self.folder.log_path))
        return self.folder.video_dir, "train", first + (self.games_in_progress[0] is not None)

    def _make_actor(self, stop_step):
        self.agent.training = True
        learner = ReplayLearner(self.agent, getattr(self.agent.memory, "streams", [self.agent.memory]))
        self.actor = start_actor(self.config, self.agent, learner, self.processor, self.step, stop_step,
                                 self.schedule, self.checkpoint, self._video_spec())
        self.checkpoint = None  # its parts are the actor's and the agent's now

    # -- the loop ----------------------------------------------------------------------------------
    def _train_loop(self, stop_step, start_time):
        """Vector steps until `stop_step` (or eval_patience ends the run): play, log the games that
        ended, evaluate and checkpoint when due, stop at a signal with a checkpoint."""
        clocks = GameClocks(self.games_in_progress, start_time)
        start_step = self.step
        next_summary = (self.step // self.config.log_interval + 1) * self.config.log_interval
        with self.signals.polled():
            while self.step < stop_step:
                previous_step = self.step
                finished = self.actor.step(self.step)
                self.step += self.config.num_envs
                self.progress.update(self.step, f"episode {self.episode:,}")
                for done in finished:
                    self._log_game(done, clocks)
                if finished and self.step >= next_summary:  # at the first game end past each log_interval
                    self._print_summary(start_time, start_step)
                    next_summary = (self.step // self.config.log_interval + 1) * self.config.log_interval
                evaluation_due = self.schedule.evaluation_due(previous_step, self.step)
                if evaluation_due and self._evaluate():
                    stop_step = self.step  # eval_patience: the run ends here, checkpointed like any evaluation
                due = self.step >= stop_step or self.schedule.checkpoint_due(previous_step, self.step)
                if self.signals.pending and not due and not self.actor.prepare_checkpoint(self.step):
                    continue  # an actor process stops after the step it is playing: one more vector step
                if due or self.signals.pending:
                    self._checkpoint_experiment()
                if self.signals.pending:
                    raise Stopped(self.signals.pending)
        if self.signals.pending:  # arrived after the last step's check: the checkpoint at this step exists
            raise Stopped(self.signals.pending)

    def _log_game(self, done, clocks):
        seconds, steps = clocks.finish(done)
        record = _episode_record(self.episode, done, self.config.num_envs, self.agent, seconds, steps)
        self.episode_log.write(record)
        if self.board is not None:
            self.board.game(record)
        self.episode += 1
        self.recent_scores = (self.recent_scores + [record["reward"]])[-20:]
        self.last_record = record

    def _print_summary(self, start_time, start_step):
        rate = (self.step - start_step) / max(time.monotonic() - start_time, 1e-9)
        record = self.last_record
        loss = "-" if record["loss"] is None else f"{record['loss']:.4f}"
        self.progress.print(f"step {self.step:,}/{self.config.total_steps:,} | episode {self.episode:,} | score "
                            f"{np.mean(self.recent_scores):.2f} (last {len(self.recent_scores)}) | eps "
                            f"{record['epsilon']:.3f} | loss {loss} | {rate:,.0f} steps/s")
        self.journal.progress(self.step)

    def _evaluate(self):
        """The evaluation at this step (its own env and player; training's state is untouched).
        Returns True when eval_patience ends the run here."""
        result = self.evaluator(self.agent, self.step)
        if self.board is not None:
            self.board.evaluation(result)
        self.progress.print(f"evaluation at step {result['step']:,}: mean {result['mean']:.2f} +/- "
                            f"{result['std']:.2f} (min {result['min']:g}, max {result['max']:g}) over "
                            f"{result['episodes']} games")
        if not self.evaluator.patience_spent:
            return False
        self.progress.print(f"eval_patience={self.config.eval_patience}: no new best mean in "
                            f"{self.evaluator.since_best} evaluation(s) in a row; the run ends here.")
        return True

    def _checkpoint_experiment(self):
        """A complete checkpoint at this step (each part bundles its own state) and weights.h5."""
        with self.signals.deferred():  # a signal now would throw this checkpoint away: finish it first
            if self.board is not None:
                self.board.flush()  # a complete checkpoint has its TensorBoard points on disk too
            env_parts, rng_parts, acting = self.actor.checkpoint_parts(self.step)
            arrays, state = bundle(self.agent, self.config, self.step, self.episode, env_parts, rng_parts, acting)
            self.manifest = self.checkpointer.save(self.step, arrays, state, self.logs, self.agent.memory,
                                                   self.manifest)
            save_weights_atomic(self.agent, self.folder.weights_path)
            self.journal.checkpoint(self.step)
            self.last_checkpoint = self.step
        if self.on_checkpoint is not None:
            self.on_checkpoint(self.step)

    # -- closing -----------------------------------------------------------------------------------
    def _end_journal(self, reason):
        if self.journal is not None:  # None: the segment failed before its start line was written
            self.journal.end(self.step, reason)

    def _note_stop(self, stopped):
        stopped.step, stopped.checkpoint_step = self.step, self.last_checkpoint

    def _close(self):
        """Close every part, whatever arrives meanwhile (an mp4 being written runs to its end).
        Returns the first error."""
        with self.signals.held():
            return _close_all(self.episode_log, self.journal, self.board, self.evaluator, self.progress, self.actor)

    def _close_segment(self, close_error, start_step, start_time):
        if close_error is not None:
            raise close_error
        if self.signals.pending:  # arrived during clean-up: the segment is complete, stop here all the same
            stopped = Stopped(self.signals.pending)
            self._note_stop(stopped)
            raise stopped
        config, ended_by_patience = self.config, self.evaluator.patience_spent
        if ended_by_patience:
            self.progress.print(f"Run ended by eval_patience={config.eval_patience} at step {self.step:,} "
                                f"(total_steps {config.total_steps:,}); checkpoint and weights.h5 (the last weights) "
                                f"saved in {self.folder.path}; {_describe_best(self.evaluator.best)}.")
        else:
            self.progress.print(f"Segment done: step {self.step:,} of {config.total_steps:,}; checkpoint and "
                                f"weights.h5 saved in {self.folder.path}")
        return SegmentResult(self.folder.path, start_step, self.step, self.episode, self._resumed_or_new(),
                             time.monotonic() - start_time, finished=ended_by_patience or self.step >= config.total_steps)


class GameClocks:
    """When each env's game (or the part of it this segment plays) started, and its steps before
    this segment: a game's log line gives the wall clock and rate of the part played here."""

    def __init__(self, games_in_progress, start_time):
        self.started = [start_time] * len(games_in_progress)
        self.steps_before = [0 if game is None else game["steps"] for game in games_in_progress]

    def finish(self, done):
        """(seconds, steps) of the part of `done`'s game played in this segment; its env's next
        game starts at the next step."""
        i = done.env_index
        seconds, steps = time.monotonic() - self.started[i], done.result.steps - self.steps_before[i]
        self.started[i], self.steps_before[i] = time.monotonic(), 0
        return seconds, steps


def _describe_best(best):
    """Where the best evaluation's weights are (a record of eval.jsonl), and how to play them."""
    return (f"the best evaluation (mean {best['mean']:.2f} at step {best['step']:,}) is best_weights.h5; "
            f"play it with --mode test --weights RUN_DIR/best_weights.h5")


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
    """The log.jsonl line of the training game `done` (an ``acting.actor.FinishedGame``;
    ``reporting/runlog.py`` describes the fields; ``env`` only with several envs). `seconds` and
    `steps_in_segment` are the wall clock and steps of the part this segment played (all of it
    unless the game was resumed in its middle)."""
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

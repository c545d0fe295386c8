"""The actor in a process of its own (``actor_process=true``), as the play process of Lapan, *Deep
Reinforcement Learning Hands-On* 2nd ed., Chapter 9 (``Chapter09/03_parallel.py`` in
PacktPublishing/Deep-Reinforcement-Learning-Hands-On-Second-Edition) plays.

The actor process holds the envs, the processor, the policy's random numbers and a copy of the
net; the main process (the learner) holds the replay memory and trains. The actor plays vector
step v while the learner trains on step v-1, which is possible because every run with several
envs acts at step v with the weights after step v-2 (``actor.py``): the learner publishes those
weights as soon as it has trained on step v-2. The hand-off follows that schedule, never timing,
so a run with the actor process is bitwise the run without it (tested), and a run may switch
``actor_process`` between segments. (Bitwise on the CPU, where it is tested: the actor process
acts on the CPU with one thread, so where the learner's device computes Q-values differently in
the last bits, a GPU's, a greedy action may rarely differ.)

What crosses between the processes:
- learner -> actor: ``("play", step)`` (the weights to act with are in shared buffer
  ``(step // num_envs) % 2``), ``("state",)`` (after the step being played, send your state
  and wait), ``("quit",)``;
- actor -> learner: ``("played", step, calls, finished games)``, where `calls` are the actor's
  calls to its learner (``TransitionRecorder``): each memory append and each "apply
  keras-rl2's rules at this step", which the learner replays in the same order through
  ``actor.ReplayLearner``, so memory and train steps are exactly those of one process;
  ``("state", env parts, generator parts)`` at the steps a checkpoint is taken;
  ``("error", traceback)`` if it fails.

The actor stops after the steps where checkpoints and evaluations are due (it knows the
schedule) and, when a signal arrives, after the vector step it is playing: the checkpoint is
taken there (at most one vector step after the signal). It runs TensorFlow on the CPU with one
thread (the GPU stays the learner's), ignores SIGINT and SIGTERM (Ctrl-C, `timeout` and Slurm
signal the whole process group: stopping is the learner's to do, with a checkpoint) and dies
with its parent (``PR_SET_PDEATHSIG`` on Linux, and when the pipe to the learner closes). The
buffers and messages pass between the kit's own two processes only: nothing a user downloads is
read this way.
"""
import math
import multiprocessing
import os
import signal
import traceback

import numpy as np

from dqnkit.acting.actor import FinishedGame
from dqnkit.acting.transition import GameResult
from dqnkit.errors import UserFacingError


class ActorProcessError(UserFacingError):
    """The actor process ended before the learner asked it to."""


class TransitionRecorder:
    """The actor process's learner: it keeps each env's window of recent frames (what the actor's
    greedy actions need) and records the calls for the real learner to replay."""

    def __init__(self, agent, windows):
        self.agent, self.windows, self.calls = agent, windows, []
        self._no_metrics = [math.nan] * len(agent.metrics_names)

    def store(self, i, step, observation, action, reward, terminal):
        if self.agent.stores_at(step):  # as ReplayLearner.store
            self.windows[i].append(observation, action, reward, terminal, training=False)
        self.calls.append(("store", step, i, observation, action, reward, terminal))

    def learn(self, step, env=None, counted=True):
        self.calls.append(("learn", step, env, counted))
        return self._no_metrics


def _die_with_parent():
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the closed pipe still ends the actor
        pass


def _actor_main(conn, spec, buffers, shapes):
    """The actor process: build the envs and the acting net from `spec`, then serve `conn`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent()
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"  # before TensorFlow loads: the GPU is the learner's
    try:
        from dqnkit import compat  # noqa: F401  (tf-keras before TensorFlow)
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        _serve(conn, spec, buffers, shapes)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):  # the learner is gone
        pass
    except BaseException as exc:  # noqa: BLE001  (reported to the learner, which stops with it)
        try:
            conn.send(("error", traceback.format_exc(), str(exc), isinstance(exc, UserFacingError)))
        except (OSError, BrokenPipeError):
            pass


def _serve(conn, spec, buffers, shapes):
    from dqnkit import configs
    from dqnkit.acting.actor import Actor, LatestQValues
    from dqnkit.acting.env_bundle import restore_envs, save_envs
    from dqnkit.agent import rngs
    from dqnkit.agent.fast_dqn import build_agent
    from dqnkit.envs import video
    from dqnkit.envs.run_envs import make_run_envs
    from dqnkit.memory.ring import RingMemory
    from processors import AtariProcessor

    config = configs.from_saved(spec["config"])
    env_list, seeds = make_run_envs(config, render_first=spec["video"] is not None)
    windows = [RingMemory(limit=1, window_length=config.window_length) for _ in env_list]
    nb_actions = env_list[0].action_space.n
    model = None if spec["model"] is None else spec["model"](nb_actions)
    agent = build_agent(config, nb_actions, memory=windows[0], model=model)
    agent.training = True  # the policy's epsilon follows the schedule; this agent never trains
    games = [None] * len(env_list)
    if spec["env_parts"] is not None:
        games = restore_envs(env_list, *spec["env_parts"], seeds)
    rngs.set_state(*spec["rng_parts"])
    played = list(env_list)
    if spec["video"] is not None:
        played[0] = video.record_episodes(env_list[0], *spec["video"])
    recorder = TransitionRecorder(agent, windows)
    actor = Actor(agent, played, AtariProcessor(), windows, recorder, config.terminal_on_life_loss,
                  q_values=LatestQValues(agent))  # this process's own net holds the lagged weights
    for i, game in enumerate(games):
        if game is not None:
            actor.set_game_state(i, *game)
    weights = [np.frombuffer(buffer, dtype=np.float32) for buffer in buffers]
    sizes = [int(np.prod(shape)) for shape in shapes]
    try:
        while True:
            message = conn.recv()
            if message[0] == "play":
                step = message[1]
                flat = weights[(step // actor.num_envs) % 2]
                agent.model.set_weights([part.reshape(shape) for part, shape in
                                         zip(np.split(flat, np.cumsum(sizes)[:-1]), shapes)])
                recorder.calls = []
                finished = actor.step(step)
                conn.send(("played", step, recorder.calls,
                           [(done.env_index, done.step, done.result.score, done.result.steps) for done in finished]))
            elif message[0] == "state":
                game_states = [actor.get_game_state(i) for i in range(actor.num_envs)]
                conn.send(("state", save_envs(env_list, game_states), rngs.get_state()))
            else:  # "quit"
                return
    finally:
        for env in played:
            env.close()


class ActorProcess:
    """The learner's side of the actor process: the same `step` as ``actor.Actor`` (the games that
    ended), played one vector step ahead in the other process and replayed here.

    `pending_weights` are the weights the first vector step acts with (a checkpoint's, or the
    agent's own for a new run); `env_parts` and `rng_parts` the checkpoint's envs and generators
    (None and the current generators for a new run); `saved_games` each env's game in progress
    (``env_bundle.saved_games``); `schedule.checkpoint_due(before, after)` says whether a
    checkpoint is due at the end of the vector step from `before` to `after`; `video` is
    (folder, prefix, first episode) or None; `model(nb_actions)`, a module-level function, builds
    the net when it is not the config's own (the benchmark's trivial model)."""

    def __init__(self, config, agent, learner, start_step, stop_step, schedule, pending_weights, env_parts,
                 rng_parts, saved_games, video=None, model=None):
        from dqnkit import configs

        self.agent, self.learner, self.num_envs = agent, learner, config.num_envs
        self.stop_step, self.schedule = stop_step, schedule
        current = agent.model.get_weights()
        self.shapes = [w.shape for w in current]
        size = sum(w.size for w in current)
        context = multiprocessing.get_context("spawn")  # a fork would copy TensorFlow's threads
        self.buffers = [context.RawArray("f", size) for _ in range(2)]
        self._weights = [np.frombuffer(buffer, dtype=np.float32) for buffer in self.buffers]
        first = start_step // self.num_envs
        self._publish(first, pending_weights)  # step `first` acts with the weights after first-2
        self._publish(first + 1, current)  # ... step first+1 with those after first-1: now
        # Losses and mean Q-values of each env's game in progress (the actor process keeps the rest).
        self.tallies = [([], []) if game is None else (list(game["losses"]), list(game["mean_qs"]))
                        for game in saved_games]
        spec = {"config": configs.to_dict(config), "env_parts": env_parts, "rng_parts": rng_parts, "video": video,
                "model": model}
        self.conn, child_conn = context.Pipe()
        self.process = context.Process(target=_actor_main, args=(child_conn, spec, self.buffers, self.shapes),
                                       name="dqnkit-actor", daemon=True)
        self.process.start()
        child_conn.close()
        self.next_play = start_step  # the next vector step to send
        self.processed = start_step - self.num_envs  # the last vector step replayed here
        self.state_after = None  # the start step of the vector step the actor stops after, once asked
        self.state = None  # (env parts, generator parts) at `state_after`'s end, once received
        self._mean_q_index = agent.metrics_names.index("mean_q")

    def _publish(self, vector_step, weights):
        flat = self._weights[vector_step % 2]
        offset = 0
        for w in weights:
            flat[offset:offset + w.size] = w.ravel()
            offset += w.size

    def published_weights(self, vector_step):
        """The weights vector step `vector_step` acts with, as arrays (a checkpoint keeps them)."""
        flat, parts, offset = self._weights[vector_step % 2], [], 0
        for shape in self.shapes:
            size = int(np.prod(shape))
            parts.append(flat[offset:offset + size].reshape(shape).copy())
            offset += size
        return parts

    def _pump(self):
        """Send every play the schedule allows: step s needs the weights after s - 2 vector steps,
        and none goes past a step whose end the actor has been asked to stop at."""
        while self.state_after is None and self.next_play < self.stop_step \
                and self.next_play <= self.processed + 2 * self.num_envs:
            step = self.next_play
            self._send(("play", step))
            self.next_play += self.num_envs
            if self.next_play >= self.stop_step or self.schedule.checkpoint_due(step, self.next_play):
                self.request_state()

    def request_state(self):
        """Ask the actor to stop after the vector step last sent and send its state (a signal
        arrived, or a checkpoint is due there)."""
        if self.state_after is None:
            self.state_after = self.next_play - self.num_envs
            self._send(("state",))

    def prepare_checkpoint(self, step):
        """Whether a checkpoint can be taken at `step` now: the actor's state at `step` is here (at
        the schedule's steps it always is). If not (a signal arrived between them), the state is
        asked for, and returns False: the actor stops after the vector step it is playing and the
        state comes with the next `step`, where the caller must take the checkpoint (until then no
        more plays are sent)."""
        if self.state is not None and self.state_after + self.num_envs == step:
            return True
        self.request_state()
        return False

    def _gone(self):
        self.process.join(timeout=5)
        return ActorProcessError(f"the actor process ended unexpectedly (exit code {self.process.exitcode}); "
                                 "run the same command again to resume from the last checkpoint")

    def _send(self, message):
        try:
            self.conn.send(message)
        except OSError:  # a broken pipe: the actor is gone
            raise self._gone() from None

    def _receive(self):
        try:
            message = self.conn.recv()
        except (EOFError, OSError):
            raise self._gone() from None
        if message[0] == "error":
            _, details, text, users_mistake = message
            if users_mistake:  # a config, env or folder problem: its one line
                raise ActorProcessError(text)
            raise RuntimeError(f"the actor process failed:\n{details}")
        return message

    def step(self, step):
        """Replay the vector step from global step `step` (played by the actor process); returns
        the games it ended, as ``Actor.step`` does."""
        self._pump()
        kind, played_step, calls, finished = self._receive()
        assert kind == "played" and played_step == step, (kind, played_step, step)
        for call in calls:
            if call[0] == "store":
                _, agent_step, i, observation, action, reward, terminal = call
                self.learner.store(i, agent_step, observation, action, reward, terminal)
            else:
                _, learn_step, env, counted = call
                metrics = self.learner.learn(learn_step)
                if counted and not math.isnan(metrics[0]):
                    self.tallies[env][0].append(float(metrics[0]))
                    self.tallies[env][1].append(float(metrics[self._mean_q_index]))
        self.processed = step
        self._publish(step // self.num_envs + 2, self.agent.model.get_weights())
        games = []
        for env, end_step, score, length in finished:
            losses, mean_qs = self.tallies[env]
            games.append(FinishedGame(env, end_step, GameResult(score, length, losses, mean_qs)))
            self.tallies[env] = ([], [])
        self.state = None
        if self.state_after == step:
            kind, env_parts, rng_parts = self._receive()
            assert kind == "state", kind
            self.state = (env_parts, rng_parts)
        return games

    def checkpoint_parts(self, step):
        """(env parts, generator parts, weights the next step acts with) at the end of the vector
        step ending at `step`, where the actor stopped; the actor then goes on."""
        from dqnkit.acting.env_bundle import with_learner_tallies

        (arrays, state), rng_parts = self.state
        self.state, self.state_after = None, None
        return (arrays, with_learner_tallies(state, self.tallies)), rng_parts, self.published_weights(step // self.num_envs)

    def close(self):
        try:
            self.conn.send(("quit",))
        except OSError:
            pass
        # Closed before waiting: an actor blocked sending a step nobody will read gets a broken
        # pipe and ends (closing its files) instead of waiting for the kill below.
        self.conn.close()
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()

"""The actor of training: N envs played side by side, one transition per env per step.

A *vector step* plays one agent step in each of the ``num_envs`` envs. Steps count transitions,
as CleanRL and Stable-Baselines3 count global steps: env i's transition in the vector step that
starts at global step ``s`` is transition ``s + i + 1``, and keras-rl2's rules (the policy's
epsilon, warm-up, train interval, target updates, all read from ``agent.step``) see each
transition at its own number, in env order, exactly as keras-rl2's ``Agent.fit`` sees one env's
steps. With one env this is ``fit``'s loop step for step: same random numbers in the same order,
same memory entries, same train steps (``tests/test_training.py`` compares it with keras-rl2's
``fit``).

What the N envs change, and why:

- actions: each env draws from numpy's global generator in env order (keras-rl2's
  ``EpsGreedyQPolicy``: a uniform number, then a random action if it falls under epsilon);
  the envs whose action is greedy get their Q-values from **one batched forward pass**;
- the acting weights: with one env, the latest (as in ``fit``). With N > 1 envs, vector step v
  acts with the weights as they were *before the previous vector step's train steps* (after
  vector step v-2): K = num_envs / train_interval train steps old (the train steps one vector step
  holds). That lag lets an actor process (``actor_process.py``) play step v while the learner
  trains on step v-1, and the in-process actor keeps the same lag (``LaggedQValues``), so
  ``actor_process`` does not change what a run is: one run may go on with or without it;
- memory: each env appends to its own stream (``StreamMemory``), so windows and transitions never
  mix envs;
- the end of an agent's episode: as in ``fit``, one more forward on the last observation (its
  random numbers drawn, its action stored) and an entry holding that observation, with the rules
  applied at the next step's number.

The envs are a list stepped in order, not gymnasium's ``SyncVectorEnv``: that steps them in order
too, but it resets an env on its own when a game ends (so the final observation keras-rl2 stores
arrives in ``info`` and the lives and score bookkeeping moves into wrappers), and checkpoints need
each env's wrappers at hand. ale-py's ``AtariVectorEnv`` steps its envs in C++ threads with its
own preprocessing: neither ``AtariProcessor`` nor a saved mid-game state (ALE state, the
preprocessing's frames) would be ours to keep, so a resume could not be exact.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from dqnkit.envs import ale


@dataclass
class GameResult:
    score: float = 0.0  # the game's real score (rewards before clipping)
    steps: int = 0  # agent steps
    losses: list = field(default_factory=list)
    mean_qs: list = field(default_factory=list)


@dataclass
class EnvGame:
    """One env's game in progress: what the next agent step acts on, and its tally."""
    observation: object
    lives_left: int
    result: GameResult = field(default_factory=GameResult)


class LaggedQValues:
    """Q-values from the weights of two vector steps back (see the module docstring). Two copies
    of the online net take turns: at the start of each vector step the one holding the weights
    after step v-2 acts, and the other takes the current weights (after step v-1) for step v+1,
    by graph assignments (one call a step; on a GPU the weights stay there)."""

    def __init__(self, agent, pending_weights=None):
        import tensorflow as tf
        import tf_keras
        from tf_keras import backend as K

        model = agent.model
        self.copies = [tf_keras.models.clone_model(model) for _ in range(2)]
        self.copies[0].set_weights(model.get_weights())
        self.copies[1].set_weights(model.get_weights() if pending_weights is None else pending_weights)
        self._capture = [tf.group(*[c.assign(o) for c, o in zip(copy.weights, model.weights)]) for copy in self.copies]
        self._q = [K.function([copy.input], [copy.output]) for copy in self.copies]
        self._session = tf.compat.v1.keras.backend.get_session
        self.processor = agent.processor
        self.acting = 0  # copies[1 - acting] holds the weights the next vector step acts with

    def advance(self):
        """At the start of vector step v: act with the weights after step v-2, and keep those
        after step v-1 (the current ones) for step v+1."""
        self.acting = 1 - self.acting
        self._session().run(self._capture[1 - self.acting])

    def __call__(self, states):
        if self.processor is not None:  # as agent.compute_batch_q_values does
            states = self.processor.process_state_batch(states)
        return self._q[self.acting]([states])[0]

    def pending_weights(self):
        """The weights the next vector step acts with (a checkpoint keeps them)."""
        return self.copies[1 - self.acting].get_weights()


@dataclass
class FinishedGame:
    env_index: int
    step: int  # the global step of the game's last transition
    result: GameResult


class ReplayLearner:
    """Where the actor's transitions go in one process: env i's entries into its replay stream,
    and keras-rl2's rules (``FastDQNAgent.learn``) at each transition's step. In an actor process
    the actor records the same calls instead (``actor_process.TransitionRecorder``) and the
    learner replays them here, in the same order."""

    def __init__(self, agent, streams):
        self.agent, self.streams = agent, list(streams)

    def store(self, i, observation, action, reward, terminal):
        if self.agent.step % self.agent.memory_interval == 0:
            self.streams[i].append(observation, action, reward, terminal)

    def learn(self, step, env=None, counted=True):
        """keras-rl2's rules at `step`. (`env` and `counted` - whose transition it is, and whether
        its metrics go to that env's game - are for the actor process's recorder; the actor
        tallies the metrics itself here.)"""
        self.agent.step = step
        return self.agent.learn()


class Actor:
    """Plays `env_list` for `agent` (a FastDQNAgent in training), one vector step per `step` call;
    see the module docstring. `windows[i]` keeps env i's recent frames (its replay stream, in one
    process); `learner` takes the transitions (`ReplayLearner`, or an actor process's recorder)."""

    def __init__(self, agent, env_list, processor, windows, learner, terminal_on_life_loss=False, q_values=None):
        from dqnkit.agent.fast_dqn import is_annealed_eps_greedy  # here: this module loads without TensorFlow

        if not is_annealed_eps_greedy(agent.policy):
            raise ValueError("the actor draws keras-rl2's annealed epsilon-greedy actions; build the agent with "
                             "build_agent (LinearAnnealedPolicy over EpsGreedyQPolicy)")
        if len(windows) != len(env_list):
            raise ValueError(f"{len(env_list)} envs need {len(env_list)} memory streams, got {len(windows)}")
        self.agent, self.envs, self.processor, self.windows = agent, list(env_list), processor, list(windows)
        self.learner = learner
        self.terminal_on_life_loss = terminal_on_life_loss
        # Where greedy actions come from: the agent's latest weights with one env; with several,
        # lagged weights (`LaggedQValues` in one process, the actor process's own copy otherwise).
        # The default suits a new run; a resumed one passes LaggedQValues with its checkpoint's weights.
        if q_values is None and len(self.envs) > 1:
            q_values = LaggedQValues(agent)
        self.q_values = q_values
        self.games = [None] * len(self.envs)  # None: that env starts a new game at its next step
        self._mean_q_index = agent.metrics_names.index("mean_q")

    @property
    def num_envs(self):
        return len(self.envs)

    def _start_game(self, i):
        observation, _ = self.envs[i].reset()
        self.games[i] = EnvGame(self.processor.process_observation(observation), ale.lives(self.envs[i]))

    def _epsilon_draw(self, step):
        """keras-rl2's EpsGreedyQPolicy at ``agent.step = step``: a random action, or None for greedy."""
        self.agent.step = step
        return self.agent.random_action_or_none(self.agent.policy)

    def _greedy(self, indexes):
        """Greedy actions of envs `indexes` from one batched forward pass over their windows."""
        if not indexes:
            return []
        windows = np.stack([self.windows[i].get_recent_state(self.games[i].observation) for i in indexes])
        q_values = self.agent.compute_batch_q_values(windows) if self.q_values is None else self.q_values(windows)
        return [int(a) for a in np.argmax(q_values, axis=1)]

    def step(self, step):
        """One vector step from global step `step`; returns the games it ended, in env order."""
        if isinstance(self.q_values, LaggedQValues):
            self.q_values.advance()
        for i, game in enumerate(self.games):
            if game is None:
                self._start_game(i)
        actions = [self._epsilon_draw(step + i) for i in range(self.num_envs)]
        greedy = [i for i, action in enumerate(actions) if action is None]
        for i, action in zip(greedy, self._greedy(greedy)):
            actions[i] = action
        finished = []
        for i, action in enumerate(actions):
            if self._transition(i, action, step + i):
                finished.append(FinishedGame(i, step + i + 1, self.games[i].result))
                self.games[i] = None
        return finished

    def _transition(self, i, action, step):
        """Env i's transition at global step `step` (agent.step counts from 0, as in fit):
        act, store, learn. Returns True when its game is over."""
        agent, env, game, window = self.agent, self.envs[i], self.games[i], self.windows[i]
        raw_observation, raw_reward, terminated, truncated, _ = env.step(action)
        observation = self.processor.process_observation(raw_observation)
        game_over = terminated or truncated
        lives_now = ale.lives(env)
        life_lost, game.lives_left = lives_now < game.lives_left, lives_now
        episode_over = game_over or (self.terminal_on_life_loss and life_lost)

        agent.step = step
        self.learner.store(i, game.observation, action, self.processor.process_reward(raw_reward), episode_over)
        metrics = self.learner.learn(step, i)
        if not math.isnan(metrics[0]):
            game.result.losses.append(float(metrics[0]))
            game.result.mean_qs.append(float(metrics[self._mean_q_index]))
        game.result.score += float(raw_reward)
        game.result.steps += 1
        if episode_over:
            # As in Agent.fit: one more forward on the last observation (its action is stored with
            # it) and one more backward, so that observation enters the memory.
            last_action = self._epsilon_draw(step + 1)
            if last_action is None:
                state = window.get_recent_state(observation)
                q_values = agent.compute_q_values(state) if self.q_values is None else self.q_values(state[None])[0]
                last_action = int(np.argmax(q_values))
            self.learner.store(i, observation, last_action, 0.0, False)
            self.learner.learn(step + 1, i, counted=False)
        game.observation = observation
        return game_over

    # -- checkpoint support ------------------------------------------------------------------------
    def get_game_state(self, i):
        """(arrays, JSON-able dict) of env i's game between two steps, or None between games
        (the env's own state is the env's: ``ale.save_env_state``)."""
        game, stream = self.games[i], self.windows[i]
        if game is None:
            return None
        arrays = {"observation": np.asarray(game.observation)}
        for k, frame in enumerate(stream.recent_observations):
            arrays[f"window_{k:03d}"] = np.asarray(frame)
        return arrays, {"lives_left": int(game.lives_left), "score": game.result.score, "steps": game.result.steps,
                        "losses": list(game.result.losses), "mean_qs": list(game.result.mean_qs),
                        "window_terminals": [bool(t) for t in stream.recent_terminals]}

    def set_game_state(self, i, arrays, state):
        """Undo `get_game_state` for env i (whose env state has been restored)."""
        stream = self.windows[i]
        self.games[i] = EnvGame(arrays["observation"], state["lives_left"],
                                GameResult(score=state["score"], steps=state["steps"], losses=list(state["losses"]),
                                           mean_qs=list(state["mean_qs"])))
        stream.recent_observations.clear()
        stream.recent_observations.extend(arrays[k] for k in sorted(arrays) if k.startswith("window_"))
        stream.recent_terminals.clear()
        stream.recent_terminals.extend(state["window_terminals"])

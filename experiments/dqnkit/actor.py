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
  the envs whose action is greedy get their Q-values from **one batched forward pass** with the
  weights as they are at the start of the vector step (with one env, the same weights as
  ``fit``'s);
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

from dqnkit import envs


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


@dataclass
class FinishedGame:
    env_index: int
    step: int  # the global step of the game's last transition
    result: GameResult


def _is_annealed_eps_greedy(policy):
    from rl.policy import EpsGreedyQPolicy, LinearAnnealedPolicy
    return type(policy) is LinearAnnealedPolicy and type(policy.inner_policy) is EpsGreedyQPolicy \
        and policy.attr == "eps"


class Actor:
    """Plays `env_list` for `agent` (a FastDQNAgent in training), one vector step per `step` call;
    see the module docstring. `streams[i]` is env i's replay memory stream."""

    def __init__(self, agent, env_list, processor, streams, terminal_on_life_loss=False):
        if not _is_annealed_eps_greedy(agent.policy):
            raise ValueError("the actor draws keras-rl2's annealed epsilon-greedy actions; build the agent with "
                             "build_agent (LinearAnnealedPolicy over EpsGreedyQPolicy)")
        if len(streams) != len(env_list):
            raise ValueError(f"{len(env_list)} envs need {len(env_list)} memory streams, got {len(streams)}")
        self.agent, self.envs, self.processor, self.streams = agent, list(env_list), processor, list(streams)
        self.terminal_on_life_loss = terminal_on_life_loss
        self.games = [None] * len(self.envs)  # None: that env starts a new game at its next step
        self._mean_q_index = agent.metrics_names.index("mean_q")

    @property
    def num_envs(self):
        return len(self.envs)

    def _start_game(self, i):
        observation, _ = self.envs[i].reset()
        self.games[i] = EnvGame(self.processor.process_observation(observation), envs.lives(self.envs[i]))

    def _epsilon_draw(self, step):
        """keras-rl2's EpsGreedyQPolicy at ``agent.step = step``: a random action, or None for greedy."""
        agent, policy = self.agent, self.agent.policy
        agent.step = step
        policy.inner_policy.eps = policy.get_current_value()
        if np.random.uniform() < policy.inner_policy.eps:
            return int(np.random.randint(0, agent.nb_actions))
        return None

    def _greedy(self, indexes):
        """Greedy actions of envs `indexes` from one batched forward pass over their windows."""
        if not indexes:
            return []
        windows = np.stack([self.streams[i].get_recent_state(self.games[i].observation) for i in indexes])
        return [int(a) for a in np.argmax(self.agent.compute_batch_q_values(windows), axis=1)]

    def step(self, step):
        """One vector step from global step `step`; returns the games it ended, in env order."""
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
        agent, env, game, stream = self.agent, self.envs[i], self.games[i], self.streams[i]
        raw_observation, raw_reward, terminated, truncated, _ = env.step(action)
        observation = self.processor.process_observation(raw_observation)
        game_over = terminated or truncated
        lives_now = envs.lives(env)
        life_lost, game.lives_left = lives_now < game.lives_left, lives_now
        episode_over = game_over or (self.terminal_on_life_loss and life_lost)

        agent.step = step
        self._store(stream, game.observation, action, self.processor.process_reward(raw_reward), episode_over)
        metrics = agent.learn()
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
                last_action = int(np.argmax(agent.compute_q_values(stream.get_recent_state(observation))))
            self._store(stream, observation, last_action, 0.0, False)
            agent.learn()
        game.observation = observation
        return game_over

    def _store(self, stream, observation, action, reward, terminal):
        if self.agent.step % self.agent.memory_interval == 0:
            stream.append(observation, action, reward, terminal)

    # -- checkpoint support ------------------------------------------------------------------------
    def get_game_state(self, i):
        """(arrays, JSON-able dict) of env i's game between two steps, or None between games
        (the env's own state is the env's: ``envs.save_env_state``)."""
        game, stream = self.games[i], self.streams[i]
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
        stream = self.streams[i]
        self.games[i] = EnvGame(arrays["observation"], state["lives_left"],
                                GameResult(score=state["score"], steps=state["steps"], losses=list(state["losses"]),
                                           mean_qs=list(state["mean_qs"])))
        stream.recent_observations.clear()
        stream.recent_observations.extend(arrays[k] for k in sorted(arrays) if k.startswith("window_"))
        stream.recent_terminals.clear()
        stream.recent_terminals.extend(state["window_terminals"])

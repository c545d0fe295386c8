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
  trains on step v-1, and the in-process actor keeps the same lag (``lagged_q_values.LaggedQValues``), so
  ``actor_process`` does not change what a run is: one run may go on with or without it;
- memory: each env appends to its own stream (``StreamMemory``), so windows and transitions never
  mix envs;
- the end of an agent's episode: as in ``fit``, one more forward on the last observation (its
  random numbers drawn, its action stored) and an entry holding that observation, with the rules
  applied at the next step's number.

One env (``look_ahead``): a step that trains draws the next step's epsilon-greedy numbers before
its train step, and a greedy next action's Q-values come out of the train step's own graph call
(``FastDQNAgent.learn_and_look_ahead``), after Adam's update: one graph call for a step that
trains and the next greedy action, where ``fit`` makes two; the same numbers drawn in the same
order (the train step draws from the memory's generator, an evaluation puts numpy's back) and the
same weights acted with. A checkpoint between the two steps keeps the drawn action
(``drawn_action`` in env 0's game); the resumed step computes its Q-values with a forward of its
own. (Code from before the look-ahead, commit 8442841 and earlier, would ignore that key and draw
again: resume such a checkpoint with this version or a later one.)

The envs are a list stepped in order, not gymnasium's ``SyncVectorEnv``: that steps them in order
too, but it resets an env on its own when a game ends (so the final observation keras-rl2 stores
arrives in ``info`` and the lives and score bookkeeping moves into wrappers), and checkpoints need
each env's wrappers at hand. ale-py's ``AtariVectorEnv`` steps its envs in C++ threads with its
own preprocessing: neither ``AtariProcessor`` nor a saved mid-game state (ALE state, the
preprocessing's frames) would be ours to keep, so a resume could not be exact.
"""
from dataclasses import dataclass, field

import numpy as np

from dqnkit.acting.transition import GameResult, env_step
from dqnkit.envs import ale, video


@dataclass
class EnvGame:
    """One env's game in progress: what the next agent step acts on, and its tally."""
    observation: object
    lives_left: int
    result: GameResult = field(default_factory=GameResult)


@dataclass
class DrawnAction:
    """Env 0's epsilon-greedy draw for the next step, made before this step's train step."""
    action: object  # an int, or None: greedy
    q_values: object = None  # a greedy action's Q-values from the train step's call; None: not computed


@dataclass
class FinishedGame:
    env_index: int
    step: int  # the global step of the game's last transition
    result: GameResult


class LatestQValues:
    """Q-values from the agent's current weights: what one env acts with (as keras-rl2's ``fit``),
    and what the actor process's own copy of the net gives. (Several envs in one process act with
    ``lagged_q_values.LaggedQValues``: the same two calls.)"""

    def __init__(self, agent):
        self.agent = agent

    def advance(self):
        """At the start of each vector step: nothing to do, the weights are the agent's."""

    def __call__(self, states):
        return self.agent.compute_batch_q_values(states)


class ReplayLearner:
    """Where the actor's transitions go in one process: env i's entries into its replay stream,
    and keras-rl2's rules (``FastDQNAgent.learn``) at each transition's step. In an actor process
    the actor records the same calls instead (``actor_process.TransitionRecorder``) and the
    learner replays them here, in the same order."""

    def __init__(self, agent, streams):
        self.agent, self.streams = agent, list(streams)

    def store(self, i, step, observation, action, reward, terminal):
        if self.agent.stores_at(step):
            self.streams[i].append(observation, action, reward, terminal)

    def learn(self, step, env=None, counted=True):
        """keras-rl2's rules at `step`. (`env` and `counted` - whose transition it is, and whether
        its metrics go to that env's game - are for the actor process's recorder; the actor
        tallies the metrics itself here.)"""
        self.agent.at_step(step)
        return self.agent.learn()

    def trains_at(self, step):
        return self.agent.trains_at(step)

    def learn_and_look_ahead(self, step, next_state):
        """`learn`, with the Q-values of `next_state` from the train step's call: (metrics, Q-values)."""
        self.agent.at_step(step)
        return self.agent.learn_and_look_ahead(next_state)


class Actor:
    """Plays `env_list` for `agent` (a FastDQNAgent in training), one vector step per `step` call;
    see the module docstring. `windows[i]` keeps env i's recent frames (its replay stream, in one
    process); `learner` takes the transitions (`ReplayLearner`, or an actor process's recorder);
    `q_values` gives the greedy actions' Q-values (by default `LatestQValues` with one env,
    ``LaggedQValues`` with several). Env 0 may be wrapped by a video recorder: its recording ends with its game.
    `look_ahead` (one env, a `ReplayLearner`): draw the next action before a train step; see the
    module docstring."""

    def __init__(self, agent, env_list, processor, windows, learner, terminal_on_life_loss=False, q_values=None,
                 look_ahead=False):
        from dqnkit.agent.fast_dqn import is_annealed_eps_greedy  # here: this module loads without TensorFlow

        if not is_annealed_eps_greedy(agent.policy):
            raise ValueError("the actor draws keras-rl2's annealed epsilon-greedy actions; build the agent with "
                             "build_agent (LinearAnnealedPolicy over EpsGreedyQPolicy)")
        if len(windows) != len(env_list):
            raise ValueError(f"{len(env_list)} envs need {len(env_list)} memory streams, got {len(windows)}")
        if q_values is None and len(env_list) > 1:  # a new run's lag; a resumed one passes its checkpoint's
            from dqnkit.acting.lagged_q_values import LaggedQValues
            q_values = LaggedQValues(agent)
        if look_ahead and len(env_list) != 1:
            raise ValueError(f"look_ahead acts with the latest weights of one env; got {len(env_list)} envs")
        if look_ahead and not hasattr(learner, "learn_and_look_ahead"):
            raise ValueError(f"look_ahead needs a learner that trains here (ReplayLearner), got {type(learner).__name__}")
        self.agent, self.envs, self.processor, self.windows = agent, list(env_list), processor, list(windows)
        self.learner = learner
        self.terminal_on_life_loss = terminal_on_life_loss
        self.q_values = q_values or LatestQValues(agent)
        self.games = [None] * len(self.envs)  # None: that env starts a new game at its next step
        self.look_ahead = look_ahead
        self.drawn = None  # a DrawnAction for the next step, or None
        self._mean_q_index = agent.metrics_names.index("mean_q")

    @property
    def num_envs(self):
        return len(self.envs)

    def _start_game(self, i):
        observation, _ = self.envs[i].reset()
        self.games[i] = EnvGame(self.processor.process_observation(observation), ale.lives(self.envs[i]))

    def _epsilon_draw(self, step):
        """keras-rl2's EpsGreedyQPolicy at step `step`: a random action, or None for greedy."""
        self.agent.at_step(step)
        return self.agent.random_action_or_none(self.agent.policy)

    def _greedy(self, indexes, observations):
        """Greedy actions of envs `indexes` (their windows ending in `observations`) from one
        batched forward pass."""
        if not indexes:
            return []
        windows = np.stack([self.windows[i].get_recent_state(obs) for i, obs in zip(indexes, observations)])
        return [int(a) for a in np.argmax(self.q_values(windows), axis=1)]

    def step(self, step):
        """One vector step from global step `step`; returns the games it ended, in env order."""
        self.q_values.advance()
        for i, game in enumerate(self.games):
            if game is None:
                self._start_game(i)
        if self.drawn is None:
            actions = [self._epsilon_draw(step + i) for i in range(self.num_envs)]
        else:
            actions = [self._take_drawn(step)]
        greedy = [i for i, action in enumerate(actions) if action is None]
        for i, action in zip(greedy, self._greedy(greedy, [self.games[i].observation for i in greedy])):
            actions[i] = action
        finished = []
        for i, action in enumerate(actions):
            if self._transition(i, action, step + i):
                finished.append(FinishedGame(i, step + i + 1, self.games[i].result))
                self.games[i] = None
                if i == 0:
                    video.finish_episode_video(self.envs[0])  # the recording ends with the game
        return finished

    def _transition(self, i, action, step):
        """Env i's transition at global step `step` (counted from 0, as in fit): act, store,
        learn. Returns True when its game is over."""
        game = self.games[i]
        outcome = env_step(self.envs[i], action, self.processor, game.lives_left, self.terminal_on_life_loss)
        game.lives_left = outcome.lives
        reward = self.processor.process_reward(outcome.raw_reward)
        self.learner.store(i, step, game.observation, action, reward, outcome.episode_over)
        if self.look_ahead and not outcome.episode_over and self.learner.trains_at(step):
            metrics = self._learn_drawing_next_action(step, outcome.observation)
        else:
            metrics = self.learner.learn(step, i)
        game.result.tally(outcome.raw_reward, metrics, self._mean_q_index)
        if outcome.episode_over:
            # As in Agent.fit: one more forward on the last observation (its action is stored with
            # it) and one more backward, so that observation enters the memory.
            last_action = self._epsilon_draw(step + 1)
            if last_action is None:
                (last_action,) = self._greedy([i], [outcome.observation])
            self.learner.store(i, step + 1, outcome.observation, last_action, 0.0, False)
            self.learner.learn(step + 1, i, counted=False)
        game.observation = outcome.observation
        return outcome.game_over

    def _learn_drawing_next_action(self, step, next_observation):
        """Env 0's learning at `step` with the draw of step + 1 made first (one env; see the module
        docstring). Returns the metrics of `step`."""
        inner_policy = self.agent.policy.inner_policy
        epsilon = inner_policy.eps
        action = self._epsilon_draw(step + 1)
        inner_policy.eps = epsilon  # this step's metrics report this step's epsilon
        next_state = self.windows[0].get_recent_state(next_observation) if action is None else None
        metrics, q_values = self.learner.learn_and_look_ahead(step, next_state)
        self.drawn = DrawnAction(action, q_values)
        return metrics

    def _take_drawn(self, step):
        """Env 0's action at `step` from the draw made before the last train step: the action, or
        None for a greedy one whose Q-values are still to compute (after a resume)."""
        drawn, self.drawn = self.drawn, None
        self.agent.at_step(step)
        self.agent.set_epsilon(self.agent.policy)  # as the draw at this step sets it
        if drawn.action is None and drawn.q_values is not None:
            return int(np.argmax(drawn.q_values))
        return drawn.action

    # -- checkpoint support ------------------------------------------------------------------------
    def get_game_state(self, i):
        """(arrays, JSON-able dict) of env i's game between two steps, or None between games
        (the env's own state is the env's: ``ale.save_env_state``)."""
        game = self.games[i]
        if game is None:
            return None
        frames, terminals = self.windows[i].window_state()
        arrays = {"observation": np.asarray(game.observation)}
        arrays.update({f"window_{k:03d}": frame for k, frame in enumerate(frames)})
        return arrays, {"lives_left": int(game.lives_left), "score": game.result.score, "steps": game.result.steps,
                        "losses": list(game.result.losses), "mean_qs": list(game.result.mean_qs),
                        "window_terminals": terminals,
                        **({"drawn_action": {"action": self.drawn.action}} if i == 0 and self.drawn else {})}

    def set_game_state(self, i, arrays, state):
        """Undo `get_game_state` for env i (whose env state has been restored)."""
        self.games[i] = EnvGame(arrays["observation"], state["lives_left"],
                                GameResult(score=state["score"], steps=state["steps"], losses=list(state["losses"]),
                                           mean_qs=list(state["mean_qs"])))
        self.windows[i].restore_window([arrays[k] for k in sorted(arrays) if k.startswith("window_")],
                                       state["window_terminals"])
        if "drawn_action" in state:  # drawn before the checkpoint; its Q-values were not kept
            if not (self.look_ahead and i == 0):
                raise ValueError("this game holds an action drawn ahead, which only the actor of one env looking "
                                 "ahead takes (its checkpoint was written by a run of one env)")
            self.drawn = DrawnAction(state["drawn_action"]["action"])

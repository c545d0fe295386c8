"""Whole games through keras-rl2's own one-env step: ``Game`` drives an agent with its
``forward``/``backward``, as ``Agent.fit`` (training) or ``Agent.test`` steps an episode;
``play_game`` plays one; ``build_player`` makes an agent that only plays. Test mode
(``dqnkit/playing.py``) and the evaluations (``training/evaluation.py``) play with them, and the
tests check the training actor (``actor.py``) against them.
"""
from dqnkit.acting.transition import GameResult, env_step
from dqnkit.agent.fast_dqn import build_agent
from dqnkit.envs import ale
from dqnkit.memory.ring import RingMemory


class Game:
    """One whole game, stepped the way keras-rl2's ``Agent.fit`` (``agent.training``) or
    ``Agent.test`` steps an episode, one agent step per `step` call, through the agent's own
    ``forward`` and ``backward``, with the life-loss rule of ``transition.py``."""

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
        self.lives_left = ale.lives(self.env)
        return self

    def step(self, step=0):
        """Play one agent step; `step` is the global step count before it (in training,
        ``agent.step`` is set from it as ``Agent.fit`` sets it: this drives keras-rl2's own
        ``DQNAgent`` too). Returns True when the game is over."""
        agent = self.agent
        if agent.training:
            agent.step = step
        action = agent.forward(self.observation)
        outcome = env_step(self.env, action, self.processor, self.lives_left, self.terminal_on_life_loss)
        self.lives_left = outcome.lives
        metrics = agent.backward(self.processor.process_reward(outcome.raw_reward), terminal=outcome.episode_over)
        self.result.tally(outcome.raw_reward, metrics if agent.training else None, self._mean_q_index)
        if outcome.episode_over:
            # As in Agent.fit: one more forward/backward so the last observation enters the memory.
            if agent.training:
                agent.step = step + 1
            agent.forward(outcome.observation)
            agent.backward(0.0, terminal=False)
            if not outcome.game_over:
                agent.reset_states()
        self.observation = outcome.observation
        return outcome.game_over


def play_game(agent, env, processor, terminal_on_life_loss=False, step=0):
    """Play one whole game from ``env.reset()`` to its end (in training, from global step `step`).
    Returns its `GameResult`."""
    game = Game(agent, env, processor, terminal_on_life_loss).start()
    while not game.step(step):
        step += 1
    return game.result


def build_player(config, nb_actions):
    """An agent that only plays (test mode, evaluation): a window of recent frames, no replay."""
    window_only = RingMemory(limit=1, window_length=config.window_length)
    agent = build_agent(config, nb_actions, memory=window_only)
    agent.training = False
    return agent

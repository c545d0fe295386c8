"""keras-rl2's DQNAgent with a fused, uint8-fed train step, and the builder for a config.

``FastDQNAgent`` keeps DQNAgent's model, target model, policies, warm-up, train interval and
target-update rules (``forward`` and ``backward`` read ``self.step`` exactly as before). It
replaces only the hot paths:

- ``forward``: the window comes from ``RingMemory`` as one uint8 array and goes to a compiled
  graph function; no object arrays, no float64 padding, no per-step allocation.
- ``backward``: one graph call computes the targets with the target network, the Huber loss
  and applies Adam's update (``DQNAgent.backward`` makes three session calls and builds the
  targets in Python). ``tests/test_agent.py`` checks both give the same weights.
- ``update_target_model_hard``: graph assignments instead of ``get_weights``/``set_weights``.
"""
import random

from dqnkit import compat  # noqa: F401  (tf-keras before TensorFlow)

import numpy as np
import tensorflow as tf
import tf_keras
from tf_keras import backend as K
from rl.agents.dqn import DQNAgent
from rl.policy import EpsGreedyQPolicy, LinearAnnealedPolicy

from dqnkit.memory import RingMemory
from dqnkit.model import build_mnih2015_model


def _is_annealed_eps_greedy(policy):
    return type(policy) is LinearAnnealedPolicy and type(policy.inner_policy) is EpsGreedyQPolicy \
        and policy.attr == "eps"


def huber(error, delta):
    """keras-rl2's ``huber_loss`` for a scalar threshold (quadratic inside, linear outside)."""
    abs_error = tf.abs(error)
    quadratic = 0.5 * tf.square(error)
    linear = delta * (abs_error - 0.5 * delta)
    return tf.where(abs_error < delta, quadratic, linear)


class FastDQNAgent(DQNAgent):
    """DQNAgent whose forward/backward feed uint8 windows to single fused graph calls."""

    def compile(self, optimizer, metrics=None):
        super().compile(optimizer, metrics=list(metrics or []))
        model, target = self.model, self.target_model
        state0 = tf_keras.Input(shape=model.input.shape[1:], dtype=model.input.dtype, name="state0")
        state1 = tf_keras.Input(shape=model.input.shape[1:], dtype=model.input.dtype, name="state1")
        action = K.placeholder(shape=(None,), dtype="int32", name="action")
        reward = K.placeholder(shape=(None,), dtype="float32", name="reward")
        terminal1 = K.placeholder(shape=(None,), dtype="float32", name="terminal1")

        q0 = model(state0)
        q1_target = tf.stop_gradient(tf.reduce_max(target(state1), axis=1))
        q_target = reward + self.gamma * (1.0 - terminal1) * q1_target
        q_taken = tf.reduce_sum(q0 * tf.one_hot(action, self.nb_actions), axis=1)
        loss = tf.reduce_mean(huber(q_target - q_taken, self.delta_clip))
        mean_q = tf.reduce_mean(tf.reduce_max(q0, axis=1))
        # The optimizer object keras-rl2 compiled into trainable_model: same slots, same step count.
        updates = self.trainable_model.optimizer.get_updates(loss, model.trainable_weights)
        self._train_fn = K.function([state0, action, reward, terminal1, state1], [loss, mean_q], updates=updates)
        self._q_fn = K.function([model.input], [model.output])
        # Target sync as graph assignments: on a GPU the weights never leave the device.
        self._sync_target_op = tf.group(*[t.assign(o) for t, o in zip(target.weights, model.weights)])
        self._state_batch = np.zeros((1,) + tuple(model.input.shape[1:]), dtype=model.input.dtype.as_numpy_dtype)

    def update_target_model_hard(self):
        tf.compat.v1.keras.backend.get_session().run(self._sync_target_op)

    @property
    def metrics_names(self):
        return ["loss", "mean_q"]

    @property
    def optimizer(self):
        return self.trainable_model.optimizer

    def compute_q_values(self, state):
        self._state_batch[0] = state
        return self._q_fn([self._state_batch])[0][0]

    def forward(self, observation):
        policy = self.policy if self.training else self.test_policy
        if _is_annealed_eps_greedy(policy):
            action = self._eps_greedy_action(policy, observation)
        else:
            state = self.memory.get_recent_state(observation)
            action = int(policy.select_action(q_values=self.compute_q_values(state)))
        self.recent_observation = observation
        self.recent_action = action
        return action

    def _eps_greedy_action(self, policy, observation):
        """EpsGreedyQPolicy.select_action, drawing the same random numbers in the same order,
        but stacking the window and computing Q-values only when the action is greedy."""
        policy.inner_policy.eps = policy.get_current_value()
        if np.random.uniform() < policy.inner_policy.eps:
            return int(np.random.randint(0, self.nb_actions))
        return int(np.argmax(self.compute_q_values(self.memory.get_recent_state(observation))))

    def backward(self, reward, terminal):
        if self.step % self.memory_interval == 0:
            self.memory.append(self.recent_observation, self.recent_action, reward, terminal, training=self.training)
        metrics = [np.nan, np.nan]
        if not self.training:
            return metrics
        if self.step > self.nb_steps_warmup and self.step % self.train_interval == 0:
            batch = self.memory.sample_batch(self.batch_size)
            loss, mean_q = self._train_fn([batch.state0, batch.action, batch.reward,
                                           batch.terminal1.astype(np.float32), batch.state1])
            metrics = [float(loss), float(mean_q)]
        if self.target_model_update >= 1 and self.step % self.target_model_update == 0:
            self.update_target_model_hard()
        return metrics


def make_deterministic(seed):
    """Seed Python, numpy and TensorFlow, and ask TensorFlow for reproducible kernels.

    Op determinism makes repeated runs bitwise equal on CPU (and on GPU for the ops DQN uses),
    which resume tests rely on. Call before building any model."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    tf.compat.v1.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build_agent(config, nb_actions, memory=None, agent_class=FastDQNAgent, model=None):
    """The keras-rl example's agent for `config`: Mnih net, annealed eps-greedy, Adam."""
    if model is None:
        model = build_mnih2015_model(nb_actions, window_length=config.window_length)
    if memory is None:
        memory = RingMemory(limit=config.memory_limit, window_length=config.window_length, seed=config.seed)
    policy = LinearAnnealedPolicy(EpsGreedyQPolicy(), attr="eps", value_max=config.epsilon_max,
                                  value_min=config.epsilon_min, value_test=config.epsilon_test,
                                  nb_steps=config.epsilon_steps)
    # test_policy=policy: the annealed policy returns epsilon_test when agent.training is False.
    # (keras-rl's example left DQNAgent's default GreedyQPolicy there, so its value_test=.05
    # never took effect and a stuck agent could loop forever in test.)
    agent = agent_class(model=model, nb_actions=nb_actions, policy=policy, test_policy=policy, memory=memory,
                        nb_steps_warmup=config.nb_steps_warmup, gamma=config.gamma,
                        target_model_update=config.target_model_update, train_interval=config.train_interval,
                        delta_clip=config.delta_clip, batch_size=config.batch_size)
    agent.compile(tf_keras.optimizers.legacy.Adam(learning_rate=config.learning_rate))
    return agent

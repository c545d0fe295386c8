"""keras-rl2's DQNAgent with a fused, array-fed train step, and the builder for a config.

``FastDQNAgent`` is a ``DQNAgent``: same constructor, same ``compile``, same policies, warm-up,
train interval, memory interval and target-update rules (``forward`` and ``backward`` read
``self.step`` exactly as before). It replaces only the hot paths, where it can:

- ``backward``: one graph call samples nothing, converts nothing: the batch comes from
  ``RingMemory`` as arrays, and the call computes the targets (target net max, or Double DQN's
  online argmax evaluated by the target net), the Huber loss (plain squared error for
  ``delta_clip=inf``), the compiled metrics, Adam's update and, for ``target_model_update < 1``,
  the soft target update. ``DQNAgent.backward`` makes three session calls and builds the targets
  in Python. ``tests/test_agent.py`` checks every combination gives the same weights.
- ``forward``: the window comes from ``RingMemory`` as one array; Q-values are computed only
  for greedy actions, drawing the same random numbers as keras-rl2's ``EpsGreedyQPolicy``.
- ``learn_and_look_ahead`` (for the training actor with one env): the train step's call also
  gives the next state's Q-values, from the updated weights, so a step that trains and the next
  greedy action make one graph call, not two.
- ``update_target_model_hard``: graph assignments instead of ``get_weights``/``set_weights``.

Dueling networks need nothing here: ``DQNAgent.__init__`` rebuilds ``self.model`` with its
dueling head, and both paths train that model.

Where the fused path cannot serve a case, keras-rl2's own code runs it (``fused`` tells which):
a memory other than ``RingMemory`` (``SequentialMemory``), a model with several inputs, or a
compiled metric that Keras resolves by output shape (``"accuracy"``, ``"crossentropy"``) or
that is a stateful ``Metric`` object. Observations of several inputs (lists of arrays, which
``RingMemory`` keeps apart) also take keras-rl2's path, whatever the model: its processor
expects them in keras-rl2's layout.
"""
from dqnkit import compat  # noqa: F401  (tf-keras before TensorFlow)

import math
import numbers

import numpy as np
import tensorflow as tf
import tf_keras
from tf_keras import backend as K
from rl.agents.dqn import DQNAgent
from rl.policy import EpsGreedyQPolicy, LinearAnnealedPolicy

from dqnkit.memory.ring import RingMemory
from dqnkit.memory.streams import StreamMemory
from dqnkit.agent.nets import build_net

# Metric names Keras resolves by the output's shape and loss instead of by name.
_SHAPE_DEPENDENT_METRICS = {"accuracy", "acc", "crossentropy", "ce"}


class SessionCallable:
    """A ``K.function`` called straight through the session's callable API.

    Calling ``K.function(...)`` (tf-keras' ``GraphExecutionFunction``) costs more Python than a
    small graph costs the session: each call flattens its inputs as nested structures, asks for
    the session (which walks the graph's variables to initialise new ones), compares its cached
    feeds tensor by tensor and packs the outputs back into their structure; with a train step
    and a greedy action every agent step, that was most of the loop's time on a fast learner (a
    GPU's). Here the feeds, fetches and update op are the ones ``K.function`` built (so the same
    ops run, in the same order), made into one session callable at the first call, as
    ``K.function`` makes its own. A call converts the arrays to the placeholders' dtypes (the
    callable takes exact dtypes only; ``K.function`` converts them too) and returns the fetched
    arrays, in order.

    The callable belongs to the session of its first call, for good: where ``K.function``
    notices a new session and rebuilds, this one would not. The agent's session lives as long as
    the agent (a new Keras session means a new model, a new agent and new callables)."""

    def __init__(self, function):
        from tensorflow.core.protobuf import config_pb2

        self._options = config_pb2.CallableOptions()
        self._options.feed.extend(tensor.name for tensor in function.inputs)
        self._options.fetch.extend(tensor.name for tensor in function.outputs)
        self._options.target.append(function.updates_op.name)
        self._dtypes = [tensor.dtype.as_numpy_dtype for tensor in function.inputs]
        self._call = None

    def __call__(self, *arrays):
        if self._call is None:  # get_session() initialises the variables, as K.function's first call does
            self._call = tf.compat.v1.keras.backend.get_session()._make_callable_from_options(self._options)
        return self._call(*[np.asarray(array, dtype) for array, dtype in zip(arrays, self._dtypes)])


def q_values_callable(model):
    """The greedy forward of `model` (one input) as a ``SessionCallable``: states in, Q-values out."""
    return SessionCallable(K.function([model.input], [model.output]))


def is_annealed_eps_greedy(policy):
    return type(policy) is LinearAnnealedPolicy and type(policy.inner_policy) is EpsGreedyQPolicy \
        and policy.attr == "eps"


def huber(error, delta):
    """keras-rl2's ``huber_loss`` of ``error``: quadratic inside ``delta``, linear outside, and
    plain ``0.5 * error**2`` for ``delta = inf`` (as keras-rl2 does: a ``tf.where`` with an
    ``inf``-scaled branch would give NaN gradients)."""
    quadratic = 0.5 * tf.square(error)
    if np.isinf(delta):
        return quadratic
    abs_error = tf.abs(error)
    linear = delta * (abs_error - 0.5 * delta)
    return tf.where(abs_error < delta, quadratic, linear)


def _metric_functions(metrics):
    """The compiled metrics as plain functions of (y_true, y_pred), or None if one is not."""
    functions = []
    for metric in metrics:
        if isinstance(metric, str) and metric in _SHAPE_DEPENDENT_METRICS:
            return None
        function = tf_keras.metrics.get(metric)
        if isinstance(function, tf_keras.metrics.Metric) or not callable(function):
            return None
        functions.append(function)
    return functions


class FastDQNAgent(DQNAgent):
    """DQNAgent whose forward/backward run as single fused graph calls; see the module docstring.

    `n_step` (not keras-rl2's: its DQNAgent learns from one-step targets) trains on n-step returns:
    the target is the discounted sum of the next n rewards plus gamma**n times the bootstrap value
    of the state n steps later, cut at an episode's end (``RingMemory.n_step_batch_at``). It needs
    the fused path; 1 is keras-rl2's target, bit for bit."""

    def __init__(self, *args, n_step=1, **kwargs):
        super().__init__(*args, **kwargs)
        try:
            whole = isinstance(n_step, numbers.Real) and not isinstance(n_step, bool) and math.isfinite(n_step) \
                and int(n_step) == n_step
        except (TypeError, ValueError, OverflowError):  # e.g. an int too large for a float
            whole = False
        if not whole or n_step < 1:
            raise ValueError(f"n_step must be a whole number of steps >= 1, got {n_step!r}")
        self.n_step = int(n_step)
        if self.n_step > 1 and self.memory_interval != 1:
            raise ValueError(f"n_step > 1 sums rewards of consecutive entries; memory_interval={self.memory_interval} "
                             "stores every other step: use memory_interval=1")

    def get_config(self):
        """keras-rl2's config of the agent; `n_step`, which keras-rl2 does not know, is added when it
        is not 1, so a one-step agent's config equals the `DQNAgent` it stands in for."""
        config = super().get_config()
        if self.n_step != 1:
            config["n_step"] = self.n_step
        return config

    def compile(self, optimizer, metrics=None):
        metrics = list(metrics or [])
        super().compile(optimizer, metrics=metrics)  # appends keras-rl2's mean_q to `metrics`
        model, target = self.model, self.target_model
        self._single_input = not isinstance(model.input, list)
        metric_functions = _metric_functions(metrics)
        self.fused = isinstance(self.memory, (RingMemory, StreamMemory)) and self._single_input \
            and metric_functions is not None
        self._names = super().metrics_names  # loss, compiled metrics, policy's and processor's metrics
        if self._single_input:
            self._q_fn = q_values_callable(model)
        # Target sync as graph assignments: on a GPU the weights never leave the device.
        self._sync_target_op = tf.group(*[t.assign(o) for t, o in zip(target.weights, model.weights)])
        if self.n_step > 1 and not self.fused:
            raise ValueError("n_step > 1 needs the fused train step (a RingMemory or StreamMemory, a model of one "
                             "input, metrics without state); keras-rl2's DQNAgent path learns from one-step targets")
        if self.fused:
            self._train_fn, self._train_and_act_fn = self._build_train_functions(metric_functions)

    def _build_train_functions(self, metric_functions):
        """The fused train step as a callable, and the same step returning the Q-values of a next state."""
        model, target = self.model, self.target_model
        state0 = tf_keras.Input(shape=model.input.shape[1:], dtype=model.input.dtype, name="state0")
        state1 = tf_keras.Input(shape=model.input.shape[1:], dtype=model.input.dtype, name="state1")
        action = K.placeholder(shape=(None,), dtype="int32", name="action")
        reward = K.placeholder(shape=(None,), dtype="float64", name="reward")
        terminal1 = K.placeholder(shape=(None,), dtype="float64", name="terminal1")

        q0 = model(state0)
        q1_target = target(state1)
        if self.enable_double_dqn:  # van Hasselt et al.: the online net picks, the target net values
            best = tf.argmax(model(state1), axis=1, output_type=tf.int32)
            q1 = tf.gather(q1_target, best, axis=1, batch_dims=1)
        else:
            q1 = tf.reduce_max(q1_target, axis=1)
        # The target in float64, in keras-rl2's order: r + (gamma * q1) * (1 - terminal); with n-step
        # returns r is the n rewards' discounted sum and the bootstrap, n steps later, weighs gamma**n.
        discount = self.gamma if self.n_step == 1 else self.gamma ** self.n_step
        discounted = tf.constant(discount, tf.float64) * tf.cast(q1, tf.float64) * (1.0 - terminal1)
        q_target = tf.stop_gradient(tf.cast(reward + discounted, tf.float32))
        mask = tf.one_hot(action, self.nb_actions)
        q_taken = tf.reduce_sum(q0 * mask, axis=1)
        loss = tf.reduce_mean(huber(q_target - q_taken, self.delta_clip))
        # keras-rl2's compiled metrics see y_true = the target in the taken action's column, 0 elsewhere.
        y_true = mask * q_target[:, None]
        metric_values = [tf.reduce_mean(f(y_true, q0)) for f in metric_functions]

        updates = self.optimizer.get_updates(loss=loss, params=model.trainable_weights)
        if self.target_model_update < 1:
            # keras-rl2 soft-updates the target in the same train call (AdditionalUpdatesOptimizer)
            # with no order between its reads and Adam's writes: each target weight mixes in the
            # online weight from before or after the step, varying from run to run. Here the
            # order is explicit: after Adam's update (the Polyak averaging of DDPG and others).
            tau = self.target_model_update
            with tf.control_dependencies(updates):
                updates = updates + [t.assign(tau * s + (1.0 - tau) * t) for t, s in _soft_update_pairs(target, model)]
        inputs, outputs = [state0, action, reward, terminal1, state1], [loss] + metric_values
        # The same step, also computing the Q-values of one more state (the next agent step's)
        # from the weights after the update: what the next ``compute_batch_q_values`` would
        # return, without a session run of its own (``learn_and_look_ahead``).
        next_state = tf_keras.Input(shape=model.input.shape[1:], dtype=model.input.dtype, name="next_state")
        with tf.control_dependencies(updates):  # the forward reads the weights Adam has just written
            next_q_values = tf.identity(model(next_state))
        return (SessionCallable(K.function(inputs, outputs, updates=updates)),
                SessionCallable(K.function(inputs + [next_state], outputs + [next_q_values], updates=updates)))

    def update_target_model_hard(self):
        tf.compat.v1.keras.backend.get_session().run(self._sync_target_op)

    @property
    def metrics_names(self):
        return list(self._names)

    @property
    def optimizer(self):
        """The optimizer whose state a checkpoint saves (for soft updates, the one keras-rl2 wrapped)."""
        optimizer = self.trainable_model.optimizer
        return getattr(optimizer, "optimizer", optimizer)

    def compute_q_values(self, state):
        if not self._single_input or not isinstance(state, np.ndarray):  # a state of several inputs
            return super().compute_q_values(state)
        batch = state[None]
        if self.processor is not None:
            batch = self.processor.process_state_batch(batch)
        return self._q_fn(batch)[0][0]

    def compute_batch_q_values(self, state_batch):
        """Q-values of a batch of states in one call (N envs' greedy actions in one forward)."""
        if not self._single_input or not isinstance(state_batch, np.ndarray):
            return super().compute_batch_q_values(state_batch)
        if self.processor is not None:
            state_batch = self.processor.process_state_batch(state_batch)
        return self._q_fn(state_batch)[0]

    def forward(self, observation):
        if not isinstance(self.memory, RingMemory) or not self._single_input:
            return super().forward(observation)
        policy = self.policy if self.training else self.test_policy
        if is_annealed_eps_greedy(policy):
            action = self._eps_greedy_action(policy, observation)
        else:
            action = policy.select_action(q_values=self.compute_q_values(self.memory.get_recent_state(observation)))
        self.recent_observation = observation
        self.recent_action = action
        return action

    def _eps_greedy_action(self, policy, observation):
        """EpsGreedyQPolicy.select_action, drawing the same random numbers in the same order,
        but stacking the window and computing Q-values only when the action is greedy."""
        action = self.random_action_or_none(policy)
        if action is None:
            action = int(np.argmax(self.compute_q_values(self.memory.get_recent_state(observation))))
        return action

    def at_step(self, step):
        """Set keras-rl2's step counter, which the policy's epsilon, the warm-up, the train interval,
        the memory interval and target updates all read. The runner owns the global step; the
        actor and the learner tell the agent where it is through this one method. (keras-rl2's own
        loop sets ``agent.step`` itself, and so does ``acting.games.Game``, which drives any
        keras-rl2 agent as ``fit`` does.)"""
        self.step = step

    def stores_at(self, step):
        """keras-rl2's memory_interval: whether the transition at `step` enters the replay memory."""
        return step % self.memory_interval == 0

    def random_action_or_none(self, policy):
        """The random part of keras-rl2's annealed EpsGreedyQPolicy at ``self.step``: its epsilon,
        one uniform draw, and a random action if it falls under epsilon; None when the action is
        to be greedy (the caller computes the Q-values: one state, or a batch of envs')."""
        if np.random.uniform() < self.set_epsilon(policy):
            return int(np.random.randint(0, self.nb_actions))
        return None

    @staticmethod
    def set_epsilon(policy):
        """Set the annealed policy's inner epsilon to its value at the agent's step (what its
        ``select_action`` does first, and what its ``metrics`` report); returns it."""
        policy.inner_policy.eps = policy.get_current_value()
        return policy.inner_policy.eps

    def backward(self, reward, terminal):
        # Whether the memory holds several inputs is known from its first append on (nothing can be
        # sampled before it); keras-rl2's path hands them to the processor in keras-rl2's layout.
        if not self.fused or self.memory.several_inputs:
            if self.n_step > 1:
                raise ValueError("n_step > 1 needs one observation array per entry; these observations are several "
                                 "inputs, which keras-rl2's one-step path serves")
            return super().backward(reward, terminal)
        if self.stores_at(self.step):
            self.memory.append(self.recent_observation, self.recent_action, reward, terminal, training=self.training)
        if not self.training:
            return [np.nan] * len(self._names)
        return self.learn()

    def learn(self):
        """keras-rl2's rules for the transition just stored, read from ``self.step`` (the one
        place they live; ``backward`` and the training loop's actor both end here): after the
        warm-up, a train step every ``train_interval`` steps, and a hard target update every
        ``target_model_update`` steps. Returns ``backward``'s metrics (NaN without a train step)."""
        return self.learn_and_look_ahead()[0]

    def trains_at(self, step):
        """Whether ``learn`` at `step` runs a train step (after the warm-up, every ``train_interval``)."""
        return step > self.nb_steps_warmup and step % self.train_interval == 0

    def learn_and_look_ahead(self, next_state=None):
        """``learn``, and where it runs a train step and `next_state` (one state, a window) is
        given, the Q-values of `next_state` from the updated weights, computed in the train
        step's own graph call. Returns (metrics, Q-values or None). The one-env actor acts on
        them at the next step: one graph call an agent step instead of two."""
        metrics, next_q_values = [np.nan] * len(self._names), None
        if self.trains_at(self.step):
            trained = self.train_step(self._sample(), next_state)
            if next_state is not None:
                trained, next_q_values = trained[:-1], trained[-1]
            metrics = trained + list(self.policy.metrics)
            if self.processor is not None:
                metrics += list(self.processor.metrics)
        if self.target_model_update >= 1 and self.step % self.target_model_update == 0:
            self.update_target_model_hard()
        return metrics, next_q_values

    def _sample(self):
        if self.n_step == 1:  # keras-rl2's one-step transitions, the same draws as ever
            return self.memory.sample_batch(self.batch_size)
        return self.memory.sample_batch(self.batch_size, n_step=self.n_step, gamma=self.gamma)

    def train_step(self, batch, next_state=None):
        """One fused training step on a ``RingMemory`` ``Batch``: the targets, the loss and
        Adam's update (and a soft target update) in one graph call. Returns the compiled
        metrics, loss first; ``backward`` adds the policy's and processor's. With `next_state`,
        the Q-values of that one state after the update come last (an array of nb_actions)."""
        state0, state1 = batch.state0, batch.state1
        if self.processor is not None:
            state0 = self.processor.process_state_batch(state0)
            state1 = self.processor.process_state_batch(state1)
        if next_state is None:
            values = self._train_fn(state0, batch.action, batch.reward, batch.terminal1, state1)
            return [float(v) for v in values]
        next_batch = next_state[None]
        if self.processor is not None:
            next_batch = self.processor.process_state_batch(next_batch)
        *values, next_q_values = self._train_and_act_fn(state0, batch.action, batch.reward, batch.terminal1, state1,
                                                        next_batch)
        return [float(v) for v in values] + [next_q_values[0]]

    # -- checkpoint support (what Dopamine calls bundle_and_checkpoint / unbundle) -------------------
    def get_state(self):
        """What this agent needs to go on, as (arrays, JSON-able dict): online, target and
        optimizer weights (Adam's moments and step count), and ``step``. The replay memory and
        the policy's random numbers are their owners' (``RingMemory``, ``rngs``)."""
        arrays = {}
        for prefix, values in (("online", self.model.get_weights()), ("target", self.target_model.get_weights()),
                               ("optimizer", K.batch_get_value(self.optimizer.weights))):
            for i, value in enumerate(values):
                arrays[f"{prefix}_{i:03d}"] = value
        return arrays, {"step": int(self.step)}

    def set_state(self, arrays, state):
        """Undo `get_state` on an agent built and compiled with the same config."""
        def numbered(prefix):
            return [arrays[k] for k in sorted(arrays) if k.startswith(prefix + "_")]

        self.model.set_weights(numbered("online"))
        self.target_model.set_weights(numbered("target"))
        K.batch_set_value(list(zip(self.optimizer.weights, numbered("optimizer"))))
        self.step = state.get("step", self.step)


def _soft_update_pairs(target, source):
    """(target weight, source weight) pairs in keras-rl2's ``get_soft_target_model_updates`` order."""
    target_weights = target.trainable_weights + sum([layer.non_trainable_weights for layer in target.layers], [])
    source_weights = source.trainable_weights + sum([layer.non_trainable_weights for layer in source.layers], [])
    return list(zip(target_weights, source_weights))


def build_agent(config, nb_actions, memory=None, agent_class=FastDQNAgent, model=None):
    """The agent a config describes: its net (``net``: Mnih et al. 2015 or 2013), annealed
    eps-greedy, Adam, and keras-rl2's Double/Dueling DQN switches under their own names."""
    if model is None:
        model = build_net(config.get("net", "nature"), nb_actions, window_length=config.window_length)
    if memory is None:
        if config.get("num_envs", 1) > 1:  # one stream per env, memory_limit in total
            memory = StreamMemory(config.memory_limit, config.window_length, config.num_envs, seed=config.seed)
        else:
            memory = RingMemory(limit=config.memory_limit, window_length=config.window_length, seed=config.seed)
    policy = LinearAnnealedPolicy(EpsGreedyQPolicy(), attr="eps", value_max=config.epsilon_max,
                                  value_min=config.epsilon_min, value_test=config.epsilon_test,
                                  nb_steps=config.epsilon_steps)
    # test_policy=policy: the annealed policy returns epsilon_test when agent.training is False.
    # (keras-rl's example left DQNAgent's default GreedyQPolicy there, so its value_test=.05
    # never took effect and a stuck agent could loop forever in test.)
    if config.get("n_step", 1) > 1 and not issubclass(agent_class, FastDQNAgent):
        raise ValueError(f"n_step={config.n_step} needs FastDQNAgent's train step; keras-rl2's {agent_class.__name__} "
                         "learns from one-step targets")
    agent = agent_class(model=model, nb_actions=nb_actions, policy=policy, test_policy=policy, memory=memory,
                        nb_steps_warmup=config.nb_steps_warmup, gamma=config.gamma,
                        target_model_update=config.target_model_update, train_interval=config.train_interval,
                        delta_clip=config.delta_clip, batch_size=config.batch_size,
                        enable_double_dqn=config.enable_double_dqn,
                        enable_dueling_network=config.enable_dueling_network, dueling_type=config.dueling_type,
                        **({"n_step": config.n_step} if config.get("n_step", 1) > 1 else {}))
    agent.compile(tf_keras.optimizers.legacy.Adam(learning_rate=config.learning_rate, epsilon=config.adam_epsilon))
    return agent

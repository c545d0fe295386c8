"""Every DQNAgent option, fused step against keras-rl2's own DQNAgent.backward on the same inputs.

For each combination of Double DQN, dueling type, soft or hard target updates and finite or
infinite ``delta_clip``, a stock ``DQNAgent`` (``SequentialMemory``) and a ``FastDQNAgent``
(``RingMemory``) start from the same weights, see the same transitions and train on the same
sampled indexes; their metrics, online weights and target weights must agree.

keras-rl2 1.0.5's own agent tests run here too, with our classes and toy envs of our own: its
multi-input DQN and NAF cases (``tests/rl/agents/test_dqn.py``) and its discrete integration
tests (``tests/integration/test_discrete.py``).
"""
import itertools

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from rl.agents.dqn import DQNAgent, NAFAgent
from rl.core import Processor
from rl.memory import SequentialMemory
from rl.processors import MultiInputProcessor
from rl.policy import EpsGreedyQPolicy, LinearAnnealedPolicy
from tf_keras import layers

from dqnkit.agent.fast_dqn import FastDQNAgent
from dqnkit.memory.ring import RingMemory

NB_ACTIONS, WINDOW, OBS_SHAPE = 3, 2, (4,)


def small_model(seed, float_input=True):
    tf_keras.utils.set_random_seed(seed)
    inputs = layers.Input(shape=(WINDOW,) + OBS_SHAPE, dtype="float32" if float_input else "uint8")
    x = layers.Flatten()(layers.Rescaling(1.0)(inputs))
    x = layers.Dense(16, activation="relu")(x)
    return tf_keras.Model(inputs, layers.Dense(NB_ACTIONS)(x))


def model_of_inputs(shapes, outputs=NB_ACTIONS, seed=3):
    """A net with one input per observation input (each a window of it), concatenated."""
    tf_keras.utils.set_random_seed(seed)
    inputs = [layers.Input(shape=(WINDOW,) + shape) for shape in shapes]
    flat = [layers.Flatten()(x) for x in inputs]
    x = layers.Concatenate()(flat) if len(flat) > 1 else flat[0]
    x = layers.Dense(8, activation="relu")(x)
    return tf_keras.Model(inputs if len(inputs) > 1 else inputs[0], layers.Dense(outputs)(x))


def transitions(count=120, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=OBS_SHAPE).astype(np.float32), int(rng.integers(NB_ACTIONS)),
             float(rng.normal()), bool(i % 17 == 16)) for i in range(count)]


def make_agent(agent_class, memory, options, model=None, metrics=("mae",)):
    policy = LinearAnnealedPolicy(EpsGreedyQPolicy(), attr="eps", value_max=1.0, value_min=0.1, value_test=0.05,
                                  nb_steps=100)
    agent = agent_class(model=model or small_model(1), nb_actions=NB_ACTIONS, memory=memory, policy=policy,
                        nb_steps_warmup=10, train_interval=1, batch_size=8, gamma=0.9, **options)
    agent.compile(tf_keras.optimizers.legacy.Adam(learning_rate=0.01), metrics=list(metrics))
    return agent


@pytest.fixture(autouse=True)
def fresh_graph():
    """Each test builds its agents in a new graph (a growing graph slows every later session call)."""
    tf_keras.backend.clear_session()


def train_on_fixed_indexes(agent, sample_name, steps_and_idxs, observation=None, action=0):
    original = getattr(agent.memory, sample_name)
    all_metrics = []
    for step, idxs in steps_and_idxs:
        setattr(agent.memory, sample_name, lambda size, batch_idxs=None, idxs=idxs: original(size, batch_idxs=idxs))
        agent.training, agent.step = True, step
        agent.recent_observation = np.zeros(OBS_SHAPE, dtype=np.float32) if observation is None else observation
        agent.recent_action = action
        try:
            all_metrics.append(agent.backward(0.0, terminal=False))
        finally:
            setattr(agent.memory, sample_name, original)
    return all_metrics


def safe_indexes(memory, rng, count, size=8):
    """Index batches that no memory redraws: their transition never crosses an episode end."""
    candidates = [i for i in range(WINDOW, 100) if not memory.terminals[i - 1]]
    return [list(rng.choice(candidates, size=size, replace=False)) for _ in range(count)]


def assert_close(ours, stock, what):
    for ours_w, stock_w in zip(ours, stock):
        np.testing.assert_allclose(ours_w, stock_w, rtol=1e-5, atol=1e-6, err_msg=what)


def assert_same_training(stock, ours, steps):
    """Same transitions, same indexes, same steps: same metrics and weights.

    Soft target updates are compared one step at a time: keras-rl2 has no order between the
    soft update's reads of the online weights and Adam's writes to them, so each of its target
    weights mixes in the online weight from before *or* after the step (it varies between runs).
    Ours always uses the weight after the step; we check that keras-rl2 gave one of the two,
    then carry our target on in both agents."""
    data = transitions()
    for obs, action, reward, terminal in data:
        stock.memory.append(obs, action, reward, terminal)
        ours.memory.append(obs, action, reward, terminal)
    ours.model.set_weights(stock.model.get_weights())
    ours.target_model.set_weights(stock.target_model.get_weights())
    initial = stock.model.get_weights()
    plan = list(zip(steps, safe_indexes(stock.memory, np.random.default_rng(7), len(steps))))
    soft = stock.target_model_update < 1
    for step_plan in ([[p] for p in plan] if soft else [plan]):
        online_before, target_before = stock.model.get_weights(), stock.target_model.get_weights()
        stock_metrics = train_on_fixed_indexes(stock, "sample", step_plan)
        our_metrics = train_on_fixed_indexes(ours, "sample_batch", step_plan)
        np.testing.assert_allclose(np.array(our_metrics, dtype=float), np.array(stock_metrics, dtype=float), rtol=1e-5)
        assert_close(ours.model.get_weights(), stock.model.get_weights(), "online")
        if not soft:
            assert_close(ours.target_model.get_weights(), stock.target_model.get_weights(), "target")
            continue
        tau = stock.target_model_update
        online_after = stock.model.get_weights()
        ours_expected = [tau * o + (1 - tau) * t for o, t in zip(online_after, target_before)]
        assert_close(ours.target_model.get_weights(), ours_expected, "target after a soft update")
        for stock_w, before, after, t in zip(stock.target_model.get_weights(), online_before, online_after, target_before):
            assert np.allclose(stock_w, tau * before + (1 - tau) * t, atol=1e-6) or \
                np.allclose(stock_w, tau * after + (1 - tau) * t, atol=1e-6)
        stock.target_model.set_weights(ours.target_model.get_weights())
    assert ours.metrics_names == stock.metrics_names
    assert all(not np.allclose(a, b) for a, b in zip(stock.model.get_weights(), initial))  # every layer trained


COMBINATIONS = list(itertools.product(
    [False, True],                        # enable_double_dqn
    [None, "avg", "max", "naive"],        # dueling off, or its type
    [2, 0.1],                             # hard update every 2 steps, or soft with tau 0.1
    [1.0, np.inf],                        # delta_clip
))


@pytest.mark.parametrize("double, dueling, target_update, delta", COMBINATIONS,
                         ids=[f"double={d}-dueling={u}-target={t}-delta={c}" for d, u, t, c in COMBINATIONS])
def test_fused_step_equals_dqnagent_backward(double, dueling, target_update, delta):
    options = dict(enable_double_dqn=double, enable_dueling_network=dueling is not None,
                   dueling_type=dueling or "avg", target_model_update=target_update, delta_clip=delta)
    stock = make_agent(DQNAgent, SequentialMemory(limit=200, window_length=WINDOW), options)
    ours = make_agent(FastDQNAgent, RingMemory(limit=200, window_length=WINDOW), options)
    assert ours.fused
    assert_same_training(stock, ours, steps=[11, 12, 13, 14])


class SplitProcessor(Processor):
    """A two-input model's processor, as keras-rl2 users write it: one array per input."""

    def process_state_batch(self, batch):
        batch = np.asarray(batch, dtype=np.float32)
        return [batch[..., :2], batch[..., 2:]]


def test_a_model_with_two_inputs_trains_as_in_keras_rl2():
    options = dict(enable_double_dqn=True, target_model_update=2)
    stock = make_agent(DQNAgent, SequentialMemory(limit=200, window_length=WINDOW), options,
                       model=model_of_inputs([(2,), (2,)]))
    ours = make_agent(FastDQNAgent, SequentialMemory(limit=200, window_length=WINDOW), options,
                      model=model_of_inputs([(2,), (2,)]))
    stock.processor = ours.processor = SplitProcessor()
    assert not ours.fused  # keras-rl2's own path serves it
    rng = np.random.default_rng(2)
    plan_idxs = [list(rng.choice(np.arange(WINDOW, 15), size=8, replace=False)) for _ in range(3)]
    for agent in (stock, ours):
        for obs, action, reward, terminal in transitions():
            agent.memory.append(obs, action, reward, False)
    ours.model.set_weights(stock.model.get_weights())
    ours.target_model.set_weights(stock.target_model.get_weights())
    plan = list(zip([11, 12, 13], plan_idxs))
    np.testing.assert_allclose(train_on_fixed_indexes(ours, "sample", plan), train_on_fixed_indexes(stock, "sample", plan))
    for ours_w, stock_w in zip(ours.model.get_weights(), stock.model.get_weights()):
        np.testing.assert_array_equal(ours_w, stock_w)
    np.random.seed(0)
    ours.training = False
    ours.forward(transitions()[0][0])  # acts through the processor too


class ScaleProcessor(Processor):
    """uint8 in memory, float32 scaled to [0, 1] into the net: the keras-rl example's processor."""

    def process_state_batch(self, batch):
        return np.asarray(batch).astype("float32") / 255.0


def test_the_processors_state_batch_reaches_the_fused_step():
    rng = np.random.default_rng(4)
    frames = [(rng.integers(0, 256, size=OBS_SHAPE).astype(np.uint8), int(rng.integers(NB_ACTIONS)),
               float(rng.normal()), bool(i % 13 == 12)) for i in range(120)]
    options = dict(target_model_update=2)
    stock = make_agent(DQNAgent, SequentialMemory(limit=200, window_length=WINDOW), options)
    ours = make_agent(FastDQNAgent, RingMemory(limit=200, window_length=WINDOW), options)
    stock.processor = ours.processor = ScaleProcessor()
    assert ours.fused
    for agent in (stock, ours):
        for obs, action, reward, terminal in frames:
            agent.memory.append(obs, action, reward, terminal)
    ours.model.set_weights(stock.model.get_weights())
    ours.target_model.set_weights(stock.target_model.get_weights())
    plan = list(zip([11, 12], safe_indexes(stock.memory, rng, 2)))
    np.testing.assert_allclose(train_on_fixed_indexes(ours, "sample_batch", plan, frames[0][0]),
                               train_on_fixed_indexes(stock, "sample", plan, frames[0][0]), rtol=1e-5)
    for ours_w, stock_w in zip(ours.model.get_weights(), stock.model.get_weights()):
        np.testing.assert_allclose(ours_w, stock_w, rtol=1e-5, atol=1e-6)
    state = ours.memory.get_recent_state(frames[0][0]).copy()
    np.testing.assert_allclose(ours.compute_q_values(state), stock.compute_q_values(list(state)), rtol=1e-6)


def test_a_stateful_metric_is_served_by_keras_rl2s_path():
    agent = make_agent(FastDQNAgent, RingMemory(limit=50, window_length=WINDOW), {},
                       metrics=["mae", tf_keras.metrics.MeanSquaredError()])
    assert not agent.fused
    assert make_agent(FastDQNAgent, RingMemory(limit=50, window_length=WINDOW), {}, metrics=["accuracy"]).fused is False


class Corridor:
    """A tiny deterministic env in the old gym API keras-rl2's fit() speaks: walk right to the goal.

    Observation: one-hot position among 6 cells (float32). Actions: 0 left, 1 right, 2 stay.
    Reward 1 at the goal (episode ends), -0.05 per other step, at most 30 steps."""
    size = 6

    def reset(self):
        self.position, self.steps = 0, 0
        return self._observation()

    def _observation(self):
        observation = np.zeros(self.size, dtype=np.float32)
        observation[self.position] = 1.0
        return observation

    def step(self, action):
        self.position = int(np.clip(self.position + {0: -1, 1: 1, 2: 0}[int(action)], 0, self.size - 1))
        self.steps += 1
        at_goal = self.position == self.size - 1
        return self._observation(), 1.0 if at_goal else -0.05, at_goal or self.steps >= 30, {}

    def render(self, mode="human"):  # keras-rl2's test() asks for it
        pass


OPTIONS = {
    "vanilla": {},
    "double": dict(enable_double_dqn=True),
    "dueling-avg": dict(enable_dueling_network=True, dueling_type="avg"),
    "dueling-max": dict(enable_dueling_network=True, dueling_type="max"),
    "dueling-naive": dict(enable_dueling_network=True, dueling_type="naive"),
    "soft-target": dict(target_model_update=0.05),
    "squared-error": dict(delta_clip=np.inf),
    "everything": dict(enable_double_dqn=True, enable_dueling_network=True, target_model_update=0.05,
                       delta_clip=np.inf),
}


@pytest.mark.parametrize("name", OPTIONS)
def test_fit_learns_a_tiny_deterministic_env_with_each_option(name):
    """keras-rl2's own fit() and test() drive a FastDQNAgent: the greedy policy walks straight
    to the goal (5 steps) after training, with every option."""
    tf_keras.utils.set_random_seed(0)
    inputs = layers.Input(shape=(1, Corridor.size))
    x = layers.Dense(32, activation="relu")(layers.Flatten()(inputs))
    model = tf_keras.Model(inputs, layers.Dense(3)(x))
    options = dict(target_model_update=100, delta_clip=1.0) | OPTIONS[name]
    policy = LinearAnnealedPolicy(EpsGreedyQPolicy(), attr="eps", value_max=1.0, value_min=0.1, value_test=0.0,
                                  nb_steps=1000)
    agent = FastDQNAgent(model=model, nb_actions=3, memory=RingMemory(limit=5000, window_length=1, seed=0),
                         policy=policy, test_policy=policy, nb_steps_warmup=100, gamma=0.9, batch_size=32, **options)
    agent.compile(tf_keras.optimizers.legacy.Adam(learning_rate=3e-3))
    assert agent.fused
    agent.fit(Corridor(), nb_steps=2500, verbose=0)
    history = agent.test(Corridor(), nb_episodes=1, verbose=0)
    assert history.history["nb_steps"] == [5], name
    assert history.history["episode_reward"][0] == pytest.approx(1.0 - 4 * 0.05)


# -- observations of several inputs: keras-rl2's multi-input cases (its tests/rl/agents/test_dqn.py) --

INPUT_SHAPES = ((3,), (4,))


def two_input_transitions(count=120, seed=0):
    """Observations of two inputs of different shapes and dtypes, as a multi-sensor env gives them."""
    rng = np.random.default_rng(seed)
    return [([rng.normal(size=3), rng.normal(size=4).astype(np.float32)], int(rng.integers(NB_ACTIONS)),
             float(rng.normal()), bool(i % 17 == 16)) for i in range(count)]


class ConcatProcessor(Processor):
    """A single-input model fed observations of two inputs: each observation's inputs concatenated."""

    def process_state_batch(self, batch):
        return np.array([[np.concatenate([np.ravel(x) for x in observation]) for observation in state]
                         for state in batch], dtype=np.float32)


@pytest.mark.parametrize("model_inputs", ["one per input", "one, concatenated by the processor"])
def test_observations_of_two_inputs_train_and_act_as_in_keras_rl2(model_inputs):
    """Stock DQNAgent with SequentialMemory and ours with RingMemory, same transitions and indexes:
    the same weights, and the same actions for the same random numbers. A single-input model
    makes our agent fused, yet its memory's several inputs must take keras-rl2's path."""
    if model_inputs == "one per input":
        models, processor = [model_of_inputs(INPUT_SHAPES) for _ in range(2)], MultiInputProcessor(nb_inputs=2)
    else:
        models, processor = [model_of_inputs([(7,)]) for _ in range(2)], ConcatProcessor()
    options = dict(enable_double_dqn=True, target_model_update=2)
    stock = make_agent(DQNAgent, SequentialMemory(limit=200, window_length=WINDOW), options, model=models[0])
    ours = make_agent(FastDQNAgent, RingMemory(limit=200, window_length=WINDOW), options, model=models[1])
    stock.processor = ours.processor = processor
    data = two_input_transitions()
    for agent in (stock, ours):
        for obs, action, reward, terminal in data:
            agent.memory.append(obs, action, reward, terminal)
    assert ours.memory.several_inputs
    ours.model.set_weights(stock.model.get_weights())
    ours.target_model.set_weights(stock.target_model.get_weights())
    plan = list(zip([11, 12, 13], safe_indexes(stock.memory, np.random.default_rng(2), 3)))
    np.testing.assert_array_equal(train_on_fixed_indexes(ours, "sample", plan, data[0][0]),
                                  train_on_fixed_indexes(stock, "sample", plan, data[0][0]))
    for ours_w, stock_w in zip(ours.model.get_weights(), stock.model.get_weights()):
        np.testing.assert_array_equal(ours_w, stock_w)
    actions = {id(stock): [], id(ours): []}
    for step, (obs, *_rest) in enumerate(two_input_transitions(40, seed=1)):
        for agent in (stock, ours):
            agent.step = step * 3  # epsilon from 1.0 down to 0.1: random and greedy actions
            np.random.seed(step)
            actions[id(agent)].append(int(agent.forward(obs)))
            agent.memory.append(obs, 0, 0.0, step % 9 == 8, training=False)
    assert actions[id(ours)] == actions[id(stock)] and len(set(actions[id(ours)])) > 1


class Sensors:
    """A toy env in the old gym API whose observation is one float64 array, or a list of them
    (several inputs): random readings; reward 1 for action 1 when the first reading is positive,
    episodes of 7 steps."""

    def __init__(self, shapes):
        self.shapes, self.rng = shapes, np.random.default_rng(0)

    def _observation(self):
        readings = [self.rng.normal(size=shape) for shape in self.shapes]
        self.first_reading = float(readings[0].flat[0])
        return readings if len(readings) > 1 else readings[0]

    def reset(self):
        self.steps = 0
        return self._observation()

    def step(self, action):
        reward = float(action == 1 and self.first_reading > 0)
        self.steps += 1
        return self._observation(), reward, self.steps >= 7, {}


@pytest.mark.parametrize("shapes", [INPUT_SHAPES[:1], INPUT_SHAPES], ids=["one input", "two inputs"])
def test_keras_rl2s_fit_trains_on_observations_of_one_or_two_inputs(shapes):
    """keras-rl2's test_single/multi_dqn_input: fit with a memory shared by a Double DQN agent and
    a plain one, compiled with the optimizer named 'sgd'."""
    memory = RingMemory(limit=10, window_length=WINDOW)
    for double in (True, False):
        model = model_of_inputs(shapes, outputs=2)
        initial = model.get_weights()
        agent = FastDQNAgent(model, memory=memory, nb_actions=2, nb_steps_warmup=5, batch_size=4,
                             enable_double_dqn=double,
                             processor=MultiInputProcessor(nb_inputs=2) if len(shapes) > 1 else None)
        agent.compile("sgd")
        agent.fit(Sensors(shapes), nb_steps=30, verbose=0)
        assert all(not np.allclose(a, b) for a, b in zip(model.get_weights(), initial))  # it trained
    assert memory.several_inputs == (len(shapes) > 1) and memory.nb_entries == 10


@pytest.fixture
def naf_graph_gradients():
    """keras-rl2's NAFLayer (tf.scan) needs every intermediate output to take gradients in graph mode."""
    tf.compat.v1.experimental.output_all_intermediates(True)
    yield
    tf.compat.v1.experimental.output_all_intermediates(None)


def naf_models(shapes, nb_actions=2):
    """NAF's V, mu and L nets over the observation's inputs (L also takes the action)."""
    v, mu = model_of_inputs(shapes, outputs=1, seed=4), model_of_inputs(shapes, outputs=nb_actions, seed=5)
    action = layers.Input(shape=(nb_actions,))
    observation = [layers.Input(shape=(WINDOW,) + shape) for shape in shapes]
    x = layers.Concatenate()([action] + [layers.Flatten()(o) for o in observation])
    l_model = tf_keras.Model([action] + observation, layers.Dense(nb_actions * (nb_actions + 1) // 2)(x))
    return dict(V_model=v, mu_model=mu, L_model=l_model)


@pytest.mark.parametrize("shapes", [INPUT_SHAPES[:1], INPUT_SHAPES], ids=["one input", "two inputs"])
def test_naf_trains_on_ring_memory_as_on_sequential_memory(shapes, naf_graph_gradients):
    """keras-rl2's test_single/multi_continuous_dqn_input: NAF (float32 action vectors) on our
    memory, against the same NAF on SequentialMemory with the same entries and indexes."""
    agents = []
    for memory in (SequentialMemory(limit=200, window_length=WINDOW), RingMemory(limit=200, window_length=WINDOW)):
        agent = NAFAgent(nb_actions=2, memory=memory, nb_steps_warmup=5, batch_size=4,
                         processor=MultiInputProcessor(nb_inputs=2) if len(shapes) > 1 else None,
                         **naf_models(shapes))
        agent.compile(tf_keras.optimizers.legacy.SGD(learning_rate=0.01), metrics=[])
        agents.append(agent)
    stock, ours = agents
    rng = np.random.default_rng(9)
    data = [(obs if len(shapes) > 1 else obs[0], rng.normal(size=2).astype(np.float32), reward, terminal)
            for obs, _, reward, terminal in two_input_transitions()]
    for agent in agents:
        for obs, action, reward, terminal in data:
            agent.memory.append(obs, action, reward, terminal)
    plan = list(zip([11, 12, 13], safe_indexes(stock.memory, rng, 3, size=4)))
    initial = stock.combined_model.get_weights()
    metrics = [train_on_fixed_indexes(agent, "sample", plan, data[0][0], action=data[0][1]) for agent in agents]
    np.testing.assert_array_equal(metrics[1], metrics[0])
    for ours_w, stock_w in zip(ours.combined_model.get_weights(), stock.combined_model.get_weights()):
        np.testing.assert_array_equal(ours_w, stock_w)
    assert any(not np.allclose(a, b) for a, b in zip(stock.combined_model.get_weights(), initial))
    assert ours.memory.actions.dtype == np.float32 and ours.memory.several_inputs == (len(shapes) > 1)
    np.testing.assert_array_equal(ours.forward(data[5][0]), stock.forward(data[5][0]))


class DelayedReward:
    """A two-step env in the old gym API with plain Python int observations and rewards: the first
    action takes 1 now (action 0) or nothing (action 1); the second then pays 1 after a 0, or 3
    for a 1 after a 1. The best game, 1 then 1, scores 3. Observation: 2, then the first action."""

    def reset(self):
        self.first = None
        return 2

    def step(self, action):
        action = int(action)
        if self.first is None:
            self.first = action
            return action, 1 - action, False, {}
        return self.first, 1 if self.first == 0 else 3 * action, True, {}


@pytest.mark.parametrize("name", ["vanilla", "double", "dueling-avg"])
def test_fit_learns_an_env_of_int_observations_and_rewards(name):
    """keras-rl2's discrete integration test (test_dqn, test_double_dqn, test_duel_dqn): window 1,
    0-d observations, soft target updates, eps 0.1; greedy play then scores the best game."""
    tf_keras.utils.set_random_seed(0)
    inputs = layers.Input(shape=(1,))
    model = tf_keras.Model(inputs, layers.Dense(2)(layers.Dense(16, activation="relu")(inputs)))
    policy = EpsGreedyQPolicy(eps=0.1)
    agent = FastDQNAgent(model=model, nb_actions=2, memory=RingMemory(limit=1000, window_length=1, seed=0),
                         policy=policy, nb_steps_warmup=50, target_model_update=0.1, **OPTIONS[name])
    agent.compile(tf_keras.optimizers.legacy.Adam(learning_rate=1e-3))
    assert agent.fused
    agent.fit(DelayedReward(), nb_steps=2000, verbose=0)
    assert agent.memory.observations.shape == (1000,) and agent.memory.rewards.dtype == np.float32
    policy.eps = 0.0
    history = agent.test(DelayedReward(), nb_episodes=5, visualize=False, verbose=0)
    assert history.history["episode_reward"] == [3] * 5, name

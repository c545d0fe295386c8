"""FastDQNAgent against keras-rl2's DQNAgent: same updates, same actions."""
import numpy as np
import pytest
from rl.agents.dqn import DQNAgent
from rl.memory import SequentialMemory

from dqnkit import configs
from dqnkit.agent.fast_dqn import build_agent
from dqnkit.memory.ring import RingMemory
from dqnkit.agent.nets import build_mnih2015_model
from frames import breakout_transitions
from processors import AtariProcessor, KerasRLExampleProcessor

CONFIG = configs.make_config("smoke", {"nb_steps_warmup": 100, "target_model_update": 1000})


@pytest.fixture(scope="module")
def pair():
    """A stock agent (SequentialMemory, the example's processor, float net) and ours, same weights."""
    transitions = breakout_transitions(400, AtariProcessor())
    stock = build_agent(CONFIG, 4, memory=SequentialMemory(limit=1000, window_length=4), agent_class=DQNAgent,
                        model=build_mnih2015_model(4, scale_inputs=False))
    stock.processor = KerasRLExampleProcessor()
    ours = build_agent(CONFIG, 4, memory=RingMemory(limit=1000, window_length=4))
    ours.model.set_weights(stock.model.get_weights())
    ours.target_model.set_weights(stock.target_model.get_weights())
    for obs, action, reward, terminal in transitions:
        stock.memory.append(obs, action, reward, terminal)
        ours.memory.append(obs, action, reward, terminal)
    return stock, ours


def _train_once(agent, sample_name, batch_idxs, step):
    original = getattr(agent.memory, sample_name)
    setattr(agent.memory, sample_name, lambda size, batch_idxs=None: original(size, batch_idxs=batch_idxs_fixed))
    batch_idxs_fixed = batch_idxs
    agent.training, agent.step = True, step
    agent.recent_observation = np.zeros((84, 84), dtype=np.uint8)
    agent.recent_action = 0
    try:
        return agent.backward(0.0, terminal=False)
    finally:
        setattr(agent.memory, sample_name, original)


def test_fused_train_step_equals_dqnagent_backward(pair):
    stock, ours = pair
    rng = np.random.default_rng(3)
    for step in (104, 108, 112):  # three Adam steps: moments and step count must agree too
        # Indexes whose transition does not cross a reset (so neither memory redraws).
        idxs = [i for i in rng.permutation(np.arange(4, 390)) if not stock.memory.terminals[i - 1]][:CONFIG.batch_size]
        stock_metrics = _train_once(stock, "sample", idxs, step)
        our_metrics = _train_once(ours, "sample_batch", idxs, step)
        assert our_metrics[0] == pytest.approx(stock_metrics[0], rel=1e-4)  # the Huber loss
    for ours_w, stock_w in zip(ours.model.get_weights(), stock.model.get_weights()):
        np.testing.assert_allclose(ours_w, stock_w, rtol=1e-4, atol=1e-6)
    changed = [not np.allclose(a, b) for a, b in zip(ours.model.get_weights(), ours.target_model.get_weights())]
    assert any(changed)  # training really moved the weights away from the (untouched) target net


def test_actions_equal_the_stock_policy_for_the_same_random_numbers(pair):
    stock, ours = pair
    processor = AtariProcessor()
    for agent in (stock, ours):
        agent.training = True
        agent.reset_states()
    actions = {id(stock): [], id(ours): []}
    for step, (obs, *_rest) in enumerate(breakout_transitions(200, processor, seed=1)):
        for agent in (stock, ours):
            agent.step = step * 5  # epsilon from 1.0 down to 0.1: both random and greedy actions
            np.random.seed(step)
            actions[id(agent)].append(agent.forward(obs))
            agent.memory.append(obs, 0, 0.0, False, training=False)  # only the recent-frame window
    assert actions[id(ours)] == [int(a) for a in actions[id(stock)]]
    assert len(set(actions[id(ours)])) > 1


def test_target_sync_copies_the_online_weights(pair):
    _, ours = pair
    rng = np.random.default_rng(5)
    ours.model.set_weights([w + rng.normal(size=w.shape).astype(w.dtype) for w in ours.model.get_weights()])
    assert not np.array_equal(ours.model.get_weights()[0], ours.target_model.get_weights()[0])
    ours.update_target_model_hard()
    for online, target in zip(ours.model.get_weights(), ours.target_model.get_weights()):
        np.testing.assert_array_equal(online, target)


@pytest.mark.parametrize("soft_target, double_dueling", [(False, False), (True, False), (False, True)])
def test_the_train_steps_look_ahead_gives_the_updated_nets_q_values(soft_target, double_dueling):
    """`learn_and_look_ahead`: the next state's Q-values come from the weights after this train
    step's update (bitwise what a forward of its own gives then, not what it gave before), and
    the update is the plain train step's, soft target update included; with Double DQN and the
    dueling head too."""
    config = configs.make_config("smoke", {"nb_steps_warmup": 10, "train_interval": 4,
                                           "target_model_update": 0.05 if soft_target else 1000,
                                           "enable_double_dqn": double_dueling, "enable_dueling_network": double_dueling})
    agents = [build_agent(config, 4, memory=RingMemory(limit=1000, window_length=4, seed=1)) for _ in range(2)]
    for agent in agents[1:]:
        agent.model.set_weights(agents[0].model.get_weights())
        agent.target_model.set_weights(agents[0].target_model.get_weights())
    for obs, action, reward, terminal in breakout_transitions(200, AtariProcessor()):
        for agent in agents:
            agent.memory.append(obs, action, reward, terminal)
    looking, plain = agents
    next_state = looking.memory.get_recent_state(np.full((84, 84), 17, dtype=np.uint8))
    for agent in agents:
        agent.training, agent.step = True, 100
    before = looking.compute_batch_q_values(next_state[None])[0]
    metrics, q_values = looking.learn_and_look_ahead(next_state)
    assert not np.array_equal(q_values, before)  # read after Adam's update ...
    np.testing.assert_array_equal(q_values, looking.compute_batch_q_values(next_state[None])[0])  # ... bitwise
    assert metrics == plain.learn()  # the same draws from the memory, the same update
    for ours, theirs in zip(looking.model.get_weights() + looking.target_model.get_weights(),
                            plain.model.get_weights() + plain.target_model.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    looking.step = 101  # no train step at this step (train_interval 4): no Q-values either
    assert looking.learn_and_look_ahead(next_state)[1] is None

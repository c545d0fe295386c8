"""Checkpoints in-process, field by field (SB3's save/load tests): round trip, pruning, memory
chunks reused after the ring wraps, fallback from a damaged checkpoint. Seconds each; the kill
tests in test_resume.py cover what only a real process can show."""
import json
import os

import numpy as np
import pytest

from dqnkit import configs
from dqnkit.acting.env_bundle import restore_envs, save_envs
from dqnkit.acting.games import play_game
from dqnkit.envs import ale
from dqnkit.agent import rngs
from dqnkit.run import run_state
from dqnkit.agent.fast_dqn import build_agent
from dqnkit.run.checkpoint import Checkpointer
from dqnkit.memory.ring import RingMemory
from frames import breakout_transitions
from processors import AtariProcessor

CONFIG = configs.make_config("smoke", {"memory_limit": 300, "nb_steps_warmup": 40, "enable_double_dqn": True,
                                       "noop_max": 30, "max_pool_frames": True, "fire_reset": True})


@pytest.fixture(scope="module")
def transitions():
    return breakout_transitions(700, AtariProcessor(), seed=2)


def trained_agent(transitions, count):
    """An agent that has appended `count` real transitions and trained on them."""
    rngs.make_deterministic(CONFIG.seed)
    agent = build_agent(CONFIG, 4)
    agent.training = True
    for step, (obs, action, reward, terminal) in enumerate(transitions[:count]):
        agent.step = step
        agent.recent_observation, agent.recent_action = obs, action
        agent.backward(reward, terminal)
    return agent


def new_env():
    env = ale.make_config_env(CONFIG)
    env.reset(seed=CONFIG.seed)
    return env


def save(checkpointer, agent, env, step, tmp_path, previous=None):
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"episode": 0, "step": step}) + "\n")
    arrays, state = run_state.bundle(agent, CONFIG, step, 3, save_envs([env]))
    return checkpointer.save(step, arrays, state, {"log.jsonl": str(log)}, agent.memory, previous)


def test_round_trip_restores_every_field(transitions, tmp_path):
    agent, env = trained_agent(transitions, 250), new_env()
    np.random.seed(5)
    checkpointer = Checkpointer(str(tmp_path / "checkpoints"))
    save(checkpointer, agent, env, 250, tmp_path)
    expected_arrays, expected_state = run_state.bundle(agent, CONFIG, 250, 3, save_envs([env]))

    restored, restored_env = build_agent(CONFIG, 4), new_env()
    np.random.seed(99)  # scrambled: the checkpoint must put everything back
    step, manifest = checkpointer.latest_complete()
    arrays, state, logs = checkpointer.load(step, manifest, restored.memory)
    run_state.unbundle(restored, arrays, state)
    restore_envs([restored_env], arrays, state, [CONFIG.seed])

    again_arrays, again_state = run_state.bundle(restored, CONFIG, 250, 3, save_envs([restored_env]))
    assert sorted(again_arrays) == sorted(expected_arrays)
    for name in expected_arrays:
        np.testing.assert_array_equal(again_arrays[name], expected_arrays[name], err_msg=name)
    assert again_state == expected_state and state["config"] == configs.to_dict(CONFIG)
    assert restored.step == 250 and logs == {"log.jsonl": (tmp_path / "log.jsonl").read_bytes()}
    for name in ("observations", "actions", "rewards", "terminals"):
        np.testing.assert_array_equal(getattr(restored.memory, name), getattr(agent.memory, name), err_msg=name)
    assert restored.memory.total_appended == agent.memory.total_appended == 250
    # ... and both go on identically: the same sampled batch, the same training step, the same actions.
    for a in (agent, restored):
        a.training, a.step = True, 251
        a.recent_observation, a.recent_action = transitions[250][0], transitions[250][1]
        a.backward(0.0, False)
    for mine, theirs in zip(restored.model.get_weights(), agent.model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def episode_boundary_near(transitions, count):
    """The first count >= `count` where an episode has just ended (and its last observation was
    appended): where the training loop checkpoints, and where keras-rl2's frame window restarts."""
    return next(n for n in range(count, len(transitions)) if transitions[n - 2][3] and not transitions[n - 1][3])


def test_continuing_after_a_restore_equals_never_stopping(transitions, tmp_path):
    count = episode_boundary_near(transitions, 200)
    agent, env = trained_agent(transitions, count), new_env()
    checkpointer = Checkpointer(str(tmp_path / "checkpoints"))
    np.random.seed(5)
    save(checkpointer, agent, env, count, tmp_path)
    restored, restored_env = build_agent(CONFIG, 4), new_env()
    step, manifest = checkpointer.latest_complete()
    arrays, state, _ = checkpointer.load(step, manifest, restored.memory)
    run_state.unbundle(restored, arrays, state)
    restore_envs([restored_env], arrays, state, [CONFIG.seed])
    games = []
    for a, e in ((agent, env), (restored, restored_env)):
        rngs.set_state(arrays, state)  # the same global draws for both
        a.training = True
        games.append(play_game(a, e, AtariProcessor(), True, step=count))
    assert games[0].score == games[1].score and games[0].steps == games[1].steps
    assert games[0].losses == games[1].losses and len(games[0].losses) > 10
    for mine, theirs in zip(restored.model.get_weights(), agent.model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_pruning_keeps_the_newest_and_the_chunks_they_use(transitions, tmp_path):
    agent, env = trained_agent(transitions, 100), new_env()
    checkpointer = Checkpointer(str(tmp_path / "checkpoints"), keep=2)
    manifest = None
    for count in (100, 200, 300, 450, 600):  # the 300-entry ring wraps after 300
        for step in range(agent.memory.total_appended, count):
            obs, action, reward, terminal = transitions[step]
            agent.memory.append(obs, action, reward, terminal)
        manifest = save(checkpointer, agent, env, count, tmp_path, manifest)
    assert checkpointer.checkpoint_steps() == [600, 450]
    kept = set()
    for step in (600, 450):
        kept.update(checkpointer.verify(step)["memory_chunks"])
    on_disk = {os.path.join("memory", name) for name in os.listdir(checkpointer.memory_dir)}
    assert on_disk == kept
    # Chunks are reused, not rewritten: the newest checkpoint wrote only entries 450..600, and
    # dropped the chunks whose entries the ring has overwritten (before 300).
    assert "memory/entries-000000000450-000000000600.npz" in manifest["memory_chunks"]
    assert all(int(name.split("-")[2].split(".")[0]) > 300 for name in manifest["memory_chunks"])


def test_memory_restored_after_the_ring_wrapped(transitions, tmp_path):
    memory = RingMemory(limit=300, window_length=4)
    checkpointer = Checkpointer(str(tmp_path / "checkpoints"), keep=3)
    agent, env = trained_agent(transitions, 10), new_env()
    agent.memory = memory
    manifest = None
    for count in (150, 320, 610):
        for obs, action, reward, terminal in transitions[memory.total_appended:count]:
            memory.append(obs, action, reward, terminal)
        manifest = save(checkpointer, agent, env, count, tmp_path, manifest)
    restored = RingMemory(limit=300, window_length=4)
    checkpointer.load(610, manifest, restored)
    assert restored.total_appended == 610 and restored.nb_entries == 300
    idxs = np.arange(4, 290)
    memory.rng, restored.rng = np.random.default_rng(0), np.random.default_rng(0)
    a, b = memory.sample_batch(len(idxs), idxs), restored.sample_batch(len(idxs), idxs)
    for field in a._fields:
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(transitions, tmp_path):
    agent, env = trained_agent(transitions, 100), new_env()
    checkpointer = Checkpointer(str(tmp_path / "checkpoints"), keep=2)
    first = save(checkpointer, agent, env, 100, tmp_path)
    save(checkpointer, agent, env, 200, tmp_path, first)
    arrays = os.path.join(checkpointer.path(200), "arrays.npz")
    with open(arrays, "r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    with pytest.warns(UserWarning, match="checkpoint at step 200: .*arrays.npz is damaged"):
        step, manifest = checkpointer.latest_complete()
    assert step == 100 and manifest == first


def _restored_after_each_checkpoint(memory, tmp_path, appends):
    """Append each batch of `appends` to `memory` and checkpoint after it (chunks reused, as in a
    run); load each checkpoint into a fresh memory, check that it equals `memory` bit for bit,
    and return the restored memories."""
    checkpointer = Checkpointer(str(tmp_path / "checkpoints"), keep=3)
    manifest, restored_memories = None, []
    for entries in appends:
        for obs, action, reward, terminal in entries:
            memory.append(obs, action, reward, terminal)
        manifest = checkpointer.save(memory.total_appended, {}, {}, {}, memory, manifest)
        restored = RingMemory(limit=memory.limit, window_length=memory.window_length)
        checkpointer.load(*checkpointer.latest_complete(), restored)
        assert restored.total_appended == memory.total_appended
        _assert_same_rings_and_batches(memory, restored)
        restored_memories.append(restored)
    return restored_memories


def _assert_same_rings_and_batches(memory, restored):
    rings = list(memory.observations) if memory.several_inputs else [memory.observations]
    restored_rings = list(restored.observations) if restored.several_inputs else [restored.observations]
    for name, a, b in [("observations", x, y) for x, y in zip(rings, restored_rings, strict=True)] + \
            [(name, getattr(memory, name), getattr(restored, name)) for name in ("actions", "rewards", "terminals")]:
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name  # bitwise, dtype included
    idxs = np.arange(4, memory.nb_entries - 2)
    memory.rng, restored.rng = np.random.default_rng(0), np.random.default_rng(0)
    a, b = memory.sample_batch(len(idxs), idxs), restored.sample_batch(len(idxs), idxs)
    for field in a._fields:
        for x, y in zip(*(v if isinstance(v, list) else [v] for v in (getattr(a, field), getattr(b, field)))):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), field


def test_rewards_widened_between_checkpoints_restore_bitwise(transitions, tmp_path):
    """Rewards summed as np.float32 (keras-rl2's fit) are stored as float32; a reward float32 cannot
    hold widens the ring to float64 after the first checkpoint wrote its chunk as float32."""
    as_float32 = [(obs, action, np.float32(reward), terminal) for obs, action, reward, terminal in transitions]
    memory = RingMemory(limit=300, window_length=4)
    widening = [(transitions[150][0], 1, 0.1, False)]
    appends = [as_float32[:150], widening + as_float32[151:320]]
    first, second = _restored_after_each_checkpoint(memory, tmp_path, appends)
    assert first.rewards.dtype == np.float32 and second.rewards.dtype == memory.rewards.dtype == np.float64


def test_multi_input_observations_restore_bitwise(transitions, tmp_path):
    rng = np.random.default_rng(8)
    two_inputs = [([obs, rng.random(3).astype(np.float32)], action, reward, terminal)
                  for obs, action, reward, terminal in transitions]
    memory = RingMemory(limit=300, window_length=4)
    *_, restored = _restored_after_each_checkpoint(memory, tmp_path, [two_inputs[:150], two_inputs[150:320],
                                                                      two_inputs[320:610]])  # the ring wraps
    assert restored.several_inputs and [ring.dtype for ring in restored.observations] == [np.uint8, np.float32]

"""n-step returns (the `n_step` key): sampled sums checked against targets computed by hand on a
toy stream of entries (game ends, keras-rl2's extra entry after them, the ring's wrap, four envs'
streams), the agent's fused target against a numpy reference, and n_step=1 as keras-rl2's."""
import numpy as np
import pytest

from dqnkit import configs
from dqnkit.memory import RingMemory, StreamMemory

# A toy game of our own: entry k holds observation k (a 1x1 frame), action k % 3 and reward REWARDS[k];
# entry 4 ends the episode, entry 5 is what keras-rl2's fit appends after it (the last observation,
# reward 0, not terminal), and the next episode starts at entry 6.
REWARDS = [1, 2, 3, 4, 5, 0, 7, 8, 9, 10]
TERMINALS = [False, False, False, False, True, False, False, False, False, False]


def toy_memory(limit=20, window_length=2, offset=0, action=None):
    memory = RingMemory(limit=limit, window_length=window_length, seed=0)
    for k, (reward, terminal) in enumerate(zip(REWARDS, TERMINALS)):
        memory.append(np.full((1, 1), k, dtype=np.uint8), k % 3 if action is None else action,
                      np.float32(reward + offset), terminal)
    return memory


# transition (logical index) -> (n-step reward with gamma 0.5 and n 3, terminal, state0's frames,
# state1's frames), by hand. state0 ends at entry idx-1; 0 is padding where a window would reach
# back into the previous episode.
BY_HAND = {
    2: (2 + 0.5 * 3 + 0.25 * 4, False, [0, 1], [3, 4]),  # entries 1, 2, 3; bootstrap from the window ending at 4
    3: (3 + 0.5 * 4 + 0.25 * 5, True, [1, 2], None),     # entries 2, 3, 4: the episode ends at entry 4
    4: (4 + 0.5 * 5, True, [2, 3], None),                # entries 3, 4: cut after 4; the extra entry 5 not reached
    5: (5.0, True, [3, 4], None),                        # entry 4 ends it at once
    7: (7 + 0.5 * 8 + 0.25 * 9, False, [0, 6], [8, 9]),  # entries 6, 7, 8 of the second episode
}


@pytest.mark.parametrize("idx", sorted(BY_HAND))
def test_n_step_sums_stop_at_an_episodes_end(idx):
    reward, terminal, frames, next_frames = BY_HAND[idx]
    batch = toy_memory().n_step_batch_at(np.array([idx]), 3, 0.5)
    assert batch.reward[0] == reward and bool(batch.terminal1[0]) == terminal
    assert batch.action[0] == (idx - 1) % 3 and batch.state0[0].ravel().tolist() == frames
    if next_frames is not None:
        assert batch.state1[0].ravel().tolist() == next_frames


def test_only_transitions_whose_n_entries_are_stored_are_drawn():
    memory = toy_memory()
    drawn = {float(r) for _ in range(50) for r in memory.sample_batch(4, n_step=3, gamma=0.5).reward}
    # Transitions 3..7 (6 crosses the reset); 8 and 9 would need entries 10 and 11.
    assert drawn == {BY_HAND[i][0] for i in (3, 4, 5, 7)}
    with pytest.raises(ValueError, match="needs window_length \\+ 2 \\+ n_step - 1 = 6"):
        toy_memory_of(4).sample_batch(1, n_step=3, gamma=0.5)


def toy_memory_of(entries):
    memory = RingMemory(limit=20, window_length=2)
    for k in range(entries):
        memory.append(np.full((1, 1), k, dtype=np.uint8), 0, np.float32(1.0), False)
    return memory


def test_n_step_across_the_rings_wrap():
    memory = toy_memory(limit=6)  # keeps entries 4..9 as logical 0..5, slots wrapped
    batch = memory.n_step_batch_at(np.array([3]), 3, 0.5)
    assert batch.reward[0] == 7 + 0.5 * 8 + 0.25 * 9 and not batch.terminal1[0]  # entries 6, 7, 8
    assert batch.state1[0].ravel().tolist() == [8, 9]
    drawn = memory.sample_batch(5, n_step=3, gamma=0.5)  # only logical 3 is drawable: 2 crosses the reset
    assert drawn.reward.tolist() == [13.25] * 5
    # limit 7 keeps entries 3..9 (entry e in slot e % 7): the sum over entries 6, 7, 8 reads slots
    # 6, 0, 1 and the bootstrap window (entries 8, 9) slots 1, 2, across the ring's physical end.
    straddling = toy_memory(limit=7).n_step_batch_at(np.array([4]), 3, 0.5)
    reward, terminal, frames, next_frames = BY_HAND[7]
    assert straddling.reward[0] == reward and bool(straddling.terminal1[0]) == terminal
    assert straddling.state0[0].ravel().tolist() == frames and straddling.state1[0].ravel().tolist() == next_frames


def test_four_envs_streams_never_mix_in_a_sum():
    memory = StreamMemory(limit=80, window_length=2, streams=4, seed=0)
    for s, stream in enumerate(memory.streams):
        toy = toy_memory(offset=100 * s, action=s)
        for k in range(len(REWARDS)):
            stream.append(toy.observations[k], s, toy.rewards[k], toy.terminals[k])
    for _ in range(20):
        batch = memory.sample_batch(8, n_step=3, gamma=0.5)
        for action, reward, terminal in zip(batch.action, batch.reward, batch.terminal1):
            offset = 100 * action  # stream `action`'s rewards, and only them
            expected = {i: sum(0.5 ** k * offset for k in range(3 if i == 7 else {3: 3, 4: 2, 5: 1}[i]))
                        + BY_HAND[i][0] for i in (3, 4, 5, 7)}
            assert any(reward == value and bool(terminal) == BY_HAND[i][1] for i, value in expected.items())


def test_one_step_is_keras_rl2s_batch_bit_for_bit():
    memory = toy_memory()
    one = memory.sample_batch(4, batch_idxs=[2, 3, 4, 6])
    np.testing.assert_array_equal(one.reward, [REWARDS[k] for k in (2, 3, 4, 6)])
    assert one.reward.dtype == np.float32  # as stored: n_step=1 changes nothing
    with pytest.raises(ValueError, match="batch_idxs are keras-rl2's one-step indexes"):
        memory.sample_batch(4, batch_idxs=[2, 3, 4, 6], n_step=2, gamma=0.5)


@pytest.mark.parametrize("double, dueling", [(False, False), (True, False), (True, True)])
def test_the_agents_target_is_the_n_step_return_plus_gamma_n_bootstrap(double, dueling):
    """The fused train step's loss (keras-rl2's huber_loss with delta_clip=inf: half the squared
    error) against a numpy reference built from the nets' own Q-values:
    R + gamma**n * (1 - terminal) * Q_target(s_n, a*)."""
    from dqnkit.agent import build_agent

    config = configs.make_config("smoke", {"n_step": 3, "gamma": 0.9, "delta_clip": float("inf"), "net": "nips2013",
                                           "enable_double_dqn": double, "enable_dueling_network": dueling})
    agent = build_agent(config, 3)
    rng = np.random.default_rng(0)
    for k in range(200):
        agent.memory.append(rng.integers(0, 255, (84, 84), dtype=np.uint8), int(rng.integers(3)),
                            np.float32(rng.choice([-1.0, 0.0, 1.0])), bool(k % 37 == 36))
    batch = agent.memory.sample_batch(32, n_step=3, gamma=0.9)
    assert batch.terminal1.any() and not batch.terminal1.all()
    q0, online1, target1 = (agent.model.predict_on_batch(batch.state0), agent.model.predict_on_batch(batch.state1),
                            agent.target_model.predict_on_batch(batch.state1))
    chosen = online1.argmax(axis=1) if double else target1.argmax(axis=1)
    bootstrap = target1[np.arange(32), chosen].astype(np.float64)
    target = (batch.reward + 0.9 ** 3 * bootstrap * (1.0 - batch.terminal1)).astype(np.float32)
    expected = np.mean(0.5 * (target - q0[np.arange(32), batch.action]) ** 2)
    loss = agent.train_step(batch)[0]
    assert loss == pytest.approx(expected, rel=1e-5)


def test_n_step_is_refused_where_keras_rl2s_path_would_serve():
    from rl.agents.dqn import DQNAgent
    from rl.memory import SequentialMemory

    from dqnkit.agent import build_agent

    config = configs.make_config("smoke", {"n_step": 2})
    with pytest.raises(ValueError, match="n_step=2 needs FastDQNAgent's train step"):
        build_agent(config, 3, agent_class=DQNAgent)
    with pytest.raises(ValueError, match="n_step > 1 needs the fused train step"):
        build_agent(config, 3, memory=SequentialMemory(limit=1000, window_length=4))


def test_a_one_step_agents_config_is_keras_rl2s_and_n_step_is_added_only_past_one():
    from rl.agents.dqn import DQNAgent

    from dqnkit.agent import FastDQNAgent, build_agent

    agent = build_agent(configs.make_config("smoke"), 3)
    options = dict(model=agent.model, nb_actions=3, memory=agent.memory, policy=agent.policy, gamma=0.97,
                   enable_double_dqn=True, target_model_update=500)
    assert FastDQNAgent(**options).get_config() == DQNAgent(**options).get_config()
    assert FastDQNAgent(n_step=3, **options).get_config() == {**DQNAgent(**options).get_config(), "n_step": 3}


@pytest.mark.parametrize("bad", [0, 2.5, float("inf"), float("nan"), 10 ** 400, "3", True, None])
def test_fast_dqn_agent_refuses_an_n_step_that_is_not_a_whole_number_of_steps(bad):
    from dqnkit.agent import FastDQNAgent, build_agent

    agent = build_agent(configs.make_config("smoke", {"n_step": 2}), 3)
    assert agent.get_config()["n_step"] == 2  # keras-rl2's config of the agent, plus our key
    with pytest.raises(ValueError, match="n_step must be a whole number of steps >= 1, got "):
        FastDQNAgent(agent.model, nb_actions=3, memory=agent.memory, policy=agent.policy, n_step=bad)


def test_configs_saved_before_the_key_read_as_one_step_and_the_warm_up_grows():
    assert configs.from_saved({"seed": 5}).n_step == 1 and configs.from_saved({"seed": 5}).net == "nature"
    config = configs.make_config("smoke", {"n_step": 3, "nb_steps_warmup": 38})  # 4 + 32 + 2 = 38 < 40
    with pytest.raises(configs.ConfigError, match="window_length \\+ batch_size \\+ 2 \\+ n_step - 1"):
        configs.validate(config)
    with pytest.raises(configs.ConfigError, match="n_step must be at least 1"):
        configs.validate(configs.make_config("smoke", {"n_step": 0}))


def test_every_env_stream_can_be_sampled_when_training_starts(tmp_path):
    """With N envs each env keeps a stream of its own and a transition needs window_length
    entries before it and n_step after it in that stream: a warm-up or a memory too small for
    that is refused by validation in one line (such configs used to pass it and then crash at
    the first sample), and the shortest warm-up accepted trains."""
    from helpers import run_cli

    # Training starts at the first step past the warm-up that is a multiple of train_interval; env
    # 0's stream holds step // 8 + 1 entries then, and a transition needs 4 + 3 + 1 of them: step 56.
    too_short = configs.make_config("smoke", {"num_envs": 8, "n_step": 3, "nb_steps_warmup": 54, "train_interval": 1})
    with pytest.raises(configs.ConfigError, match=r"training would start at step 55, before any env's stream holds "
                                                  r"a transition \(step 56\); set nb_steps_warmup to at least 55"):
        configs.validate(too_short)
    configs.validate(configs.make_config("smoke", {"num_envs": 8, "n_step": 3, "nb_steps_warmup": 52}))  # step 56
    with pytest.raises(configs.ConfigError, match="set nb_steps_warmup to at least 52"):  # smoke: every 4th step
        configs.validate(configs.make_config("smoke", {"num_envs": 8, "n_step": 3, "nb_steps_warmup": 51}))
    too_small = configs.make_config("smoke", {"num_envs": 8, "memory_limit": 40, "nb_steps_warmup": 40})
    with pytest.raises(configs.ConfigError, match=r"memory_limit / num_envs \(5\) must be at least"):
        configs.validate(too_small)
    result = run_cli("--mode", "train", "--config", "smoke", "--no-video", "--run-dir", tmp_path / "run",
                     "--set", "num_envs=8", "--set", "n_step=3", "--set", "nb_steps_warmup=55",
                     "--set", "train_interval=1", "--steps", "160")
    assert "Segment done: step 160" in result.stdout


def test_an_n_step_run_split_by_sigterm_is_the_straight_run(tmp_path):
    """n_step=3 with 2 envs: a run stopped by SIGTERM to its whole process group (as `timeout` and
    Slurm send it) with the actor process, which ignores it while the learner checkpoints and
    stops both, then resumed without it, is bitwise the run trained straight through. (This is
    also the default test of SIGTERM with the actor process; test_num_envs has a slow one with
    4 envs and every option.)"""
    import signal

    from helpers import assert_same_run, run_cli, sigterm_after_first_game

    args = ["--mode", "train", "--config", "smoke", "--no-video", "--set", "n_step=3", "--set", "num_envs=2",
            "--set", "gamma=0.98", "--set", "total_steps=1200", "--set", "checkpoint_every=600",
            "--set", "eval_every=600"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_cli(*args, "--run-dir", straight)
    code, stderr = sigterm_after_first_game(args + ["--set", "actor_process=true"], split, whole_group=True)
    assert code == 128 + signal.SIGTERM and "Traceback" not in stderr, stderr[-3000:]
    (line,) = [line for line in stderr.splitlines() if line.startswith("Stopped by SIGTERM at step ")]
    stopped_at = int(line.split(" at step ")[1].split(".")[0].replace(",", ""))
    assert stopped_at % 2 == 0 and line.endswith(f"resume from the checkpoint at step {stopped_at:,}.")
    assert not (split / "LOCK").exists()
    resumed = run_cli(*args, "--run-dir", split)
    assert f"Resumed {split} at step {stopped_at:,}" in resumed.stdout
    assert_same_run(split, straight, num_envs=2)


def test_a_config_made_by_hand_without_the_new_keys_trains_as_before():
    """A script's own EasyDict from before `net` and `n_step` existed is validated, not refused
    with a KeyError deep in train(): the keys it lacks take their defaults."""
    from easydict import EasyDict

    old = EasyDict({k: v for k, v in configs.make_config("smoke").items() if k not in ("net", "n_step")})
    configs.validate(old)
    assert (old.net, old.n_step) == ("nature", 1) and old["n_step"] == 1


def test_two_stacked_frames_train_resume_and_play_end_to_end(tmp_path):
    """Seed 002's wrappers as keys (no no-op reset, a plain 4-frame skip, 2 stacked frames) with
    the nips2013 net and 3-step returns on one env (whose actor takes its next action from the
    train step's own graph call): a run split in two segments is bitwise the run trained
    straight through; then test mode plays its best weights from their path with the config
    saved beside them (as a shipped agent plays), which builds the 2-frame net the weights need
    (the keras_rl preset's 4 frames would refuse them)."""
    import shutil

    from helpers import assert_same_run, run_cli

    args = ["--mode", "train", "--config", "smoke", "--no-video", "--env-name", "PongNoFrameskip-v4",
            "--set", "frame_skip=4", "--set", "noop_max=0", "--set", "window_length=2", "--set", "net=nips2013",
            "--set", "n_step=3", "--set", "total_steps=1200", "--set", "checkpoint_every=600",
            "--set", "eval_every=600"]
    run_dir, straight = tmp_path / "two-frames", tmp_path / "straight"
    run_cli(*args, "--run-dir", run_dir, "--steps", "600")
    resumed = run_cli(*args, "--run-dir", run_dir)
    assert "Resumed" in resumed.stdout and "Segment done: step 1,200" in resumed.stdout
    run_cli(*args, "--run-dir", straight)
    assert_same_run(run_dir, straight)
    shipped = tmp_path / "weights"
    shipped.mkdir()
    shutil.copyfile(run_dir / "best_weights.h5", shipped / "dqn_PongNoFrameskip-v4_weights.h5")
    shutil.copyfile(run_dir / "config.json", shipped / "dqn_PongNoFrameskip-v4_config.json")
    played = run_cli("--mode", "test", "--weights", shipped / "dqn_PongNoFrameskip-v4_weights.h5", "--episodes", "1",
                     "--no-video", "--run-dir", tmp_path / "plays")
    assert "Mean score over 1 episodes" in played.stdout

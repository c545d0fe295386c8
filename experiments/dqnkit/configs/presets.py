"""Named presets: each a dict of the keys it changes from ``keys.DEFAULTS``, with the source of
every value (keras-rl's example, the references that learn fast, the book behind seed 002)."""

# Learning fast on one machine (the `fast` preset; the `colab` preset builds on it): see PRESETS.
FAST = {
    "total_steps": 2_000_000,
    "memory_limit": 250_000,
    "nb_steps_warmup": 20_000,
    "target_model_update": 2_000,
    "enable_double_dqn": True,
    "learning_rate": 1e-4,
    "adam_epsilon": 1.5e-4,
    "epsilon_min": 0.01,
    "epsilon_steps": 250_000,
    "epsilon_test": 0.01,
    "noop_max": 30,
    "max_pool_frames": True,
    "terminal_on_life_loss": True,
    "fire_reset": True,
    "checkpoint_every": 25_000,
    "eval_every": 100_000,
    "eval_episodes": 10,
}

# Pong, from the hyperparameters of the book behind seed 002 (Lapan, Deep RL Hands-On 2nd ed.,
# Chapter09/lib/common.py, "pong"), with its env: see PRESETS["pong"].
PONG = {
    "env_name": "PongNoFrameskip-v4",  # the name the book and CleanRL train under ...
    "frame_skip": 4,                   # ... with their 4-frame skip ...
    "max_pool_frames": True,           # ... max-pooled over the last two frames (MaxAndSkipEnv)
    "noop_max": 30,                    # NoopResetEnv(noop_max=30) in the book's wrap_dqn
    "fire_reset": True,                # FireResetEnv: Pong serves after FIRE
    "memory_limit": 100_000,           # replay_size
    "nb_steps_warmup": 10_000,         # replay_initial
    "target_model_update": 1_000,      # target_net_sync
    "train_interval": 1,               # one train step per agent step
    "batch_size": 32,                  # batch_size
    "gamma": 0.99,                     # gamma
    "learning_rate": 1e-4,             # Adam lr
    "adam_epsilon": 1e-8,              # PyTorch's Adam default (tf-keras' is 1e-7)
    "delta_clip": float("inf"),        # nn.MSELoss: plain squared error, no Huber
    "epsilon_max": 1.0,                # epsilon_start
    "epsilon_min": 0.02,               # epsilon_final
    "epsilon_steps": 100_000,          # epsilon_frames (the book's frames are agent steps)
    # Not in the book (it neither evaluates nor checkpoints): the kit's own schedule.
    "epsilon_test": 0.01,
    "total_steps": 2_000_000,
    "checkpoint_every": 25_000,
    "eval_every": 50_000,
    "eval_episodes": 10,
}

# Pong within an hour on two CPU cores (issue 26): `pong` with the two levers the screening runs
# chose (weights/README.md, "Screening for a `pong_fast` preset": seed 123, one env, each lever
# alone then combinations, compared by agent steps and by the benchmark's steps/s), then raced
# ("The `pong_fast` race").
PONG_FAST = {
    **PONG,
    # Mnih et al. 2013, the net that first learnt Pong (16 8x8/4, 32 4x4/2, 256): a train step of
    # 6.3 ms against the Nature net's 14.2, so twice `pong`'s steps/s with one env. Alone it learns
    # less per agent step (solved at 542,629 steps, seed 123, against `pong`'s 494,739).
    "net": "nips2013",
    # 3-step returns (the book's 3rd edition, ch. 8; Tianshou's Pong DQN): with the NIPS net they
    # solved seed 123 at 399,914 steps, as few as with the Nature net (397,868), and the race's
    # runs kept the NIPS net's speed (seed 125: 116.7 steps/s over the clock; 115.5 in the first
    # race, which ran without them: n_step 1, a median of 79.9 minutes against 57.5 with them).
    "n_step": 3,
    # Screened and left out: seed 002's wrappers (2 frames, no no-ops, no max-pooling) and a train
    # step of 128 every 4 steps learnt less per step in every combination that had them.
    # 1M steps: more than twice what the race's runs needed to be solved; the schedule is
    # `pong`'s (a checkpoint every 25k steps, 10 evaluation games every 50k: about 20 s each with
    # this net), and the race's clock counts both. `--set eval_patience=3` ends a run once its
    # evaluations stop improving; it is not in the preset, because Pong's first evaluations all
    # score -21 and a tie is no new best, so it would end a run before it learns.
    "total_steps": 1_000_000,
}

PRESETS = {
    # Exactly the hyperparameters of keras-rl's examples/dqn_atari.py (Mnih et al. 2015 scale).
    "keras_rl": {},
    # Learning fast on one machine, from the references that do (agent steps; 1 step = 4 frames):
    # - standard preprocessing (CleanRL, SB3, Dopamine): up to 30 no-op frames at reset, max over
    #   the last two of each 4 frames, a lost life ends the learning episode, FIRE launches the ball;
    # - Double DQN (van Hasselt et al. 2016): less overestimation, so a short target period is safe;
    # - epsilon 1 -> 0.01 over 250k steps and warm-up 20k (Dopamine): exploit early;
    # - target update every 2,000 steps (between CleanRL's 1,000 and Dopamine's 8,000);
    # - Adam 1e-4 (CleanRL, rl-zoo) with epsilon 1.5e-4 (Dopamine): steadier steps than 1e-7;
    # - memory 250k (1.8 GB; Dopamine and CleanRL keep 1M): fits a laptop and a free Colab;
    # - evaluation every 100k steps at epsilon_test 0.01, 10 games; checkpoints every 25k (minutes).
    # Trades: a smaller memory and a shorter target period are less stable over tens of millions of
    # steps (the references' horizon); this preset is for the first few million.
    "fast": FAST,
    # A free Colab T4 session (12 h at most): the fast preset's learning settings with a 1M-frame
    # memory (12.7 GB of RAM holds it because frames are stored once as uint8), 5M steps, and
    # checkpoints every 50k steps so a disconnect costs minutes.
    "colab": {
        **FAST,
        "total_steps": 5_000_000,
        "memory_limit": 1_000_000,
        "checkpoint_every": 50_000,
        "eval_every": 250_000,
    },
    # The keras-rl example made to fit a laptop CPU over a night: a 200k memory (1.4 GB), learning
    # after 20k steps, epsilon 0.05 after 250k steps, target net every 2,500 steps; no other change
    # (no preprocessing, vanilla DQN). Tested at a mean of about 37 after 400k steps.
    "laptop": {
        "total_steps": 1_000_000,
        "memory_limit": 200_000,
        "nb_steps_warmup": 20_000,
        "target_model_update": 2_500,
        "epsilon_steps": 250_000,
        "epsilon_min": 0.05,
        "learning_rate": 1e-4,
        "checkpoint_every": 50_000,
        "eval_every": 100_000,
        "log_interval": 5_000,
    },
    # Pong as the book behind seed 002 solves it ("solved": the mean of the last 100 games >= 17):
    # its hyperparameters and env key by key in PONG above. Vanilla DQN (no Double, no dueling) with
    # a train step per agent step, a small memory (100k, 0.7 GB) and a short epsilon schedule: Pong is
    # easy to explore and its frames repeat. `--config pong` trains PongNoFrameskip-v4 with a 4-frame
    # max-pooled skip; --env-name another game keeps these settings.
    "pong": PONG,
    # `pong` made to solve Pong within an hour on two CPU cores: the NIPS net, 3-step returns, 1M
    # steps; key by key in PONG_FAST above.
    "pong_fast": PONG_FAST,
    # Tests and first contact: learning starts at step 500, 2,000 steps take about half a minute.
    "smoke": {
        "total_steps": 2_000,
        "memory_limit": 5_000,
        "nb_steps_warmup": 500,
        "target_model_update": 500,
        "epsilon_steps": 1_500,
        "checkpoint_every": 1_000,
        "eval_every": 1_000,
        "eval_episodes": 1,
        "log_interval": 500,
        "test_episodes": 2,
    },
}

"""Every config key: its default and one line on what it means (``DEFAULTS``, the order
``--help`` and config.json use), and which keys may change between segments of one run.

Keys use keras-rl2's own argument names where it has one.
"""
# key: (default, one-line explanation). The order is the order `--help` and config.json use.
DEFAULTS = {
    # -- what the run is ---------------------------------------------------------------------
    "env_name": ("BreakoutDeterministic-v4", "Atari game id; old gym names (BreakoutDeterministic-v4) and ALE/Breakout-v5 both work"),
    "seed": (123, "seeds Python, numpy, TensorFlow, the env and replay sampling"),
    "num_envs": (1, "envs played side by side, their transitions in one replay memory (each env its own stream); steps count transitions, N per vector step, and every step key keeps its meaning"),
    "window_length": (4, "frames stacked into one state (keras-rl2 Memory window_length)"),
    "memory_limit": (1_000_000, "replay memory size in transitions (one 84x84 uint8 frame each)"),
    "net": ("nature", "the Q-network: nature (Mnih et al. 2015, keras-rl's example: conv 32-64-64, dense 512) or nips2013 (Mnih et al. 2013: conv 16-32, dense 256, a little under half the train step)"),
    "batch_size": (32, "transitions per training step (DQNAgent batch_size)"),
    "gamma": (0.99, "discount factor (DQNAgent gamma)"),
    "n_step": (1, "n-step returns: the target sums the next n clipped rewards, discounted, plus gamma**n times the value n steps later, cut at an episode's end (Sutton 1988; Rainbow, Dopamine, Tianshou); 1: keras-rl2's one-step DQN target"),
    "nb_steps_warmup": (50_000, "steps of pure experience collection before training starts (DQNAgent nb_steps_warmup)"),
    "target_model_update": (10_000, "DQNAgent target_model_update: >= 1: steps between hard target-network copies; < 1: soft update rate tau after every training step"),
    "train_interval": (4, "agent steps per training step (DQNAgent train_interval)"),
    "delta_clip": (1.0, "Huber loss threshold (DQNAgent delta_clip); inf: plain squared error"),
    "enable_double_dqn": (False, "Double DQN: the online net picks the next action, the target net values it (DQNAgent enable_double_dqn)"),
    "enable_dueling_network": (False, "dueling head: Q = V + A (DQNAgent enable_dueling_network)"),
    "dueling_type": ("avg", "how the dueling head combines V and A: avg, max or naive (DQNAgent dueling_type)"),
    "learning_rate": (2.5e-4, "Adam learning rate"),
    "adam_epsilon": (1e-7, "Adam epsilon (tf-keras' default 1e-7; Dopamine's DQN uses 1.5e-4)"),
    "epsilon_max": (1.0, "exploration epsilon at step 0 (LinearAnnealedPolicy value_max)"),
    "epsilon_min": (0.1, "exploration epsilon after epsilon_steps (LinearAnnealedPolicy value_min)"),
    "epsilon_steps": (1_000_000, "steps over which epsilon falls linearly (LinearAnnealedPolicy nb_steps)"),
    "epsilon_test": (0.05, "epsilon when testing and evaluating (LinearAnnealedPolicy value_test)"),
    # -- standard Atari preprocessing (Machado et al. 2018; all off in the keras_rl preset) ----------
    "noop_max": (0, "at every reset, 1 to noop_max random no-op actions of the ALE env (frames with max_pool_frames); 0: none"),
    "frame_skip": (None, "frames per agent step; unset (null): what the env name says (4 for Deterministic-v4 and ALE/...-v5, 1 for NoFrameskip-v4). PongNoFrameskip-v4 with frame_skip=4 and max_pool_frames is CleanRL's and the book's env"),
    "max_pool_frames": (False, "each agent step repeats the action for the frame skip (frame_skip, else the env name's) and returns the max of the last two frames"),
    "terminal_on_life_loss": (False, "learning sees a lost life as the end of an episode; the log, evaluation and test mode keep whole games"),
    "fire_reset": (False, "press FIRE at the start of a game and after each lost life, in games that have a FIRE action"),
    # -- schedule: may change between segments of one run -----------------------------------------
    "total_steps": (1_750_000, "agent steps the whole run trains for"),
    "checkpoint_every": (250_000, "agent steps between checkpoints (at that exact step, in the middle of a game or not)"),
    "keep_checkpoints": (2, "complete checkpoints kept on disk; older ones are deleted"),
    "eval_every": (250_000, "agent steps between evaluations (at that exact step, then a checkpoint); 0: never"),
    "eval_episodes": (10, "games played at epsilon_test in each evaluation, on an env of their own"),
    "eval_patience": (0, "the run ends once this many evaluations in a row bring no new best mean (Keras EarlyStopping's patience; best_weights.h5 holds the best); 0: train to total_steps"),
    "log_interval": (10_000, "agent steps between summary lines on the console"),
    "video": (True, "record training episodes 0, 1, 8, 27, ..., 729, then every 1000th, to videos/"),
    "tensorboard": (True, "write live metrics to tensorboard/ in the run folder (tensorboard --logdir RUN_DIR)"),
    "actor_process": (False, "the envs and greedy actions run in a process of their own while this one trains (needs num_envs >= 2); the same run either way, so it may change between segments"),
    "test_episodes": (10, "episodes played by --mode test"),
}

# Keys that may differ between segments of one run; every other key defines the run, and
# resuming with a different value stops with an error (see `run_defining_differences`).
SCHEDULE_KEYS = frozenset({"actor_process", "total_steps", "checkpoint_every", "keep_checkpoints", "eval_every", "eval_episodes",
                           "eval_patience", "log_interval", "video", "tensorboard", "test_episodes"})

DUELING_TYPES = ("avg", "max", "naive")
NETS = ("nature", "nips2013")  # agent/nets.py builds them

# Keys that take a whole number of steps (>= 1) or a rate below 1, as keras-rl2's argument does.
STEPS_OR_RATE_KEYS = frozenset({"target_model_update"})

# Keys whose default is "unset" (None, null in config.json): a whole number when set. A config saved
# before such a key existed reads as unset, which keeps that run's meaning.
OPTIONAL_INT_KEYS = frozenset({"frame_skip"})
UNSET_WORDS = ("", "none", "null", "unset")

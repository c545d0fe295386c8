"""How fast is training, and where is the floor? Every figure measured in this one run.

    python experiments/benchmark.py            # about 10 minutes on 2 cores
    python experiments/benchmark.py --quick    # a smoke test of the script (figures are noisy)
    python experiments/benchmark.py --full-memory   # also fill a 1M-frame memory (about 7.5 GB)
    python experiments/benchmark.py --loop-only --config pong   # the Pong race's variants (seed 002)
    python experiments/benchmark.py --train-step --config pong  # the train step by net, frames, batch
    python experiments/benchmark.py --loop-only --config pong --variant 'n_step=3 net=nips2013'  # side by side

Rows (Breakout, Nature net, batch 32, train interval 4, same warm-up for both loops):
- agent steps/s of our loop and of keras-rl2's stock loop (``DQNAgent.fit`` with
  ``SequentialMemory`` and the example's processor, run through ``OldGymAPI`` below), in the
  warm-up phase and in the learning phase, and their ratios;
- the floor: our fused train step every 4 steps plus a greedy action every step, without env;
- our learning phase at epsilon 0.01 (as a run acts after its schedule) with num_envs 1, 2, 4
  and 8, from 2 envs also with the actor process, and the loop's ceiling: the same with a
  near-free learner (``trivial_model``: a 4x4 corner of each frame, one dense layer), what the
  loop delivers when learning is nearly free, as on a GPU (``--loop-only``: just these rows);
- the env alone and env + processor (what warm-up can at best reach);
- (``--train-step``: just these rows) the fused train step of both nets with 4 and 2 frames at
  batch 32, 64 and 128, beside the floor's: a step's cost before any env or loop;
- processor frames/s, replay sample time, memory bytes per frame and resident size for 1M
  frames, checkpoint save/load time and size at 100k frames (and 1M with --full-memory).
"""
import argparse
import functools
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from dqnkit import compat  # noqa: F401  (before TensorFlow)

import numpy as np
from rl.agents.dqn import DQNAgent
from rl.callbacks import Callback
from rl.memory import SequentialMemory

from dqnkit import configs
from dqnkit.envs import ale
from dqnkit.agent import rngs
from dqnkit.agent.fast_dqn import build_agent
from dqnkit.run.checkpoint import Checkpointer
from dqnkit.memory.ring import Batch, RingMemory
from dqnkit.agent.nets import build_mnih2015_model
from dqnkit.agent.rngs import make_deterministic
from dqnkit.acting.actor import Actor, ReplayLearner
from dqnkit.acting.actor_process import ActorProcess
from dqnkit.envs.run_envs import make_run_envs
from dqnkit.acting.env_bundle import save_envs
from dqnkit.run.run_state import bundle
from dqnkit.training.schedule import Schedule
from processors import AtariProcessor, KerasRLExampleProcessor

ENV = "BreakoutDeterministic-v4"


class OldGymAPI:
    """A gymnasium env seen through the old gym API that keras-rl2's ``Agent.fit`` expects:
    ``reset()`` returns the observation only and ``step()`` a 4-tuple whose ``done`` is
    ``terminated or truncated``. Only the stock-loop row needs it; our loop speaks gymnasium."""

    def __init__(self, env):
        self.env = env
        self.action_space = env.action_space
        self.observation_space = env.observation_space

    def reset(self, **kwargs):
        observation, _info = self.env.reset(**kwargs)
        return observation

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward, terminated or truncated, info

    def render(self, mode="human"):
        return self.env.render()

    def close(self):
        self.env.close()


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def real_frames(count, processor, seed=0):
    env = ale.make_env(ENV)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    raw, processed = [], []
    while len(raw) < count:
        raw.append(obs)
        processed.append(processor.process_observation(obs))
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(4)))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return raw, processed


# -- loops ---------------------------------------------------------------------------------------
def bench_config(warmup, memory_limit, epsilon=None, preset="keras_rl", sets=()):
    """The preset `preset` (its env, net and learning settings) with the benchmark's warm-up and
    memory. `epsilon`: a fixed exploration rate (0.01: what a run acts with after its schedule, so
    most actions are greedy forwards); None: the example's schedule, near 1 during a benchmark.
    `sets`: KEY=VALUE strings applied to the preset first (--set), as the CLI applies them."""
    values = {"nb_steps_warmup": warmup, "memory_limit": memory_limit, "epsilon_steps": 1_000_000, "video": False}
    if epsilon is not None:
        values.update(epsilon_max=epsilon, epsilon_min=epsilon)
    config = configs.make_config(preset, list(sets))
    return configs.validate(configs.apply_overrides(config, values))


def trivial_model(nb_actions, window_length=4):
    """A learner that costs almost nothing, to measure what the loop itself delivers (on a GPU the
    Nature net's train step is a millisecond or two): a corner of 4x4 pixels of each frame, then one
    dense layer. Its input is what the nets take (``agent/nets.py``): `window_length` stacked
    uint8 frames, as the preset it stands in for stacks (the whole batch is fed, as to a net),
    scaled to [0, 1] in the graph. (Until 2026-12-04 it was a dense layer on all 28,224 pixels,
    fed as float32: its own train step took 1.7 ms here, more than the loop around it, and the host
    converted every batch, which no run does; a mean over each frame still took 1.3 ms.)"""
    import tf_keras

    frames = tf_keras.Input(shape=(window_length, 84, 84), dtype="uint8")
    corner = tf_keras.layers.Cropping2D(((0, 80), (0, 80)), data_format="channels_first")(frames)
    scaled = tf_keras.layers.Rescaling(1.0 / 255.0, dtype="float32")(corner)
    return tf_keras.Model(frames, tf_keras.layers.Dense(nb_actions)(tf_keras.layers.Flatten()(scaled)))


def time_our_loop(warmup, learning_steps, epsilon=None, model=None, num_envs=1, actor_process=False,
                  preset="keras_rl", sets=()):
    """(warm-up steps/s, learning steps/s) of the training loop `dqnkit.training` runs: its actor
    with `num_envs` envs, in this process or (`actor_process`) in one of its own, and keras-rl2's
    rules per transition; `model` replaces the config's net (see `trivial_model`); `preset` gives the
    env and the learning settings (train interval, loss). Steps count transitions, `num_envs` per
    vector step."""
    memory = max(warmup + learning_steps + 10_000, 20_000)
    config = bench_config(warmup, memory - memory % num_envs, epsilon, preset, sets)
    config.num_envs, config.actor_process = num_envs, actor_process
    total = warmup + learning_steps - (warmup + learning_steps) % num_envs
    probe = ale.make_config_env(config)
    nb_actions = probe.action_space.n
    probe.close()
    if model is not None:  # as many frames as the preset stacks (a module-level partial: the actor process gets it)
        model = functools.partial(model, window_length=config.window_length)
    agent = build_agent(config, nb_actions, model=None if model is None else model(nb_actions))
    agent.training = True
    streams = getattr(agent.memory, "streams", [agent.memory])
    learner = ReplayLearner(agent, streams)
    if actor_process:
        no_checkpoints = Schedule(checkpoint_every=total + num_envs, eval_every=0)
        actor = ActorProcess(config, agent, learner, 0, total, no_checkpoints, agent.model.get_weights(), None,
                             rngs.get_state(), [None] * num_envs, model=model)
    else:
        env_list, _ = make_run_envs(config)
        # As training's LocalActor: one env looks ahead (the next greedy action from the train step's call).
        actor = Actor(agent, env_list, AtariProcessor(), streams, learner, config.terminal_on_life_loss,
                      look_ahead=num_envs == 1)
    marks, step = [(0, time.perf_counter())], 0
    try:
        while step < total:
            actor.step(step)
            step += num_envs
            if step % 200 < num_envs or step >= total:
                marks.append((step, time.perf_counter()))
    finally:
        if actor_process:
            actor.close()
    return _phase_rates(marks, warmup)


class _StepClock(Callback):
    def __init__(self):
        super().__init__()
        self.marks = [(0, time.perf_counter())]

    def on_episode_end(self, episode, logs={}):
        self.marks.append((int(logs["nb_steps"]), time.perf_counter()))


def time_stock_loop(warmup, learning_steps):
    """The same for keras-rl2's DQNAgent.fit with its SequentialMemory and the example's processor."""
    config = bench_config(warmup, max(warmup + learning_steps + 10_000, 20_000))
    env = ale.make_env(ENV)
    env.reset(seed=0)
    agent = build_agent(config, env.action_space.n, memory=SequentialMemory(limit=config.memory_limit, window_length=4),
                        agent_class=DQNAgent, model=build_mnih2015_model(env.action_space.n, scale_inputs=False))
    agent.processor = KerasRLExampleProcessor()
    clock = _StepClock()
    # fit counts in np.int16: keep the run under 32,767 steps (see compat.py).
    agent.fit(OldGymAPI(env), nb_steps=min(warmup + learning_steps, 32_000), verbose=0, callbacks=[clock])
    return _phase_rates(clock.marks, warmup)


def _phase_rates(marks, warmup):
    """Steps/s between the marks inside the warm-up, and between those after it."""
    def rate(points):
        if len(points) < 2:
            return float("nan")
        return (points[-1][0] - points[0][0]) / (points[-1][1] - points[0][1])
    warm = [m for m in marks if m[0] <= warmup]
    first_learning = next((i for i, m in enumerate(marks) if m[0] > warmup), len(marks))
    learn = marks[first_learning:]
    return rate(warm), rate(learn)


def time_floor(repeats, rounds=3):
    """Fused train step every 4 steps + one greedy action per step, no env: steps/s.

    The best of `rounds`, as a floor should be: noise only ever makes it slower."""
    config = bench_config(1000, 5000)
    agent = build_agent(config, 4)
    rng = np.random.default_rng(0)
    s0 = rng.integers(0, 255, (32, 4, 84, 84), dtype=np.uint8)
    batch = Batch(state0=s0, action=rng.integers(0, 4, 32), reward=np.zeros(32), terminal1=np.zeros(32, dtype=bool),
                  state1=s0)
    for _ in range(3):
        agent.train_step(batch)
        agent.compute_q_values(s0[0])
    train_seconds = act_seconds = float("inf")
    for _ in range(rounds):
        train_seconds = min(train_seconds, seconds_per_call(lambda: agent.train_step(batch), repeats))
        act_seconds = min(act_seconds, seconds_per_call(lambda: np.argmax(agent.compute_q_values(s0[0])), repeats * 4))
    return 1.0 / (train_seconds / 4 + act_seconds), train_seconds, act_seconds


def seconds_per_call(call, repeats):
    """Mean seconds of `call()` over `repeats` calls in a row."""
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def train_step_setup(config, nb_actions=6):
    """The agent `config` builds and a batch of its size and window, of random frames."""
    agent = build_agent(config, nb_actions)
    rng = np.random.default_rng(0)
    size = config.batch_size
    frames = rng.integers(0, 255, (2, size, config.window_length, 84, 84), dtype=np.uint8)
    return agent, Batch(state0=frames[0], action=rng.integers(0, nb_actions, size), reward=np.zeros(size),
                        terminal1=np.zeros(size, dtype=bool), state1=frames[1])


def time_train_step(config, repeats, rounds=3):
    """Seconds of one fused train step of `config`'s net, window and batch size (the best of
    `rounds` runs of `repeats` steps: noise only ever makes it slower)."""
    agent, batch = train_step_setup(config)
    seconds_per_call(lambda: agent.train_step(batch), 3)  # the first calls build and warm the graph
    return min(seconds_per_call(lambda: agent.train_step(batch), repeats) for _ in range(rounds))


def train_step_rows(args, row, rounds):
    """The fused train step of each net, window length and batch size, with --config and --set
    under them, side by side: what a preset's step costs before any env or loop (the choice
    between more samples a train step and fewer train steps: `batch_size` and `train_interval`)."""
    repeats = 5 if args.quick else 50
    for net in ("nature", "nips2013"):
        for window in (4, 2):
            for size in (32, 64, 128):
                sets = args.sets + [f"net={net}", f"window_length={window}", f"batch_size={size}"]
                seconds = time_train_step(bench_config(1000, 5000, preset=args.config, sets=sets), repeats, rounds)
                row(f"train step: {net}, {window} frames, batch {size}", seconds * 1000, "ms",
                    f"{seconds / size * 1e6:.0f} us a sample")


def time_env(steps, processor=None, obs_type="rgb"):
    env = ale.make_env(ENV, obs_type=obs_type)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 4, steps)
    start = time.perf_counter()
    for action in actions:
        obs, _, terminated, truncated, _ = env.step(int(action))
        if processor is not None:
            processor.process_observation(obs)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def time_processors(raw):
    rates = {}
    gray = [np.asarray(__import__("PIL.Image").Image.fromarray(f).convert("L")) for f in raw]  # = ALE grayscale
    for name, processor, frames in (("example", KerasRLExampleProcessor(), raw), ("ours_rgb", AtariProcessor(), raw),
                                    ("ours_gray", AtariProcessor(), gray)):
        start = time.perf_counter()
        for frame in frames:
            processor.process_observation(frame)
        rates[name] = len(frames) / (time.perf_counter() - start)
    return rates


def fill(memory, frames, count):
    for i in range(count):
        memory.append(frames[i % len(frames)], i % 4, 0.0, i % 500 == 499)


def time_sampling(frames, entries, batches):
    ours = RingMemory(limit=entries, window_length=4, seed=0)
    stock = SequentialMemory(limit=entries, window_length=4)
    fill(ours, frames, entries)
    fill(stock, frames, entries)
    example = KerasRLExampleProcessor()
    start = time.perf_counter()
    for _ in range(batches):
        batch = stock.sample(32)
        example.process_state_batch(np.array([e.state0 for e in batch]))
        example.process_state_batch(np.array([e.state1 for e in batch]))
    stock_seconds = (time.perf_counter() - start) / batches
    start = time.perf_counter()
    for _ in range(batches):
        ours.sample_batch(32)
    return (time.perf_counter() - start) / batches, stock_seconds


def time_checkpoint(frames, entries, workdir):
    """Save and load of a checkpoint whose memory holds `entries` real frames."""
    memory = RingMemory(limit=entries, window_length=4, seed=0)
    fill(memory, frames, entries)
    config = bench_config(1000, 5000)
    agent = build_agent(config, 4)
    env = ale.make_env(ENV)
    env.reset(seed=0)
    arrays, state = bundle(agent, config, entries, 0, save_envs([env]))
    directory = os.path.join(workdir, f"ckpt-bench-{entries}")
    checkpointer = Checkpointer(directory, keep=1)
    log_path = os.path.join(workdir, "log.jsonl")
    open(log_path, "w").close()
    start = time.perf_counter()
    manifest = checkpointer.save(entries, arrays, state, {"log.jsonl": log_path}, memory)
    save_seconds = time.perf_counter() - start
    size = sum(f["size"] for f in manifest["files"].values())
    restored = RingMemory(limit=entries, window_length=4)
    start = time.perf_counter()
    step, manifest = checkpointer.latest_complete()
    checkpointer.load(step, manifest, restored)
    load_seconds = time.perf_counter() - start
    assert np.array_equal(restored.observations[:1000], memory.observations[:1000])
    shutil.rmtree(directory)
    return save_seconds, load_seconds, size


def training_process_rss(entries):
    """Resident bytes of a fresh process holding what training holds: TensorFlow, the agent,
    the env and a replay memory of `entries` real frames, after 100 training steps."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-probe", str(entries)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1])


def rss_probe(entries):
    """What `training_process_rss` measures, run in the fresh process it starts."""
    config = bench_config(100, max(entries, 1000))
    env = ale.make_env(ENV, obs_type="grayscale")
    env.reset(seed=0)
    agent = build_agent(config, env.action_space.n)
    _, frames = real_frames(1000, AtariProcessor())
    fill(agent.memory, frames, max(entries, 1000))
    agent.training = True
    for step in range(100):
        agent.step = 1000 + 4 * step
        agent.recent_observation, agent.recent_action = frames[0], 0
        agent.backward(0.0, terminal=False)
    return rss_bytes()


def floor_row(args, row, rounds):
    """The row machines are compared by: the `keras_rl` preset's fused train step (`time_floor`)."""
    train_step = time_floor(10 if args.quick else 100, rounds)[1]
    row("floor: the keras_rl preset's train step", train_step * 1000, "ms", "the figure machines are compared by")


def variant_rows(args, row, rounds):
    """One env's learning phase at epsilon 0.01 for the preset (with --set) and for each
    --variant on top of it, interleaved round by round, best of `rounds`: screening candidates'
    agent steps/s side by side."""
    floor_row(args, row, rounds)
    variants = [""] + args.variants
    best = dict.fromkeys(variants, 0.0)
    for _ in range(rounds):
        for variant in variants:
            best[variant] = max(best[variant], time_our_loop(
                args.warmup, args.learning_steps, epsilon=0.01, preset=args.config,
                sets=args.sets + variant.split())[1])
    for variant in variants:
        row(f"learning, one env: {variant or 'as configured'}", best[variant], "steps/s",
            f"best of {rounds}; {best[variant] / best['']:.2f}x as configured")


def time_num_envs_rows(args, row, rounds):
    """The learning phase as a real run trains (epsilon 0.01 after its schedule: greedy forwards
    every step) with 1, 2, 4 and 8 envs, each in one process and (from 2 envs) with the actor
    process, and the loop's ceiling with a near-free learner (as on a GPU); rows interleaved,
    best of `rounds`."""
    settings = [(1, False), (2, False), (2, True), (4, False), (4, True), (8, False), (8, True)]
    greedy, ceiling = dict.fromkeys(settings, 0.0), dict.fromkeys(settings, 0.0)
    for _ in range(rounds):
        for n, process in settings:
            greedy[n, process] = max(greedy[n, process], time_our_loop(
                args.warmup, args.learning_steps, epsilon=0.01, num_envs=n, actor_process=process,
                preset=args.config, sets=args.sets)[1])
            ceiling[n, process] = max(ceiling[n, process], time_our_loop(
                args.warmup, args.learning_steps, epsilon=0.01, model=trivial_model, num_envs=n, actor_process=process,
                preset=args.config, sets=args.sets)[1])

    def name(n, process):
        return f"num_envs {n}" + (", actor process" if process else "")

    for setting in settings:
        row(f"ours: learning at epsilon 0.01, {name(*setting)}", greedy[setting], "steps/s",
            f"best of {rounds}; {greedy[setting] / greedy[1, False]:.2f}x num_envs 1 (target 1.1 for the best)")
    for setting in settings:
        row(f"loop ceiling: trivial model, {name(*setting)}", ceiling[setting], "steps/s",
            f"best of {rounds}; {ceiling[setting] / ceiling[1, False]:.2f}x its num_envs 1 (target 3 for the best)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny budgets: checks the script runs")
    parser.add_argument("--warmup", type=int, default=5_000, help="warm-up steps of both loops")
    parser.add_argument("--learning-steps", type=int, default=6_000, help="learning-phase steps timed per loop")
    parser.add_argument("--full-memory", action="store_true", help="also fill and checkpoint a 1M-frame memory")
    parser.add_argument("--loop-only", action="store_true",
                        help="only the learning rows at epsilon 0.01 and the loop's ceiling, for num_envs 1, 2, 4, 8")
    parser.add_argument("--train-step", action="store_true",
                        help="only the floor and the fused train step of each net (nature, nips2013), window length "
                             "(4, 2) and batch size (32, 64, 128), under --config and --set")
    parser.add_argument("--config", default="keras_rl", choices=sorted(configs.PRESETS),
                        help="with --loop-only or --train-step: the preset whose env and learning settings the rows use "
                             "(pong: PongNoFrameskip-v4, a train step every agent step)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="with --loop-only or --train-step: a config key on top of --config (repeatable), e.g. "
                             "--set window_length=2 --set net=nips2013 (keys the rows set themselves are refused)")
    parser.add_argument("--variant", dest="variants", action="append", default=[], metavar="'KEY=VALUE ...'",
                        help="with --loop-only: instead of the num_envs rows, one env's agent steps/s while learning "
                             "(epsilon 0.01) for --config --set and for each variant (its keys on top of them; repeatable), "
                             "interleaved round by round, e.g. --variant 'n_step=3 net=nips2013'")
    parser.add_argument("--rss-probe", type=int, metavar="ENTRIES", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# Keys every row sets itself (bench_config, time_our_loop), and with --train-step (which varies the
# net, window and batch, and runs no envs) its own reasons: given with --set or --variant they
# would be overwritten without a word, so they are refused.
ROW_KEYS = {"nb_steps_warmup": "give --warmup instead", "memory_limit": "each row sizes it to its steps",
            "video": "never recorded",
            **dict.fromkeys(("epsilon_steps", "epsilon_max", "epsilon_min"),
                            "rows act at epsilon 0.01, or on the example's schedule"),
            **dict.fromkeys(("num_envs", "actor_process"), "each row sets its own")}
TRAIN_STEP_KEYS = {**dict.fromkeys(("net", "window_length", "batch_size"),
                                   "--train-step times each net, window length and batch size"),
                   **dict.fromkeys(("num_envs", "actor_process"), "--train-step times the train step alone, with no envs")}


def keys_the_rows_set_themselves(args):
    """A one-line refusal naming the first --set or --variant key the rows would overwrite, or ''."""
    reasons = {**ROW_KEYS, **TRAIN_STEP_KEYS} if args.train_step else ROW_KEYS
    given = [("--set", s) for s in args.sets] + [("--variant", v) for variant in args.variants for v in variant.split()]
    for flag, setting in given:
        key = setting.split("=", 1)[0].strip()
        if key in reasons:
            return f"{flag} {key}: the benchmark sets {key} itself ({reasons[key]}); drop it"
    return ""


def main(argv=None):
    args = parse_args(argv)
    if args.rss_probe is not None:  # the fresh process training_process_rss measures
        print(rss_probe(args.rss_probe))
        return
    if (args.config != "keras_rl" or args.sets) and not (args.loop_only or args.train_step):
        sys.exit("benchmark.py: --config and --set apply to the --loop-only and --train-step rows; add one of them")
    if args.variants and not args.loop_only:
        sys.exit("benchmark.py: --variant applies to the --loop-only rows; add --loop-only")
    if args.loop_only and args.train_step:
        sys.exit("benchmark.py: --loop-only and --train-step are two separate runs; give one")
    refused = keys_the_rows_set_themselves(args)
    if refused:
        sys.exit(f"benchmark.py: {refused}")
    try:
        bench_config(args.warmup, 20_000, preset=args.config, sets=args.sets)
    except configs.ConfigError as exc:
        sys.exit(f"benchmark.py: {exc}")
    try:
        for variant in args.variants:
            bench_config(args.warmup, 20_000, preset=args.config, sets=args.sets + variant.split())
    except configs.ConfigError as exc:
        sys.exit(f"benchmark.py: --variant: {exc}")
    if args.quick:
        args.warmup, args.learning_steps = 300, 700
    make_deterministic(0)
    rows = []

    def row(name, value, unit, note=""):
        rows.append((name, value, unit, note))
        print(f"  {name:<46} {value:>12,.2f} {unit:<10} {note}", flush=True)

    rounds = 1 if args.quick else 3
    if args.train_step:
        print(f"Fused train steps on {os.cpu_count()} cores, --config {args.config} "
              f"{' '.join('--set ' + s for s in args.sets)}".rstrip() + f"; best of {rounds}")
        floor_row(args, row, rounds)
        train_step_rows(args, row, rounds)
        return rows
    if args.loop_only:
        config = bench_config(args.warmup, 20_000, preset=args.config, sets=args.sets)
        print(f"Benchmark on {os.cpu_count()} cores, --config {args.config} ({config.env_name}, {config.net} net, "
              f"{config.window_length} frames a state, batch {config.batch_size}, train interval "
              f"{config.train_interval}), warm-up {args.warmup:,}, "
              f"learning {args.learning_steps:,} steps")
        if args.variants:
            variant_rows(args, row, rounds)  # the floor first, then the variants
        else:
            floor_row(args, row, rounds)  # (the full run has loop_rows' own floor row)
            time_num_envs_rows(args, row, rounds)
        return rows
    print(f"Benchmark on {os.cpu_count()} cores, {ENV}, Nature net, batch 32, train interval 4, "
          f"warm-up {args.warmup:,}, learning {args.learning_steps:,} steps")
    raw, processed = real_frames(300 if args.quick else 3000, AtariProcessor())
    loop_rows(args, row, raw, rounds)
    time_num_envs_rows(args, row, rounds)
    memory_rows(args, row, processed)
    return rows


def loop_rows(args, row, raw, rounds):
    """The env, the processors, the train step's floor, and both loops (warm-up and learning)."""
    env_steps = 1000 if args.quick else 10_000
    row("env alone (RGB frames)", time_env(env_steps), "steps/s")
    row("env (RGB) + keras-rl example processor", time_env(env_steps, KerasRLExampleProcessor()), "steps/s")
    row("env alone (ALE grayscale, as our loop)", time_env(env_steps, obs_type="grayscale"), "steps/s")
    # Warm-up against its bound, alternated and best of 3 each: this machine's noise is +-20%.
    env_proc_rate = our_warm = 0.0
    for _ in range(rounds):
        env_proc_rate = max(env_proc_rate, time_env(env_steps, AtariProcessor(), obs_type="grayscale"))
        our_warm = max(our_warm, time_our_loop(env_steps, 0)[0])
    row("env (grayscale) + our processor", env_proc_rate, "steps/s", f"best of {rounds}")
    proc = time_processors(raw)
    row("processor: keras-rl example (PIL)", proc["example"], "frames/s")
    row("processor: ours on RGB frames", proc["ours_rgb"], "frames/s", f"{proc['ours_rgb'] / proc['example']:.2f}x")
    row("processor: ours on ALE grayscale frames", proc["ours_gray"], "frames/s",
        f"{proc['ours_gray'] / proc['example']:.2f}x")

    floor, train_s, act_s = time_floor(10 if args.quick else 100)
    row("floor: fused train step / 4 + greedy action", floor, "steps/s",
        f"train step {train_s * 1000:.1f} ms, action {act_s * 1000:.2f} ms")
    _, our_learn = time_our_loop(args.warmup, args.learning_steps)
    stock_warm, stock_learn = time_stock_loop(args.warmup, args.learning_steps)
    row("stock keras-rl2 fit: warm-up", stock_warm, "steps/s")
    row("stock keras-rl2 fit: learning", stock_learn, "steps/s")
    row("ours: warm-up", our_warm, "steps/s", f"best of {rounds}; {our_warm / env_proc_rate:.2f}x env+processor (target 0.70)")
    row("ours: learning", our_learn, "steps/s",
        f"{our_learn / stock_learn:.2f}x stock (target 3), {our_learn / floor:.2f}x floor (target 0.8)")


def memory_rows(args, row, processed):
    """Replay sampling, the memory's bytes per frame, the training process's size, checkpoints."""
    sample_ours, sample_stock = time_sampling(processed, 2_000 if args.quick else 100_000, 20 if args.quick else 200)
    row("replay sample + batch prep: stock", sample_stock * 1000, "ms/batch")
    row("replay sample: ours (uint8 arrays)", sample_ours * 1000, "ms/batch", f"{sample_stock / sample_ours:.1f}x faster")

    entries = 2_000 if args.quick else 100_000
    sized = RingMemory(10, 4)
    sized.append(np.zeros((84, 84), dtype=np.uint8), 0, 0.0, False)
    per_entry = sum(a.nbytes for a in (sized.observations, sized.actions, sized.rewards, sized.terminals)) / 10
    row("memory: array bytes per frame", per_entry, "bytes", "frame + action, reward, flag")
    small, large = training_process_rss(1_000), training_process_rss(entries)
    per_frame = (large - small) / (entries - 1_000)
    # Memory and sizes in decimal units (GB = 1e9 bytes, MB = 1e6), the unit the targets are stated in.
    row(f"training process resident, {entries:,} frames", large / 1e9, "GB", f"{per_frame:,.0f} bytes/frame")
    row("training process resident, 1M frames (extrap.)", (small + per_frame * (1_000_000 - 1_000)) / 1e9, "GB",
        "(target 7.5 GB)")
    if args.full_memory:
        row("training process resident, 1M frames (measured)", training_process_rss(1_000_000) / 1e9, "GB",
            "(target 7.5 GB)")
    with tempfile.TemporaryDirectory() as workdir:
        save_s, load_s, size = time_checkpoint(processed, entries, workdir)
        row(f"checkpoint save, {entries:,} frames", save_s, "s")
        row(f"checkpoint load, {entries:,} frames", load_s, "s")
        row(f"checkpoint size, {entries:,} frames", size / 1e6, "MB")
        if args.full_memory:
            save_s, load_s, size = time_checkpoint(processed, 1_000_000, workdir)
            row("checkpoint save, 1M frames", save_s, "s", "(target < 60)")
            row("checkpoint load, 1M frames", load_s, "s")
            row("checkpoint size, 1M frames", size / 1e9, "GB", "(target < 1 GB)")


if __name__ == "__main__":
    main()

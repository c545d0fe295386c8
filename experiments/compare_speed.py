"""Two commits' training loops timed side by side, in one sitting.

    python experiments/compare_speed.py BEFORE_REF AFTER_REF [--config PRESET] [--set KEY=VALUE ...]
        [--rounds 3] [--warmup 1000] [--learning-steps 2000] [--one-env]

A refactoring must not slow the loop, and a speed-up is claimed against the commit before it; a
2-core machine of this kind is noisy (+-20% between runs), so the two commits are measured
alternately, round after round (BEFORE then AFTER, then AFTER then BEFORE, ...), each figure a
fresh process running that commit's own ``benchmark.time_our_loop`` from a ``git worktree``
(``compare_commits.py`` makes and checks them). Rows: the learning phase at epsilon 0.01 (what a
run acts with after its schedule) with one env, four in one process and four with the actor
process (`--one-env`: one env only), each with the config's net and with a near-free learner (the
loop's ceiling, what bounds a GPU). The near-free learner is this script's own
(``TRIVIAL_MODEL``: the uint8 frames fed whole, as to the nets, a corner of 4x4 pixels of each
scaled in the graph, then a dense layer), the same for both commits, so that a change to a commit's
``benchmark.trivial_model`` cannot move the ratio (the two are the same model, copied on
purpose: this one must not change with the commits it compares). Each row prints both commits' best-of-rounds
steps/s and the ratio AFTER / BEFORE. `--set` keys go to both commits; a commit whose
``time_our_loop`` takes no `sets` is refused with them (it would time another config).
"""
import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile

from compare_commits import (InputError, SetupError, add_worktree, check_imports, last_line, remove_worktree,
                             repo_root, resolve_commit)

SETTINGS = [(1, False), (4, False), (4, True)]  # (num_envs, actor process)

# The near-free learner of the ceiling rows, as a module both commits import (an actor process
# must import it too, so it cannot live in the probe's `-c` code).
TRIVIAL_MODEL = """
def trivial_model(nb_actions, window_length=4):
    import tf_keras

    frames = tf_keras.Input(shape=(window_length, 84, 84), dtype="uint8")
    corner = tf_keras.layers.Cropping2D(((0, 80), (0, 80)), data_format="channels_first")(frames)
    scaled = tf_keras.layers.Rescaling(1.0 / 255.0, dtype="float32")(corner)
    return tf_keras.Model(frames, tf_keras.layers.Dense(nb_actions)(tf_keras.layers.Flatten()(scaled)))
"""

# Run inside a worktree's environment: time its own loop, print (warm-up, learning) steps/s as JSON.
PROBE = """
import inspect, json, sys
import benchmark
kwargs = json.loads(sys.argv[1])
if "sets" not in inspect.signature(benchmark.time_our_loop).parameters:
    if kwargs["sets"]:
        sys.exit("this commit's benchmark takes no --set: compare it without --set")
    kwargs.pop("sets")
if kwargs.pop("trivial"):
    from compare_speed_model import trivial_model
    kwargs["model"] = trivial_model
print(json.dumps(benchmark.time_our_loop(**kwargs)))
"""


def time_loop(side, args, num_envs, process, trivial, model_dir):
    kwargs = {"warmup": args.warmup, "learning_steps": args.learning_steps, "epsilon": 0.01, "num_envs": num_envs,
              "actor_process": process, "preset": args.config, "sets": args.sets, "trivial": trivial}
    env = dict(side.env, PYTHONPATH=os.pathsep.join([side.env["PYTHONPATH"], model_dir]))
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(kwargs)], env=env, capture_output=True,
                            text=True, cwd=os.path.join(side.worktree, "experiments"))
    if result.returncode != 0:
        raise SetupError(f"{side.label} failed to time its loop: {last_line(result.stderr)}")
    return json.loads(result.stdout.strip().splitlines()[-1])[1]


def row_name(num_envs, process, trivial):
    what = "ceiling (trivial model)" if trivial else "learning"
    return f"{what}, num_envs {num_envs}" + (", actor process" if process else "")


def measure(sides, args, model_dir):
    """Best-of-rounds learning steps/s per (row, side), the sides alternating in order each round."""
    with open(os.path.join(model_dir, "compare_speed_model.py"), "w", encoding="utf-8") as f:
        f.write(TRIVIAL_MODEL)
    best = {}
    settings = SETTINGS[:1] if args.one_env else SETTINGS
    rows = [(n, p, t) for (n, p), t in itertools.product(settings, (False, True))]
    for round_index in range(args.rounds):
        order = sides if round_index % 2 == 0 else sides[::-1]
        for row in rows:
            for side in order:
                rate = time_loop(side, args, *row, model_dir)
                best[row, side.label] = max(best.get((row, side.label), 0.0), rate)
                print(f"  round {round_index + 1}: {side.label:<6} {row_name(*row):<46} {rate:8.1f} steps/s",
                      file=sys.stderr, flush=True)
    return rows, best


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", metavar="BEFORE_REF")
    parser.add_argument("after", metavar="AFTER_REF")
    parser.add_argument("--config", default="keras_rl", help="the preset whose env, net and learning settings the rows use")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a config key on top of --config (repeatable)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; each row keeps its best")
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--learning-steps", type=int, default=2000)
    parser.add_argument("--one-env", action="store_true",
                        help="only the rows of one env in one process (the learning and the ceiling)")
    parser.add_argument("--repo", default=".")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 400 or args.learning_steps < 400:
        parser.exit(2, "error: --rounds must be >= 1, --warmup and --learning-steps >= 400 (rates are taken every "
                       "200 steps, and a warm-up must fill the first batch)\n")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        repo = repo_root(args.repo)
        shas = [resolve_commit(repo, ref) for ref in (args.before, args.after)]
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="compare_speed-") as work:
        sides = []
        try:
            for label, ref, sha in zip(("before", "after"), (args.before, args.after), shas):
                sides.append(add_worktree(repo, label, ref, sha, work))
                check_imports(sides[-1], work)
            rows, best = measure(sides, args, work)
        except SetupError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            for side in sides:
                remove_worktree(repo, side)
    print(f"{os.cpu_count()} cores, --config {args.config} {' '.join('--set ' + s for s in args.sets)}, warm-up "
          f"{args.warmup:,}, learning {args.learning_steps:,} steps at epsilon 0.01, best of {args.rounds} "
          f"alternating rounds; before {args.before} ({shas[0][:10]}), after {args.after} ({shas[1][:10]})")
    print("| row | before steps/s | after steps/s | after / before |\n|---|---:|---:|---:|")
    for row in rows:
        before, after = best[row, "before"], best[row, "after"]
        print(f"| {row_name(*row)} | {before:,.1f} | {after:,.1f} | {after / before:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

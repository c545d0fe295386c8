"""Run many trainings on Ray Tune: every game x seed x grid value, each a resumable run folder.

    python experiments/sweep.py --sweep-dir sweeps/gamma --config fast \\
        --env-name BreakoutDeterministic-v4 --env-name PongDeterministic-v4 \\
        --seeds 1,2,3 --grid gamma=0.99,0.98 --steps 250000

Each call trains every unfinished trial (``--steps N``: N more steps each; without it: to
total_steps), skips finished ones, printing a line as each trial starts, ends or fails, then
writes ``summary.csv`` and ``curves.png`` in the sweep folder and prints the mean and spread
across seeds per setting. Run the same command again after any stop: trials resume from their
run folders. Local by default (a Ray instance on this machine, its files in the sweep folder's
ray/); ``--address HOST:PORT`` joins a Ray cluster (see the README). Needs Ray:
pip install ".[sweep]".
"""
import argparse
import importlib.util
import sys
import warnings

from dqnkit import configs
from dqnkit.errors import UserFacingError


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="config keys (for --grid and --set):\n" + configs.describe_keys())
    parser.add_argument("--sweep-dir", required=True, help="folder holding one run folder per trial, and the summary")
    parser.add_argument("--config", default=None, help=f"preset of every trial: {', '.join(configs.PRESETS)} (default keras_rl)")
    parser.add_argument("--env-name", dest="env_names", action="append", default=[], metavar="NAME",
                        help="a game to train on (repeatable; default BreakoutDeterministic-v4)")
    parser.add_argument("--seeds", default="1", help="seeds, comma separated (default 1)")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2", help="values of a config key to try (repeatable)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="a config value for every trial (repeatable)")
    parser.add_argument("--steps", type=int, default=None, help="train each trial this many more steps in this call")
    parser.add_argument("--address", default=None, help="HOST:PORT of a Ray cluster's head node (default: this machine)")
    parser.add_argument("--cpus-per-trial", type=float, default=1, help="CPUs each trial needs (default 1)")
    parser.add_argument("--gpus-per-trial", type=float, default=0, help="GPUs each trial needs (default 0; 0.5 shares one)")
    parser.add_argument("--max-failures", type=int, default=3, help="restarts of a trial whose process dies (default 3)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
    try:
        if importlib.util.find_spec("ray") is None:
            raise UserFacingError("sweeps run on Ray, which is not installed: pip install \".[sweep]\" "
                                  "(or pip install \"ray[tune]\")")
        if args.steps is not None and args.steps < 1:
            raise UserFacingError(f"--steps must be a positive number of steps, got {args.steps}")
        from dqnkit.sweeps import driver
        from dqnkit.sweeps.plan import parse_grid, parse_seeds

        driver.run(args.sweep_dir, args.config, args.env_names or ["BreakoutDeterministic-v4"],
                   parse_seeds(args.seeds), parse_grid(args.grid), args.sets, steps=args.steps,
                   address=args.address, cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial,
                   max_failures=args.max_failures)
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again: every trial resumes from its run folder.", file=sys.stderr)
        return 130
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

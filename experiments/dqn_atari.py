"""Train and watch keras-rl2's DQN on Atari: the keras-rl example, resumable, on today's stack.

    python experiments/dqn_atari.py --mode train --config smoke --run-dir runs/smoke
    python experiments/dqn_atari.py --mode test --run-dir runs/smoke --episodes 2
    python experiments/dqn_atari.py --mode plot --run-dir runs/smoke

Train mode resumes the run in --run-dir from its newest complete checkpoint, so running the
same command again after a crash, a Colab disconnect or Ctrl-C goes on where the run was.
The same entry points take an easydict in a notebook: see `run(args)` and colab/.
"""
import argparse
import os
import sys
import warnings

from dqnkit import configs  # light: no TensorFlow yet, so --help is instant
from dqnkit.errors import UserFacingError
from dqnkit.training.stopping import Stopped

MODES = ("train", "test", "plot")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="config keys (override with --set KEY=VALUE):\n" + configs.describe_keys())
    parser.add_argument("--mode", choices=MODES, default="train")
    parser.add_argument("--env-name", default=None, help="Atari env, e.g. BreakoutDeterministic-v4 or ALE/Pong-v5")
    parser.add_argument("--config", default=None, help=f"preset: {', '.join(configs.PRESETS)} (default keras_rl, "
                        "or the run folder's saved config)")
    parser.add_argument("--run-dir", default=None, help="run folder (default runs/<env>-<preset>-seed<seed>)")
    parser.add_argument("--steps", type=int, default=None, help="train this many more steps in this segment")
    parser.add_argument("--weights", default=None, help="test: weights to load: HDF5 (.h5, the example's .h5f) or a "
                        "TensorFlow checkpoint prefix (default: the run's weights.h5, then the agent shipped for the env: "
                        "weights/dqn_<env>_weights.h5 of a checkout, or installed with the kit); played with the "
                        "config saved beside it (<name>_config.json, or the run's for a run folder's weights.h5 or "
                        "best_weights.h5), unless --config or a --run-dir with a config is given")
    parser.add_argument("--episodes", type=int, default=None, help="test: episodes to play")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--video", dest="video", action="store_true", default=None, help="record episode videos")
    parser.add_argument("--no-video", dest="video", action="store_false")
    parser.add_argument("--progress", choices=("auto", "terminal", "notebook", "none"), default="auto",
                        help="progress display: a rewritten line on a terminal, one replaced display in a "
                             "notebook, none when output goes to a file (auto picks)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable)")
    return parser.parse_args(argv)


class UserError(UserFacingError):
    """Something the user asked for on the command line cannot be done."""


def cli_overrides(args):
    """The config values the CLI's own flags set (--env-name, --seed, --video)."""
    overrides = {}
    if args.get("env_name"):
        overrides["env_name"] = args.env_name
    if args.get("seed") is not None:
        overrides["seed"] = args.seed
    if args.get("video") is not None:
        overrides["video"] = args.video
    return overrides


def run(args):
    """Run one mode. `args` is an argparse Namespace or an easydict with the same names."""
    from easydict import EasyDict

    args = EasyDict(vars(args) if isinstance(args, argparse.Namespace) else dict(args))
    mode = args.get("mode", "train")
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    from dqnkit import resolve

    where = dict(preset=args.get("config"), run_dir=args.get("run_dir"), overrides=cli_overrides(args),
                 sets=args.get("overrides") or [])
    if mode == "test":
        if args.get("episodes") is not None and args.episodes < 1:
            raise UserError(f"--episodes must be at least 1, got {args.episodes}")
        config, weights, video_dir = resolve.resolve_test(weights=args.get("weights"), **where)
        if config.video:
            from dqnkit.run.folder import check_writable

            check_writable(video_dir, "pass --no-video, or --run-dir a folder you can write (a copy of the run)")
        from dqnkit import playing

        print(f"Playing {weights}")
        return playing.test(config, weights, video_dir, episodes=args.get("episodes"), record_video=config.video)

    config, run_dir = resolve.resolve_config(**where)
    if mode == "plot":
        from dqnkit.reporting.plotting import plot_learning_curve

        from dqnkit.run.folder import RunFolder, check_writable

        if os.path.isdir(run_dir):
            check_writable(run_dir, "copy the run folder somewhere you can write and plot the copy")

        folder = RunFolder(run_dir)
        path = plot_learning_curve(folder.log_path, folder.learning_curve_path)
        print(f"Learning curve: {path}")
        return path

    from dqnkit import training

    if args.get("weights"):
        raise UserError("--weights is for --mode test; train mode resumes from the run folder's checkpoints")
    progress = None if args.get("progress", "auto") == "auto" else args.progress
    return training.train(config, run_dir, steps=args.get("steps"), progress_mode=progress)


def main(argv=None):
    args = parse_args(argv)
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"  # one line each
    try:
        run(args)
    except Stopped as stopped:  # SIGINT or SIGTERM in train mode; a checkpoint being written was finished
        print(f"\n{stopped.describe()}", file=sys.stderr)
        return stopped.exit_code
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again to resume from the last checkpoint.", file=sys.stderr)
        return 130
    except UserFacingError as exc:  # user mistakes get one line; bugs keep their traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

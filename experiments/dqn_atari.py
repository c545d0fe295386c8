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

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (os.path.join(REPO_ROOT, "experiments"), REPO_ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

from dqnkit import configs  # noqa: E402  (light: no TensorFlow yet, so --help is instant)
from dqnkit.errors import UserFacingError  # noqa: E402

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
    parser.add_argument("--weights", default=None, help="test: weights .h5 to load (default: the run's weights.h5)")
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


def build_config(args):
    """The config for `args`: the run folder's saved one when resuming, else the preset."""
    from dqnkit.run_folder import RunFolder, default_run_dir

    overrides = {}
    if args.get("env_name"):
        overrides["env_name"] = args.env_name
    if args.get("seed") is not None:
        overrides["seed"] = args.seed
    if args.get("video") is not None:
        overrides["video"] = args.video
    saved = RunFolder(args.run_dir).saved_config() if args.get("run_dir") else None
    if saved is not None and not args.get("config"):
        config = saved
    else:
        config = configs.make_config(args.get("config") or "keras_rl")
    configs.apply_overrides(config, overrides)
    configs.apply_overrides(config, args.get("overrides") or [])
    configs.validate(config)
    run_dir = args.get("run_dir") or default_run_dir(config)
    return config, run_dir


def default_weights(config, run_dir):
    """The run's weights.h5, else weights/dqn_<env>_weights.h5 shipped or dropped in the repo."""
    candidates = [os.path.join(run_dir, "weights.h5"),
                  os.path.join(REPO_ROOT, "weights", f"dqn_{config.env_name.replace('/', '_')}_weights.h5")]
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    raise UserError(f"no weights found (looked for {' and '.join(candidates)}); train first with "
                    f"--mode train --run-dir {run_dir}, or pass --weights FILE.h5")


def run(args):
    """Run one mode. `args` is an argparse Namespace or an easydict with the same names."""
    from easydict import EasyDict

    args = EasyDict(vars(args) if isinstance(args, argparse.Namespace) else dict(args))
    mode = args.get("mode", "train")
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    config, run_dir = build_config(args)

    if mode == "plot":
        from dqnkit.plotting import plot_learning_curve

        path = plot_learning_curve(os.path.join(run_dir, "log.jsonl"), os.path.join(run_dir, "learning_curve.png"))
        print(f"Learning curve: {path}")
        return path

    from dqnkit import training

    if mode == "train":
        if args.get("weights"):
            raise UserError("--weights is for --mode test; train mode resumes from the run folder's checkpoints")
        if args.get("steps") is not None and args.steps < 1:
            raise UserError(f"--steps must be a positive number of steps, got {args.steps}")
        progress = {"auto": None, "none": "quiet"}.get(args.get("progress", "auto"), args.get("progress"))
        return training.train(config, run_dir, steps=args.get("steps"), progress_mode=progress)

    weights = args.get("weights") or default_weights(config, run_dir)
    if args.get("episodes") is not None and args.episodes < 1:
        raise UserError(f"--episodes must be at least 1, got {args.episodes}")
    return training.test(config, weights, os.path.join(run_dir, "videos"), episodes=args.get("episodes"),
                         record_video=config.video)


def main(argv=None):
    args = parse_args(argv)
    try:
        run(args)
    except KeyboardInterrupt:
        print("\nInterrupted. Run the same command again to resume from the last checkpoint.", file=sys.stderr)
        return 130
    except UserFacingError as exc:  # user mistakes get one line; bugs keep their traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

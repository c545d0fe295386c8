"""Ship a run's best agent in weights/, where --mode test finds it on a fresh checkout.

    python experiments/ship_weights.py --run-dir ~/runs/breakout-fast

Copies the run's ``best_weights.h5`` (its ``weights.h5`` if it never evaluated) to
``weights/dqn_<env>_weights.h5`` and its config to ``weights/dqn_<env>_config.json`` (so test
mode plays with the same preprocessing and epsilon), draws the run's learning curve to
``weights/dqn_<env>_learning_curve.png``, then prints the evaluation table and the wall-clock
figures (from ``eval.jsonl`` and ``segments.jsonl``) for the provenance notes. With ``--gif``
it also plays one game with the shipped agent and keeps its first seconds as
``weights/dqn_<env>.gif``, a clip that renders on the repository page.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np

from dqnkit import configs
from dqnkit.errors import UserFacingError
from dqnkit.resolve import shipped_paths
from dqnkit.run.folder import RunFolder
from dqnkit.reporting.runlog import continuity_problems, read_log


def evaluation_table(evaluations):
    lines = ["| step | mean | std | min | max | games |", "|---:|---:|---:|---:|---:|---:|"]
    for e in evaluations:
        lines.append(f"| {e['step']:,} | {e['mean']:.1f} | {e['std']:.1f} | {e['min']:g} | {e['max']:g} | {e['episodes']} |")
    return "\n".join(lines)


def training_table(log, window=100_000):
    """Training games per `window` steps: far more games than an evaluation (a Breakout agent
    plays 70 to 600 per 100k steps), at the training epsilon, so a steadier curve; it is also
    what CleanRL's published curves show."""
    lines = ["| steps | games | mean | median | 10th pct | 90th pct | max |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for end in range(window, log[-1]["step"] + window, window):
        scores = [r["reward"] for r in log if end - window < r["step"] <= end]
        if scores:
            lines.append(f"| {end - window:,}-{min(end, log[-1]['step']):,} | {len(scores)} | {np.mean(scores):.1f} | "
                         f"{np.median(scores):g} | {np.percentile(scores, 10):.0f} | {np.percentile(scores, 90):.0f} | "
                         f"{max(scores):g} |")
    return "\n".join(lines)


def wall_clock(segments):
    """(hours of training kept or lost, steps trained, [(segment start step, last checkpoint step, hours)])."""
    runs, current = [], None
    for line in segments:
        if line["event"] == "start":
            current = [line["step"], line["step"], line["time"], line["time"]]
            runs.append(current)
        elif current is not None:
            current[1], current[3] = line["step"], line["time"]
    table = [(start, end, (t1 - t0) / 3600) for start, end, t0, t1 in runs]
    return sum(h for *_, h in table), table


def write_gif(config, weights_path, gif_path, seconds, fps=30, scale=1.0):
    """One game of the shipped agent (test mode's own recording), its first `seconds` as a GIF."""
    import tempfile

    import imageio.v2 as imageio
    from PIL import Image

    from dqnkit import playing

    with tempfile.TemporaryDirectory() as videos:
        played = playing.test(config, weights_path, videos, episodes=1)
        frames = []
        with imageio.get_reader(played.videos[0]) as reader:
            for i, frame in enumerate(reader):
                if i >= seconds * fps:
                    break
                image = Image.fromarray(frame)
                frames.append(image.resize((int(image.width * scale), int(image.height * scale))))
    frames[0].save(gif_path, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0, optimize=True)
    print(f"GIF: {gif_path} ({os.path.getsize(gif_path) / 1e6:.1f} MB, {len(frames)} frames)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--weights-dir", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights"))
    parser.add_argument("--gif", action="store_true", help="also record a short GIF of the shipped agent")
    parser.add_argument("--gif-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    try:
        folder = RunFolder(args.run_dir)
        config = folder.run_config()
        if config is None:
            raise UserFacingError(f"{folder.path} holds no run; pass the run folder of a trained run")
        source = folder.best_weights_path if os.path.isfile(folder.best_weights_path) else folder.weights_path
        if not os.path.isfile(source):
            raise UserFacingError(f"{folder.path} has no weights yet; train it first")
        weights_path, config_path = shipped_paths(config.env_name, args.weights_dir)
        os.makedirs(args.weights_dir, exist_ok=True)
        shutil.copyfile(source, weights_path)
        with open(config_path, "w", encoding="utf-8") as f:
            f.write(configs.to_json(config) + "\n")
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from dqnkit.reporting.plotting import plot_learning_curve

    stem = weights_path[: -len("_weights.h5")]
    plot_learning_curve(folder.log_path, f"{stem}_learning_curve.png")
    if args.gif:
        write_gif(config, weights_path, f"{stem}.gif", args.gif_seconds)
    evaluations = read_log(folder.eval_log_path)
    print(f"Shipped {source} as {weights_path}, with {config_path}\n")
    print(evaluation_table(evaluations))
    hours, segments = wall_clock(read_log(folder.segments_path))
    if segments:
        steps = sum(end - start for start, end, _ in segments)
        print("\nsegments (start step -> last checkpoint, hours): "
              + "; ".join(f"{s:,} -> {e:,}, {h:.2f} h" for s, e, h in segments))
        print(f"{steps:,} steps in {hours:.2f} h of segments: {steps / max(hours * 3600, 1e-9):.0f} steps/s "
              "including evaluation and checkpoints")
    log = read_log(folder.log_path)
    if log:
        problems = continuity_problems(log, evaluations, config.get("num_envs", 1))
        verdict = ("every game once, in order, each starting where the previous one ended"
                   if not problems else "NOT one continuous run: " + "; ".join(problems))
        print(f"\ntraining games (epsilon {config.epsilon_min:g} after step {config.epsilon_steps:,}):\n"
              + training_table(log) + "\n")
        print(f"log.jsonl: {len(log):,} games, the last ending at step {log[-1]['step']:,}; "
              f"eval.jsonl: {len(evaluations)} evaluations; {verdict}")
    print(json.dumps({"best_eval": max(evaluations, key=lambda e: e["mean"]) if evaluations else None})[:200])
    return 0


if __name__ == "__main__":
    sys.exit(main())

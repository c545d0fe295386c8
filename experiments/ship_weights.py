"""Ship a run's best agent in weights/, where --mode test finds it on a fresh checkout.

    python experiments/ship_weights.py --run-dir ~/runs/breakout-fast

Copies the run's ``best_weights.h5`` (its ``weights.h5`` if it never evaluated) to
``weights/dqn_<env>_weights.h5`` and its config to ``weights/dqn_<env>_config.json`` (so test
mode plays with the same preprocessing and epsilon), then prints the evaluation table and the
wall-clock figures (from ``eval.jsonl`` and ``segments.jsonl``) for the provenance notes.
"""
import argparse
import json
import os
import shutil
import sys

from dqnkit import configs
from dqnkit.errors import UserFacingError
from dqnkit.resolve import shipped_paths
from dqnkit.run_folder import RunFolder
from dqnkit.runlog import read_log


def evaluation_table(evaluations):
    lines = ["| step | mean | std | min | max | games |", "|---:|---:|---:|---:|---:|---:|"]
    for e in evaluations:
        lines.append(f"| {e['step']:,} | {e['mean']:.1f} | {e['std']:.1f} | {e['min']:g} | {e['max']:g} | {e['episodes']} |")
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--weights-dir", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights"))
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
    evaluations = read_log(folder.eval_log_path)
    print(f"Shipped {source} as {weights_path}, with {config_path}\n")
    print(evaluation_table(evaluations))
    hours, segments = wall_clock(read_log(folder.segments_path))
    if segments:
        steps = sum(end - start for start, end, _ in segments)
        print(f"\nsegments (start step -> last checkpoint, hours): "
              + "; ".join(f"{s:,} -> {e:,}, {h:.2f} h" for s, e, h in segments))
        print(f"{steps:,} steps in {hours:.2f} h of segments: {steps / max(hours * 3600, 1e-9):.0f} steps/s "
              "including evaluation and checkpoints")
    log = read_log(folder.log_path)
    if log:
        print(f"log.jsonl: {len(log):,} games, the last at step {log[-1]['step']:,}; "
              f"games in order once each: {[r['episode'] for r in log] == list(range(len(log)))}")
    print(json.dumps({"best_eval": max(evaluations, key=lambda e: e["mean"]) if evaluations else None})[:200])
    return 0


if __name__ == "__main__":
    sys.exit(main())

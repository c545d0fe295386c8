"""How long a run took to solve its game: agent steps, games and wall-clock minutes (the race of
Lapan, Deep RL Hands-On 2nd ed., ch. 9: minutes to a last-100 mean of 17 on Pong).

    python experiments/time_to_solve.py --run-dir ~/runs/pong-a-seed123            # Pong: 17
    python experiments/time_to_solve.py --run-dir RUN --threshold 30 --window 100
    python experiments/time_to_solve.py --run-dir RUN_A --run-dir RUN_B ...   # and a race table

Solved: the mean of the last 100 training games reaches the threshold. Minutes: training time
summed over the run's segments (a killed segment's redone steps included, start-up between
segments not), from segments.jsonl and log.jsonl (see dqnkit/reporting/solved.py). With several runs,
a markdown table follows: one row a run, with the variant its config and segments record (its
preset, net and n_step, and every other run-defining key it changed from its preset but the
seed and num_envs, which have columns of their own), then the median and the spread (lowest to
highest) of the solved runs' steps and minutes.
"""
import argparse
import datetime
import os
import statistics
import sys

from dqnkit import configs
from dqnkit.errors import UserFacingError
from dqnkit.run.folder import RunFolder
from dqnkit.reporting.runlog import read_log
from dqnkit.reporting.solved import solve_time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True, action="append", help="a run folder (repeat for a table)")
    parser.add_argument("--threshold", type=float, default=17.0, help="mean score that counts as solved (Pong: 17)")
    parser.add_argument("--window", type=int, default=100, help="games in the mean (default 100)")
    args = parser.parse_args(argv)
    rows, results = [], []
    try:
        for run_dir in args.run_dir:
            if len(args.run_dir) > 1:
                print(f"{run_dir}:")
            folder = RunFolder(run_dir)
            result, rate = report(folder, args.threshold, args.window)
            rows.append(table_row(folder, result, rate))
            results.append(result)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len(rows) > 1:
        print(f"\n| run | preset | net | n_step | other changes | seed | num_envs | actor process | solved at game "
              f"| agent steps | last-{args.window} mean | minutes | steps/s |\n"
              "|---|---|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|")
        print("\n".join(rows))
        print(spread_line(results))
    return 0


def spread_line(results):
    """The median and the spread of the solved runs' agent steps and minutes."""
    solved = [r for r in results if r.solved]
    if not solved:
        return f"\nsolved: none of {len(results)} runs"
    steps, minutes = [r.step for r in solved], [r.seconds / 60 for r in solved]
    return (f"\nsolved: {len(solved)} of {len(results)} runs; agent steps median {statistics.median(steps):,.0f} "
            f"(spread {min(steps):,} to {max(steps):,}); minutes median {statistics.median(minutes):.1f} "
            f"(spread {min(minutes):.1f} to {max(minutes):.1f})")


def variant(config):
    """(preset, net, n_step, other changes) of a saved config: what it changed from its preset."""
    preset = config.get("preset", configs.CUSTOM)
    base = configs.make_config(preset) if preset in configs.PRESETS else configs.default_config()
    changed = [key for key in configs.run_defining_differences(base, config)
               if key not in ("seed", "net", "n_step", "num_envs") and key in config]  # those have columns
    others = ", ".join(f"{key}={config.get(key)}" for key in changed) or "-"
    return preset, config.get("net", "nature"), config.get("n_step", 1), others


def table_row(folder, result, rate):
    """One markdown row: the run's variant (num_envs from its config, the actor process from its
    segments' start lines) and its clock. `~` marks minutes estimated from a killed segment."""
    config = folder.run_config() or {}
    num_envs = config.get("num_envs", 1)
    recorded = [segment.actor_process for segment in result.segments]
    if num_envs == 1:
        actor = "no"  # the actor process needs two envs or more
    else:
        known = {value for value in recorded if value is not None}
        if len(known) == 2:
            actor = "mixed"
        else:
            actor = ("yes" if True in known else "no") if known else "?"
        if None in recorded:
            actor += f" ({recorded.count(None)} of {len(recorded)} segments unrecorded)"
    game = f"{result.games:,}" if result.solved else f"not yet ({result.games:,} games)"
    mean = f"{result.mean:.2f}" if result.solved else f"best so far {result.mean:.2f}"
    minutes = f"{'~' if result.estimated else ''}{result.seconds / 60:.1f}"
    preset, net, n_step, others = variant(config)
    return (f"| {os.path.basename(os.path.normpath(folder.path))} | {preset} | {net} | {n_step} | {others} "
            f"| {config.get('seed')} | {num_envs} | {actor} | {game} | {result.step:,} | {mean} | {minutes} | {rate:.1f} |")


def report(folder, threshold, window):
    """Print the run's segments and its clock; return (SolveTime, steps/s)."""
    if not os.path.isfile(folder.log_path) or not os.path.isfile(folder.segments_path):
        raise UserFacingError(f"{folder.path} has no log.jsonl and segments.jsonl: give the folder of a run "
                              "trained by this kit")
    result = solve_time(read_log(folder.log_path), read_log(folder.segments_path), threshold, window)
    if result.step is None:
        raise UserFacingError(f"{folder.path} has no finished game yet")
    for segment in result.segments:
        start = datetime.datetime.fromtimestamp(segment.start_time, datetime.timezone.utc)
        end = datetime.datetime.fromtimestamp(segment.last_time, datetime.timezone.utc)
        print(f"segment from {start:%Y-%m-%d %H:%M:%S} UTC at step {segment.start_step:,} to {end:%H:%M:%S} at step "
              f"{segment.last_step:,}: {segment.ended_by or 'no end line: running, or killed (its last journal line counts)'}")
    minutes = result.seconds / 60
    rate = (result.step - result.segments[0].start_step) / max(result.seconds, 1e-9)
    mark = " (estimated: a segment with no end line is counted to its last journal line)" if result.estimated else ""
    if result.solved:
        print(f"solved (mean of the last {window} games >= {threshold:g}: {result.mean:.2f}) at game {result.games:,}, "
              f"step {result.step:,}, after {minutes:.1f} minutes of training{mark}; {rate:.1f} steps/s")
    else:
        print(f"not solved yet: best mean of the last {window} games {result.mean:.2f} (threshold {threshold:g}); "
              f"{result.games:,} games, step {result.step:,}, {minutes:.1f} minutes of training{mark}; "
              f"{rate:.1f} steps/s")
    return result, rate


if __name__ == "__main__":
    sys.exit(main())

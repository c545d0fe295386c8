"""How long a run took to solve its game: agent steps, games and wall-clock minutes (seed 002's race).

    python experiments/time_to_solve.py --run-dir ~/runs/pong-a-seed123            # Pong: 17
    python experiments/time_to_solve.py --run-dir RUN --threshold 30 --window 100

Solved: the mean of the last 100 training games reaches the threshold. Minutes: training time
summed over the run's segments (a killed segment's redone steps included, start-up between
segments not), from segments.jsonl and log.jsonl (see dqnkit/solve_time.py).
"""
import argparse
import datetime
import os
import sys

from dqnkit.errors import UserFacingError
from dqnkit.run_folder import RunFolder
from dqnkit.runlog import read_log
from dqnkit.solve_time import solve_time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--threshold", type=float, default=17.0, help="mean score that counts as solved (Pong: 17)")
    parser.add_argument("--window", type=int, default=100, help="games in the mean (default 100)")
    args = parser.parse_args(argv)
    try:
        report(RunFolder(args.run_dir), args.threshold, args.window)
    except UserFacingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def report(folder, threshold, window):
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


if __name__ == "__main__":
    sys.exit(main())

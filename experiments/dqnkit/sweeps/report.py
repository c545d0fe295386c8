"""A sweep's results as a user reads them: ``summary.csv`` (one row per trial), ``curves.png``
(one colour per setting, a line style per seed) and the table printed at the end (mean and
spread across seeds for each setting). Everything is read from the run folders, so it is right
whether the trials ran in this call or an earlier one.
"""
import csv
import os

import numpy as np

from dqnkit.reporting.runlog import read_log
from dqnkit.sweeps.plan import checkpointed_step, setting_label, value_label

LAST_GAMES = 100  # the games behind a trial's `last_games_mean`
SCORE_NOTE = f"score: the latest evaluation's mean where one ran, else the mean of the last {LAST_GAMES} games"


def latest_scores(folder):
    """A trial's figures: steps trained (its newest checkpoint), games, the latest evaluation, and the
    mean of its last 100 games."""
    log = read_log(folder.log_path)
    evaluations = read_log(folder.eval_log_path)
    last = [r["reward"] for r in log[-LAST_GAMES:]]
    return {"steps": checkpointed_step(folder), "games": len(log),
            "eval_step": evaluations[-1]["step"] if evaluations else None,
            "eval_mean": evaluations[-1]["mean"] if evaluations else None,
            "eval_std": evaluations[-1]["std"] if evaluations else None,
            "last_games_mean": float(np.mean(last)) if last else None}


def summarize(sweep_dir, trials, grid_keys):
    """Write summary.csv and curves.png into `sweep_dir`; returns the rows (one per trial)."""
    rows = [{"trial": t.name, "env_name": t.setting["env_name"], "seed": t.seed,
             **{k: t.setting[k] for k in grid_keys}, **latest_scores(t.folder)} for t in trials]
    columns = ["trial", "env_name", "seed", *grid_keys, "steps", "games", "eval_step", "eval_mean", "eval_std",
               "last_games_mean"]
    with open(os.path.join(sweep_dir, "summary.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    from dqnkit.reporting.plotting import plot_sweep_curves

    plot_sweep_curves([(t.folder.log_path, setting_label(t.setting), t.seed) for t in trials],
                      os.path.join(sweep_dir, "curves.png"))
    return rows


def score_of(row):
    """A trial's figure for comparisons: its latest evaluation, else its last games' mean."""
    return row["eval_mean"] if row["eval_mean"] is not None else row["last_games_mean"]


def _step_range(members):
    low, high = min(r["steps"] for r in members), max(r["steps"] for r in members)
    return f"{low:,}" if low == high else f"{low:,}-{high:,}"


def summary_table(rows, grid_keys):
    """Mean and spread across seeds for each setting, as aligned text, with a note on the score."""
    groups = {}
    for row in rows:
        key = (row["env_name"], *(row[k] for k in grid_keys))
        groups.setdefault(key, []).append(row)
    # "steps" of a group is a range: seeds of one setting may stand at different steps.
    header = ["env_name", *grid_keys, "seeds", "steps (min-max)", "score mean", "score std"]
    lines = [header]
    for key, members in groups.items():
        scores = [score_of(r) for r in members if score_of(r) is not None]
        mean = f"{np.mean(scores):.2f}" if scores else "-"
        spread = f"{np.std(scores):.2f}" if scores else "-"
        lines.append([*(value_label(v) for v in key), str(len(members)), _step_range(members), mean, spread])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)) for line in lines) + "\n" + SCORE_NOTE

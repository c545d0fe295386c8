"""The learning curve of a run: game scores, their moving average, the evaluations (mean and
spread, from eval.jsonl beside the log) and epsilon, against agent steps."""
import os

from dqnkit.errors import UserFacingError
from dqnkit.runlog import read_log


def moving_average(values, window):
    """Mean of the last `window` values at each point (fewer at the start)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_learning_curve(log_path, png_path, window=100):
    """Draw `log_path` (log.jsonl) to `png_path`; returns the PNG's path."""
    records = read_log(log_path)
    if not records:
        raise UserFacingError(f"{log_path} has no episodes yet; train first (--mode train)")
    from matplotlib.figure import Figure  # no pyplot: leaves a notebook's backend alone

    steps = [r["step"] for r in records]
    scores = [r["reward"] for r in records]
    fig = Figure(figsize=(8, 4.5), dpi=100)
    ax = fig.subplots()
    ax.plot(steps, scores, ".", color="tab:blue", alpha=0.5, markersize=4, label="episode score")
    ax.plot(steps, moving_average(scores, window), color="tab:blue", linewidth=2,
            label=f"moving average ({min(window, len(scores))} episodes)")
    evaluations = read_log(os.path.join(os.path.dirname(os.path.abspath(log_path)), "eval.jsonl"))
    if evaluations:
        eval_steps = [e["step"] for e in evaluations]
        means = [e["mean"] for e in evaluations]
        ax.fill_between(eval_steps, [e["mean"] - e["std"] for e in evaluations],
                        [e["mean"] + e["std"] for e in evaluations], color="tab:green", alpha=0.2)
        ax.plot(eval_steps, means, "o-", color="tab:green", linewidth=2, markersize=4,
                label=f"evaluation mean +/- std ({evaluations[-1]['episodes']} games)")
    ax.set_xlabel("agent step")
    ax.set_ylabel("score")
    eps_ax = ax.twinx()
    eps_ax.plot(steps, [r["epsilon"] for r in records], color="tab:orange", linewidth=1, label="epsilon")
    eps_ax.set_ylabel("epsilon")
    eps_ax.set_ylim(0, 1.05)
    lines = ax.get_legend_handles_labels()
    eps_lines = eps_ax.get_legend_handles_labels()
    ax.legend(lines[0] + eps_lines[0], lines[1] + eps_lines[1], loc="upper left", fontsize=8)
    ax.set_title(f"{os.path.basename(os.path.dirname(os.path.abspath(log_path)))}: {len(records)} episodes")
    fig.tight_layout()
    fig.savefig(png_path)
    return png_path


def plot_sweep_curves(runs, png_path, window=100):
    """Every trial's moving-average score against steps, one colour per setting (its seeds share
    it). `runs` is a list of (run folder, setting label)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), dpi=100)
    ax = fig.subplots()
    labels = list(dict.fromkeys(label for _, label in runs))
    colors = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    labelled = set()
    for run_dir, label in runs:
        records = read_log(os.path.join(run_dir, "log.jsonl"))
        if not records:
            continue
        ax.plot([r["step"] for r in records], moving_average([r["reward"] for r in records], window),
                color=colors[label], linewidth=1.5, alpha=0.8, label=None if label in labelled else label)
        labelled.add(label)
    ax.set_xlabel("agent step")
    ax.set_ylabel(f"score (moving average, {window} games)")
    if labelled:
        ax.legend(fontsize=8, loc="upper left")
    ax.set_title(f"{len(runs)} trials, {len(labels)} settings")
    fig.tight_layout()
    fig.savefig(png_path)
    return png_path

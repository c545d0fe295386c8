"""The learning curve of a run: game scores, their moving average, the evaluations (mean and
spread, from eval.jsonl beside the log) and epsilon, against agent steps."""
import os

from dqnkit.errors import UserFacingError
from dqnkit.reporting.runlog import read_log


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


SEED_LINESTYLES = ["-", "--", ":", "-."]
SEED_MARKERS = [None, "o", "s", "^", "x"]  # from the fifth seed on, with the line styles again


def setting_colors(count):
    """`count` different colours: matplotlib's default cycle (10), then tab20, then a sampled colormap."""
    import matplotlib

    if count <= 10:
        return [f"C{i}" for i in range(count)]
    if count <= 20:
        return [matplotlib.colormaps["tab20"](i) for i in range(count)]
    return [matplotlib.colormaps["turbo"](i / (count - 1)) for i in range(count)]


def seed_style(index):
    """Line style and marker of the `index`-th seed of a sweep: every seed its own look."""
    return SEED_LINESTYLES[index % len(SEED_LINESTYLES)], SEED_MARKERS[(index // len(SEED_LINESTYLES)) % len(SEED_MARKERS)]


def sweep_curves_figure(runs, window=100):
    """The figure of `plot_sweep_curves`: each trial's score (the mean of its last min(window, n)
    games at game n) against steps; one colour per setting, one line style per seed, a legend of
    settings and one of seeds. `runs` is a list of (log.jsonl path, setting label, seed)."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(9, 5), dpi=100)
    ax = fig.subplots()
    settings = list(dict.fromkeys(label for _, label, _ in runs))
    seeds = list(dict.fromkeys(seed for _, _, seed in runs))
    colors = dict(zip(settings, setting_colors(len(settings))))
    styles = {seed: seed_style(i) for i, seed in enumerate(seeds)}
    most_games = 0
    for log_path, label, seed in runs:
        records = read_log(log_path)
        if not records:
            continue
        most_games = max(most_games, len(records))
        linestyle, marker = styles[seed]
        ax.plot([r["step"] for r in records], moving_average([r["reward"] for r in records], window),
                color=colors[label], linestyle=linestyle, marker=marker, markevery=0.1, markersize=4,
                linewidth=1.5, alpha=0.85, label=f"{label}, seed {seed}")
    ax.set_xlabel("agent step")
    ax.set_ylabel(f"score: mean of the last min({window}, n) games at game n")
    setting_handles = [Line2D([], [], color=colors[label], linewidth=2, label=label) for label in settings]
    seed_handles = [Line2D([], [], color="0.3", linestyle=styles[seed][0], marker=styles[seed][1], label=f"seed {seed}")
                    for seed in seeds]
    ax.add_artist(ax.legend(handles=setting_handles, title="setting", fontsize=8, loc="upper left"))
    ax.legend(handles=seed_handles, title="seed", fontsize=8, loc="lower right")
    ax.set_title(f"{_count(len(runs), 'trial')}: {_count(len(settings), 'setting')} x {_count(len(seeds), 'seed')} "
                 f"(most games in a trial: {most_games})")
    fig.tight_layout()
    return fig


def _count(number, noun):
    return f"{number} {noun}{'' if number == 1 else 's'}"


def plot_sweep_curves(runs, png_path, window=100):
    """Draw the curves of a sweep's trials (see `sweep_curves_figure`) to `png_path`; returns it."""
    sweep_curves_figure(runs, window).savefig(png_path)
    return png_path

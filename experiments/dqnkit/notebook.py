"""What colab/dqn_breakout.ipynb needs, kept here so the notebook holds only glue.

Everything works outside Colab too: Drive becomes a local folder, downloads print paths, and
videos are shown only when short (an embedded video counts toward Colab's ~10 MB output cap).
"""
import functools
import os
import sys
import zipfile

from dqnkit import resolve
from dqnkit.run.folder import RunFolder
from dqnkit.training.stopping import Stopped


def in_colab():
    return "google.colab" in sys.modules


def make_config(preset, run_path, env_name=None, total_steps=None, **overrides):
    """The run's config as an easydict, resolved as the CLI does (``dqnkit.resolve``): the
    preset with the notebook's parameters applied and checked."""
    values = dict(overrides)
    if env_name is not None:
        values["env_name"] = env_name
    if total_steps is not None:
        values["total_steps"] = total_steps
    config, _ = resolve.resolve_config(preset, run_path, values)
    return config


def run_path(run_dir, use_drive, mount_point="/content/drive"):
    """Where the run folder lives: on Google Drive (mounted here if needed) so it survives the
    runtime, or `run_dir` as given. Relative run folders on Drive go under MyDrive/dqn-runs/."""
    if not use_drive:
        return os.path.abspath(run_dir)
    if not in_colab():
        print(f"Not in Colab: USE_DRIVE ignored, the run folder is {os.path.abspath(run_dir)}")
        return os.path.abspath(run_dir)
    from google.colab import drive

    my_drive = os.path.join(mount_point, "MyDrive")
    if not os.path.isdir(my_drive):
        drive.mount(mount_point)
    path = run_dir if os.path.isabs(run_dir) else os.path.join(my_drive, "dqn-runs", run_dir)
    os.makedirs(path, exist_ok=True)
    return path


def ends_in_one_line_on_stop(message):
    """Colab's stop button (and Jupyter's interrupt) raises KeyboardInterrupt in the running cell:
    the decorated cell helper then ends with one line instead of a traceback and returns None.
    Training first writes a checkpoint at the step it was stopped at (``stopping.Stopped``, whose
    line says which step); the next run resumes there."""
    def decorate(helper):
        @functools.wraps(helper)
        def stoppable(*args, **kwargs):
            try:
                return helper(*args, **kwargs)
            except Stopped as stopped:
                print(stopped.describe(resume_with="Run the cell again"), flush=True)
                return None
            except KeyboardInterrupt:
                print(message, flush=True)
                return None
        return stoppable
    return decorate


STOPPED_TRAINING = "Stopped. Run the cell again to resume from the last checkpoint."


def _train(config, run_dir, steps):
    from dqnkit import training

    return training.train(config, run_dir, steps=steps, progress_mode="notebook")


@ends_in_one_line_on_stop(STOPPED_TRAINING)
def train_segment(config, run_dir, steps=None):
    """One segment (re-run the cell to continue), then the learning curve."""
    result = _train(config, run_dir, steps)
    show_learning_curve(run_dir)
    return result


@ends_in_one_line_on_stop(STOPPED_TRAINING)
def train_until_done(config, run_dir, segment_steps):
    """Segment after segment until total_steps (or eval_patience ends the run), each
    checkpointed; one curve display refreshed."""
    from IPython.display import Image, display

    from dqnkit.reporting.plotting import plot_learning_curve

    curve = None
    while True:
        result = _train(config, run_dir, segment_steps)
        folder = RunFolder(run_dir)
        png = plot_learning_curve(folder.log_path, folder.learning_curve_path)
        if curve is None:
            curve = display(Image(filename=png), display_id=True)
        else:
            curve.update(Image(filename=png))
        if result.finished:
            return result


def show_learning_curve(run_dir):
    from IPython.display import Image, display

    from dqnkit.reporting.plotting import plot_learning_curve

    folder = RunFolder(run_dir)
    png = plot_learning_curve(folder.log_path, folder.learning_curve_path)
    display(Image(filename=png))
    return png


@ends_in_one_line_on_stop("Stopped.")
def watch(run_dir, episodes, checkout=None, env_name=None):
    """Play `episodes` as ``--mode test --run-dir run_dir [--env-name env_name]`` does: the run's
    weights with its own config, or - before the run has any - the shipped agent for `env_name`
    (the notebook's ENV_NAME: a new run folder holds no config yet to name the game) with the config
    beside it, from `checkout`'s weights/ if given, else where test mode looks (a checkout's
    weights/, then the copies installed with the package). One mp4 per game (see playing.test)."""
    from dqnkit import playing

    dirs = [os.path.join(checkout, "weights"), *resolve.shipped_weights_dirs()] if checkout else None
    overrides = {"env_name": env_name} if env_name else None
    config, weights, video_dir = resolve.resolve_test(run_dir=run_dir, overrides=overrides, weights_dirs=dirs)
    print(f"Playing {weights}")
    return playing.test(config, weights, video_dir, episodes=episodes)


def show_video(path, max_megabytes=2.0, width=320):
    """Embed an mp4 in the notebook if it is small enough; otherwise say where it is."""
    from IPython.display import Video, display

    size = os.path.getsize(path) / 2**20
    if size > max_megabytes:
        print(f"{path} is {size:.1f} MB: not embedded (output cap); download it instead")
        return None
    video = Video(path, embed=True, width=width, html_attributes="controls autoplay loop muted")
    display(video)
    return video


def download(paths, zip_name=None, max_files=1):
    """Send files to the browser in Colab, zipped when there are more than `max_files` (browsers
    let a page start one download and block the rest); elsewhere print their paths. Returns what
    was (or would be) downloaded. The zip is named after what its files' names share
    (``test-002-episode-1.mp4``, ... -> ``test-002-episodes.zip``), so a later one does not replace it."""
    paths = [os.path.abspath(p) for p in paths]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(f"cannot download missing files: {', '.join(missing)}")
    if len(paths) > max_files:
        shared = os.path.commonprefix([os.path.basename(p) for p in paths]).rstrip("-_. ")
        archive = os.path.join(os.path.dirname(paths[0]), zip_name or f"{shared or 'video'}s.zip")
        with zipfile.ZipFile(archive, "w") as zf:
            for p in paths:
                zf.write(p, arcname=os.path.basename(p))
        paths = [archive]
    if in_colab():
        from google.colab import files

        for p in paths:
            files.download(p)
    else:
        for p in paths:
            print(f"Saved: {p}")
    return paths

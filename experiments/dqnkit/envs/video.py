"""Episode videos with gymnasium's RecordVideo, numbered over the whole run.

RecordVideo counts episodes from 0 each time it is built, so a resumed run would overwrite
``rl-video-episode-0.mp4``. We start its counter at the run's global episode number: file
names and the capped-cubic schedule (episodes 0, 1, 8, 27, ..., 729, then every 1000th, as the
old gym Monitor) continue across segments. Video comes from the raw RGB env, never from the
processed 84x84 frames.
"""
import os
import warnings

from gymnasium.utils.save_video import capped_cubic_video_schedule
from gymnasium.wrappers import RecordVideo


def record_episodes(env, folder, prefix, first_episode=0, trigger=capped_cubic_video_schedule):
    """Wrap `env` so that episodes chosen by `trigger` (global numbers) are saved as mp4.

    Files are named ``<prefix>-episode-<global episode>.mp4``. The env must have been made
    with ``render_mode="rgb_array"``; moviepy writes the files."""
    os.makedirs(folder, exist_ok=True)
    with warnings.catch_warnings():
        # RecordVideo warns "Overwriting existing videos" whenever the folder exists (we made it
        # above, so always). Nothing is overwritten: training videos carry the run's global episode
        # numbers and each test invocation its own prefix (test-001, test-002, ...).
        warnings.filterwarnings("ignore", message=".*Overwriting existing videos.*")
        recorder = RecordVideo(env, folder, episode_trigger=trigger, name_prefix=prefix, disable_logger=True)
    recorder.episode_id = first_episode - 1  # RecordVideo increments it on every reset
    return recorder


def finish_episode_video(env):
    """Write the episode being recorded now, instead of at the next reset (which a kill may never reach)."""
    if isinstance(env, RecordVideo) and env.recording:
        env.stop_recording()

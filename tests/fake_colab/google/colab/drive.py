"""``drive.mount`` makes a local folder where Colab would mount Google Drive."""
import os

from google.colab import _record


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    os.makedirs(os.path.join(mountpoint, "MyDrive"), exist_ok=True)
    _record("drive.mount", mountpoint=mountpoint)

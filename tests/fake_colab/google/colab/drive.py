"""``drive.mount`` makes a local folder where Colab would mount Google Drive. With FAKE_COLAB_DRIVE
set to a folder, that folder's files appear as MyDrive (a symlink), as files put on Drive
beforehand appear only once it is mounted."""
import os

from google.colab import _record


def mount(mountpoint, force_remount=False, timeout_ms=120000, readonly=False):
    my_drive = os.path.join(mountpoint, "MyDrive")
    contents = os.environ.get("FAKE_COLAB_DRIVE")
    if contents and not os.path.exists(my_drive):
        os.makedirs(contents, exist_ok=True)
        os.makedirs(mountpoint, exist_ok=True)
        os.symlink(contents, my_drive)
    os.makedirs(my_drive, exist_ok=True)
    _record("drive.mount", mountpoint=mountpoint)

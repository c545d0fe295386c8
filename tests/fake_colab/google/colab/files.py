"""``files.download`` records the path it was given, with the file's size then; ``files.upload``
"uploads" the file named by FAKE_COLAB_UPLOAD (nothing when unset: the user cancelled)."""
import os
import shutil

from google.colab import _record


def download(filename):
    _record("files.download", path=os.path.abspath(filename), size=os.path.getsize(filename))


def upload(target_dir=""):
    """As Colab's: saves each chosen file under its own name in the current folder (or
    `target_dir`) and returns {file name: its bytes}."""
    chosen = os.environ.get("FAKE_COLAB_UPLOAD")
    _record("files.upload", chosen=chosen)
    if not chosen:
        return {}
    name = os.path.basename(chosen)
    shutil.copyfile(chosen, os.path.join(target_dir, name))
    with open(chosen, "rb") as f:
        return {name: f.read()}

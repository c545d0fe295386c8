"""The run on disk: its folder (``folder.py``), crash-safe checkpoints (``checkpoint.py``) of what
each part bundles (``run_state.py``), weights files (``weights_io.py``) and the one-trainer lock
(``lock.py``)."""

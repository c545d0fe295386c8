"""Reading and writing a run's records: the JSONL logs (``runlog.py``), TensorBoard
(``tensorboard_log.py``), learning curves (``plotting.py``) and when a run first reached a mean
(``solved.py``). Nothing here imports above the run folder."""

"""What several test modules share: where the checkout is, running the CLI as a user does, and
reading a run's log without its wall-clock fields (the only ones two equal runs differ in)."""
import json
import os
import subprocess
import sys

from dqnkit.runlog import is_wall_clock_field

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(REPO_ROOT, "experiments", "dqn_atari.py")


def run_cli(*args, timeout=600, check=True, env=None):
    """Run `python experiments/dqn_atari.py ARGS` in a subprocess, as a user would."""
    result = subprocess.run([sys.executable, CLI, *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, cwd=REPO_ROOT, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"CLI failed ({result.returncode}):\n{result.stdout}\n{result.stderr[-4000:]}")
    return result


def log_without_wall_clock(run_dir):
    """The run's log.jsonl records with every wall-clock field (`runlog.is_wall_clock_field`) left out."""
    with open(os.path.join(run_dir, "log.jsonl"), encoding="utf-8") as f:
        return [{k: v for k, v in json.loads(line).items() if not is_wall_clock_field(k)} for line in f]

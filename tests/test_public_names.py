"""Every name README documents, and every notebook helper the Colab notebook calls, is where
users reach it: the kit's subpackages re-export what the flat modules they replaced offered
(``dqnkit/_exports.py``), and nothing of that loads TensorFlow before it is used."""
import importlib
import json
import os
import re
import subprocess
import sys

import pytest

from helpers import REPO_ROOT

# Reached in users' scripts and notebooks (issue 25's list), whatever README's wording says.
PROMISED = ["dqnkit.configs.make_config", "dqnkit.configs.PRESETS", "dqnkit.training.train",
            "dqnkit.training.SegmentResult", "dqnkit.training.Stopped", "dqnkit.agent.FastDQNAgent",
            "dqnkit.agent.build_agent", "dqnkit.memory.RingMemory", "dqnkit.memory.StreamMemory",
            "dqnkit.envs.make_env", "dqnkit.envs.make_config_env", "dqnkit.resolve.resolve_config",
            "dqnkit.resolve.resolve_test", "dqnkit.compat", "dqnkit.notebook.train_until_done",
            "dqnkit.sweeps.run_trial", "dqn_atari.run", "dqn_atari.main", "processors.AtariProcessor"]


def readme_names():
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    dotted = set(re.findall(r"`(dqnkit(?:\.\w+)+)", text))
    for module, names in re.findall(r"from ((?:dqnkit|processors)[\w.]*) import ([\w, ]+)", text):
        dotted.update(f"{module}.{name.split(' as ')[0].strip()}" for name in names.split(","))
    return sorted(dotted)


def reach(dotted):
    """The object `dotted` names, imported the way a user's `from a.b import c` reaches it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("dotted", sorted(set(PROMISED) | set(readme_names())))
def test_a_documented_name_is_where_users_reach_it(dotted):
    assert reach(dotted) is not None


def test_readme_names_at_least_the_entry_points():
    names = readme_names()
    assert {"dqnkit.configs.make_config", "dqnkit.training.train", "dqnkit.agent.FastDQNAgent"} <= set(names)


def test_every_notebook_helper_the_notebook_calls_exists():
    from dqnkit import notebook

    with open(os.path.join(REPO_ROOT, "colab", "dqn_breakout.ipynb"), encoding="utf-8") as f:
        source = "".join("".join(cell["source"]) for cell in json.load(f)["cells"])
    called = set(re.findall(r"\bnb\.([a-z_]+)\(", source))
    assert called and all(callable(getattr(notebook, name)) for name in called), called


def test_the_subpackages_load_no_tensorflow_until_a_name_needs_it():
    """`--help` stays instant: importing the configs, the package facades and the light modules
    does not import TensorFlow."""
    code = ("import sys; import dqnkit.agent, dqnkit.memory, dqnkit.envs, dqnkit.training, dqnkit.sweeps; "
            "from dqnkit import configs; from dqnkit.training import schedule, progress; "
            "configs.make_config('smoke'); print('tensorflow' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=REPO_ROOT).stdout.strip()
    assert shown == "False"

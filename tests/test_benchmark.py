"""The benchmark script runs end to end (--quick); its figures are reported, never asserted."""
import re
import subprocess
import sys

import pytest

from helpers import REPO_ROOT


@pytest.mark.slow  # a minute; the benchmark is run by hand for its figures
def test_benchmark_quick_prints_every_row():
    result = subprocess.run([sys.executable, "experiments/benchmark.py", "--quick"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=900, check=True)
    rows = {m.group(1).strip(): m.group(2) for m in re.finditer(r"^  (.+?)\s+([\d,]+\.\d\d) ", result.stdout, re.M)}
    for name in ("floor: fused train step / 4 + greedy action", "stock keras-rl2 fit: learning", "ours: learning",
                 "ours: warm-up", "replay sample: ours (uint8 arrays)", "checkpoint save, 2,000 frames",
                 "training process resident, 1M frames (extrap.)"):
        assert name in rows, f"missing row {name!r} in:\n{result.stdout}"
        assert float(rows[name].replace(",", "")) > 0


def test_benchmark_config_without_loop_only_is_refused_in_one_line():
    result = subprocess.run([sys.executable, "experiments/benchmark.py", "--config", "pong"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "benchmark.py: --config applies to the --loop-only rows; add --loop-only"
    assert "Traceback" not in result.stderr and "Benchmark on" not in result.stdout


@pytest.mark.slow  # two minutes: 14 short runs of the Pong preset's loop
def test_benchmark_loop_rows_follow_the_preset():
    result = subprocess.run([sys.executable, "experiments/benchmark.py", "--loop-only", "--config", "pong", "--quick"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=True)
    assert "--config pong (PongNoFrameskip-v4, Mnih net, batch 32, train interval 1)" in result.stdout
    for name in ("ours: learning at epsilon 0.01, num_envs 4, actor process", "loop ceiling: trivial model, num_envs 8"):
        assert re.search(rf"^  {re.escape(name)}\s+[\d,]+\.\d\d steps/s", result.stdout, re.M), result.stdout

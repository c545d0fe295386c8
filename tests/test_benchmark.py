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

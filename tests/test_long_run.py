"""A single segment of a few hundred thousand steps keeps exact counters (no learning, so it is fast).

keras-rl2's fit() counts in np.int16, which wraps at 32,767 steps; our loop's counters are
Python ints. Epsilon must follow keras-rl2's LinearAnnealedPolicy formula at every episode end.
"""
import json

import pytest

from helpers import run_cli


@pytest.mark.slow
def test_300k_steps_keep_exact_step_and_epsilon(tmp_path):
    total, eps_steps = 300_000, 250_000
    run_cli("--mode", "train", "--config", "smoke", "--run-dir", tmp_path / "run", "--no-video",
            "--set", f"total_steps={total}", "--set", f"nb_steps_warmup={total + 1}",  # never trains
            "--set", "memory_limit=20000", "--set", "epsilon_max=1.0", "--set", "epsilon_min=0.9",
            "--set", f"epsilon_steps={eps_steps}", "--set", "checkpoint_every=100000", "--set", "eval_every=0",
            timeout=1800)
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    step = 0
    for i, record in enumerate(records):
        step += record["length"]
        assert record["episode"] == i and record["step"] == step
        # keras-rl2's LinearAnnealedPolicy.get_current_value, evaluated at the episode's last step
        slope = -float(1.0 - 0.9) / float(eps_steps)
        assert record["epsilon"] == max(0.9, slope * float(step) + 1.0)
    assert step >= total and step > 32_767 * 9
    assert records[-1]["epsilon"] == 0.9

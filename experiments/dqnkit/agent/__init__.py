"""The agent: ``FastDQNAgent`` (keras-rl2's ``DQNAgent`` with a fused train step, owning its
state) and ``build_agent`` (``fast_dqn.py``), the Mnih et al. nets (``nets.py``), and the run's
random generators (``rngs.py``)."""
from dqnkit._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(__name__, {
    "fast_dqn": ["FastDQNAgent", "build_agent", "is_annealed_eps_greedy"],
    "nets": ["build_mnih2015_model", "build_nips2013_model", "build_net", "NETS"],
})

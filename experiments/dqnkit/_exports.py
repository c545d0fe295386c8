"""Lazy re-exports for the kit's subpackages (PEP 562 module ``__getattr__``).

A subpackage that replaced a flat module keeps its public names where users reach them
(``dqnkit.agent.FastDQNAgent``, ``dqnkit.memory.RingMemory``, ``dqnkit.envs.make_env``,
``training.train``) without importing its modules up front: importing ``dqnkit.agent.rngs``
must not load TensorFlow through ``dqnkit/agent/__init__.py``, and ``--help`` stays instant.
Each access looks the name up in its defining module, so a test that patches a name where it is
defined patches it for every caller that reaches it through the package (``training.train``);
the kit's own modules import from the defining module, where tests patch them.
"""
import importlib


def lazy_exports(package, exports):
    """`exports` maps a submodule of `package` to the names it defines that the package offers.
    Returns the package's ``__getattr__`` and ``__dir__``."""
    home = {name: f"{package}.{module}" for module, names in exports.items() for name in names}

    def __getattr__(name):
        if name in home:
            return getattr(importlib.import_module(home[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(home)

    return __getattr__, __dir__

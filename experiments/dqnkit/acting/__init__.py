"""Acting: the training actor (``actor.py``: ``num_envs`` envs, batched greedy actions, memory
appends) and one agent step's rules (``transition.py``), the acting weights' lag with several envs
(``lagged_q_values.py``), the two ways of acting behind one interface (``local_actor.py`` in this
process, ``actor_process.py`` in one of its own; ``start.py`` picks), each env's state and game in a
checkpoint (``env_bundle.py``), and whole games through keras-rl2's forward/backward (``games.py``)."""

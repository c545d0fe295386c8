"""Acting: the training actor (``actor.py``: ``num_envs`` envs, batched greedy actions, memory
appends), its lagged acting weights (``lagged_q_values.py``), the same actor in a process of its
own (``actor_process.py``), and whole games through keras-rl2's forward/backward (``games.py``)."""

"""Greedy actions from the weights of two vector steps back: the lag every run with several envs
acts with (``actor.py``'s docstring says why), kept in this process by two copies of the net."""


class LaggedQValues:
    """Q-values from the weights of two vector steps back (see the module docstring). Two copies
    of the online net take turns: at the start of each vector step the one holding the weights
    after step v-2 acts, and the other takes the current weights (after step v-1) for step v+1,
    by graph assignments (one call a step; on a GPU the weights stay there)."""

    def __init__(self, agent, pending_weights=None):
        import tensorflow as tf
        import tf_keras

        from dqnkit.agent.fast_dqn import q_values_callable

        model = agent.model
        self.copies = [tf_keras.models.clone_model(model) for _ in range(2)]
        self.copies[0].set_weights(model.get_weights())
        self.copies[1].set_weights(model.get_weights() if pending_weights is None else pending_weights)
        self._capture = [tf.group(*[c.assign(o) for c, o in zip(copy.weights, model.weights)]) for copy in self.copies]
        self._q = [q_values_callable(copy) for copy in self.copies]
        self._session = tf.compat.v1.keras.backend.get_session
        self.processor = agent.processor
        self.acting = 0  # copies[1 - acting] holds the weights the next vector step acts with

    def advance(self):
        """At the start of vector step v: act with the weights after step v-2, and keep those
        after step v-1 (the current ones) for step v+1."""
        self.acting = 1 - self.acting
        self._session().run(self._capture[1 - self.acting])

    def __call__(self, states):
        if self.processor is not None:  # as agent.compute_batch_q_values does
            states = self.processor.process_state_batch(states)
        return self._q[self.acting](states)[0]

    def pending_weights(self):
        """The weights the next vector step acts with (a checkpoint keeps them)."""
        return self.copies[1 - self.acting].get_weights()

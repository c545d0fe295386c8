"""When evaluations and checkpoints fall: at every multiple of ``eval_every`` and
``checkpoint_every`` that a vector step reaches, whatever the number of envs. The runner and the
actor process (which must stop where a checkpoint is due) read the same object."""
from dataclasses import dataclass


def crossed(before, after, every):
    """Whether a multiple of `every` lies in (before, after]: the vector step from `before` to
    `after` reached it (with one env, ``after % every == 0``)."""
    return after // every > before // every


@dataclass(frozen=True)
class Schedule:
    checkpoint_every: int
    eval_every: int  # 0: no evaluations

    @classmethod
    def of(cls, config):
        return cls(config.checkpoint_every, config.eval_every)

    def evaluation_due(self, before, after):
        return self.eval_every > 0 and crossed(before, after, self.eval_every)

    def checkpoint_due(self, before, after):
        """A checkpoint follows every evaluation, and falls at every multiple of checkpoint_every."""
        return self.evaluation_due(before, after) or crossed(before, after, self.checkpoint_every)

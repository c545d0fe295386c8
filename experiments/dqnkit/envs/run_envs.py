"""The run's ``num_envs`` envs, each seeded from the run's seed: what the training actor plays, in
this process or in the actor process (``acting/actor_process.py``), and what the benchmark times."""
import numpy as np

from dqnkit.envs import ale


def env_seed(seed, index):
    """Env `index`'s seed: the run's seed for env 0 (as with one env), one derived from it for the others."""
    return seed if index == 0 else int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def make_run_envs(config, render_first=False):
    """The run's `num_envs` envs, each reset once with its seed (which loads the ROM and seeds
    ALE; games then start with ``reset()``), and their seeds. With `render_first`, env 0 renders
    frames for the training videos (only env 0 is recorded, as CleanRL records its first env)."""
    env_list, seeds = [], []
    for i in range(config.num_envs):
        env = ale.make_config_env(config, render_mode="rgb_array" if render_first and i == 0 else None)
        seeds.append(env_seed(config.seed, i))
        env.reset(seed=seeds[-1])
        env_list.append(env)
    return env_list, seeds

"""`gesture_jax.stats`, kept as a public path: the module lives in `gesture_jax.analysis.stats`."""

from gesture_jax.analysis.stats import *  # noqa: F401,F403

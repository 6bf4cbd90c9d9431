"""`gesture_jax.domain`, kept as a public path: the module lives in `gesture_jax.analysis.domain`."""

from gesture_jax.analysis.domain import *  # noqa: F401,F403

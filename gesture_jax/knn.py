"""`gesture_jax.knn`, kept as a public path: the module lives in `gesture_jax.analysis.knn`."""

from gesture_jax.analysis.knn import *  # noqa: F401,F403

r"""Toy few-shot and mixing curves: real toy test videos labelled from n real videos per class, alone and
added to the synthetic gallery, averaged over 5 draws, with a plot, from the frozen pre-trained toy encoder
(`toy-vit-pretrained`, as in configs/demo.py).

  python -m gesture_jax.main --config configs/curves/demo.py --workdir workdirs/curves_demo
  python -m gesture_jax.main --config configs/curves/demo.py:smoke --workdir workdirs/curves_smoke
"""

import ml_collections

from gesture_jax import config_lib


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """`arg`: "" for the full toy sets, "smoke" for the small ones (fewer points and draws)."""
    if arg not in (None, "", "smoke"):
        raise ValueError(f"configs/curves/demo.py takes no argument or 'smoke', got {arg!r}")
    smoke = arg == "smoke"
    suffix = "_small" if smoke else ""
    config = ml_collections.ConfigDict()
    config.mode = "curves"
    config.data = config_lib.data(build_if_missing=True)
    config.encoder = config_lib.encoder("toy-vit-pretrained")
    config.extract = config_lib.extract(per_device_batch=16, chunk_batches=20)
    config.curves = config_lib.curves(
        synthetic_gallery=f"toy_gestures/synthetic{suffix}:train",
        real_gallery=f"toy_gestures/real{suffix}:train",
        queries=(f"toy_gestures/real{suffix}:test",),
        shots=(1, 2, 0) if smoke else (1, 2, 4, 8, 0),
        num_seeds=2 if smoke else 5,
    )
    return config

"""The registered families and encoders, one module per family module of `gesture_jax.models`.

Each module registers its families (`registry.register_family`) and their public sizes
(`registry.register`) when imported; `registry` imports this package once, at its end.
"""

from gesture_jax.models.sizes import dinov2, siglip, viclip, videomae_hf, videoprism, vit, vjepa2, vjepa21  # noqa: F401

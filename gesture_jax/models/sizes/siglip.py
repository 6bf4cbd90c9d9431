"""SigLIP 2 (fixed resolution), an image-text model applied per frame: its input and public sizes."""

from __future__ import annotations

import dataclasses
from typing import Any

from gesture_jax.data.spec import VideoSpec
from gesture_jax.models.registry import Family, register, register_family

# SigLIP / fixed-resolution SigLIP 2 (transformers SiglipModel folders): an image model, each frame alone,
# the MAP-head embeddings averaged over frames. Published preprocessing (the folders'
# preprocessor_config.json): direct resize to the model's square size (no crop), x/255, mean = std = 0.5
# → [-1, 1]; the processor resamples with Pillow's bilinear filter, as the spec does. The frames: 8 TSN
# middles, this project's choice (the references define no video protocol).
_SIGLIP_SPEC = VideoSpec(
    num_frames=8,
    sampler="tsn",
    resize="squash_pil_bilinear",
    crop="none",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
)
register_family(Family("siglip", "siglip", dict(num_frames=8), _SIGLIP_SPEC, "hf"))


def _siglip_tower(width: int, depth: int, heads: int, mlp: int) -> dict[str, Any]:
    """A SigLIP size whose text tower is as wide and deep as its vision tower (B/16, So400m/14)."""
    text = dict(text_width=width, text_layers=depth, text_heads=heads, text_mlp_dim=mlp)
    return dict(width=width, layers=depth, heads=heads, mlp_dim=mlp, projection_size=width, **text)


register(
    "siglip2-b16",
    "siglip",
    dict(img_size=224, patch_size=16, vocab_size=256000, **_siglip_tower(768, 12, 12, 3072)),
    description="SigLIP 2 ViT-B/16 at 224² (google/siglip2-base-patch16-224), vision + text, Gemma vocab",
)
register(
    "siglip2-so400m14",
    "siglip",
    dict(img_size=384, patch_size=14, vocab_size=256000, **_siglip_tower(1152, 27, 16, 4304)),
    spec=dataclasses.replace(_SIGLIP_SPEC, resize_size=384, crop_size=384),
    description="SigLIP 2 So400m/14 at 384² (google/siglip2-so400m-patch14-384), vision + text, Gemma vocab",
)

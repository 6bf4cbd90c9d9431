"""ViCLIP (vision and text towers): its protocol, the public sizes and the tiny CPU model."""

from __future__ import annotations

from gesture_jax.data.spec import VideoSpec
from gesture_jax.models.registry import Family, register, register_family

# The official demo's protocol: 8 frames from the middle of 8 segments, squashed to the square size.
_VICLIP_SPEC = VideoSpec(num_frames=8, sampler="viclip_middle", resize="squash", crop="none")
register_family(Family("viclip", "viclip", {}, _VICLIP_SPEC, "torch"))

register(
    "toy-viclip",
    "viclip",
    dict(
        img_size=48,
        patch_size=8,
        num_frames=8,
        width=64,
        layers=2,
        heads=4,
        output_dim=64,
        text_width=64,
        text_layers=2,
        text_heads=4,
    ),
    spec=VideoSpec(
        num_frames=8, sampler="viclip_middle", resize="squash", resize_size=48, crop="none", crop_size=48
    ),
    description="tiny ViCLIP (vision + text, full CLIP vocabulary) for CPU zero-shot demos and tests",
)
register(
    "viclip-b16",
    "viclip",
    dict(
        patch_size=16,
        width=768,
        layers=12,
        heads=12,
        output_dim=512,
        text_width=512,
        text_layers=12,
        text_heads=8,
    ),
    description="ViCLIP ViT-B/16 (InternVid-10M-FLT), vision + text",
)
register(
    "viclip-l14",
    "viclip",
    dict(
        patch_size=14,
        width=1024,
        layers=24,
        heads=16,
        output_dim=768,
        text_width=768,
        text_layers=12,
        text_heads=12,
    ),
    description="ViCLIP ViT-L/14 (InternVid-10M-FLT), vision + text",
)

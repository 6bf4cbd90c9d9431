"""DINOv2, an image model applied per frame: its input and public sizes."""

from __future__ import annotations

from gesture_jax.data.spec import VideoSpec
from gesture_jax.models.registry import Family, register, register_family

# DINOv2 (an image model, applied per frame): BitImageProcessor's input (shortest edge 256, centre crop
# 224, ImageNet mean/std; facebook/dinov2-* preprocessor_config.json). DINOv2 publishes no video protocol:
# 8 frames, one from the middle of each of 8 equal segments (TSN test rule), is this repository's choice.
# The processor resizes with Pillow's bicubic filter and crops at floor offsets, as the spec does.
register_family(
    Family(
        "dinov2",
        "dinov2",
        dict(patch_size=14, pos_grid=37, num_frames=8, img_size=224),
        VideoSpec(
            num_frames=8,
            sampler="tsn",
            resize="short_side_pil_bicubic",
            resize_size=256,
            crop="center_floor",
            crop_size=224,
        ),
        "hf",
    )
)
register(
    "dinov2-s14",
    "dinov2",
    dict(embed_dim=384, depth=12, num_heads=6),
    description="DINOv2 ViT-S/14 (facebook/dinov2-small), per frame, mean of CLS",
)
register(
    "dinov2-b14",
    "dinov2",
    dict(embed_dim=768, depth=12, num_heads=12),
    description="DINOv2 ViT-B/14 (facebook/dinov2-base), per frame, mean of CLS",
)
register(
    "dinov2-l14",
    "dinov2",
    dict(embed_dim=1024, depth=24, num_heads=16),
    description="DINOv2 ViT-L/14 (facebook/dinov2-large), per frame, mean of CLS",
)
register(
    "dinov2-g14",
    "dinov2",
    dict(embed_dim=1536, depth=40, num_heads=24, use_swiglu_ffn=True),
    description="DINOv2 ViT-g/14 (facebook/dinov2-giant, SwiGLU FFN 4096), per frame, mean of CLS",
)

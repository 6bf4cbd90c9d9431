"""V-JEPA 2: the official frozen evaluation's input and the public sizes."""

from __future__ import annotations

import dataclasses

from gesture_jax.data.spec import VideoSpec
from gesture_jax.models.registry import Family, get_family, register, register_family

# V-JEPA 2: the official frozen evaluation (facebookresearch/vjepa2 configs/eval/vitl/k400.yaml, tag
# "16x8x3"): 16 frames at frame_step 4, 8 temporal segments × 3 spatial views; EvalVideoTransform resizes the
# short side to the crop size (bilinear) and takes 3 crops along the long side; ImageNet mean/std. The
# segment sampler (VideoDataset, clips in equal partitions) is not in data/sampling.py: the closest rule,
# VideoMAE's dense test sampling at the same rate, stands in for it. Any even frame count runs (RoPE).
register_family(
    Family(
        "vjepa2",
        "vjepa2",
        dict(patch_size=16, tubelet_size=2, num_frames=16),
        VideoSpec(
            num_frames=16,
            sampler="videomae_v1_dense_test",
            sampler_params=(("frame_sample_rate", 4),),
            num_clips=8,
            resize_size=256,
            crop="three",
            crop_size=256,
        ),
        "hf",
    )
)
_VJEPA2_G = dict(embed_dim=1408, depth=40, num_heads=22, mlp_ratio=48 / 11)
register(
    "vjepa2-vitl",
    "vjepa2",
    dict(img_size=256, embed_dim=1024, depth=24, num_heads=16),
    description="V-JEPA 2 ViT-L/16, 256 px (facebook/vjepa2-vitl-fpc64-256)",
)
register(
    "vjepa2-vith",
    "vjepa2",
    dict(img_size=256, embed_dim=1280, depth=32, num_heads=16),
    description="V-JEPA 2 ViT-H/16, 256 px (facebook/vjepa2-vith-fpc64-256)",
)
register(
    "vjepa2-vitg",
    "vjepa2",
    dict(img_size=256, **_VJEPA2_G),
    description="V-JEPA 2 ViT-g/16, 256 px (facebook/vjepa2-vitg-fpc64-256)",
)
register(
    "vjepa2-vitg-384",
    "vjepa2",
    dict(img_size=384, **_VJEPA2_G),
    spec=dataclasses.replace(get_family("vjepa2").spec, resize_size=384, crop_size=384),
    description="V-JEPA 2 ViT-g/16, 384 px (facebook/vjepa2-vitg-fpc64-384; configs/eval/vitg-384/k400.yaml)",
)

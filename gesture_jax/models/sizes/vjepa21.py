"""V-JEPA 2.1: the public sizes (src/hub/backbones.py @16de6c80: 384 px, patch 16, tubelet 2) and the
evaluation input.

The 2.1 evaluation configs were not available when this port was written, so the input is V-JEPA 2.0's
frozen evaluation (configs/eval/vitl/k400.yaml: 16 frames at frame_step 4, 8 segments × 3 crops; ImageNet
mean/std) at the released 384 px, as the developers' notes advise; check it against the 2.1 configs
before a frozen-feature study.
"""

from __future__ import annotations

from gesture_jax.data.spec import VideoSpec
from gesture_jax.models.registry import Family, register, register_family

register_family(
    Family(
        "vjepa21",
        "vjepa21",
        dict(img_size=384, patch_size=16, tubelet_size=2, num_frames=16),
        VideoSpec(
            num_frames=16,
            sampler="videomae_v1_dense_test",
            sampler_params=(("frame_sample_rate", 4),),
            num_clips=8,
            resize_size=384,
            crop="three",
            crop_size=384,
        ),
        "torch",
    )
)
register(
    "vjepa21-vitb-384",
    "vjepa21",
    dict(embed_dim=768, depth=12, num_heads=12),
    description="V-JEPA 2.1 ViT-B/16, 384 px, distilled (vjepa2_1_vitb_dist_vitG_384.pt, ema_encoder)",
)
register(
    "vjepa21-vitl-384",
    "vjepa21",
    dict(embed_dim=1024, depth=24, num_heads=16),
    description="V-JEPA 2.1 ViT-L/16, 384 px, distilled (vjepa2_1_vitl_dist_vitG_384.pt, ema_encoder)",
)
register(
    "vjepa21-vitg-384",
    "vjepa21",
    dict(embed_dim=1408, depth=40, num_heads=22, mlp_ratio=48 / 11),
    description="V-JEPA 2.1 ViT-g/16, 384 px (vjepa2_1_vitg_384.pt, target_encoder)",
)
register(
    "vjepa21-vitG-384",
    "vjepa21",
    dict(embed_dim=1664, depth=48, num_heads=26, mlp_ratio=64 / 13),
    description="V-JEPA 2.1 ViT-G/16, 384 px (vjepa2_1_vitG_384.pt, target_encoder)",
)

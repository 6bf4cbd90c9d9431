"""VideoMAE v1 in transformers' format: its protocols and public sizes."""

from __future__ import annotations

from gesture_jax.data.spec import VideoSpec
from gesture_jax.models.registry import Family, register, register_family
from gesture_jax.models.sizes.vit import VIDEOMAE_SPEC

# VideoMAE v1 in transformers' format (MCG-NJU/videomae-* on the Hugging Face Hub): the same network and the
# official protocol as videomae_v1 (K400: 16 frames at rate 4, 5 clips × 3 crops). The SSv2 fine-tunes
# were evaluated as the official SSv2 test does: 16 segments, 2 clips × 3 crops. The Hub configs say
# layer_norm_eps 1e-12; fc_norm is torch's default 1e-5.
register_family(
    Family("videomae_hf", "videomae_hf", dict(num_frames=16, tubelet_size=2), VIDEOMAE_SPEC, "hf")
)
_VIDEOMAE_SSV2_SPEC = VideoSpec(num_frames=16, sampler="videomae_v1_ssv2_test", num_clips=2, crop="three")
for _size, _dims in {
    "s16": dict(embed_dim=384, depth=12, num_heads=16),  # 16 heads, per transformers' convert script
    "b16": dict(embed_dim=768, depth=12, num_heads=12),
    "l16": dict(embed_dim=1024, depth=24, num_heads=16),
    "h16": dict(embed_dim=1280, depth=32, num_heads=16),
}.items():
    register(
        f"videomae-hf-{_size}",
        "videomae_hf",
        dict(patch_size=16, layer_norm_eps=1e-12, **_dims),
        description=f"VideoMAE ViT-{_size[0].upper()}/16 in transformers' format (MCG-NJU/videomae-*), K400",
    )
    if _size in ("s16", "b16"):
        register(
            f"videomae-hf-{_size}-ssv2",
            "videomae_hf",
            dict(patch_size=16, layer_norm_eps=1e-12, **_dims),
            spec=_VIDEOMAE_SSV2_SPEC,
            description=f"VideoMAE ViT-{_size[0].upper()}/16 in transformers' format, SSv2 protocol",
        )

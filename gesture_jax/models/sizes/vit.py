"""The video ViT's families (the toy encoder, UMT, VideoMAE v1 and V2): their official test protocols and
public sizes."""

from __future__ import annotations

import dataclasses

from gesture_jax.data.spec import VideoSpec
from gesture_jax.models.registry import Family, register, register_family

# Official test protocols (each family's official evaluation code), at 224 px with ImageNet mean/std.
_UMT_SPEC = VideoSpec(num_frames=8, sampler="umt_sparse_test", num_clips=4, crop="three")
VIDEOMAE_SPEC = VideoSpec(
    num_frames=16,
    sampler="videomae_v1_dense_test",
    sampler_params=(("frame_sample_rate", 4),),
    num_clips=5,
    crop="three",
)
_VIDEOMAE2_SPEC = dataclasses.replace(VIDEOMAE_SPEC, sampler="videomae_v2_dense_test")

register_family(Family("toy", "vit", {}, VideoSpec()))
register_family(Family("umt", "vit", dict(num_frames=8, tubelet_size=1, pos_embed="umt"), _UMT_SPEC, "torch"))
register_family(Family("videomae_v1", "vit", dict(num_frames=16, tubelet_size=2), VIDEOMAE_SPEC, "torch"))
register_family(Family("videomae_v2", "vit", dict(num_frames=16, tubelet_size=2), _VIDEOMAE2_SPEC, "torch"))

_B16 = dict(patch_size=16, embed_dim=768, depth=12, num_heads=12)
_L16 = dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16)

# The toy encoder: small enough for CPU demos and tests. Small patches: the toy arms are 1–2 px thick at
# 32², and coarse patches learn them slowly. Frame differences as input: a motion prior without which it
# learns far too slowly on a CPU.
_TOY_VIT = dict(
    img_size=32,
    patch_size=4,
    num_frames=8,
    tubelet_size=2,
    embed_dim=64,
    depth=2,
    num_heads=4,
    temporal_difference=True,
)
_TOY_SPEC = VideoSpec(num_frames=8, sampler="tsn", resize_size=32, crop_size=32)
register(
    "toy-vit",
    "toy",
    _TOY_VIT,
    spec=_TOY_SPEC,
    description="tiny VideoMAE-style ViT on frame differences (8×32², tubelet 2, patch 4, D 64, depth 2)",
)
register(
    "toy-vit-pretrained",
    "toy",
    _TOY_VIT,
    spec=_TOY_SPEC,
    description="toy-vit pre-trained on the toy everyday motions (configs/toy_pretrain.py), shipped",
    weights="weights/toy-vit-pretrained",
)
register("umt-b16", "umt", _B16, description="UMT ViT-B/16, 8 frames (unmasked_teacher single_modality)")
register("umt-l16", "umt", _L16, description="UMT ViT-L/16, 8 frames")
register("videomae-b16", "videomae_v1", _B16, description="VideoMAE v1 ViT-B/16, 16 frames")
register("videomae-l16", "videomae_v1", _L16, description="VideoMAE v1 ViT-L/16, 16 frames")
register(
    "videomae2-s16",
    "videomae_v2",
    dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    description="VideoMAE V2 ViT-S/16 (distilled)",
)
register("videomae2-b16", "videomae_v2", _B16, description="VideoMAE V2 ViT-B/16")
register("videomae2-l16", "videomae_v2", _L16, description="VideoMAE V2 ViT-L/16")
register(
    "videomae2-h16",
    "videomae_v2",
    dict(patch_size=16, embed_dim=1280, depth=32, num_heads=16),
    description="VideoMAE V2 ViT-H/16",
)
register(
    "videomae2-g14",
    "videomae_v2",
    dict(img_size=224, patch_size=14, embed_dim=1408, depth=40, num_heads=16, mlp_ratio=48 / 11),
    description="VideoMAE V2 ViT-g/14",
)

"""Encoders by name: family, size, and the input protocol the family was evaluated with.

The registry is plain data. A family names the module that builds it (``gesture_jax.models.<module>``,
with the members of the contract in `gesture_jax.models.family`) and the checkpoint format it ports
from; an encoder is a family plus a size plus a `VideoSpec`. Adding a size is one `register` line.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gesture_jax.data.spec import VideoSpec


@dataclasses.dataclass(frozen=True)
class Family:
    name: str  # also the `gesture_jax.convert --family` name
    module: str  # gesture_jax.models.<module>
    config_defaults: dict[str, Any]  # fields every size of the family shares
    spec: VideoSpec  # the family's official evaluation protocol
    # The reference checkpoint format `gesture_jax.convert` reads for it ("" = none: random init or
    # weights made here): "torch" = a .pth (torch.save) or .safetensors state dict, "hf" = a transformers
    # save_pretrained folder, "videoprism_npz" = the official VideoPrism .npz (gesture_jax.ports.sources).
    checkpoint: str = ""


# Official test protocols (each family's official evaluation code), at 224 px with ImageNet mean/std.
_UMT_SPEC = VideoSpec(num_frames=8, sampler="umt_sparse_test", num_clips=4, crop="three")
_VIDEOMAE_SPEC = VideoSpec(
    num_frames=16,
    sampler="videomae_v1_dense_test",
    sampler_params=(("frame_sample_rate", 4),),
    num_clips=5,
    crop="three",
)
_VIDEOMAE2_SPEC = dataclasses.replace(_VIDEOMAE_SPEC, sampler="videomae_v2_dense_test")
_VICLIP_SPEC = VideoSpec(num_frames=8, sampler="viclip_middle", resize="squash", crop="none")

FAMILIES = {
    f.name: f
    for f in (
        Family("toy", "vit", {}, VideoSpec()),
        Family("umt", "vit", dict(num_frames=8, tubelet_size=1, pos_embed="umt"), _UMT_SPEC, "torch"),
        Family("videomae_v1", "vit", dict(num_frames=16, tubelet_size=2), _VIDEOMAE_SPEC, "torch"),
        Family("videomae_v2", "vit", dict(num_frames=16, tubelet_size=2), _VIDEOMAE2_SPEC, "torch"),
        Family("viclip", "viclip", {}, _VICLIP_SPEC, "torch"),
    )
}


@dataclasses.dataclass(frozen=True)
class EncoderInfo:
    name: str
    family: str  # a key of FAMILIES
    model_config: dict[str, Any]  # the family's config_defaults are already merged in
    spec: VideoSpec
    description: str = ""
    # A converted model directory shipped in this package (relative to gesture_jax/models/), loaded when
    # a config names no checkpoint; "" = random init from the config's seed.
    weights: str = ""


_ENCODERS: dict[str, EncoderInfo] = {}


def register(
    name: str,
    family: str,
    size: dict[str, Any],
    *,
    spec: VideoSpec | None = None,
    description: str = "",
    weights: str = "",
) -> EncoderInfo:
    if name in _ENCODERS:
        raise ValueError(f"encoder {name!r} is registered twice")
    fam = get_family(family)
    info = EncoderInfo(name, family, {**fam.config_defaults, **size}, spec or fam.spec, description, weights)
    _ENCODERS[name] = info
    return info


def get(name: str) -> EncoderInfo:
    try:
        return _ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; registered: {', '.join(names())}") from None


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown encoder family {name!r}; known: {', '.join(FAMILIES)}") from None


def names() -> list[str]:
    return sorted(_ENCODERS)


def ported_families() -> list[str]:
    """The families `gesture_jax.convert` converts (those with a reference checkpoint format)."""
    return sorted(name for name, f in FAMILIES.items() if f.checkpoint)


def dataclass_from_dict(cls, fields: dict[str, Any], what: str):
    """`cls(**fields)`, failing with the unknown field names instead of a bare TypeError."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"unknown {what} config field(s) {unknown}; expected some of {sorted(known)}")
    return cls(**fields)


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


# Families added for issue 14: each block adds its `FAMILIES` record and its public sizes.
# DINOv2 (an image model, applied per frame): BitImageProcessor's input (shortest edge 256, centre crop 224,
# ImageNet mean/std; docs/encoders_more.md §4). DINOv2 publishes no video protocol: 8 frames, one from the
# middle of each of 8 equal segments (TSN test rule), is this repository's choice. The processor resizes
# with Pillow's bicubic filter and crops at floor offsets, as the spec does.
FAMILIES["dinov2"] = Family(
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
# VideoMAE v1 in transformers' format (MCG-NJU/videomae-*; docs/encoders_more.md §5): the same network and the
# official protocol as videomae_v1 (K400: 16 frames at rate 4, 5 clips × 3 crops). The SSv2 fine-tunes
# were evaluated as the official SSv2 test does: 16 segments, 2 clips × 3 crops. The Hub configs say
# layer_norm_eps 1e-12; fc_norm is torch's default 1e-5.
FAMILIES["videomae_hf"] = Family(
    "videomae_hf", "videomae_hf", dict(num_frames=16, tubelet_size=2), _VIDEOMAE_SPEC, "hf"
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
# SigLIP / fixed-resolution SigLIP 2 (transformers SiglipModel folders): an image model, each frame alone,
# the MAP-head embeddings averaged over frames. Published preprocessing: direct resize to the model's
# square size (no crop), x/255, mean = std = 0.5 → [-1, 1] (docs/encoders_more.md §3; the processor
# resamples with Pillow's bilinear filter, as the spec does). The frames: 8 TSN
# middles, this project's choice (the references define no video protocol).
_SIGLIP_SPEC = VideoSpec(
    num_frames=8,
    sampler="tsn",
    resize="squash_pil_bilinear",
    crop="none",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
)
FAMILIES["siglip"] = Family("siglip", "siglip", dict(num_frames=8), _SIGLIP_SPEC, "hf")


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
# V-JEPA 2: the official frozen evaluation (facebookresearch/vjepa2 configs/eval/vitl/k400.yaml, tag
# "16x8x3"): 16 frames at frame_step 4, 8 temporal segments × 3 spatial views; EvalVideoTransform resizes the
# short side to the crop size (bilinear) and takes 3 crops along the long side; ImageNet mean/std. The
# segment sampler (VideoDataset, clips in equal partitions) is not in data/sampling.py: the closest rule,
# VideoMAE's dense test sampling at the same rate, stands in for it. Any even frame count runs (RoPE).
FAMILIES["vjepa2"] = Family(
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
    spec=dataclasses.replace(FAMILIES["vjepa2"].spec, resize_size=384, crop_size=384),
    description="V-JEPA 2 ViT-g/16, 384 px (facebook/vjepa2-vitg-fpc64-384; configs/eval/vitg-384/k400.yaml)",
)
# --- videoprism ---
# VideoPrism (google-deepmind/videoprism, official JAX code; .npz checkpoints on the Hub): frames in [0, 1]
# with no mean/std, 288² (patch 18, 16×16 tables), base 16 frames, large 8; the colabs resize each frame
# to 288² with mediapy (Pillow's Lanczos filter; square videos: the demo asserts the aspect, so a
# squash) and sample np.linspace(0, N, T, endpoint=False, dtype=int32) ("videoprism_linspace").
_VIDEOPRISM_SPEC = VideoSpec(
    num_frames=16,
    sampler="videoprism_linspace",
    resize="squash_pil_lanczos",
    resize_size=288,
    crop="none",
    crop_size=288,
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
)
FAMILIES["videoprism"] = Family(
    "videoprism", "videoprism", dict(patch_size=18, img_size=288), _VIDEOPRISM_SPEC, "videoprism_npz"
)
_VP_B = dict(pos_emb_shape=(16, 16, 16), num_frames=16, model_dim=768, num_spatial_layers=12, num_heads=12)
_VP_L = dict(pos_emb_shape=(8, 16, 16), num_frames=8, model_dim=1024, num_spatial_layers=24, num_heads=16)
_VP_COMMON = dict(num_temporal_layers=4, atten_logit_cap=50.0)
_VP_LVT = dict(num_auxiliary_layers=2, vocabulary_size=32_000, num_unimodal_layers=12)
_VP_SPEC_8 = dataclasses.replace(_VIDEOPRISM_SPEC, num_frames=8)
register(
    "videoprism-b",
    "videoprism",
    {**_VP_B, **_VP_COMMON, "mlp_dim": 3072},
    description="VideoPrism v1 base (flax_base_f16r288_repeated.npz), 16×288², mean of tokens",
)
register(
    "videoprism-l",
    "videoprism",
    {**_VP_L, **_VP_COMMON, "mlp_dim": 4096},
    spec=_VP_SPEC_8,
    description="VideoPrism v1 large (flax_large_f8r288_repeated.npz), 8×288², mean of tokens",
)
register(
    "videoprism-lvt-b",
    "videoprism",
    {**_VP_B, **_VP_COMMON, **_VP_LVT, "mlp_dim": 3072},
    description="VideoPrism LvT base (flax_lvt_base_f16r288_repeated.npz), video + text (c4_en)",
)
register(
    "videoprism-lvt-l",
    "videoprism",
    {**_VP_L, **_VP_COMMON, **_VP_LVT, "mlp_dim": 4096},
    spec=_VP_SPEC_8,
    description="VideoPrism LvT large (flax_lvt_large_f8r288_repeated.npz), video + text (c4_en)",
)

"""VideoPrism and VideoPrism LvT (video-text): the colab's input and the public sizes."""

from __future__ import annotations

import dataclasses

from gesture_jax.data.spec import VideoSpec
from gesture_jax.models.registry import Family, register, register_family

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
register_family(
    Family("videoprism", "videoprism", dict(patch_size=18, img_size=288), _VIDEOPRISM_SPEC, "videoprism_npz")
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

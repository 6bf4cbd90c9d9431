"""V-JEPA 2.1 (Meta, 2026): the video ViT encoder of facebookresearch/vjepa2 ``app/vjepa_2_1``.

Not V-JEPA 2.0 with new weights (`vjepa2`), though the blocks are the same pre-norm ones:

* RoPE pairs are interleaved: channels 2k and 2k+1 share ω_k = 10000^(−k/(d/2)) (2.0 tiles [θ | θ]);
  per head the first 3·d channels rotate by (t, h, w), d = 2·⌊⌊head_dim/3⌋/2⌋, the rest are left alone;
* the spatial positions are rescaled to the 16×16 pre-training grid (``interpolate_rope``):
  h' = h·(16 − 1)/(H_patches − 1), and w alike, so one patch row or column is refused (the reference divides
  by zero); t is the tubelet index;
* a learned modality embedding is added to every token: ``video_mod_embed`` after the video tokenizer, or,
  for a one-frame input, ``img_mod_embed`` after ``patch_embed_img`` (a Conv3d of temporal size 1);
* no position table and no final ``norm``: the output norm is ``norms_block[3]``, and the four
  hierarchical layers (blocks [2, 5, 8, 11] at depth 12, … [11, 23, 37, 47] at 48) each have their own
  LayerNorm, ``norms_block[j]``.

`tokens(video)` = ``norms_block[3]`` of the last block; `features` = their mean; `tokens(video, layers)`
takes hierarchical layers only, each through its own norm (`[len(layers), B, N, D]`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gesture_jax.models import family, keymap, layers, registry, token_layout, vjepa2
from gesture_jax.models.layers import block_indices

# The reference builds only these depths, each with its hierarchical layers (vision_transformer.py).
HIERARCHICAL_LAYERS = {12: (2, 5, 8, 11), 24: (5, 11, 17, 23), 40: (9, 19, 29, 39), 48: (11, 23, 37, 47)}
PRETRAINED_GRID = 16  # interpolate_rope's grid: 256/16 (patch 16) and 252/14 (patch 14)


@dataclasses.dataclass(frozen=True)
class VJEPA21Config:
    img_size: int = 384
    patch_size: int = 16
    num_frames: int = 16
    tubelet_size: int = 2
    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    layer_norm_eps: float = 1e-6
    drop_path_rate: float = 0.0

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def rope_dim(self) -> int:
        return 2 * ((self.head_dim // 3) // 2)

    @property
    def mlp_hidden(self) -> int:
        return int(self.embed_dim * self.mlp_ratio)

    @property
    def hierarchical_layers(self) -> tuple[int, ...]:
        if self.depth not in HIERARCHICAL_LAYERS:
            raise ValueError(
                f"V-JEPA 2.1 is built only at depths {sorted(HIERARCHICAL_LAYERS)} (its hierarchical "
                f"layers are defined for those), got depth {self.depth}"
            )
        return HIERARCHICAL_LAYERS[self.depth]


def rope_tables(grid: tuple[int, int, int], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin) float32 [t·h·w, 3·dim] for a t-major (t, h, w) grid: interleaved pairs, spatial positions
    rescaled to the pre-training grid."""
    t, h, w = grid
    if h < 2 or w < 2:
        raise ValueError(
            f"V-JEPA 2.1 rescales positions by (16 − 1)/(patches − 1): needs ≥ 2 patch rows and columns, "
            f"got {h}×{w}"
        )
    tt, hh, ww = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    scale = np.float32(PRETRAINED_GRID - 1)
    positions = (
        tt.ravel().astype(np.float32),
        hh.ravel().astype(np.float32) * scale / np.float32(h - 1),
        ww.ravel().astype(np.float32) * scale / np.float32(w - 1),
    )
    omega = np.arange(dim // 2, dtype=np.float32) / np.float32(dim / 2.0)
    omega = np.float32(1.0) / np.float32(10000.0) ** omega
    cos, sin = [], []
    for pos in positions:
        angle = pos[:, None] * omega[None, :]  # [N, dim/2]
        cos.append(np.repeat(np.cos(angle), 2, axis=1))  # θ0 θ0 θ1 θ1 …: interleaved pairs
        sin.append(np.repeat(np.sin(angle), 2, axis=1))
    return np.concatenate(cos, axis=1), np.concatenate(sin, axis=1)


class Attention(nnx.Module):
    """The reference's fused qkv [D → 3D] split as (3, heads, head_dim), RoPE on q and k."""

    def __init__(self, c: VJEPA21Config, *, dtype, attention_impl: str | None, rngs: nnx.Rngs):
        if c.embed_dim % c.num_heads:
            raise ValueError(f"width {c.embed_dim} is not divisible by {c.num_heads} heads")
        self.num_heads = c.num_heads
        self.attention_impl = attention_impl
        self.qkv = nnx.Linear(c.embed_dim, 3 * c.embed_dim, dtype=dtype, rngs=rngs)
        self.proj = nnx.Linear(c.embed_dim, c.embed_dim, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array, rope: tuple[jax.Array, jax.Array]) -> jax.Array:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, d // self.num_heads)
        q, k, v = vjepa2.apply_rope(qkv[:, :, 0], *rope), vjepa2.apply_rope(qkv[:, :, 1], *rope), qkv[:, :, 2]
        return self.proj(layers.attention(q, k, v, impl=self.attention_impl).reshape(b, n, d))


class VJEPA21(nnx.Module):
    def __init__(
        self, config: VJEPA21Config, *, dtype=jnp.float32, attention_impl: str | None = None, rngs: nnx.Rngs
    ):
        c = self.config = config
        c.hierarchical_layers  # noqa: B018 (fails on a depth the reference cannot build)
        if c.rope_dim == 0:
            raise ValueError(f"head_dim {c.head_dim} is too small for 3-D RoPE (needs at least 6)")
        self.dtype = dtype
        self.patch_embed = layers.TubeletEmbed(
            3, c.embed_dim, c.patch_size, c.tubelet_size, dtype=dtype, rngs=rngs
        )
        self.patch_embed_img = layers.TubeletEmbed(3, c.embed_dim, c.patch_size, 1, dtype=dtype, rngs=rngs)
        self.video_mod_embed = nnx.Param(jnp.zeros((1, 1, c.embed_dim)))
        self.img_mod_embed = nnx.Param(jnp.zeros((1, 1, c.embed_dim)))
        self.blocks = nnx.List(
            [
                vjepa2.Block(
                    c, dtype=dtype, attention_impl=attention_impl, rngs=rngs, attention_class=Attention
                )
                for _ in range(c.depth)
            ]
        )
        self.norms_block = nnx.List(
            [layers.layer_norm(c.embed_dim, c.layer_norm_eps, dtype, rngs) for _ in range(4)]
        )

    def _embed(self, video: jax.Array) -> tuple[jax.Array, tuple[int, int, int]]:
        """[B, T, H, W, 3] → tokens with the modality embedding, and their (t, h, w) grid."""
        c = self.config
        if video.ndim != 5 or video.shape[-1] != 3:
            raise ValueError(f"expected video [B, T, H, W, 3], got {tuple(video.shape)}")
        t, h, w = video.shape[1:4]
        if h % c.patch_size or w % c.patch_size:
            raise ValueError(f"frames of {h}×{w} are not whole {c.patch_size}×{c.patch_size} patches")
        video = video.astype(self.dtype)
        if t == 1:  # an image: its own tokenizer and modality embedding, temporal position 0
            x = self.patch_embed_img(video) + self.img_mod_embed[...].astype(self.dtype)
            return x, (1, h // c.patch_size, w // c.patch_size)
        if t % c.tubelet_size:
            raise ValueError(
                f"V-JEPA 2.1 takes 1 frame or a multiple of its tubelet size {c.tubelet_size}, got {t}"
            )
        x = self.patch_embed(video) + self.video_mod_embed[...].astype(self.dtype)
        return x, (t // c.tubelet_size, h // c.patch_size, w // c.patch_size)

    def tokens(
        self, video: jax.Array, layers: Sequence[int] | None = None, *, drop_path_key: jax.Array | None = None
    ) -> jax.Array:
        """[B, T, H, W, 3] (T = 1: an image) → [B, N, D], ``norms_block[3]`` of the last block; with
        hierarchical layers (of ``config.hierarchical_layers``, negative counting from the end), each
        through its own ``norms_block[j]``, stacked [len(layers), B, N, D]."""
        c = self.config
        hierarchy = c.hierarchical_layers
        keep = block_indices(layers, c.depth) if layers is not None else ()
        unknown = [i for i in keep if i not in hierarchy]
        if unknown:
            raise ValueError(
                f"V-JEPA 2.1 gives block outputs through their own norms for its hierarchical layers "
                f"{list(hierarchy)} only, got {unknown}"
            )
        x, grid = self._embed(video)
        cos, sin = rope_tables(grid, c.rope_dim)
        rope = (jnp.asarray(cos), jnp.asarray(sin))
        rates = np.linspace(0.0, c.drop_path_rate, c.depth)
        kept = {}
        for i, (block, rate) in enumerate(zip(self.blocks, rates)):
            key = jax.random.fold_in(drop_path_key, i) if drop_path_key is not None else None
            x = block(x, rope, drop_rate=float(rate), key=key)
            if i in keep:
                kept[i] = self.norms_block[hierarchy.index(i)](x)
        return jnp.stack([kept[i] for i in keep]) if keep else self.norms_block[3](x)

    def describe_feature(self) -> str:
        return "mean of the final tokens (after norms_block[3])"

    def token_layout(self, video_shape: tuple[int, ...]) -> token_layout.TokenLayout:
        """A (t, h, w) grid, t-major (one frame: one temporal position)."""
        c = self.config
        tubelet = 1 if video_shape[1] == 1 else c.tubelet_size
        return token_layout.TokenLayout(token_layout.patches(video_shape, c.patch_size, tubelet))

    def features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        return self.tokens(video, drop_path_key=drop_path_key).astype(jnp.float32).mean(axis=1)


CONFIG_CLASS = VJEPA21Config


def build(
    model_config: dict, *, dtype=jnp.float32, attention_impl: str | None = None, rngs: nnx.Rngs
) -> VJEPA21:
    config = registry.dataclass_from_dict(VJEPA21Config, model_config, "V-JEPA 2.1")
    return VJEPA21(config, dtype=dtype, attention_impl=attention_impl, rngs=rngs)


def buffers(model_config: dict) -> dict[str, np.ndarray]:
    return {}  # RoPE comes from the input's grid


def adapt_params(params: dict, old: dict, new: dict) -> dict:
    """Another frame count or size: no table, so the weights are unchanged."""
    if new["num_frames"] != 1 and new["num_frames"] % new.get("tubelet_size", 2):
        raise ValueError("V-JEPA 2.1 takes 1 frame or a multiple of its tubelet size")
    return params


def layer_index(path: tuple, model_config: dict) -> int:
    return family.block_layer_index(
        path, model_config["depth"], ("patch_embed", "patch_embed_img", "video_mod_embed", "img_mod_embed")
    )


def num_layers(model_config: dict) -> int:
    return model_config["depth"] + 2


# --- checkpoint port ------------------------------------------------------------------------------------

_B = "blocks.{i}"

KEYMAP = keymap.KeyMap(
    rules=(
        keymap.Rule("patch_embed.proj.weight", "patch_embed.proj.kernel", keymap.conv3d),
        keymap.Rule("patch_embed.proj.bias", "patch_embed.proj.bias"),
        keymap.Rule("patch_embed_img.proj.weight", "patch_embed_img.proj.kernel", keymap.conv3d),
        keymap.Rule("patch_embed_img.proj.bias", "patch_embed_img.proj.bias"),
        keymap.Rule("video_mod_embed", "video_mod_embed"),
        keymap.Rule("img_mod_embed", "img_mod_embed"),
        *keymap.norm(f"{_B}.norm1", f"{_B}.norm1"),
        *keymap.norm(f"{_B}.norm2", f"{_B}.norm2"),
        *keymap.dense(f"{_B}.attn.qkv", f"{_B}.attention.qkv"),
        *keymap.dense(f"{_B}.attn.proj", f"{_B}.attention.proj"),
        *keymap.dense(f"{_B}.mlp.fc1", f"{_B}.mlp.fc1"),
        *keymap.dense(f"{_B}.mlp.fc2", f"{_B}.mlp.fc2"),
        *keymap.norm("norms_block.{i}", "norms_block.{i}"),
    ),
    # The training code wraps the encoder in MultiSeqWrapper (backbone.) and DDP (module.).
    prefixes=keymap.WRAPPER_PREFIXES,
    dropped=(),
)

# The released files hold the encoder under one of these (the hub: ViT-B/L ema_encoder, g/G target_encoder).
STATE_KEYS = ("ema_encoder", "target_encoder")


def checkpoint_facts(sd: dict[str, np.ndarray], config: dict[str, Any], drop_head: bool) -> dict[str, Any]:
    del sd, drop_head  # the sizes come from --variant or --model_config; shapes are checked against them
    return dict(config)

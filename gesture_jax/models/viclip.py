"""ViCLIP (InternVid): a CLIP ViT with joint space-time attention, and CLIP's text tower.

Vision: per-frame patches get a learned spatial table, then a learned temporal table; tokens are ordered
spatial-major, temporal-minor (patch n of frame t at 1 + n·T + t) behind one class token. The video
feature is the L2-normalised ``ln_post(CLS) @ proj``. Text: causal transformer, the row at the first EOT
(the largest id) after ``ln_final``, ``@ text_projection``, L2-normalised. LayerNorm eps 1e-5, QuickGELU.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gesture_jax.models import family, keymap, layers, pos_embed, registry, token_layout
from gesture_jax.models.layers import block_indices, run_blocks


@dataclasses.dataclass(frozen=True)
class ViCLIPConfig:
    img_size: int = 224
    patch_size: int = 16
    num_frames: int = 8
    tubelet_size: int = 1
    width: int = 768
    layers: int = 12
    heads: int = 12
    output_dim: int = 512  # joint embedding size
    text_width: int = 512
    text_layers: int = 12
    text_heads: int = 8
    vocab_size: int = 49408
    context_length: int = 32
    mlp_ratio: float = 4.0
    layer_norm_eps: float = 1e-5
    drop_path_rate: float = 0.0  # stochastic depth of the vision tower in training

    @property
    def grid(self) -> int:
        return self.img_size // self.patch_size


def _blocks(width, heads, depth, config, *, dtype, attention_impl, rngs):
    return nnx.List(
        [
            layers.Block(
                width,
                heads,
                int(width * config.mlp_ratio),
                eps=config.layer_norm_eps,
                activation="quick_gelu",
                qkv_bias="full",
                dtype=dtype,
                attention_impl=attention_impl,
                rngs=rngs,
            )
            for _ in range(depth)
        ]
    )


def _param(rngs: nnx.Rngs, *shape: int, scale: float = 0.02) -> nnx.Param:
    return nnx.Param(scale * jax.random.normal(rngs.params(), shape, jnp.float32))


class VisionTower(nnx.Module):
    def __init__(self, c: ViCLIPConfig, *, dtype, attention_impl, rngs: nnx.Rngs):
        self.dtype = dtype
        self.config = c
        self.conv1 = layers.TubeletEmbed(
            3, c.width, c.patch_size, c.tubelet_size, use_bias=False, dtype=dtype, rngs=rngs
        )
        self.class_embedding = _param(rngs, c.width)
        self.positional_embedding = _param(rngs, c.grid * c.grid + 1, c.width)
        self.temporal_positional_embedding = nnx.Param(jnp.zeros((1, c.num_frames, c.width), jnp.float32))
        self.ln_pre = layers.layer_norm(c.width, c.layer_norm_eps, dtype, rngs)
        self.blocks = _blocks(
            c.width, c.heads, c.layers, c, dtype=dtype, attention_impl=attention_impl, rngs=rngs
        )
        self.ln_post = layers.layer_norm(c.width, c.layer_norm_eps, dtype, rngs)
        self.proj = _param(rngs, c.width, c.output_dim, scale=c.width**-0.5)

    def __call__(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        """[B, T, H, W, 3] → the video embedding [B, output_dim] (before L2 normalisation)."""
        x = self.ln_post(self._blocks(video, (), drop_path_key)[:, 0])
        return (x @ self.proj[...].astype(x.dtype)).astype(jnp.float32)

    def tokens(
        self, video: jax.Array, layers: Sequence[int] | None = None, *, drop_path_key: jax.Array | None = None
    ) -> jax.Array:
        """[B, T, H, W, 3] → [B, 1 + n·T, W]: the CLS token, then the patches (patch-major, frame-minor),
        after ``ln_post`` (the video embedding projects the first); with block indices, those blocks'
        outputs [len(layers), B, 1 + n·T, W] before any norm, as the reference's blocks give them."""
        if layers is not None:
            return self._blocks(video, block_indices(layers, len(self.blocks)), drop_path_key)
        return self.ln_post(self._blocks(video, (), drop_path_key))

    def _blocks(self, video: jax.Array, keep: tuple[int, ...], drop_path_key: jax.Array | None) -> jax.Array:
        """The last block's output [B, 1 + n·T, W], or the kept blocks' stacked."""
        c = self.config
        b, t = video.shape[:2]
        if tuple(video.shape[2:]) != (c.img_size, c.img_size, 3):
            raise ValueError(f"expected video [B, T, {c.img_size}, {c.img_size}, 3], got {video.shape}")
        x = self.conv1(video.astype(self.dtype)).reshape(b, t, c.grid * c.grid, c.width)
        pos = self.positional_embedding[...]
        temporal = _temporal_table(self.temporal_positional_embedding[...][0], t)  # [t, W]
        x = x + (pos[1:][None, None] + temporal[None, :, None]).astype(x.dtype)
        x = x.transpose(0, 2, 1, 3).reshape(b, -1, c.width)  # patch-major, frame-minor: 1 + n·T + t
        cls = (self.class_embedding[...] + pos[0]).astype(x.dtype)
        x = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, c.width)), x], axis=1)
        x = self.ln_pre(x)
        return run_blocks(self.blocks, x, drop_path_rate=c.drop_path_rate, key=drop_path_key, keep=keep)


def _temporal_table(table: jax.Array, frames: int) -> jax.Array:
    """The [T, W] table for `frames` frames: the mean for one frame (an image), as the reference's
    forward; otherwise the official loader's rule, linear interpolation up and truncation down."""
    if frames == 1:
        return table.mean(axis=0, keepdims=True)
    if frames <= table.shape[0]:
        return table[:frames]
    i0, i1, w = pos_embed.linear_taps(table.shape[0], frames)
    w = jnp.asarray(w, table.dtype)[:, None]
    return table[i0] * (1 - w) + table[i1] * w


class TextTower(nnx.Module):
    def __init__(self, c: ViCLIPConfig, *, dtype, attention_impl, rngs: nnx.Rngs):
        self.dtype = dtype
        self.config = c
        self.token_embedding = nnx.Embed(c.vocab_size, c.text_width, dtype=dtype, rngs=rngs)
        self.positional_embedding = _param(rngs, c.context_length, c.text_width, scale=0.01)
        self.blocks = _blocks(
            c.text_width,
            c.text_heads,
            c.text_layers,
            c,
            dtype=dtype,
            attention_impl=attention_impl,
            rngs=rngs,
        )
        self.ln_final = layers.layer_norm(c.text_width, c.layer_norm_eps, jnp.float32, rngs)
        self.text_projection = _param(rngs, c.text_width, c.output_dim, scale=c.text_width**-0.5)

    def __call__(self, token_ids: jax.Array) -> jax.Array:
        """int [N, context_length] → the text embedding [N, output_dim] (before L2 normalisation)."""
        c = self.config
        if token_ids.ndim != 2 or token_ids.shape[1] != c.context_length:
            raise ValueError(f"expected token ids [N, {c.context_length}], got {token_ids.shape}")
        x = self.token_embedding(token_ids) + self.positional_embedding[...].astype(self.dtype)
        x = layers.run_blocks(self.blocks, x, is_causal=True)
        x = self.ln_final(x.astype(jnp.float32))  # the reference's LayerNorm runs in float32
        eot = jnp.argmax(token_ids, axis=-1)  # EOT has the largest id; argmax takes the first
        x = jnp.take_along_axis(x, eot[:, None, None], axis=1)[:, 0]
        return x @ self.text_projection[...]


class ViCLIP(nnx.Module):
    def __init__(self, config: ViCLIPConfig, *, dtype=jnp.float32, attention_impl=None, rngs: nnx.Rngs):
        self.config = config
        self.vision = VisionTower(config, dtype=dtype, attention_impl=attention_impl, rngs=rngs)
        self.text = TextTower(config, dtype=dtype, attention_impl=attention_impl, rngs=rngs)
        self.temp = nnx.Param(jnp.asarray(0.01, jnp.float32))  # CLIP temperature; zero-shot uses 100

    def video_embed(self, video: jax.Array) -> jax.Array:
        return self.vision(video)

    def tokens(self, video: jax.Array, layers: Sequence[int] | None = None) -> jax.Array:
        """The vision tower's tokens (`VisionTower.tokens`)."""
        return self.vision.tokens(video, layers)

    def token_layout(self, video_shape: tuple[int, ...]) -> token_layout.TokenLayout:
        """Where `tokens` sit: the CLS, then the (h, w) patches patch-major, frame-minor."""
        grid = token_layout.patches(video_shape, self.config.patch_size)
        return token_layout.TokenLayout(grid, order="hwt", prefix=1)

    def describe_feature(self) -> str:
        """What `features` returns, in words (feature-cache manifests)."""
        return "L2-normalised ln_post(CLS) @ proj"

    def features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        """The KNN / zero-shot video feature: the L2-normalised video embedding."""
        return _l2_normalize(self.vision(video, drop_path_key=drop_path_key))

    def text_embed(self, token_ids: jax.Array) -> jax.Array:
        return self.text(token_ids)

    def encode_text(self, token_ids: jax.Array) -> jax.Array:
        """L2-normalised text features for CLIP token ids [N, context_length]."""
        return _l2_normalize(self.text(token_ids))


def _l2_normalize(x: jax.Array) -> jax.Array:
    return x / jnp.linalg.norm(x, axis=-1, keepdims=True)


# Zero-shot as ViCLIP's demo: CLIP's BPE at the config's context (32), softmax of 100 · cosine.
TEXT = family.TextTower("clip_bpe", "softmax", vocabulary="clip_merges")
CONFIG_CLASS = ViCLIPConfig


def layer_index(path: tuple, model_config: dict) -> int:
    """Depth of a parameter for layer-wise learning-rate decay: the vision tower's embeddings 0, block
    i → i + 1, ln_post and proj layers + 1. The text tower is never fine-tuned here (-1: frozen)."""
    if path[0] != "vision":
        return -1
    if path[1] == "blocks":
        return int(path[2]) + 1
    if path[1] in ("ln_post", "proj"):
        return model_config["layers"] + 1
    return 0


def num_layers(model_config: dict) -> int:
    return model_config["layers"] + 2


def build(model_config: dict, *, dtype=jnp.float32, attention_impl=None, rngs: nnx.Rngs) -> ViCLIP:
    config = registry.dataclass_from_dict(ViCLIPConfig, model_config, "ViCLIP")
    return ViCLIP(config, dtype=dtype, attention_impl=attention_impl, rngs=rngs)


def buffers(model_config: dict) -> dict[str, np.ndarray]:
    return {}  # every ViCLIP array is a stored parameter


def adapt_params(params: dict, old: dict, new: dict) -> dict:
    """Another frame count: the temporal table is linearly interpolated (more) or truncated (fewer),
    as the official training repo's loader does; every other weight is unchanged."""
    key = "vision.temporal_positional_embedding"
    return {**params, key: pos_embed.resize_temporal(params[key], new["num_frames"])}


# --- checkpoint port (the family contract's checkpoint side: gesture_jax.models.family) ---------------


def _clip_blocks(torch: str, ours: str) -> list[keymap.Rule]:
    t, o = f"{torch}.transformer.resblocks.{{i}}", f"{ours}.blocks.{{i}}"
    return [
        keymap.Rule(f"{t}.attn.in_proj_weight", f"{o}.attn.qkv.kernel", keymap.linear),
        keymap.Rule(f"{t}.attn.in_proj_bias", f"{o}.attn.qkv.bias"),
        *keymap.dense(f"{t}.attn.out_proj", f"{o}.attn.proj"),
        *keymap.norm(f"{t}.ln_1", f"{o}.norm1"),
        *keymap.norm(f"{t}.ln_2", f"{o}.norm2"),
        *keymap.dense(f"{t}.mlp.c_fc", f"{o}.mlp.fc1"),
        *keymap.dense(f"{t}.mlp.c_proj", f"{o}.mlp.fc2"),
    ]


KEYMAP = keymap.KeyMap(
    rules=(
        keymap.Rule("vision_encoder.conv1.weight", "vision.conv1.proj.kernel", keymap.conv3d),
        *(
            keymap.Rule(f"vision_encoder.{name}", f"vision.{name}")
            for name in ("class_embedding", "positional_embedding", "temporal_positional_embedding", "proj")
        ),
        *keymap.norm("vision_encoder.ln_pre", "vision.ln_pre"),
        *keymap.norm("vision_encoder.ln_post", "vision.ln_post"),
        *_clip_blocks("vision_encoder", "vision"),
        keymap.Rule("text_encoder.token_embedding.weight", "text.token_embedding.embedding"),
        keymap.Rule("text_encoder.positional_embedding", "text.positional_embedding"),
        keymap.Rule("text_encoder.text_projection", "text.text_projection"),
        *keymap.norm("text_encoder.ln_final", "text.ln_final"),
        *_clip_blocks("text_encoder", "text"),
        keymap.Rule("temp", "temp"),
    ),
)


def checkpoint_facts(sd: dict[str, np.ndarray], config: dict[str, Any], drop_head: bool) -> dict[str, Any]:
    del drop_head  # ViCLIP has no classifier head
    table = sd.get("vision_encoder.temporal_positional_embedding")
    return {**config, "num_frames": int(table.shape[1])} if table is not None else config


# The official ViCLIP constructor's arguments (a fixture's config JSON) → our config fields.
_REFERENCE_FIELDS = {
    "vision": dict(
        input_resolution="img_size",
        patch_size="patch_size",
        width="width",
        layers="layers",
        heads="heads",
        output_dim="output_dim",
        kernel_size="tubelet_size",
        num_frames="num_frames",
        mlp_ratio="mlp_ratio",
        layer_norm_eps="layer_norm_eps",
    ),
    "text": dict(
        width="text_width",
        layers="text_layers",
        heads="text_heads",
        vocab_size="vocab_size",
        context_length="context_length",
    ),
}


def reference_config(data: dict[str, Any]) -> dict[str, Any]:
    """Our config fields from the reference constructor's ``vision``/``text`` argument blocks."""
    return {
        ours: data[part][theirs]
        for part, names in _REFERENCE_FIELDS.items()
        if isinstance(data.get(part), dict)
        for theirs, ours in names.items()
        if theirs in data[part]
    }

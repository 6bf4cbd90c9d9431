"""DINOv2 (Meta) as transformers' ``Dinov2Model`` computes it, applied to each frame of a video alone.

Per frame: 2-D patch embedding → CLS token in front → learned position table (CLS + a G×G grid, G = 37 for
the released 518-px tables) → pre-norm blocks with layer scale (``x += λ1·attn(LN1 x); x += λ2·ffn(LN2 x)``;
exact-GELU MLP, or SwiGLU for ViT-g) → final LayerNorm. The video feature is the mean over frames of each
frame's CLS token after that LayerNorm (``pooler_output``). Frames of another size get the table resized
as transformers' ``interpolate_pos_encoding`` does: the G×G grid resized to the new one with torch's bicubic
(``align_corners=False``, no antialiasing, in float32), the CLS position kept; it is used unchanged when
the grid matches and the frame is square. (The official facebookresearch code resizes by a scale factor
with a +0.1 offset, a slightly different grid; the fixture and this port follow transformers.)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gesture_jax.models import family, fused_qkv, keymap, layers, pos_embed, registry, token_layout
from gesture_jax.models.layers import block_indices, run_blocks


@dataclasses.dataclass(frozen=True)
class Dinov2Config:
    patch_size: int = 14
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    layer_norm_eps: float = 1e-6
    qkv_bias: bool = True
    use_swiglu_ffn: bool = False  # ViT-g/14: SwiGLU FFN (weights_in = [gate | up], weights_out)
    pos_grid: int = 37  # the stored table's grid (config.json image_size // patch_size): 1 + G² positions
    # The evaluation protocol's geometry (each frame is encoded alone; no weight depends on these):
    num_frames: int = 8
    img_size: int = 224
    drop_path_rate: float = 0.0  # stochastic depth in training

    @property
    def mlp_hidden(self) -> int:
        """The FFN width: int(D·ratio); SwiGLU: transformers' ⌈int(that·2/3) / 8⌉·8 (4096 for ViT-g)."""
        hidden = int(self.embed_dim * self.mlp_ratio)
        return (int(hidden * 2 / 3) + 7) // 8 * 8 if self.use_swiglu_ffn else hidden


class PatchEmbed(nnx.Module):
    """A Conv2d with stride = kernel = patch: [N, H, W, 3] → [N, H//p, W//p, D]."""

    def __init__(self, dim: int, patch: int, *, dtype, rngs: nnx.Rngs):
        self.proj = nnx.Conv(
            3, dim, (patch, patch), strides=(patch, patch), padding="VALID", dtype=dtype, rngs=rngs
        )

    def __call__(self, images: jax.Array) -> jax.Array:
        return self.proj(images)


class SwiGLU(nnx.Module):
    """transformers' Dinov2SwiGLUFFN: weights_out(silu(gate) · up) with [gate | up] = weights_in(x)."""

    def __init__(self, dim: int, hidden: int, *, dtype, rngs: nnx.Rngs):
        self.weights_in = nnx.Linear(dim, 2 * hidden, dtype=dtype, rngs=rngs)
        self.weights_out = nnx.Linear(hidden, dim, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        gate, up = jnp.split(self.weights_in(x), 2, axis=-1)
        return self.weights_out(jax.nn.silu(gate) * up)


class Dinov2Block(layers.Block):
    """`layers.Block` (pre-norm, layer scale always on) with a full q/k/v bias and the family's FFN."""

    def __init__(self, c: Dinov2Config, *, dtype, attention_impl: str | None, rngs: nnx.Rngs):
        d = c.embed_dim
        self.norm1 = layers.layer_norm(d, c.layer_norm_eps, dtype, rngs)
        self.attn = layers.Attention(
            d,
            c.num_heads,
            qkv_bias="full" if c.qkv_bias else "none",
            dtype=dtype,
            attention_impl=attention_impl,
            rngs=rngs,
        )
        self.norm2 = layers.layer_norm(d, c.layer_norm_eps, dtype, rngs)
        if c.use_swiglu_ffn:
            self.mlp = SwiGLU(d, c.mlp_hidden, dtype=dtype, rngs=rngs)
        else:
            self.mlp = layers.Mlp(d, c.mlp_hidden, activation="gelu", dtype=dtype, rngs=rngs)
        self.gamma_1 = nnx.Param(jnp.ones((d,), jnp.float32))  # layer_scale1.lambda1
        self.gamma_2 = nnx.Param(jnp.ones((d,), jnp.float32))  # layer_scale2.lambda1
        self.layer_scale = True


@functools.lru_cache(maxsize=32)
def resize_matrix(n: int, size: int) -> np.ndarray:
    """[size, n]: torch's bicubic resize (``align_corners=False``, no antialias) of n points to `size`, as
    a matrix (`pos_embed.resize_bicubic` applied to the identity), so it runs on traced parameters."""
    return pos_embed.resize_bicubic(np.eye(n), size, axis=0)


class Dinov2(nnx.Module):
    def __init__(
        self, config: Dinov2Config, *, dtype=jnp.float32, attention_impl: str | None = None, rngs: nnx.Rngs
    ):
        c = self.config = config
        self.dtype = dtype
        d = c.embed_dim
        self.patch_embed = PatchEmbed(d, c.patch_size, dtype=dtype, rngs=rngs)
        init = nnx.initializers.truncated_normal(0.02)
        self.cls_token = nnx.Param(init(rngs.params(), (1, 1, d), jnp.float32))
        self.pos_embed = nnx.Param(init(rngs.params(), (1, 1 + c.pos_grid**2, d), jnp.float32))
        self.blocks = nnx.List(
            [Dinov2Block(c, dtype=dtype, attention_impl=attention_impl, rngs=rngs) for _ in range(c.depth)]
        )
        self.norm = layers.layer_norm(d, c.layer_norm_eps, dtype, rngs)

    def position_table(self, height: int, width: int) -> jax.Array:
        """[1, 1 + h·w, D] for an (h, w) patch grid of a `height`×`width` frame (transformers' rule)."""
        g = self.config.pos_grid
        table = self.pos_embed[...]
        h, w = height // self.config.patch_size, width // self.config.patch_size
        if h * w == g * g and height == width:
            return table
        grid = table[0, 1:].astype(jnp.float32).reshape(g, g, -1)
        hp = jax.lax.Precision.HIGHEST
        grid = jnp.einsum("ig,gkd->ikd", jnp.asarray(resize_matrix(g, h), jnp.float32), grid, precision=hp)
        grid = jnp.einsum("jk,ikd->ijd", jnp.asarray(resize_matrix(g, w), jnp.float32), grid, precision=hp)
        return jnp.concatenate([table[:, :1], grid.reshape(1, h * w, -1).astype(table.dtype)], axis=1)

    def tokens(
        self, video: jax.Array, layers: Sequence[int] | None = None, *, drop_path_key: jax.Array | None = None
    ) -> jax.Array:
        """[B, T, H, W, 3] → [B, T·(1 + N), D]: every frame's tokens (its CLS, then its patches), frame
        after frame, after the final LayerNorm (``last_hidden_state`` per frame); with block indices,
        those blocks' outputs [len(layers), B, T·(1 + N), D] before it (``hidden_states[i + 1]``)."""
        keep = block_indices(layers, len(self.blocks)) if layers is not None else ()
        x = self.frame_tokens(video, keep=keep, drop_path_key=drop_path_key)
        return x.reshape(*x.shape[:-3], -1, x.shape[-1])

    def token_layout(self, video_shape: tuple[int, ...]) -> token_layout.TokenLayout:
        """Where `tokens` sit: frame after frame, each frame's CLS then its (h, w) patches."""
        grid = token_layout.patches(video_shape, self.config.patch_size)
        return token_layout.TokenLayout(grid, frame_prefix=1)

    def frame_tokens(
        self, video: jax.Array, *, keep: tuple[int, ...] = (), drop_path_key: jax.Array | None = None
    ) -> jax.Array:
        """[B, T, H, W, 3] → [B, T, 1 + N, D]: each frame's ``last_hidden_state`` (after the final LN);
        with `keep`, those blocks' outputs [len(keep), B, T, 1 + N, D]."""
        if video.ndim != 5 or video.shape[-1] != 3:
            raise ValueError(f"expected video [B, T, H, W, 3], got {tuple(video.shape)}")
        b, t, height, width = video.shape[:4]
        p = self.config.patch_size
        if height < p or width < p:
            raise ValueError(f"frames of {height}×{width} are smaller than one {p}×{p} patch")
        x = self.patch_embed(video.reshape(b * t, height, width, 3).astype(self.dtype))
        x = x.reshape(b * t, -1, x.shape[-1])
        cls = jnp.broadcast_to(self.cls_token[...].astype(x.dtype), (b * t, 1, x.shape[-1]))
        x = jnp.concatenate([cls, x], axis=1) + self.position_table(height, width).astype(x.dtype)
        x = run_blocks(
            self.blocks, x, drop_path_rate=self.config.drop_path_rate, key=drop_path_key, keep=keep
        )
        x = x if keep else self.norm(x)
        return x.reshape(*x.shape[:-3], b, t, *x.shape[-2:])

    def frame_features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        """[B, T, D] float32: each frame's CLS after the final LN (``pooler_output``)."""
        return self.frame_tokens(video, drop_path_key=drop_path_key)[:, :, 0].astype(jnp.float32)

    def describe_feature(self) -> str:
        """What `features` returns, in words (feature-cache manifests)."""
        return "mean over frames of each frame's CLS token after the final LayerNorm"

    def features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        """The KNN feature [B, D], float32 (`drop_path_key`: training with stochastic depth)."""
        return self.frame_features(video, drop_path_key=drop_path_key).mean(axis=1)


CONFIG_CLASS = Dinov2Config


def _config(model_config: dict) -> Dinov2Config:
    return registry.dataclass_from_dict(Dinov2Config, model_config, "DINOv2")


def build(
    model_config: dict, *, dtype=jnp.float32, attention_impl: str | None = None, rngs: nnx.Rngs
) -> Dinov2:
    return Dinov2(_config(model_config), dtype=dtype, attention_impl=attention_impl, rngs=rngs)


def buffers(model_config: dict) -> dict[str, np.ndarray]:
    return {}  # every variable is stored


def adapt_params(params: dict, old: dict, new: dict) -> dict:
    """Frames are encoded one by one: any frame count runs the same weights."""
    return params


def layer_index(path: tuple, model_config: dict) -> int:
    """Embeddings (patch, CLS, positions) 0, block i → i + 1, the final norm depth + 1."""
    return family.block_layer_index(path, model_config["depth"], ("patch_embed", "cls_token", "pos_embed"))


def num_layers(model_config: dict) -> int:
    return model_config["depth"] + 2


# --- checkpoint port: a transformers Dinov2Model folder (facebook/dinov2-*) ----------------------------


def conv2d(w: np.ndarray) -> np.ndarray:
    """torch Conv2d [O, I, kh, kw] → NNX [kh, kw, I, O]."""
    return w.transpose(2, 3, 1, 0)


_LAYER = "encoder.layer.{i}"
KEYMAP = keymap.KeyMap(
    rules=(
        keymap.Rule("embeddings.cls_token", "cls_token"),
        keymap.Rule("embeddings.position_embeddings", "pos_embed"),
        keymap.Rule("embeddings.patch_embeddings.projection.weight", "patch_embed.proj.kernel", conv2d),
        keymap.Rule("embeddings.patch_embeddings.projection.bias", "patch_embed.proj.bias"),
        *keymap.norm(f"{_LAYER}.norm1", "blocks.{i}.norm1"),
        *keymap.dense(f"{_LAYER}.attention.attention.qkv", "blocks.{i}.attn.qkv"),  # fused (prepare)
        *keymap.dense(f"{_LAYER}.attention.output.dense", "blocks.{i}.attn.proj"),
        keymap.Rule(f"{_LAYER}.layer_scale1.lambda1", "blocks.{i}.gamma_1"),
        *keymap.norm(f"{_LAYER}.norm2", "blocks.{i}.norm2"),
        *keymap.dense(f"{_LAYER}.mlp.fc1", "blocks.{i}.mlp.fc1"),
        *keymap.dense(f"{_LAYER}.mlp.fc2", "blocks.{i}.mlp.fc2"),
        *keymap.dense(f"{_LAYER}.mlp.weights_in", "blocks.{i}.mlp.weights_in"),
        *keymap.dense(f"{_LAYER}.mlp.weights_out", "blocks.{i}.mlp.weights_out"),
        keymap.Rule(f"{_LAYER}.layer_scale2.lambda1", "blocks.{i}.gamma_2"),
        *keymap.norm("layernorm", "norm"),
    ),
    # Dinov2ForImageClassification keeps the backbone under ``dinov2.``.
    prefixes=(*keymap.WRAPPER_PREFIXES, "dinov2."),
    # mask_token replaces masked patches in pre-training only; the image-classification head reads
    # cat(CLS, mean of patches), not this family's feature.
    dropped=(r"embeddings\.mask_token", r"classifier\..*"),
)


def prepare_checkpoint(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """transformers' separate query/key/value weights and biases → the fused ``attention.attention.qkv``."""
    return fused_qkv.fuse(tensors, r".*attention\.attention")


def config_from_source(config_json: dict[str, Any]) -> dict[str, Any]:
    """A transformers Dinov2Config (config.json) → our fields (its defaults where a field is absent)."""
    kind = config_json.get("model_type")
    if kind != "dinov2":
        raise ValueError(
            f"config.json has model_type {kind!r}; this family converts 'dinov2' folders "
            "(dinov2_with_registers adds register tokens this port does not have)"
        )
    act = config_json.get("hidden_act", "gelu")
    if act != "gelu" or config_json.get("num_channels", 3) != 3:
        raise ValueError(f"config.json: expected hidden_act 'gelu' and 3 channels, got {act!r}")
    image, patch = config_json.get("image_size", 224), config_json.get("patch_size", 14)
    if not isinstance(image, int) or not isinstance(patch, int):
        raise ValueError(f"config.json: square image_size and patch_size expected, got {image}, {patch}")
    return dict(
        patch_size=patch,
        embed_dim=config_json.get("hidden_size", 768),
        depth=config_json.get("num_hidden_layers", 12),
        num_heads=config_json.get("num_attention_heads", 12),
        mlp_ratio=float(config_json.get("mlp_ratio", 4)),
        layer_norm_eps=config_json.get("layer_norm_eps", 1e-6),
        qkv_bias=config_json.get("qkv_bias", True),
        use_swiglu_ffn=config_json.get("use_swiglu_ffn", False),
        pos_grid=image // patch,
    )


def checkpoint_facts(sd: dict[str, np.ndarray], config: dict[str, Any], drop_head: bool) -> dict[str, Any]:
    """The stored table's grid and the FFN kind, from the tensors themselves."""
    config = dict(config)
    table = sd.get("embeddings.position_embeddings")
    if table is not None and table.ndim == 3:
        grid = int(round((table.shape[1] - 1) ** 0.5))
        if grid * grid + 1 != table.shape[1]:
            raise ValueError(
                f"embeddings.position_embeddings has {table.shape[1]} rows; expected 1 + a square grid"
            )
        config["pos_grid"] = grid
    if any(k.endswith(".mlp.weights_in.weight") for k in sd):
        config["use_swiglu_ffn"] = True
    elif any(k.endswith(".mlp.fc1.weight") for k in sd):
        config["use_swiglu_ffn"] = False
    return config

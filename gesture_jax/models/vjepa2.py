"""V-JEPA 2 (Meta, 2025): the video ViT encoder with 3-D rotary position embeddings, as transformers'
``VJEPA2Model`` (the encoder; the predictor is a pre-training part, dropped on conversion).

Conv3d tubelets (2, 16, 16) → tokens t-major, then h, then w; no CLS and no position table → pre-norm
blocks whose attention rotates q and k (RoPE) per axis → the final LayerNorm (``last_hidden_state``).
The feature is the mean of those tokens. RoPE needs no table, so any even frame count runs; the spatial
size must be the checkpoint's crop, because transformers takes the positions' grid from the config.

RoPE, per head: the first 3·d channels are three blocks [t | h | w] of d = 2·⌊⌊head_dim/3⌋/2⌋ channels
(the rest are left as they are); block a rotates pairs (2k, 2k+1) by pos_a·ω with ω_j = 10000^(−j/(d/2)),
j = 0 … d/2−1, and the cos/sin rows tiled [θ | θ], not interleaved, so the two members of a pair use
different frequencies (the official code keeps this quirk; the checkpoints were trained with it).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gesture_jax.models import family, keymap, layers, registry, token_layout
from gesture_jax.models.layers import block_indices


@dataclasses.dataclass(frozen=True)
class VJEPA2Config:
    img_size: int = 256  # transformers' crop_size: the input's H = W, and the grid of the positions
    patch_size: int = 16
    num_frames: int = 16  # the evaluation protocol's clip; RoPE runs at any multiple of the tubelet
    tubelet_size: int = 2
    embed_dim: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    layer_norm_eps: float = 1e-6
    drop_path_rate: float = 0.0  # stochastic depth in fine-tuning

    @property
    def grid(self) -> int:
        return self.img_size // self.patch_size

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def rope_dim(self) -> int:
        """Channels per axis a head rotates: 2·⌊⌊head_dim/3⌋/2⌋ (20 for head_dim 64, 26 for 80)."""
        return 2 * ((self.head_dim // 3) // 2)

    @property
    def mlp_hidden(self) -> int:
        return int(self.embed_dim * self.mlp_ratio)  # as transformers' VJEPA2MLP (ViT-g: 1408·48/11 = 6144)


def rope_tables(num_tokens: int, grid: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin), each float32 [num_tokens, 3·dim]: the [t | h | w] blocks for tokens 0 … N−1 of a
    t-major, `grid`×`grid` layout (t counts tubelets). Computed in float32 as the reference does."""
    ids = np.arange(num_tokens)
    per_frame = grid * grid
    positions = (ids // per_frame, (ids % per_frame) // grid, ids % grid)
    omega = np.arange(dim // 2, dtype=np.float32) / np.float32(dim / 2.0)
    omega = np.float32(1.0) / np.float32(10000.0) ** omega
    cos, sin = [], []
    for pos in positions:
        angle = pos.astype(np.float32)[:, None] * omega[None, :]  # [N, dim/2]
        cos.append(np.tile(np.cos(angle), (1, 2)))  # [θ | θ]: tiled, not interleaved
        sin.append(np.tile(np.sin(angle), (1, 2)))
    return np.concatenate(cos, axis=1), np.concatenate(sin, axis=1)


def apply_rope(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    """x [B, N, heads, head_dim] with its first cos.shape[-1] channels rotated (in float32):
    x·C + rot(x)·S, where rot(x)[2k] = −x[2k+1] and rot(x)[2k+1] = x[2k]."""
    width = cos.shape[-1]
    head, rest = x[..., :width].astype(jnp.float32), x[..., width:]
    pairs = head.reshape(*head.shape[:-1], width // 2, 2)
    rotated = jnp.stack([-pairs[..., 1], pairs[..., 0]], axis=-1).reshape(head.shape)
    out = head * cos[None, :, None] + rotated * sin[None, :, None]
    return jnp.concatenate([out.astype(x.dtype), rest], axis=-1)


class RopeAttention(nnx.Module):
    """Self-attention with separate query/key/value projections and RoPE on q and k (not v)."""

    def __init__(self, c: VJEPA2Config, *, dtype, attention_impl: str | None, rngs: nnx.Rngs):
        if c.embed_dim % c.num_heads:
            raise ValueError(f"width {c.embed_dim} is not divisible by {c.num_heads} heads")
        self.num_heads = c.num_heads
        self.attention_impl = attention_impl

        def linear(bias: bool) -> nnx.Linear:
            return nnx.Linear(c.embed_dim, c.embed_dim, use_bias=bias, dtype=dtype, rngs=rngs)

        self.query, self.key, self.value = linear(c.qkv_bias), linear(c.qkv_bias), linear(c.qkv_bias)
        self.proj = linear(True)

    def __call__(self, x: jax.Array, rope: tuple[jax.Array, jax.Array]) -> jax.Array:
        b, n, d = x.shape

        def heads(t: jax.Array) -> jax.Array:
            return t.reshape(b, n, self.num_heads, d // self.num_heads)

        q = apply_rope(heads(self.query(x)), *rope)
        k = apply_rope(heads(self.key(x)), *rope)
        out = layers.attention(q, k, heads(self.value(x)), impl=self.attention_impl)
        return self.proj(out.reshape(b, n, d))


class Block(nnx.Module):
    """Pre-norm block: x + attn(norm1 x), then x + mlp(norm2 x); no layer scale. `attention_class`: the
    RoPE attention (V-JEPA 2.1's fuses q, k and v)."""

    def __init__(
        self, c, *, dtype, attention_impl: str | None, rngs: nnx.Rngs, attention_class: type | None = None
    ):
        self.norm1 = layers.layer_norm(c.embed_dim, c.layer_norm_eps, dtype, rngs)
        attention_class = attention_class or RopeAttention
        self.attention = attention_class(c, dtype=dtype, attention_impl=attention_impl, rngs=rngs)
        self.norm2 = layers.layer_norm(c.embed_dim, c.layer_norm_eps, dtype, rngs)
        self.mlp = layers.Mlp(c.embed_dim, c.mlp_hidden, activation="gelu", dtype=dtype, rngs=rngs)

    def __call__(
        self,
        x: jax.Array,
        rope: tuple[jax.Array, jax.Array],
        *,
        drop_rate: float = 0.0,
        key: jax.Array | None = None,
    ) -> jax.Array:
        keys = jax.random.split(key) if key is not None and drop_rate > 0 else (None, None)
        x = x + layers._drop_path(self.attention(self.norm1(x), rope), drop_rate, keys[0])
        return x + layers._drop_path(
            layers.token_map(lambda r: self.mlp(self.norm2(r)), x), drop_rate, keys[1]
        )


class VJEPA2(nnx.Module):
    def __init__(
        self, config: VJEPA2Config, *, dtype=jnp.float32, attention_impl: str | None = None, rngs: nnx.Rngs
    ):
        c = self.config = config
        if c.rope_dim == 0:
            raise ValueError(f"head_dim {c.head_dim} is too small for 3-D RoPE (needs at least 6)")
        self.dtype = dtype
        self.patch_embed = layers.TubeletEmbed(
            3, c.embed_dim, c.patch_size, c.tubelet_size, dtype=dtype, rngs=rngs
        )
        self.blocks = nnx.List(
            [Block(c, dtype=dtype, attention_impl=attention_impl, rngs=rngs) for _ in range(c.depth)]
        )
        self.norm = layers.layer_norm(c.embed_dim, c.layer_norm_eps, dtype, rngs)

    def _check_input(self, shape: tuple[int, ...]) -> None:
        c = self.config
        t, h, w = shape[1:4] if len(shape) == 5 else (None, None, None)
        if len(shape) != 5 or shape[4] != 3 or (h, w) != (c.img_size, c.img_size) or t % c.tubelet_size:
            raise ValueError(
                f"expected video [B, T, {c.img_size}, {c.img_size}, 3] with T a multiple of the tubelet size "
                f"{c.tubelet_size} (an odd last frame would be silently dropped by the tubelet convolution; "
                f"the positions' grid is the checkpoint's {c.grid}×{c.grid}, so only its crop size runs "
                f"as the reference does), got {tuple(shape)}"
            )

    def tokens(
        self, video: jax.Array, layers: Sequence[int] | None = None, *, drop_path_key: jax.Array | None = None
    ) -> jax.Array:
        """[B, T, H, W, 3] preprocessed frames → [B, N, D] tokens after the final LayerNorm (transformers'
        ``last_hidden_state``). T = 1 repeats the frame into one tubelet, as transformers does. With block
        indices, those blocks' outputs [len(layers), B, N, D] without the final norm, as transformers'
        ``hidden_states[i + 1]`` (V-JEPA 2 has no per-layer norms)."""
        keep = block_indices(layers, self.config.depth) if layers is not None else ()
        c = self.config
        if video.ndim == 5 and video.shape[1] < c.tubelet_size:
            video = jnp.repeat(video, c.tubelet_size, axis=1)
        self._check_input(video.shape)
        x = self.patch_embed(video.astype(self.dtype))
        cos, sin = rope_tables(x.shape[1], c.grid, c.rope_dim)
        rope = (jnp.asarray(cos), jnp.asarray(sin))
        rates = np.linspace(0.0, c.drop_path_rate, c.depth) if c.depth else []
        kept = {}
        for i, (block, rate) in enumerate(zip(self.blocks, rates)):
            key = jax.random.fold_in(drop_path_key, i) if drop_path_key is not None else None
            x = block(x, rope, drop_rate=float(rate), key=key)
            kept.update({i: x} if i in keep else {})
        return jnp.stack([kept[i] for i in keep]) if keep else self.norm(x)

    def describe_feature(self) -> str:
        """What `features` returns, in words (feature-cache manifests)."""
        return "mean of the final tokens (after the encoder's LayerNorm)"

    def token_layout(self, video_shape: tuple[int, ...]) -> token_layout.TokenLayout:
        """Where `tokens` sit: a (t, h, w) grid of tubelets, t-major (one frame is one tubelet)."""
        c = self.config
        return token_layout.TokenLayout(token_layout.patches(video_shape, c.patch_size, c.tubelet_size))

    def features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        """The KNN feature [B, D] in float32: the mean of `tokens`."""
        return self.tokens(video, drop_path_key=drop_path_key).astype(jnp.float32).mean(axis=1)


CONFIG_CLASS = VJEPA2Config


def build(
    model_config: dict, *, dtype=jnp.float32, attention_impl: str | None = None, rngs: nnx.Rngs
) -> VJEPA2:
    config = registry.dataclass_from_dict(VJEPA2Config, model_config, "V-JEPA 2")
    return VJEPA2(config, dtype=dtype, attention_impl=attention_impl, rngs=rngs)


def buffers(model_config: dict) -> dict[str, np.ndarray]:
    return {}  # RoPE is computed from the input's token count; nothing else is derived


def adapt_params(params: dict, old: dict, new: dict) -> dict:
    """Another frame count: RoPE has no table, so the weights are unchanged; T must fill tubelets."""
    tubelet = new.get("tubelet_size", VJEPA2Config.tubelet_size)
    if new["num_frames"] % tubelet:
        raise ValueError(f"V-JEPA 2 takes frame counts that are multiples of its tubelet size {tubelet}")
    return params


def layer_index(path: tuple, model_config: dict) -> int:
    """Depth for layer-wise learning-rate decay: the tubelet embedding 0, block i → i + 1, the final
    norm depth + 1."""
    return family.block_layer_index(path, model_config["depth"], ("patch_embed",))


def num_layers(model_config: dict) -> int:
    return model_config["depth"] + 2


# --- checkpoint port (the family contract's checkpoint side: gesture_jax.models.family) ---------------

_LAYER, _BLOCK = "encoder.layer.{i}", "blocks.{i}"

# transformers' VJEPA2Model names (the names its save_pretrained files keep).
KEYMAP = keymap.KeyMap(
    rules=(
        keymap.Rule(
            "encoder.embeddings.patch_embeddings.proj.weight", "patch_embed.proj.kernel", keymap.conv3d
        ),
        keymap.Rule("encoder.embeddings.patch_embeddings.proj.bias", "patch_embed.proj.bias"),
        *keymap.norm(f"{_LAYER}.norm1", f"{_BLOCK}.norm1"),
        *keymap.norm(f"{_LAYER}.norm2", f"{_BLOCK}.norm2"),
        *(
            rule
            for name in ("query", "key", "value", "proj")
            for rule in keymap.dense(f"{_LAYER}.attention.{name}", f"{_BLOCK}.attention.{name}")
        ),
        *keymap.dense(f"{_LAYER}.mlp.fc1", f"{_BLOCK}.mlp.fc1"),
        *keymap.dense(f"{_LAYER}.mlp.fc2", f"{_BLOCK}.mlp.fc2"),
        *keymap.norm("encoder.layernorm", "norm"),
    ),
    # VJEPA2ForVideoClassification repos put the encoder under ``vjepa2.``.
    prefixes=keymap.WRAPPER_PREFIXES + ("vjepa2.",),
    # The pre-training predictor (VJEPA2Model files), and the classifier repos' attentive probe and
    # linear classifier: none of them is part of the encoder whose tokens the feature averages.
    dropped=(r"predictor\..*", r"pooler\..*", r"classifier\..*"),
)


def checkpoint_facts(sd: dict[str, np.ndarray], config: dict[str, Any], drop_head: bool) -> dict[str, Any]:
    del sd, drop_head  # the geometry comes from config.json; shapes are checked against it
    return dict(config)


# transformers' VJEPA2Config fields → ours (the predictor's and the classifier's fields are not used).
# frames_per_clip (64 on the Hub) is the pre-training clip length, not the evaluation protocol's 16
# frames, so it is not taken: a converted folder's spec keeps the family's 16 (or --variant's).
_HF_FIELDS = dict(
    crop_size="img_size",
    patch_size="patch_size",
    tubelet_size="tubelet_size",
    hidden_size="embed_dim",
    num_hidden_layers="depth",
    num_attention_heads="num_heads",
    mlp_ratio="mlp_ratio",
    qkv_bias="qkv_bias",
    layer_norm_eps="layer_norm_eps",
)
# Options transformers has that this port implements with one value only.
_HF_FIXED = dict(model_type="vjepa2", hidden_act="gelu", in_chans=3)


def config_from_source(config_json: dict[str, Any]) -> dict[str, Any]:
    """Our config fields from a transformers folder's ``config.json`` (``VJEPA2Config``)."""
    for name, value in _HF_FIXED.items():
        if config_json.get(name, value) != value:
            raise ValueError(
                f"config.json has {name}={config_json[name]!r}; the V-JEPA 2 port implements {name}={value!r}"
            )
    return {ours: config_json[theirs] for theirs, ours in _HF_FIELDS.items() if theirs in config_json}

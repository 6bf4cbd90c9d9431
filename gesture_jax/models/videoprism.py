"""VideoPrism (Google DeepMind): the factorized video encoder and the LvT video-text model.

A port of the official JAX/linen code (google-deepmind/videoprism ``encoders.py``/``layers.py``):

* Encoder (``FactorizedEncoder``, ViViT model 2): P×P patches (row, col, channel order) → Dense, plus a
  learned spatial table (bilinearly resized with ``jax.image.resize`` for another grid) → spatial
  transformer over each frame → ``spatial_ln`` → per patch, a learned temporal table (resized the same
  way for another frame count, antialiased when shrinking, as the reference) → temporal transformer →
  ``temporal_ln``. Tokens come out t-major, [B, T·N, D]; the KNN feature is their mean.
* LvT (``FactorizedVideoCLIP``): the encoder, an auxiliary transformer (no final norm), and an attention
  pooler with one learned query → the L2-normalised video embedding (`features`). The text tower
  (`videoprism_text_encoder`) gives the L2-normalised text embedding (`encode_text`).

Blocks are pre-norm; LayerNorm is ``(x − μ)·rsqrt(var + 1e-6)·(1 + scale) + bias`` (the checkpoint stores
the scale's delta); attention scales q by head_dim^-0.5, caps the logits at ``cap·tanh(logits/cap)`` and
takes the softmax in float32. Parameters keep the checkpoint's shapes (q/k/v ``w`` [D, heads, head_dim]).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gesture_jax.models import (
    family,
    keymap,
    registry,
    token_layout,
    videoprism_layers,
    videoprism_text_encoder,
)
from gesture_jax.models.videoprism_layers import LayerNorm, l2_normalize, make_stack, normal_param, run_stack


@dataclasses.dataclass(frozen=True)
class VideoPrismConfig:
    # The official constructors' arguments (FactorizedEncoder / FactorizedVideoCLIP), their defaults.
    patch_size: int = 18
    pos_emb_shape: tuple[int, int, int] = (16, 16, 16)  # (frames, rows, cols) of the stored tables
    model_dim: int = 768
    num_spatial_layers: int = 12
    num_temporal_layers: int = 4
    num_heads: int = 12
    mlp_dim: int = 3072
    atten_logit_cap: float = 0.0
    norm_policy: str = "pre"  # the only policy of the released models
    num_auxiliary_layers: int = 0  # LvT
    vocabulary_size: int = 0  # 0: the encoder alone; > 0: LvT (video + text)
    num_unimodal_layers: int = 12  # LvT text layers
    enable_causal_atten: bool = True  # LvT text
    # Ours: the clip the protocol feeds (the tables are resized to any T and grid at run time).
    num_frames: int = 16
    img_size: int = 288
    drop_path_rate: float = 0.0  # stochastic depth in fine-tuning (the reference has none)

    def __post_init__(self):
        object.__setattr__(self, "pos_emb_shape", tuple(int(s) for s in self.pos_emb_shape))
        if self.norm_policy != "pre":
            raise ValueError(f"VideoPrism norm_policy {self.norm_policy!r} is not ported (only 'pre')")

    @property
    def is_lvt(self) -> bool:
        return self.vocabulary_size > 0

    @property
    def embed_dim(self) -> int:  # the feature size (classifier.feature_dim)
        return self.model_dim


def resize_table(table: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """The reference's ``_interpolate_emb_1d/2d``: ``jax.image.resize(..., 'bilinear')`` (antialiased)."""
    return jax.image.resize(table, (*shape, table.shape[-1]), method="bilinear")


class FactorizedEncoder(nnx.Module):
    def __init__(self, c: VideoPrismConfig, *, dtype, rngs: nnx.Rngs):
        self.config, self.dtype = c, dtype
        t0, h0, w0 = c.pos_emb_shape
        self.patch_projection = nnx.Linear(c.patch_size**2 * 3, c.model_dim, dtype=dtype, rngs=rngs)
        self.spatial_pos_emb = normal_param(rngs, (h0 * w0, c.model_dim), c.model_dim**-0.5)
        self.spatial_encoder = make_stack(c, c.num_spatial_layers, dtype=dtype, rngs=rngs)
        self.spatial_ln = LayerNorm(c.model_dim)
        self.temporal_pos_emb = normal_param(rngs, (t0, c.model_dim), c.model_dim**-0.5)
        self.temporal_encoder = make_stack(c, c.num_temporal_layers, dtype=dtype, rngs=rngs)
        self.temporal_ln = LayerNorm(c.model_dim)

    def __call__(self, video: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
        """[B, T, H, W, 3] in [0, 1] → tokens [B, T·N, D], t-major."""
        c, p = self.config, self.config.patch_size
        if video.ndim != 5 or video.shape[2] != video.shape[3] or video.shape[2] % p or video.shape[-1] != 3:
            raise ValueError(f"expected video [B, T, H, H, 3] with H a multiple of {p}, got {video.shape}")
        b, t, h = video.shape[:3]
        g = h // p
        x = video.astype(self.dtype).reshape(b * t, g, p, g, p, 3).transpose(0, 1, 3, 2, 4, 5)
        x = self.patch_projection(x.reshape(b * t, g * g, p * p * 3))
        t0, h0, w0 = c.pos_emb_shape
        pos = self.spatial_pos_emb[...]
        if (h0, w0) != (g, g):
            pos = resize_table(pos.reshape(h0, w0, -1), (g, g)).reshape(g * g, -1)
        rates = np.linspace(0.0, c.drop_path_rate, c.num_spatial_layers + c.num_temporal_layers)
        keys = jax.random.split(key) if key is not None else (None, None)
        x = run_stack(self.spatial_encoder, x + pos.astype(x.dtype), rates=rates, key=keys[0])
        x = self.spatial_ln(x)
        x = x.reshape(b, t, g * g, -1).transpose(0, 2, 1, 3).reshape(b * g * g, t, -1)
        temporal = self.temporal_pos_emb[...]
        if t != t0:
            temporal = resize_table(temporal, (t,))
        rates = rates[c.num_spatial_layers :]
        x = run_stack(self.temporal_encoder, x + temporal.astype(x.dtype), rates=rates, key=keys[1])
        x = self.temporal_ln(x)
        return x.reshape(b, g * g, t, -1).transpose(0, 2, 1, 3).reshape(b, t * g * g, -1)


def _no_layers(layers: Sequence[int] | None) -> None:
    """VideoPrism's reference gives no per-layer output: its encoder is a spatial stack over each frame,
    then a temporal stack over each patch, so "block i" would be a choice this port would be making up."""
    if layers is not None:
        raise ValueError(
            "VideoPrism's reference defines no per-layer output (a spatial, then a temporal stack); "
            "tokens(video) gives the final tokens"
        )


class VideoPrism(nnx.Module):
    """The encoder alone; `features` is the mean of its tokens."""

    def __init__(self, config: VideoPrismConfig, *, dtype=jnp.float32, rngs: nnx.Rngs):
        self.config = config
        self.encoder = FactorizedEncoder(config, dtype=dtype, rngs=rngs)

    def tokens(
        self, video: jax.Array, layers: Sequence[int] | None = None, *, drop_path_key: jax.Array | None = None
    ) -> jax.Array:
        """The factorized encoder's tokens [B, T·N, D] after temporal_ln (`features` averages them)."""
        _no_layers(layers)
        return self.encoder(video, key=drop_path_key).astype(jnp.float32)

    def token_layout(self, video_shape: tuple[int, ...]) -> token_layout.TokenLayout:
        """Where `tokens` sit: a (t, h, w) grid, t-major."""
        return token_layout.TokenLayout(token_layout.patches(video_shape, self.config.patch_size))

    def describe_feature(self) -> str:
        return "mean of the factorized encoder's output tokens (after temporal_ln)"

    def features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        return self.tokens(video, drop_path_key=drop_path_key).mean(axis=1)


class VideoPrismLvT(nnx.Module):
    """``FactorizedVideoCLIP``: `features` is the L2-normalised video embedding; `encode_text` the text's."""

    def __init__(self, config: VideoPrismConfig, *, dtype=jnp.float32, rngs: nnx.Rngs):
        self.config = config
        self.vision_encoder = FactorizedEncoder(config, dtype=dtype, rngs=rngs)
        self.auxiliary_encoder = make_stack(config, config.num_auxiliary_layers, dtype=dtype, rngs=rngs)
        self.contrastive_vision_pooler = videoprism_layers.AttentionPooler(config, rngs=rngs)
        self.text_encoder = videoprism_text_encoder.TextEncoder(config, dtype=dtype, rngs=rngs)

    def tokens(
        self, video: jax.Array, layers: Sequence[int] | None = None, *, drop_path_key: jax.Array | None = None
    ) -> jax.Array:
        """The vision encoder's tokens [B, T·N, D] (before the auxiliary layers)."""
        _no_layers(layers)
        return self.vision_encoder(video, key=drop_path_key).astype(jnp.float32)

    def token_layout(self, video_shape: tuple[int, ...]) -> token_layout.TokenLayout:
        """Where `tokens` sit: a (t, h, w) grid, t-major."""
        return token_layout.TokenLayout(token_layout.patches(video_shape, self.config.patch_size))

    def video_embed(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        x = run_stack(self.auxiliary_encoder, self.vision_encoder(video, key=drop_path_key))
        return self.contrastive_vision_pooler(x)

    def describe_feature(self) -> str:
        return "L2-normalised LvT video embedding (auxiliary layers + attention pooler)"

    def features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        return l2_normalize(self.video_embed(video, drop_path_key=drop_path_key))

    def encode_text(self, token_ids: jax.Array, paddings: jax.Array | None = None) -> jax.Array:
        """L2-normalised text embeddings [N, D] for `tokenize_texts` ids [N, L]; `paddings` (1 = padding)
        default to ``token_ids == 0``, the id `tokenize_texts` pads with."""
        if paddings is None:
            paddings = (token_ids == 0).astype(jnp.float32)
        return l2_normalize(self.text_encoder(token_ids, paddings))


# Zero-shot as the LvT colab: c4_en SentencePiece ids (named by the run) at 64 tokens with paddings,
# softmax of 100 · cosine.
TEXT = family.TextTower("videoprism", "softmax", context_length=64, vocab_field="vocabulary_size")
CONFIG_CLASS = VideoPrismConfig


def build(model_config: dict, *, dtype=jnp.float32, attention_impl=None, rngs: nnx.Rngs) -> nnx.Module:
    """`attention_impl` is accepted for the contract; the logit cap needs the einsum path (always used)."""
    del attention_impl
    config = registry.dataclass_from_dict(VideoPrismConfig, model_config, "VideoPrism")
    return (VideoPrismLvT if config.is_lvt else VideoPrism)(config, dtype=dtype, rngs=rngs)


def buffers(model_config: dict) -> dict[str, np.ndarray]:
    return {}  # every array is a stored parameter (the text sinusoid is computed in the forward)


def adapt_params(params: dict, old: dict, new: dict) -> dict:
    """Another frame count needs no new parameters: the forward resizes the stored temporal table to the
    input's frame count, as the reference does."""
    return params


def num_layers(model_config: dict) -> int:
    """Embeddings, spatial layers, spatial_ln + temporal table, temporal layers, temporal_ln; LvT adds
    its auxiliary layers and the pooler."""
    c = model_config
    n = c["num_spatial_layers"] + c["num_temporal_layers"] + 3
    return n + c.get("num_auxiliary_layers", 0) + 1 if c.get("vocabulary_size", 0) > 0 else n


def layer_index(path: tuple, model_config: dict) -> int:
    """Depth for layer-wise learning-rate decay; the LvT text tower is never fine-tuned (−1)."""
    s, t = model_config["num_spatial_layers"], model_config["num_temporal_layers"]
    head, rest = path[0], path[1:]
    if head == "text_encoder":
        return -1
    if head == "auxiliary_encoder":
        return s + t + 3 + int(rest[0])
    if head == "contrastive_vision_pooler":
        return num_layers(model_config) - 1
    name = rest[0]  # inside the FactorizedEncoder ("encoder" / "vision_encoder")
    if name == "spatial_encoder":
        return 1 + int(rest[1])
    if name in ("spatial_ln", "temporal_pos_emb"):
        return s + 1
    if name == "temporal_encoder":
        return s + 2 + int(rest[1])
    if name == "temporal_ln":
        return s + t + 2
    return 0  # patch_projection, spatial_pos_emb


# --- checkpoint port (the family contract's checkpoint side: gesture_jax.models.family) ---------------

_STACKED = re.compile(r"(.*/x_layers)/(.*)")


def prepare_checkpoint(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The scanned layout (``…/x_layers/<leaf>`` with a leading layer axis, the released ``_repeated``
    files) split into the per-layer names the reference writes without scan (``…/x_layers_<i>/<leaf>``);
    every other tensor (an unscanned file's too) is kept as it is."""
    out: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        match = _STACKED.fullmatch(name)
        if match is None or np.ndim(value) == 0:
            out[name] = value
            continue
        for i in range(value.shape[0]):
            out[f"{match[1]}_{i}/{match[2]}"] = value[i]
    return out


_LAYER_LEAVES = [
    *(f"self_attention/{p}/{w}" for p in ("query", "key", "value", "post") for w in ("w", "b")),
    "layer_norm/scale",
    "layer_norm/bias",
    "ff_layer/layer_norm/scale",
    "ff_layer/layer_norm/bias",
    "ff_layer/ffn_layer1/linear/kernel",
    "ff_layer/ffn_layer1/linear/bias",
    "ff_layer/ffn_layer2/linear/kernel",
    "ff_layer/ffn_layer2/linear/bias",
]


def _dotted(leaf: str) -> str:
    return leaf.replace("/linear/", "/").replace("/", ".")


def _stack_rules(theirs: str, ours: str) -> list[keymap.Rule]:
    return [
        keymap.Rule(f"{theirs}/x_layers_{{i}}/{leaf}", f"{ours}.{{i}}.{_dotted(leaf)}")
        for leaf in _LAYER_LEAVES
    ]


def _encoder_rules(theirs: str, ours: str) -> list[keymap.Rule]:
    plain = [
        "patch_projection/linear/kernel",
        "patch_projection/linear/bias",
        *(f"{ln}/{w}" for ln in ("spatial_ln", "temporal_ln") for w in ("scale", "bias")),
    ]
    return [
        *(keymap.Rule(f"{theirs}/{leaf}", f"{ours}.{_dotted(leaf)}") for leaf in plain),
        keymap.Rule(f"{theirs}/spatial_pos_emb/emb_var", f"{ours}.spatial_pos_emb"),
        keymap.Rule(f"{theirs}/temporal_pos_emb/emb_var", f"{ours}.temporal_pos_emb"),
        *_stack_rules(f"{theirs}/spatial_encoder/transformers_stack", f"{ours}.spatial_encoder"),
        *_stack_rules(f"{theirs}/temporal_encoder/transformers_stack", f"{ours}.temporal_encoder"),
    ]


_POOLER = "params/contrastive_vision_pooler"
_TEXT = "params/text_encoder"
KEYMAP = keymap.KeyMap(
    rules=(
        *_encoder_rules("params", "encoder"),
        *_encoder_rules("params/vision_encoder", "vision_encoder"),
        *_stack_rules("params/auxiliary_encoder/transformers_stack", "auxiliary_encoder"),
        keymap.Rule(
            f"{_POOLER}/pooling_attention_query", "contrastive_vision_pooler.pooling_attention_query"
        ),
        *(
            keymap.Rule(
                f"{_POOLER}/pooling_attention/{p}/{w}", f"contrastive_vision_pooler.pooling_attention.{p}.{w}"
            )
            for p in ("query", "key", "value", "post")
            for w in ("w", "b")
        ),
        keymap.Rule(
            f"{_POOLER}/pooling_attention/per_dim_scale/per_dim_scale",
            "contrastive_vision_pooler.pooling_attention.per_dim_scale",
        ),
        *(
            keymap.Rule(
                f"{_POOLER}/pooling_attention_layer_norm/{w}",
                f"contrastive_vision_pooler.pooling_attention_layer_norm.{w}",
            )
            for w in ("scale", "bias")
        ),
        keymap.Rule(f"{_TEXT}/token_emb/emb_var", "text_encoder.token_emb"),
        keymap.Rule(f"{_TEXT}/cls_emb", "text_encoder.cls_emb"),
        keymap.Rule(f"{_TEXT}/unimodal_ln/scale", "text_encoder.unimodal_ln.scale"),
        keymap.Rule(f"{_TEXT}/unimodal_ln/bias", "text_encoder.unimodal_ln.bias"),
        *_stack_rules(f"{_TEXT}/unimodal_transformer", "text_encoder.unimodal_transformer"),
    ),
    prefixes=(),  # the names are the official tree's, "params/..." included
)


def checkpoint_facts(sd: dict[str, np.ndarray], config: dict[str, Any], drop_head: bool) -> dict[str, Any]:
    """The stored temporal table's length is the table's frame count (``pos_emb_shape[0]``)."""
    del drop_head  # no classifier head
    for root in ("params", "params/vision_encoder"):
        table = sd.get(f"{root}/temporal_pos_emb/emb_var")
        if table is not None and table.ndim == 2:
            shape = tuple(config.get("pos_emb_shape", VideoPrismConfig.pos_emb_shape))
            return {**config, "pos_emb_shape": (int(table.shape[0]), *shape[1:])}
    return config


_REFERENCE_FIELDS = (  # the official constructors' arguments that are ours under the same name
    "patch_size",
    "pos_emb_shape",
    "model_dim",
    "num_spatial_layers",
    "num_temporal_layers",
    "num_heads",
    "mlp_dim",
    "atten_logit_cap",
    "norm_policy",
    "num_auxiliary_layers",
    "vocabulary_size",
    "num_unimodal_layers",
    "enable_causal_atten",
)
_TEXT_FIELDS = ("vocabulary_size", "num_unimodal_layers", "enable_causal_atten")
C4_EN_VOCABULARY = 32_000  # the released LvT models' tokenizer (models.TEXT_TOKENIZERS["c4_en"])


def reference_config(data: dict[str, Any]) -> dict[str, Any]:
    """Our config from the official constructor's arguments (``scan`` is a layout choice and ignored):
    the same names, plus the clip the tables were made for (T0 frames of T0's grid × patch pixels) unless
    the JSON names ``num_frames``/``img_size``. Text fields make it the LvT model; without a
    ``vocabulary_size`` it is c4_en's, as the official LvT builders set it."""
    config = {k: data[k] for k in _REFERENCE_FIELDS if k in data}
    if any(k in data for k in _TEXT_FIELDS):
        config.setdefault("vocabulary_size", C4_EN_VOCABULARY)
    shape = tuple(config.get("pos_emb_shape", VideoPrismConfig.pos_emb_shape))
    config["pos_emb_shape"] = shape
    config["num_frames"] = data.get("num_frames", shape[0])
    patch = config.get("patch_size", VideoPrismConfig.patch_size)
    config["img_size"] = data.get("img_size", shape[1] * patch)
    return config

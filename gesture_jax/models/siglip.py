"""SigLIP and fixed-resolution SigLIP 2 (transformers ``SiglipModel``): an image tower applied per frame, and
a text tower.

Vision: patch conv + learned positions (no CLS) → pre-LN blocks → ``post_layernorm`` → the attention-pooling
(MAP) head: ``h = MHA(probe, x, x)``, then ``h + mlp(layernorm(h))``. The video feature is the head's output
per frame, averaged over frames, not normalised. Text: token + learned positions, bidirectional blocks,
``final_layer_norm``, the last position (``[:, -1]``) → ``head``. Zero-shot: cosine · exp(logit_scale) +
logit_bias. Tanh GELU, LayerNorm eps 1e-6; the checkpoint's separate q/k/v projections are kept as such.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from gesture_jax.models import family, keymap, layers, pos_embed, registry, siglip_layers, token_layout
from gesture_jax.models.layers import block_indices


@dataclasses.dataclass(frozen=True)
class SiglipConfig:
    img_size: int = 224
    patch_size: int = 16
    num_frames: int = 8  # the sampler's frame count; each frame is encoded alone, so any count runs
    width: int = 768
    layers: int = 12
    heads: int = 12
    mlp_dim: int = 3072
    text_width: int = 768
    text_layers: int = 12
    text_heads: int = 12
    text_mlp_dim: int = 3072
    projection_size: int = 768  # the text head's output size (transformers: = text hidden size)
    vocab_size: int = 32000
    context_length: int = 64  # text max_position_embeddings: the tokenizer pads to it
    layer_norm_eps: float = 1e-6
    text_layer_norm_eps: float = 1e-6
    drop_path_rate: float = 0.0  # stochastic depth of the vision tower in training (not in the reference)

    @property
    def grid(self) -> int:
        return self.img_size // self.patch_size


def _resize_matrix(n: int, size: int) -> np.ndarray:
    """[size, n]: torch's bicubic resize (align_corners=False) of n samples to size, as a matrix."""
    return pos_embed.resize_bicubic(np.eye(n), size, axis=0)


class VisionTower(nnx.Module):
    def __init__(self, c: SiglipConfig, *, dtype, attention_impl, rngs: nnx.Rngs):
        self.config = c
        self.dtype = dtype
        p = c.patch_size
        # The Conv2d weight in torch's [D, 3, P, P] layout, so checkpoint shapes compare as stored.
        self.patch_embedding = siglip_layers.param(rngs, c.width, 3, p, p, scale=(3 * p * p) ** -0.5)
        self.patch_bias = nnx.Param(jnp.zeros((c.width,), jnp.float32))
        self.position_embedding = siglip_layers.param(rngs, c.grid * c.grid, c.width)
        self.layers = siglip_layers.encoder(
            c.width, c.heads, c.mlp_dim, c.layers, c.layer_norm_eps, dtype=dtype,
            attention_impl=attention_impl, rngs=rngs,
        )  # fmt: skip
        self.post_layernorm = layers.layer_norm(c.width, c.layer_norm_eps, dtype, rngs)
        self.head = siglip_layers.AttentionPoolingHead(
            c.width, c.heads, c.mlp_dim, c.layer_norm_eps, dtype=dtype, attention_impl=attention_impl,
            rngs=rngs,
        )  # fmt: skip

    def positions(self, h: int, w: int) -> jax.Array:
        """[h·w, D]: the stored table at the native grid; another grid gets transformers'
        ``interpolate_pos_encoding`` (torch bicubic, align_corners=False), which the reference applies only
        when asked to (its default fails at another size)."""
        table = self.position_embedding[...]
        g = self.config.grid
        if (h, w) == (g, g):
            return table
        grid = table.reshape(g, g, -1)
        rows = jnp.asarray(_resize_matrix(g, h), jnp.float32)
        cols = jnp.asarray(_resize_matrix(g, w), jnp.float32)
        hp = jax.lax.Precision.HIGHEST
        grid = jnp.einsum("ig,gkd->ikd", rows, grid, precision=hp)
        return jnp.einsum("jk,ikd->ijd", cols, grid, precision=hp).reshape(h * w, -1)

    def __call__(self, images: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        """[N, H, W, 3] → the pooled image embedding [N, D] (the MAP head output, not normalised)."""
        return self.head(self.tokens(images, drop_path_key=drop_path_key))

    def tokens(
        self, images: jax.Array, keep: tuple[int, ...] = (), *, drop_path_key: jax.Array | None = None
    ) -> jax.Array:
        """[N, H, W, 3] → [N, h·w, D] after ``post_layernorm`` (``last_hidden_state``); with `keep`, those
        blocks' outputs before it, stacked [len(keep), N, h·w, D]. The patch conv is "valid", as the
        reference's: 384² at patch 14 gives 27² tokens, the last 6 px unused."""
        c = self.config
        n, hh, ww = images.shape[:3]
        if images.shape[3:] != (3,) or min(hh, ww) < c.patch_size:
            raise ValueError(f"expected frames [N, H, W, 3] of at least {c.patch_size}², got {images.shape}")
        x = jax.lax.conv_general_dilated(
            images.astype(self.dtype),
            self.patch_embedding[...].astype(self.dtype),
            window_strides=(c.patch_size, c.patch_size),
            padding="VALID",
            dimension_numbers=("NHWC", "OIHW", "NHWC"),
        )
        x = x + self.patch_bias[...].astype(x.dtype)
        h, w = x.shape[1:3]
        x = x.reshape(n, h * w, c.width) + self.positions(h, w).astype(x.dtype)
        x = siglip_layers.run(self.layers, x, c.drop_path_rate, drop_path_key, keep)
        return x if keep else self.post_layernorm(x)


class TextTower(nnx.Module):
    def __init__(self, c: SiglipConfig, *, dtype, attention_impl, rngs: nnx.Rngs):
        self.config = c
        self.dtype = dtype
        self.token_embedding = nnx.Embed(c.vocab_size, c.text_width, dtype=dtype, rngs=rngs)
        self.position_embedding = siglip_layers.param(rngs, c.context_length, c.text_width)
        self.layers = siglip_layers.encoder(
            c.text_width, c.text_heads, c.text_mlp_dim, c.text_layers, c.text_layer_norm_eps, dtype=dtype,
            attention_impl=attention_impl, rngs=rngs,
        )  # fmt: skip
        self.final_layer_norm = layers.layer_norm(c.text_width, c.text_layer_norm_eps, dtype, rngs)
        self.head = nnx.Linear(c.text_width, c.projection_size, dtype=dtype, rngs=rngs)

    def __call__(self, token_ids: jax.Array) -> jax.Array:
        """int [N, L ≤ context_length] → the text embedding [N, projection_size] (not normalised). No
        attention mask, as the reference is trained and evaluated (pad to `context_length`)."""
        c = self.config
        if token_ids.ndim != 2 or not 0 < token_ids.shape[1] <= c.context_length:
            raise ValueError(f"expected token ids [N, L] with L <= {c.context_length}, got {token_ids.shape}")
        length = token_ids.shape[1]
        x = self.token_embedding(token_ids) + self.position_embedding[...][:length].astype(self.dtype)
        x = self.final_layer_norm(siglip_layers.run(self.layers, x))
        return self.head(x[:, -1])


class Siglip(nnx.Module):
    def __init__(self, config: SiglipConfig, *, dtype=jnp.float32, attention_impl=None, rngs: nnx.Rngs):
        self.config = config
        self.vision = VisionTower(config, dtype=dtype, attention_impl=attention_impl, rngs=rngs)
        self.text = TextTower(config, dtype=dtype, attention_impl=attention_impl, rngs=rngs)
        self.logit_scale = nnx.Param(jnp.full((1,), np.log(10.0), jnp.float32))
        self.logit_bias = nnx.Param(jnp.full((1,), -10.0, jnp.float32))

    def describe_feature(self) -> str:
        """What `features` returns, in words (feature-cache manifests)."""
        return "mean over frames of the attention-pooling head output (not normalised)"

    def frame_features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        """[B, T, H, W, 3] → [B, T, D]: each frame's pooled image embedding (get_image_features)."""
        if video.ndim != 5:
            raise ValueError(f"expected video [B, T, H, W, 3], got {video.shape}")
        b, t = video.shape[:2]
        x = self.vision(video.reshape(b * t, *video.shape[2:]), drop_path_key=drop_path_key)
        return x.reshape(b, t, -1).astype(jnp.float32)

    def tokens(
        self, video: jax.Array, layers: Sequence[int] | None = None, *, drop_path_key: jax.Array | None = None
    ) -> jax.Array:
        """[B, T, H, W, 3] → [B, T·h·w, D]: every frame's tokens after ``post_layernorm`` (what the MAP
        head pools), frame after frame; with block indices, those blocks' outputs before it
        [len(layers), B, T·h·w, D] (``hidden_states[i + 1]`` per frame)."""
        if video.ndim != 5:
            raise ValueError(f"expected video [B, T, H, W, 3], got {video.shape}")
        b, t = video.shape[:2]
        keep = block_indices(layers, len(self.vision.layers)) if layers is not None else ()
        x = self.vision.tokens(video.reshape(b * t, *video.shape[2:]), keep, drop_path_key=drop_path_key)
        return x.reshape(*x.shape[:-3], b, -1, x.shape[-1])

    def token_layout(self, video_shape: tuple[int, ...]) -> token_layout.TokenLayout:
        """Where `tokens` sit: frame after frame, each frame's (h, w) patches ("valid": the rest unused)."""
        return token_layout.TokenLayout(token_layout.patches(video_shape, self.config.patch_size))

    def features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        """The KNN / zero-shot video feature [B, D]: the per-frame embeddings' mean, float32."""
        return self.frame_features(video, drop_path_key=drop_path_key).mean(axis=1)

    def encode_text(self, token_ids: jax.Array) -> jax.Array:
        """get_text_features: [N, L] token ids → [N, projection_size], float32, not normalised."""
        return self.text(jnp.asarray(token_ids)).astype(jnp.float32)

    def zeroshot_logits(self, features: jax.Array, text_features: jax.Array) -> jax.Array:
        """SigLIP's scores [B, C]: cos(video, text) · exp(logit_scale) + logit_bias; sigmoid → probability."""
        v = features / jnp.linalg.norm(features, axis=-1, keepdims=True)
        t = text_features / jnp.linalg.norm(text_features, axis=-1, keepdims=True)
        cos = jnp.einsum("bd,cd->bc", v, t, precision=jax.lax.Precision.HIGHEST)
        return cos * jnp.exp(self.logit_scale[...][0]) + self.logit_bias[...][0]


# Zero-shot as SiglipModel: the folder's SentencePiece tokenizer padded to the config's context (64),
# sigmoid of cosine · exp(logit_scale) + logit_bias.
TEXT = family.TextTower("siglip", "sigmoid", vocabulary="checkpoint_folder")
CONFIG_CLASS = SiglipConfig


def layer_index(path: tuple, model_config: dict) -> int:
    """Depth for layer-wise learning-rate decay: the vision embeddings 0, vision block i → i + 1, the
    post-LayerNorm and MAP head layers + 1. The text tower and logit scale/bias are never fine-tuned (-1)."""
    if path[0] != "vision":
        return -1
    if path[1] == "layers":
        return int(path[2]) + 1
    if path[1] in ("post_layernorm", "head"):
        return model_config["layers"] + 1
    return 0


def num_layers(model_config: dict) -> int:
    return model_config["layers"] + 2


def build(model_config: dict, *, dtype=jnp.float32, attention_impl=None, rngs: nnx.Rngs) -> Siglip:
    config = registry.dataclass_from_dict(SiglipConfig, model_config, "SigLIP")
    return Siglip(config, dtype=dtype, attention_impl=attention_impl, rngs=rngs)


def buffers(model_config: dict) -> dict[str, np.ndarray]:
    return {}  # every SigLIP array is a stored parameter


def adapt_params(params: dict, old: dict, new: dict) -> dict:
    """Another frame count changes nothing: frames are encoded one by one."""
    for field in set(old) | set(new):
        if field != "num_frames" and old.get(field) != new.get(field):
            raise ValueError(f"SigLIP adapts to another frame count only; {field} differs")
    return params


# --- checkpoint port (the family contract's checkpoint side: gesture_jax.models.family) ---------------


ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")


def _layers(torch: str, ours: str) -> list[keymap.Rule]:
    t, o = f"{torch}.encoder.layers.{{i}}", f"{ours}.layers.{{i}}"
    return [
        *keymap.norm(f"{t}.layer_norm1", f"{o}.layer_norm1"),
        *keymap.norm(f"{t}.layer_norm2", f"{o}.layer_norm2"),
        *(r for p in ATTENTION_PROJECTIONS for r in keymap.dense(f"{t}.self_attn.{p}", f"{o}.self_attn.{p}")),
        *keymap.dense(f"{t}.mlp.fc1", f"{o}.mlp.fc1"),
        *keymap.dense(f"{t}.mlp.fc2", f"{o}.mlp.fc2"),
    ]


_V, _T = "vision_model", "text_model"
KEYMAP = keymap.KeyMap(
    rules=(
        keymap.Rule(f"{_V}.embeddings.patch_embedding.weight", "vision.patch_embedding"),
        keymap.Rule(f"{_V}.embeddings.patch_embedding.bias", "vision.patch_bias"),
        keymap.Rule(f"{_V}.embeddings.position_embedding.weight", "vision.position_embedding"),
        *_layers(_V, "vision"),
        *keymap.norm(f"{_V}.post_layernorm", "vision.post_layernorm"),
        keymap.Rule(f"{_V}.head.probe", "vision.head.probe"),
        keymap.Rule(f"{_V}.head.attention.in_proj_weight", "vision.head.in_proj.kernel", keymap.linear),
        keymap.Rule(f"{_V}.head.attention.in_proj_bias", "vision.head.in_proj.bias"),
        *keymap.dense(f"{_V}.head.attention.out_proj", "vision.head.out_proj"),
        *keymap.norm(f"{_V}.head.layernorm", "vision.head.layernorm"),
        *keymap.dense(f"{_V}.head.mlp.fc1", "vision.head.mlp.fc1"),
        *keymap.dense(f"{_V}.head.mlp.fc2", "vision.head.mlp.fc2"),
        keymap.Rule(f"{_T}.embeddings.token_embedding.weight", "text.token_embedding.embedding"),
        keymap.Rule(f"{_T}.embeddings.position_embedding.weight", "text.position_embedding"),
        *_layers(_T, "text"),
        *keymap.norm(f"{_T}.final_layer_norm", "text.final_layer_norm"),
        *keymap.dense(f"{_T}.head", "text.head"),
        keymap.Rule("logit_scale", "logit_scale"),
        keymap.Rule("logit_bias", "logit_bias"),
    ),
)


def checkpoint_facts(sd: dict[str, np.ndarray], config: dict[str, Any], drop_head: bool) -> dict[str, Any]:
    del sd, drop_head  # the sizes come from config.json; the MAP head is the feature, never dropped
    return config


_VISION = dict(
    image_size="img_size",
    patch_size="patch_size",
    hidden_size="width",
    num_hidden_layers="layers",
    num_attention_heads="heads",
    intermediate_size="mlp_dim",
    layer_norm_eps="layer_norm_eps",
)
_TEXT = dict(
    hidden_size="text_width",
    num_hidden_layers="text_layers",
    num_attention_heads="text_heads",
    intermediate_size="text_mlp_dim",
    vocab_size="vocab_size",
    max_position_embeddings="context_length",
    layer_norm_eps="text_layer_norm_eps",
    projection_size="projection_size",
)
# transformers' defaults for fields a (minimal) Hub config.json leaves out.
_HF_DEFAULTS = {
    "vision_config": dict(
        image_size=224, patch_size=16, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, layer_norm_eps=1e-6, num_channels=3, hidden_act="gelu_pytorch_tanh",
        vision_use_head=True,
    ),
    "text_config": dict(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        vocab_size=32000, max_position_embeddings=64, layer_norm_eps=1e-6, hidden_act="gelu_pytorch_tanh",
    ),
}  # fmt: skip


def config_from_source(config_json: dict[str, Any]) -> dict[str, Any]:
    """Our fields from a transformers ``SiglipModel`` config.json (its vision_config / text_config blocks,
    transformers' defaults where a block leaves a field out)."""
    if config_json.get("model_type", "siglip") != "siglip":
        raise ValueError(
            f"config.json has model_type {config_json.get('model_type')!r}; this port reads SiglipModel "
            "folders (model_type 'siglip': SigLIP and fixed-resolution SigLIP 2, not the NaFlex Siglip2Model)"
        )
    blocks = {name: {**_HF_DEFAULTS[name], **(config_json.get(name) or {})} for name in _HF_DEFAULTS}
    vision, text = blocks["vision_config"], blocks["text_config"]
    problems = [
        f"{name}.hidden_act={block['hidden_act']!r}" for name, block in blocks.items()
        if block["hidden_act"] != "gelu_pytorch_tanh"
    ]  # fmt: skip
    if not vision["vision_use_head"]:
        problems.append("vision_config.vision_use_head=false (the feature is the MAP head's output)")
    if vision["num_channels"] != 3:
        problems.append(f"vision_config.num_channels={vision['num_channels']}")
    if problems:
        raise ValueError(f"unsupported SigLIP config: {', '.join(problems)}")
    out = {ours: vision[theirs] for theirs, ours in _VISION.items()}
    out.update({ours: text[theirs] for theirs, ours in _TEXT.items() if theirs in text})
    out.setdefault("projection_size", text["hidden_size"])
    return out

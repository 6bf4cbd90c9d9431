"""The VideoMAE-family video ViT (``modeling_finetune.VisionTransformer``): UMT, VideoMAE v1/V2, toy.

Tubelet embedding → fixed (or checkpoint-provided) position table → pre-norm blocks → feature:
``fc_norm(mean of tokens)`` with mean pooling, else ``norm(token 0)``. There is no CLS token.
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

POSITION_TABLES = {
    "sinusoid": lambda c: pos_embed.sinusoid_table(c.num_tokens, c.embed_dim),
    "umt": lambda c: pos_embed.umt_table(c.grid, c.embed_dim),
}


@dataclasses.dataclass(frozen=True)
class ViTConfig:
    img_size: int = 224
    patch_size: int = 16
    num_frames: int = 16
    tubelet_size: int = 2
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    num_classes: int = 0  # 0: no classification head
    use_mean_pooling: bool = True
    layer_norm_eps: float = 1e-6
    init_values: float = 0.0  # > 0: layer scale (gamma_1, gamma_2), as modeling_finetune
    pos_embed: str = "sinusoid"  # how the table is built: "sinusoid" (VideoMAE) or "umt" (resized 8×14×14)
    learned_pos_embed: bool = False  # UMT at a non-default geometry trains and stores its table
    drop_path_rate: float = 0.0  # stochastic depth in training (0.1 in the references' fine-tuning)
    # Toy encoders only (no reference model does this): embed frame-to-frame differences instead of
    # frames, a motion prior that lets a tiny model trained from scratch on CPU learn gestures quickly.
    temporal_difference: bool = False

    @property
    def grid(self) -> tuple[int, int, int]:
        return (
            self.num_frames // self.tubelet_size,
            self.img_size // self.patch_size,
            self.img_size // self.patch_size,
        )

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    @property
    def mlp_hidden(self) -> int:
        return int(self.embed_dim * self.mlp_ratio)


def position_table(config: ViTConfig):
    if config.pos_embed not in POSITION_TABLES:
        raise ValueError(
            f"unknown pos_embed rule {config.pos_embed!r}; expected one of {sorted(POSITION_TABLES)}"
        )
    return POSITION_TABLES[config.pos_embed](config)


class VideoViT(nnx.Module):
    def __init__(
        self, config: ViTConfig, *, dtype=jnp.float32, attention_impl: str | None = None, rngs: nnx.Rngs
    ):
        c = self.config = config
        self.dtype = dtype
        self.patch_embed = layers.TubeletEmbed(
            3, c.embed_dim, c.patch_size, c.tubelet_size, dtype=dtype, rngs=rngs
        )
        self.pos_embed = (nnx.Param if c.learned_pos_embed else layers.Buffer)(jnp.asarray(position_table(c)))
        self.blocks = nnx.List(
            [
                layers.Block(
                    c.embed_dim,
                    c.num_heads,
                    c.mlp_hidden,
                    eps=c.layer_norm_eps,
                    activation="gelu",
                    qkv_bias="qv",
                    layer_scale=c.init_values > 0,
                    dtype=dtype,
                    attention_impl=attention_impl,
                    rngs=rngs,
                )
                for _ in range(c.depth)
            ]
        )
        norm = layers.layer_norm(c.embed_dim, c.layer_norm_eps, dtype, rngs)
        if c.use_mean_pooling:
            self.fc_norm = norm
        else:
            self.norm = norm
        if c.num_classes:
            self.head = nnx.Linear(c.embed_dim, c.num_classes, dtype=dtype, rngs=rngs)

    def tokens(
        self, video: jax.Array, layers: Sequence[int] | None = None, *, drop_path_key: jax.Array | None = None
    ) -> jax.Array:
        """[B, T, H, W, 3] preprocessed frames → [B, N, D] tokens after the last block (what `features`
        pools); with block indices, those blocks' outputs [len(layers), B, N, D], as the reference's
        hidden states give them (these encoders have no per-layer norms)."""
        video = video.astype(self.dtype)
        if self.config.temporal_difference:
            diff = video[:, 1:] - video[:, :-1]
            video = jnp.concatenate([diff[:, :1], diff], axis=1)  # T frames in, T differences out
        x = self.patch_embed(video)
        x = x + self._position_table(video.shape).astype(x.dtype)
        keep = block_indices(layers, len(self.blocks)) if layers is not None else ()
        return run_blocks(
            self.blocks, x, drop_path_rate=self.config.drop_path_rate, key=drop_path_key, keep=keep
        )

    def _position_table(self, shape: tuple[int, ...]) -> jax.Array:
        """The table for the input's geometry: the model's own, or the family's rule for another one."""
        c = self.config
        t, h, w = shape[1:4]
        if shape[4:] != (3,) or h != w or t % c.tubelet_size or h % c.patch_size:
            raise ValueError(
                f"expected video [B, T, S, S, 3] with T a multiple of {c.tubelet_size} and S of "
                f"{c.patch_size}, got {tuple(shape)}"
            )
        if (t, h) == (c.num_frames, c.img_size):
            return self.pos_embed[...]
        if c.learned_pos_embed:
            raise ValueError(
                f"this model stores a learned position table for {c.num_frames}×{c.img_size}²; "
                f"it cannot run at {t}×{h}²"
            )
        return jnp.asarray(position_table(dataclasses.replace(c, num_frames=t, img_size=h)))

    def describe_feature(self) -> str:
        """What `features` returns, in words (feature-cache manifests)."""
        if self.config.use_mean_pooling:
            return "fc_norm(mean of the final tokens)"
        return "norm(token 0): the first patch token (no CLS)"

    def token_layout(self, video_shape: tuple[int, ...]) -> token_layout.TokenLayout:
        """Where `tokens` of a video of this shape sit: a (t, h, w) grid, t-major."""
        c = self.config
        return token_layout.TokenLayout(token_layout.patches(video_shape, c.patch_size, c.tubelet_size))

    def features(self, video: jax.Array, *, drop_path_key: jax.Array | None = None) -> jax.Array:
        """The KNN feature [B, D], in float32 (`drop_path_key`: training with stochastic depth)."""
        x = self.tokens(video, drop_path_key=drop_path_key)
        if self.config.use_mean_pooling:
            return self.fc_norm(x.mean(axis=1)).astype(jnp.float32)
        return self.norm(x[:, 0]).astype(jnp.float32)

    def __call__(self, video: jax.Array) -> jax.Array:
        """Class logits [B, num_classes]."""
        if not self.config.num_classes:
            raise ValueError("this encoder has no classification head (num_classes=0)")
        return self.head(self.features(video).astype(self.dtype)).astype(jnp.float32)


CONFIG_CLASS = ViTConfig


def layer_index(path: tuple, model_config: dict) -> int:
    """Depth of a parameter for layer-wise learning-rate decay (as VideoMAE's get_num_layer_for_vit):
    embeddings 0, block i → i + 1, the final norm and head depth + 1."""
    return family.block_layer_index(path, model_config["depth"], ("patch_embed", "pos_embed"))


def num_layers(model_config: dict) -> int:
    return model_config["depth"] + 2


def build(
    model_config: dict, *, dtype=jnp.float32, attention_impl: str | None = None, rngs: nnx.Rngs
) -> VideoViT:
    """Family entry point used by the registry."""
    config = registry.dataclass_from_dict(ViTConfig, model_config, "ViT")
    return VideoViT(config, dtype=dtype, attention_impl=attention_impl, rngs=rngs)


def buffers(model_config: dict) -> dict[str, np.ndarray]:
    """The non-trained arrays a checkpoint does not store: the fixed position table."""
    config = registry.dataclass_from_dict(ViTConfig, model_config, "ViT")
    return {} if config.learned_pos_embed else {"pos_embed": position_table(config)}


def adapt_params(params: dict, old: dict, new: dict) -> dict:
    """Other frame counts: fixed tables are rebuilt by `buffers`; a stored (learned) one cannot be."""
    if old.get("learned_pos_embed") and old["num_frames"] != new["num_frames"]:
        raise ValueError(
            f"this checkpoint stores a learned position table for {old['num_frames']} frames; "
            "the reference defines no rule to run it at another frame count"
        )
    return params


# --- checkpoint port (the family contract's checkpoint side: gesture_jax.models.family) ---------------

# The official modeling_finetune / modeling_pretrain names (UMT, VideoMAE v1 and V2 share them).
KEYMAP = keymap.KeyMap(
    rules=(
        keymap.Rule("patch_embed.proj.weight", "patch_embed.proj.kernel", keymap.conv3d),
        keymap.Rule("patch_embed.proj.bias", "patch_embed.proj.bias"),
        keymap.Rule("pos_embed", "pos_embed"),
        *keymap.norm("blocks.{i}.norm1", "blocks.{i}.norm1"),
        *keymap.norm("blocks.{i}.norm2", "blocks.{i}.norm2"),
        keymap.Rule("blocks.{i}.attn.qkv.weight", "blocks.{i}.attn.qkv.kernel", keymap.linear),
        keymap.Rule("blocks.{i}.attn.q_bias", "blocks.{i}.attn.q_bias"),
        keymap.Rule("blocks.{i}.attn.v_bias", "blocks.{i}.attn.v_bias"),
        *keymap.dense("blocks.{i}.attn.proj", "blocks.{i}.attn.proj"),
        *keymap.dense("blocks.{i}.mlp.fc1", "blocks.{i}.mlp.fc1"),
        *keymap.dense("blocks.{i}.mlp.fc2", "blocks.{i}.mlp.fc2"),
        keymap.Rule("blocks.{i}.gamma_1", "blocks.{i}.gamma_1"),
        keymap.Rule("blocks.{i}.gamma_2", "blocks.{i}.gamma_2"),
        *keymap.norm("fc_norm", "fc_norm"),
        *keymap.norm("norm", "norm"),
        *keymap.dense("head", "head"),
    ),
    # VideoMAE and UMT pre-training files keep their decoders beside the encoder.
    dropped=(r"decoder\..*", r"encoder_to_decoder\..*", r"mask_token", r"clip_decoder\..*"),
)


def checkpoint_facts(sd: dict[str, np.ndarray], config: dict[str, Any], drop_head: bool) -> dict[str, Any]:
    """What the file itself says: head size, pooling, a stored (learned) table, layer scale."""
    config = dict(config)
    config["num_classes"] = 0 if drop_head or "head.weight" not in sd else int(sd["head.weight"].shape[0])
    if "fc_norm.weight" in sd or "norm.weight" in sd:
        config["use_mean_pooling"] = "fc_norm.weight" in sd
    config["learned_pos_embed"] = "pos_embed" in sd
    config["init_values"] = 1.0 if "blocks.0.gamma_1" in sd else 0.0
    return config

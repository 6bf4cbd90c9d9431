"""VideoMAE in transformers' own format (``MCG-NJU/videomae-*`` on the Hub), on the VideoMAE model of `vit`.

The network is the official-format VideoMAE port's (`gesture_jax.models.vit`: tubelet embedding, fixed
sinusoid over the flat index, pre-norm blocks with learned q and v biases and none on k, exact GELU); what
is new is the checkpoint: transformers' key names, separate query/key/value weights (fused here into the
one qkv projection, `prepare_checkpoint`), the config a folder carries (`config_from_source`), and two
LayerNorm epsilons: the blocks' and the final ``layernorm`` come from config.json (the Hub's say 1e-12),
``fc_norm`` is ``nn.LayerNorm(D)``, torch's default 1e-5.

Feature, as the official-format port: ``fc_norm(mean of tokens)`` with mean pooling (the fine-tuned
``VideoMAEForVideoClassification`` repos; `tokens` is then transformers' ``last_hidden_state``, the raw
residual stream), else ``layernorm(token 0)`` (pre-training repos, whose classifier would read that first
patch token). ``model(video)`` gives the classifier's logits.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from gesture_jax.models import fused_qkv, keymap, registry, vit
from gesture_jax.models.vit import adapt_params, layer_index, num_layers  # noqa: F401  (the same rules)


@dataclasses.dataclass(frozen=True)
class VideoMAEHFConfig(vit.ViTConfig):
    layer_norm_eps: float = 1e-12  # transformers' VideoMAEConfig default, as the Hub configs say
    fc_norm_eps: float = 1e-5  # torch nn.LayerNorm's default


class VideoMAEHF(vit.VideoViT):
    """`vit.VideoViT` whose ``fc_norm`` has its own epsilon."""

    def __init__(
        self,
        config: VideoMAEHFConfig,
        *,
        dtype=jnp.float32,
        attention_impl: str | None = None,
        rngs: nnx.Rngs,
    ):
        super().__init__(config, dtype=dtype, attention_impl=attention_impl, rngs=rngs)
        if config.use_mean_pooling:
            self.fc_norm.epsilon = config.fc_norm_eps

    def describe_feature(self) -> str:
        if self.config.use_mean_pooling:
            return "fc_norm(mean of the final tokens)"
        return "layernorm(token 0): the first patch token (no CLS)"


CONFIG_CLASS = VideoMAEHFConfig


def _config(model_config: dict) -> VideoMAEHFConfig:
    return registry.dataclass_from_dict(VideoMAEHFConfig, model_config, "VideoMAE (transformers)")


def build(
    model_config: dict, *, dtype=jnp.float32, attention_impl: str | None = None, rngs: nnx.Rngs
) -> VideoMAEHF:
    return VideoMAEHF(_config(model_config), dtype=dtype, attention_impl=attention_impl, rngs=rngs)


def buffers(model_config: dict) -> dict[str, np.ndarray]:
    """The fixed sinusoid (transformers never stores it)."""
    return {"pos_embed": vit.position_table(_config(model_config))}


# --- checkpoint port: VideoMAEModel / VideoMAEForVideoClassification / VideoMAEForPreTraining folders ---

_LAYER = "encoder.layer.{i}"
KEYMAP = keymap.KeyMap(
    rules=(
        keymap.Rule(
            "embeddings.patch_embeddings.projection.weight", "patch_embed.proj.kernel", keymap.conv3d
        ),
        keymap.Rule("embeddings.patch_embeddings.projection.bias", "patch_embed.proj.bias"),
        *keymap.norm(f"{_LAYER}.layernorm_before", "blocks.{i}.norm1"),
        keymap.Rule(f"{_LAYER}.attention.attention.qkv.weight", "blocks.{i}.attn.qkv.kernel", keymap.linear),
        keymap.Rule(f"{_LAYER}.attention.attention.q_bias", "blocks.{i}.attn.q_bias"),
        keymap.Rule(f"{_LAYER}.attention.attention.v_bias", "blocks.{i}.attn.v_bias"),
        *keymap.dense(f"{_LAYER}.attention.output.dense", "blocks.{i}.attn.proj"),
        *keymap.norm(f"{_LAYER}.layernorm_after", "blocks.{i}.norm2"),
        *keymap.dense(f"{_LAYER}.intermediate.dense", "blocks.{i}.mlp.fc1"),
        *keymap.dense(f"{_LAYER}.output.dense", "blocks.{i}.mlp.fc2"),
        *keymap.norm("layernorm", "norm"),  # VideoMAEModel's final norm (use_mean_pooling false)
        *keymap.norm("fc_norm", "fc_norm"),
        *keymap.dense("classifier", "head"),
    ),
    # The classification and pre-training models keep the encoder under ``videomae.``.
    prefixes=(*keymap.WRAPPER_PREFIXES, "videomae."),
    # VideoMAEForPreTraining's decoder side.
    dropped=(r"decoder\..*", r"encoder_to_decoder\..*", r"mask_token"),
)


def prepare_checkpoint(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """query/key/value weights → the fused ``attention.attention.qkv.weight`` (biases stay q_bias/v_bias)."""
    return fused_qkv.fuse(tensors, r".*attention\.attention", kinds=("weight",))


def config_from_source(config_json: dict[str, Any]) -> dict[str, Any]:
    """A transformers VideoMAEConfig (config.json) → our fields (its defaults where a field is absent)."""
    kind = config_json.get("model_type")
    if kind != "videomae":
        raise ValueError(f"config.json has model_type {kind!r}; this family converts 'videomae' folders")
    act = config_json.get("hidden_act", "gelu")
    if act != "gelu" or config_json.get("num_channels", 3) != 3:
        raise ValueError(f"config.json: expected hidden_act 'gelu' and 3 channels, got {act!r}")
    if not config_json.get("qv_bias", config_json.get("qkv_bias", True)):
        raise ValueError("config.json: qv_bias false (no q/v biases) is not a released VideoMAE layout")
    dim = config_json.get("hidden_size", 768)
    hidden = config_json.get("intermediate_size", 3072)
    mlp_ratio = hidden / dim
    if int(dim * mlp_ratio) != hidden:
        raise ValueError(
            f"config.json: intermediate_size {hidden} is not expressible as {dim} × a ratio here"
        )
    return dict(
        img_size=config_json.get("image_size", 224),
        patch_size=config_json.get("patch_size", 16),
        num_frames=config_json.get("num_frames", 16),
        tubelet_size=config_json.get("tubelet_size", 2),
        embed_dim=dim,
        depth=config_json.get("num_hidden_layers", 12),
        num_heads=config_json.get("num_attention_heads", 12),
        mlp_ratio=mlp_ratio,
        layer_norm_eps=config_json.get("layer_norm_eps", 1e-12),
        use_mean_pooling=config_json.get("use_mean_pooling", True),
        fc_norm_eps=1e-5,  # nn.LayerNorm(hidden_size): not in config.json
    )


HEAD_PREFIXES = ("classifier.",)  # what --drop_head drops (the family contract's optional member)


def checkpoint_facts(sd: dict[str, np.ndarray], config: dict[str, Any], drop_head: bool) -> dict[str, Any]:
    """Head size and pooling from the tensors themselves; the table is always the fixed sinusoid."""
    config = dict(config)
    head = sd.get("classifier.weight")
    config["num_classes"] = 0 if drop_head or head is None else int(head.shape[0])
    if "fc_norm.weight" in sd or "layernorm.weight" in sd:
        config["use_mean_pooling"] = "fc_norm.weight" in sd
    config["learned_pos_embed"] = False
    config["init_values"] = 0.0
    return config

"""Every encoder family's port fixture cases as one table (`CASES`), read by the conformance kit
(test_family_conformance.py), and the helpers that convert a case, evaluate its model and write damaged
copies of its checkpoint.

A `Case` says where the checkpoint and its model config come from, which model call gives which
reference array (`Output`), what ``--verify`` counts, which keys a damaged copy lacks, adds or reshapes
(`Damage`), and which other frame counts and sizes the model runs or refuses (`Refusal`). A new family
joins the kit with one `Case`; `test_every_ported_family_has_a_case` fails until it does.

Tolerances (those of the per-family tests): 1e-5 on features, tokens, embeddings, logits and scores;
1e-4 on ViCLIP's ×100 logits; 1e-6 on ViCLIP's resized temporal table; 5e-2 in bfloat16.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from checkpoint_files import tensor, write_zip
from flax import nnx
from port_cases import CHECKPOINTS, MODELS, ROOT, HFCase, cli_in_process

from gesture_jax import models
from gesture_jax.models import registry
from gesture_jax.ports import sources
from gesture_jax.ports.convert import PortError

HF = os.path.join(ROOT, "tests", "fixtures", "hf")
VIDEOPRISM = os.path.join(ROOT, "tests", "fixtures", "videoprism")
VJEPA21 = os.path.join(ROOT, "tests", "fixtures", "vjepa21", "vjepa21_dev")

Values = Mapping[str, jax.Array]


@dataclasses.dataclass(frozen=True)
class Output:
    """A model call matched to a reference array.

    `got(model, values)` reads the case's inputs, and the outputs listed before it, by name from
    `values`; `want(io)` is the reference (default: the io array called `name`)."""

    name: str
    got: Callable[[nnx.Module, Values], jax.Array]
    want: Callable[[Mapping[str, np.ndarray]], np.ndarray] | None = None
    tol: float = 1e-5
    frames: int | None = None  # the model loaded for this frame count; None: the checkpoint's own

    def reference(self, io: Mapping[str, np.ndarray]) -> np.ndarray:
        return io[self.name] if self.want is None else self.want(io)


@dataclasses.dataclass(frozen=True, eq=False)
class Damage:
    """A copy of the checkpoint with `key` deleted, added or given another shape (`value`), which the
    converter must refuse with `error` matching `message` (None: the converter's own wording for the
    kind, `expected_message`)."""

    kind: Literal["missing", "unexpected", "reshaped"]
    key: str
    value: np.ndarray | None = None
    message: str | None = None
    error: type[Exception] = PortError

    def expected_message(self, original: np.ndarray | None) -> str:
        if self.message is not None:
            return self.message
        if self.kind == "reshaped":
            return re.escape(
                f"wrong shapes: {self.key}: {list(self.value.shape)} in the checkpoint, "
                f"the model needs {list(original.shape)}"
            )
        return re.escape(f"{self.kind} keys: ['{self.key}']")


def missing(key: str, message: str | None = None, error: type[Exception] = PortError) -> Damage:
    return Damage("missing", key, None, message, error)


def unexpected(key: str, value: np.ndarray, message: str | None = None) -> Damage:
    return Damage("unexpected", key, value, message)


def reshaped(
    key: str, value: np.ndarray, message: str | None = None, error: type[Exception] = PortError
) -> Damage:
    return Damage("reshaped", key, value, message, error)


@dataclasses.dataclass(frozen=True)
class Refusal:
    """A clip the checkpoint's model refuses, `message` naming why: `frames` frames of `size` (None: the
    reference video's). `load_message`: ``models.load(num_frames=frames)`` refuses already, so."""

    message: str
    frames: int | None = None
    size: tuple[int, int] | None = None
    load_message: str | None = None

    def __str__(self) -> str:
        return f"{self.frames} frames" if self.size is None else "{}x{}".format(*self.size)


@dataclasses.dataclass(frozen=True)
class Case:
    """One fixture case of one family: everything the kit needs to convert and check it."""

    name: str
    family: str
    src: str  # --src as a user gives it: the released file, or a transformers folder
    io: str  # .npz of the reference inputs and outputs
    outputs: tuple[Output, ...]  # the video tower's
    verify_tensors: int  # what `--verify` counts
    verify_edit: str  # a source tensor whose first value, changed, --verify must catch ...
    verify_message: str  # ... naming it so
    damages: tuple[Damage, ...]
    video: str = "video"  # the io array of the reference video [B, T, H, W, 3]
    inputs: tuple[str, ...] = ()  # other io arrays the calls read (token ids, other clips)
    model_config: str | None = None  # --model_config (a JSON file or text); None: the folder's config.json
    text: tuple[Output, ...] = ()  # the text tower's outputs and zero-shot scores, where there is one
    bfloat16: tuple[str, ...] = ("features",)  # outputs recomputed in bfloat16 (from inputs alone)
    frame_counts: tuple[int, ...] = ()  # other frame counts the model is loaded for and runs
    sizes: tuple[tuple[int, int], ...] = ()  # other frame sizes it runs
    refusals: tuple[Refusal, ...] = ()
    dropped: int = 0  # keys the converter drops by rule ...
    dropped_prefix: str = ""  # ... each starting so
    # model.json's whole model_config, where the source's config.json gives it
    recorded_config: dict[str, Any] | None = None
    spec: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # entries of its input spec
    also_from: tuple[str, ...] = ()  # other files of the same weights, converting to the same params
    # Kit checks ("reference", "bfloat16", "frames", "sizes") over ~3 s for this case on a 2-core CPU:
    # marked slow, so `make test-fast` leaves them out.
    slow_checks: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name

    @property
    def format(self) -> str:
        return registry.get_family(self.family).checkpoint

    def convert_args(self, dst: str, src: str | None = None) -> list[str]:
        args = ["--family", self.family, "--src", src or self.src, "--dst", dst]
        return args + (["--model_config", self.model_config] if self.model_config else [])

    def all_outputs(self) -> tuple[Output, ...]:
        return self.outputs + self.text


# ------------------------------------------------------------------------------------------- the table


def _features(video="video"):
    return Output("features", lambda m, v: m.features(v[video]))


def _official(name: str, outputs: tuple[Output, ...], **fields) -> Case:
    """A case of tests/fixtures/{checkpoints,models}: the official PyTorch release layout (.pth, its
    state dict under 'model' or 'module') and the same tensors as .safetensors; the model config is
    the reference's, as the fixture's `config` JSON."""
    io = os.path.join(MODELS, f"{name}.npz")
    config = np.load(io)["config"].item()
    return Case(
        name=name,
        family=json.loads(config)["family"],
        src=os.path.join(CHECKPOINTS, f"{name}.pth"),
        io=io,
        outputs=outputs,
        video="video_bthwc",
        model_config=config,
        also_from=(os.path.join(CHECKPOINTS, f"{name}.safetensors"),),
        **fields,
    )


def _vit_damages(head: bool = True, prefix: str = "") -> tuple[Damage, ...]:
    """The official ViT layout's damages, at the dev models' width 32 (`prefix`: where the release nests
    the encoder). A missing key is named as the key map spells it, without the prefix."""
    return (
        missing(f"{prefix}blocks.1.mlp.fc2.bias", re.escape("missing keys: ['blocks.1.mlp.fc2.bias']")),
        unexpected(f"{prefix}blocks.0.attn.k_bias", np.zeros(32, np.float32)),
        reshaped(f"{prefix}blocks.0.norm1.weight", np.ones(31, np.float32)),
    ) + ((reshaped("head.weight", np.ones((5, 31), np.float32)),) if head else ())


def _vit_tokens(first64: bool = False) -> Output:
    """The last block's output before pooling (large cases store example 0's first 64 tokens)."""
    if first64:
        return Output("block_out_1_b0_first64", lambda m, v: m.tokens(v["video_bthwc"])[0, :64])
    return Output("block_out_1", lambda m, v: m.tokens(v["video_bthwc"]))


def _vit_layers() -> tuple[Output, ...]:
    """`tokens(video, layers)`: each block's output as the reference's blocks give it, asked for alone
    and together (negative indices from the end)."""
    both = lambda m, v: m.tokens(v["video_bthwc"], [0, -1])  # noqa: E731
    return (
        Output("block_out_0", lambda m, v: m.tokens(v["video_bthwc"], [0])[0]),
        Output("block_out_0 and _1", both, lambda z: np.stack([z["block_out_0"], z["block_out_1"]])),
    )


def _vit_outputs(first64: bool = False) -> tuple[Output, ...]:
    """A fine-tuned official ViT's feature, logits and last block's tokens (and each block's where the
    fixture has them)."""
    logits = Output("logits", lambda m, v: m(v["video_bthwc"]))
    return _features("video_bthwc"), logits, _vit_tokens(first64), *(() if first64 else _vit_layers())


def _viclip_at(frames: int) -> tuple[tuple[Output, ...], tuple[Output, ...]]:
    """ViCLIP's reference at another frame count ((video outputs, text outputs)): the temporal table
    interpolated (more frames) or truncated (fewer) at load, and the same features from the
    checkpoint's own model, which adapts the table on the fly."""
    video = lambda v: jnp.transpose(v[f"video_t{frames}"], (0, 1, 3, 4, 2))  # [B,T,C,H,W] → [B,T,H,W,C]
    table = lambda m, v: m.vision.temporal_positional_embedding[...]
    zeroshot = lambda m, v: jax.nn.softmax(
        100.0 * v[f"features_t{frames}"] @ m.encode_text(v["token_ids"]).T, axis=-1
    )
    return (
        Output(f"temporal_pos_t{frames}", table, tol=1e-6, frames=frames),
        Output(f"video_embed_t{frames}", lambda m, v: m.video_embed(video(v)), frames=frames),
        Output(f"features_t{frames}", lambda m, v: m.features(video(v)), frames=frames),
        Output(f"features_t{frames}", lambda m, v: m.features(video(v))),
    ), (Output(f"scores_t{frames}", zeroshot, frames=frames),)


_VICLIP_T8, _VICLIP_T2 = _viclip_at(8), _viclip_at(2)
_SIGLIP_ORDER = [0, 2, 1, 1, 0]
_IMAGENET = (0.485, 0.456, 0.406)
_VIDEOPRISM_STACK = "params/spatial_encoder/transformers_stack/x_layers"

CASES: tuple[Case, ...] = (
    Case(
        name="dinov2_dev",
        family="dinov2",
        src=os.path.join(HF, "dinov2_dev"),
        io=os.path.join(HF, "dinov2_dev", "io.npz"),
        outputs=(
            _features(),
            Output("frame_cls", lambda m, v: m.frame_features(v["video"])),
            Output("frame_tokens", lambda m, v: m.frame_tokens(v["video"])),
            # tokens: every frame's, frame after frame; the last block's output through the final norm.
            Output(
                "tokens", lambda m, v: m.tokens(v["video"]), lambda z: z["frame_tokens"].reshape(2, -1, 64)
            ),
            Output(
                "norm(last block)",
                lambda m, v: m.norm(m.tokens(v["video"], [-1])[0]),
                lambda z: z["frame_tokens"].reshape(2, -1, 64),
            ),
            # Frames are encoded one by one: any count gives the mean of those frames' CLS features.
            Output(
                "mean of frames 0 and 1",
                lambda m, v: m.features(v["video"][:, :2]),
                lambda z: z["frame_cls"][:, :2].mean(1),
                frames=2,
            ),
            Output(
                "frame 1 alone",
                lambda m, v: m.features(v["video"][:, 1:2]),
                lambda z: z["frame_cls"][:, 1],
                frames=2,
            ),
        ),
        # 43 tensors in the file: mask_token dropped, 2 layers × 6 q/k/v weights and biases fused into 2 × 2.
        verify_tensors=34,
        verify_edit="encoder.layer.1.attention.attention.value.bias",
        verify_message="encoder.layer.1.attention.attention.qkv.bias: 1 of 192 values differ",
        damages=(
            missing("encoder.layer.1.mlp.fc2.bias"),
            # One projection of a triple that is fused into qkv.
            missing("encoder.layer.0.attention.attention.key.weight", error=ValueError),
            reshaped("layernorm.weight", np.ones(63, np.float32)),
            # E.g. a dinov2-with-registers file given as plain DINOv2.
            unexpected("embeddings.register_tokens", np.zeros((1, 4, 64), np.float32)),
        ),
        frame_counts=(2,),
        sizes=((40, 24),),
        dropped=1,
        dropped_prefix="embeddings.mask_token",
        recorded_config=dict(
            patch_size=8,
            pos_grid=4,
            num_frames=8,
            img_size=224,
            embed_dim=64,
            depth=2,
            num_heads=4,
            mlp_ratio=4.0,
            layer_norm_eps=1e-6,
            qkv_bias=True,
            use_swiglu_ffn=False,
        ),
        # The family's protocol; the resize keeps its resize/crop ratio (256 → 224).
        spec=dict(crop_size=224, resize_size=256, mean=_IMAGENET),
    ),
    Case(
        name="siglip_dev",
        family="siglip",
        src=os.path.join(HF, "siglip_dev"),
        io=os.path.join(HF, "siglip_dev", "io.npz"),
        outputs=(
            Output("frame_features", lambda m, v: m.frame_features(v["video"])),
            _features(),
            # tokens: what the MAP head pools, each frame's (3 frames of 4² tokens); the last block's
            # output through post_layernorm is them.
            Output(
                "head(tokens)",
                lambda m, v: m.vision.head(m.tokens(v["video"]).reshape(6, 16, -1)).reshape(2, 3, -1),
                lambda z: z["frame_features"],
            ),
            Output(
                "head(post_layernorm(last block))",
                lambda m, v: m.vision.head(
                    m.vision.post_layernorm(m.tokens(v["video"], [-1])[0]).reshape(6, 16, -1)
                ).reshape(2, 3, -1),
                lambda z: z["frame_features"],
            ),
            # Frames are encoded one by one: any T (in any order) gives the mean of their embeddings.
            Output(
                f"frames {_SIGLIP_ORDER}",
                lambda m, v: m.features(v["video"][:, _SIGLIP_ORDER]),
                lambda z: z["frame_features"][:, _SIGLIP_ORDER].mean(1),
            ),
            Output(
                "frame 0 alone",
                lambda m, v: m.features(v["video"][:, :1]),
                lambda z: z["frame_features"][:, 0],
            ),
            Output("features", lambda m, v: m.features(v["video"]), frames=4),
        ),
        inputs=("token_ids",),
        text=(
            Output("text_features", lambda m, v: m.encode_text(v["token_ids"])),
            # SigLIP's rule (cosine · exp(logit_scale) + logit_bias), not CLIP's ×100.
            Output("logits", lambda m, v: m.zeroshot_logits(v["features"], v["text_features"])),
        ),
        bfloat16=("features", "text_features"),
        verify_tensors=88,
        verify_edit="vision_model.head.attention.in_proj_bias",
        verify_message="vision_model.head.attention.in_proj_bias: 1 of 192 values differ",
        damages=(
            missing("vision_model.head.attention.in_proj_bias"),
            unexpected("vision_model.encoder.layers.2.mlp.fc1.bias", np.ones(256, np.float32)),
            reshaped("text_model.encoder.layers.1.self_attn.k_proj.weight", np.ones((64, 32), np.float32)),
        ),
        frame_counts=(4,),
        sizes=((48, 40),),
        spec=dict(
            resize="squash_pil_bilinear",
            crop="none",
            resize_size=32,
            crop_size=32,
            mean=(0.5,) * 3,
            std=(0.5,) * 3,
            num_frames=8,
        ),
    ),
    Case(
        name="vjepa2_dev",
        family="vjepa2",
        src=os.path.join(HF, "vjepa2_dev"),
        io=os.path.join(HF, "vjepa2_dev", "io.npz"),
        outputs=(
            Output("tokens", lambda m, v: m.tokens(v["video"])),
            # The last block's output (transformers' hidden_states[-1]) through the final norm is
            # last_hidden_state: the multi-layer output is the blocks' own.
            Output(
                "norm(last block)", lambda m, v: m.norm(m.tokens(v["video"], [-1])[0]), lambda z: z["tokens"]
            ),
            _features(),
        ),
        verify_tensors=36,
        verify_edit="encoder.layer.1.attention.key.weight",
        verify_message="encoder.layer.1.attention.key.weight: 1 of 4096 values differ",
        damages=(
            missing("encoder.layer.1.attention.key.weight"),
            reshaped("encoder.layer.0.mlp.fc1.bias", np.zeros(255, np.float32)),
            unexpected("encoder.layer.0.attention.rope_scale", np.ones(4, np.float32)),
        ),
        frame_counts=(6, 2),
        refusals=(
            Refusal(
                "multiple of the tubelet size 2", frames=3, load_message="multiples of its tubelet size 2"
            ),
            Refusal(
                "multiple of the tubelet size 2", frames=5, load_message="multiples of its tubelet size 2"
            ),
            Refusal(r"expected video \[B, T, 32, 32, 3\]", size=(48, 48)),
        ),
        # The file holds the predictor too.
        dropped=23,
        dropped_prefix="predictor.",
        recorded_config=dict(
            patch_size=8,
            tubelet_size=2,
            num_frames=16,
            img_size=32,
            embed_dim=64,
            depth=2,
            num_heads=4,
            mlp_ratio=4.0,
            qkv_bias=True,
            layer_norm_eps=1e-6,
        ),
        # frames_per_clip (4 here) is the pre-training clip: the spec keeps the protocol's 16 frames.
        spec=dict(num_frames=16, crop_size=32, crop="three", mean=_IMAGENET),
    ),
    Case(
        name="videomae_hf_dev",
        family="videomae_hf",
        src=os.path.join(HF, "videomae_hf_dev"),
        io=os.path.join(HF, "videomae_hf_dev", "io.npz"),
        outputs=(
            _features(),
            Output("tokens", lambda m, v: m.tokens(v["video"])),
            Output("logits", lambda m, v: m(v["video"])),
        ),
        # 36 tensors in the file; each layer's query/key/value weights become one qkv weight.
        verify_tensors=32,
        verify_edit="videomae.encoder.layer.0.attention.attention.key.weight",
        verify_message="videomae.encoder.layer.0.attention.attention.qkv.weight: 1 of 12288 values",
        damages=(
            # Named as the key map strips them (the videomae. prefix gone) ...
            missing(
                "videomae.encoder.layer.1.output.dense.bias",
                re.escape("missing keys: ['encoder.layer.1.output.dense.bias']"),
            ),
            missing(
                "videomae.encoder.layer.0.attention.attention.q_bias",
                re.escape("missing keys: ['encoder.layer.0.attention.attention.q_bias']"),
            ),
            # ... or as in the file, when a fused query/key/value triple is incomplete.
            missing("videomae.encoder.layer.1.attention.attention.value.weight", error=ValueError),
            unexpected("videomae.encoder.layer.0.attention.attention.k_bias", np.ones(64, np.float32)),
            reshaped("classifier.weight", np.ones((5, 63), np.float32)),
            reshaped(
                "videomae.encoder.layer.0.attention.attention.key.weight",
                np.ones((64, 63)),
                r"query/key/value tensors that differ .*key float64\[64, 63\]",
                error=ValueError,
            ),
        ),
        frame_counts=(2,),
        sizes=((16, 16),),
        refusals=(Refusal(r"expected video \[B, T, S, S, 3\] with T a multiple of 2", frames=3),),
        recorded_config=dict(
            num_frames=4,
            tubelet_size=2,
            img_size=32,
            patch_size=8,
            embed_dim=64,
            depth=2,
            num_heads=4,
            mlp_ratio=4.0,
            layer_norm_eps=1e-6,
            use_mean_pooling=True,
            num_classes=5,
            learned_pos_embed=False,
            init_values=0.0,
            fc_norm_eps=1e-5,  # torch's nn.LayerNorm default, whatever config.json says
        ),
        # The family's protocol (VideoMAE v1's K400 test) at the model's own geometry.
        spec=dict(sampler="videomae_v1_dense_test", num_clips=5, crop="three", num_frames=4, crop_size=32),
    ),
    Case(
        name="videoprism_dev",
        family="videoprism",
        src=os.path.join(VIDEOPRISM, "videoprism_dev", "checkpoint.npz"),
        io=os.path.join(VIDEOPRISM, "videoprism_dev", "io.npz"),
        model_config=os.path.join(VIDEOPRISM, "videoprism_dev", "config.json"),
        outputs=(
            Output("tokens", lambda m, v: m.tokens(v["video"])),
            _features(),
            # Fewer frames resize the temporal table in the forward, whether or not loaded for them.
            Output("tokens_short", lambda m, v: m.tokens(v["video_short"])),
            Output("tokens_short", lambda m, v: m.tokens(v["video_short"]), frames=2),
        ),
        inputs=("video_short",),
        # 8 + 2 stacks × 16 names, split in 2 layers.
        verify_tensors=72,
        verify_edit="params/temporal_ln/bias",
        verify_message="params/temporal_ln/bias: 1 of 64 values differ",
        damages=(
            missing("params/temporal_ln/bias"),
            # A scanned stack's layers are named one by one.
            missing(
                f"{_VIDEOPRISM_STACK}/self_attention/key/w",
                r"missing keys: .*x_layers_0/self_attention/key/w.*x_layers_1/self_attention/key/w",
            ),
            unexpected("params/extra/w", np.ones(3, np.float32)),
            # A stack of 3 layers where the model has 2: the third is unexpected.
            reshaped(
                f"{_VIDEOPRISM_STACK}/layer_norm/bias",
                np.ones((3, 64), np.float32),
                r"unexpected keys: .*x_layers_2/layer_norm/bias",
            ),
            reshaped("params/spatial_pos_emb/emb_var", np.ones((16, 63), np.float32)),
        ),
        frame_counts=(2,),
        sizes=((16, 16),),
        refusals=(Refusal(r"expected video \[B, T, H, H, 3\] with H a multiple of 8", size=(40, 24)),),
        spec=dict(num_frames=4, crop_size=32, mean=(0.0,) * 3, std=(1.0,) * 3),
    ),
    Case(
        name="videoprism_lvt_dev",
        family="videoprism",
        src=os.path.join(VIDEOPRISM, "videoprism_lvt_dev", "checkpoint.npz"),
        io=os.path.join(VIDEOPRISM, "videoprism_lvt_dev", "io.npz"),
        model_config=os.path.join(VIDEOPRISM, "videoprism_lvt_dev", "config.json"),
        outputs=(Output("video_embeddings", lambda m, v: m.features(v["video"])),),
        inputs=("token_ids", "text_paddings"),
        text=(
            Output(
                "text_embeddings",
                lambda m, v: m.encode_text(v["token_ids"], paddings=v["text_paddings"]),
            ),
            Output("scores", lambda m, v: v["video_embeddings"] @ v["text_embeddings"].T),
        ),
        bfloat16=("video_embeddings", "text_embeddings"),
        slow_checks=("bfloat16",),  # 3-5 s: compiling the LvT towers in bfloat16
        verify_tensors=136,
        verify_edit="params/text_encoder/cls_emb",
        verify_message="params/text_encoder/cls_emb: 1 of 64 values differ",
        damages=(
            missing("params/text_encoder/unimodal_ln/bias"),
            unexpected("params/text_encoder/extra/w", np.ones(3, np.float32)),
            reshaped("params/text_encoder/token_emb/emb_var", np.ones((1000, 63), np.float32)),
        ),
        frame_counts=(2,),
        sizes=((16, 16),),
        spec=dict(num_frames=4, crop_size=32, mean=(0.0,) * 3, std=(1.0,) * 3),
    ),
    _official(
        "umt_dev_native",
        _vit_outputs(first64=True),
        verify_tensors=32,
        verify_edit="blocks.0.attn.qkv.weight",
        verify_message="blocks.0.attn.qkv.weight: 1 of 3072 values differ",
        damages=_vit_damages(),
        frame_counts=(4,),
        sizes=((16, 16),),
        spec=dict(num_frames=8),
    ),
    _official(
        "umt_dev_interp",
        _vit_outputs(),
        verify_tensors=33,
        verify_edit="pos_embed",
        verify_message="pos_embed: 1 of 2048 values differ",
        damages=_vit_damages(),
        # At a non-default geometry the table is a stored parameter: no other frame count or size.
        refusals=(
            Refusal("learned position table", frames=8, load_message="learned position table"),
            Refusal("learned position table", size=(48, 48)),
        ),
        spec=dict(num_frames=4),
    ),
    _official(
        "videomae_v1_dev",
        _vit_outputs(),
        verify_tensors=32,
        verify_edit="fc_norm.weight",
        verify_message="fc_norm.weight: 1 of 32 values differ",
        damages=(
            *_vit_damages(),
            missing("blocks.0.norm1.weight"),
            unexpected("blocks.2.mlp.fc1.bias", np.zeros(128, np.float32), r"unexpected keys: .*blocks.2"),
            reshaped("fc_norm.weight", np.ones(31, np.float32)),
        ),
        frame_counts=(2,),
        sizes=((16, 16),),
        spec=dict(num_frames=4),
    ),
    _official(
        "videomae_v2_dev",
        _vit_outputs(),
        verify_tensors=32,
        verify_edit="head.bias",
        verify_message="head.bias: 1 of 5 values differ",
        damages=_vit_damages(),
        frame_counts=(4,),
        sizes=((16, 16),),
        spec=dict(num_frames=8),
    ),
    _official(
        "videomae_v2_dev_pretrain",
        (
            _features("video_bthwc"),
            # A pre-training checkpoint's feature is its final norm of token 0.
            Output(
                "encoder_tokens[:, 0]",
                lambda m, v: m.features(v["video_bthwc"]),
                lambda z: z["encoder_tokens"][:, 0],
            ),
            _vit_tokens(),
            *_vit_layers(),
        ),
        verify_tensors=30,
        verify_edit="encoder.norm.weight",
        verify_message="encoder.norm.weight: 1 of 32 values differ",
        damages=_vit_damages(head=False, prefix="encoder."),
        frame_counts=(2,),
        sizes=((16, 16),),
        # The decoder, encoder_to_decoder and mask_token.
        dropped=19,
        spec=dict(num_frames=4),
    ),
    _official(
        "viclip_dev",
        (
            Output("video_embed", lambda m, v: m.video_embed(v["video_bthwc"])),
            _features("video_bthwc"),
            # tokens: after ln_post, the CLS first; each block's output before any norm
            Output("vision_ln_post", lambda m, v: m.tokens(v["video_bthwc"])),
            Output(
                "vision_block_out_0 and _1",
                lambda m, v: m.tokens(v["video_bthwc"], [0, 1]),
                lambda z: np.stack([z["vision_block_out_0"], z["vision_block_out_1"]]),
            ),
            *_VICLIP_T8[0],
            *_VICLIP_T2[0],
        ),
        inputs=("token_ids", "video_t8", "video_t2"),
        text=(
            Output("text_embed", lambda m, v: m.text_embed(v["token_ids"])),
            Output("text_features", lambda m, v: m.encode_text(v["token_ids"])),
            Output("logits_100cos", lambda m, v: 100.0 * v["features"] @ v["text_features"].T, tol=1e-4),
            Output("scores", lambda m, v: jax.nn.softmax(v["logits_100cos"], axis=-1)),
            *_VICLIP_T8[1],
            *_VICLIP_T2[1],
        ),
        bfloat16=("features", "text_features"),
        verify_tensors=63,
        verify_edit="text_encoder.token_embedding.weight",
        verify_message="text_encoder.token_embedding.weight: 1 of 2048 values differ",
        damages=(
            missing("text_encoder.ln_final.bias"),
            unexpected("vision_encoder.transformer.resblocks.2.ln_1.bias", np.ones(32, np.float32)),
            reshaped("vision_encoder.proj", np.ones((32, 15), np.float32)),
        ),
        # Not 1: loaded for one frame, the table is cut to its first row, while the checkpoint's own model
        # given one frame uses the table's mean (the reference forward's rule for an image).
        frame_counts=(8, 2),
        refusals=(Refusal(r"expected video \[B, T, 32, 32, 3\]", size=(48, 48)),),
        spec=dict(num_frames=4, resize="squash"),
    ),
    Case(
        # V-JEPA 2.1: the official torch.hub layout ({'ema_encoder': ...}, keys under 'module.backbone.').
        name="vjepa21_dev",
        family="vjepa21",
        src=os.path.join(VJEPA21, "checkpoint.pt"),
        io=os.path.join(VJEPA21, "io.npz"),
        outputs=(
            _features(),
            Output("tokens", lambda m, v: m.tokens(v["video"])),
            # The four hierarchical layers, each through its own norms_block.
            Output("out_layers_tokens", lambda m, v: m.tokens(v["video"], [2, 5, 8, 11])),
            Output(
                "out_layers_tokens[3] is tokens",
                lambda m, v: m.tokens(v["video"], [-1])[0],
                lambda z: z["tokens"],
            ),
            # One frame: the image tokenizer and img_mod_embed.
            Output("image_tokens", lambda m, v: m.tokens(v["image"][:, None])),
            Output("image_features", lambda m, v: m.features(v["image"][:, None])),
        ),
        inputs=("image",),
        model_config=os.path.join(VJEPA21, "config.json"),
        # 12 blocks × 12, the two tokenizers' weights and biases, two modality embeddings, 4 norms × 2.
        verify_tensors=158,
        verify_edit="module.backbone.blocks.1.attn.proj.bias",
        verify_message="blocks.1.attn.proj.bias: 1 of 64 values differ",
        damages=(
            # A missing key is named as the model needs it (the wrappers' prefixes stripped).
            missing(
                "module.backbone.blocks.1.mlp.fc2.bias", re.escape("missing keys: ['blocks.1.mlp.fc2.bias']")
            ),
            unexpected("module.backbone.norm.weight", np.ones(64, np.float32)),  # 2.0's final norm
            reshaped("module.backbone.img_mod_embed", np.ones((1, 1, 63), np.float32)),
        ),
        frame_counts=(2,),
        sizes=((32, 64),),
        refusals=(
            Refusal("needs ≥ 2 patch rows and columns", size=(16, 48)),
            Refusal("1 frame or a multiple of its tubelet size 2", frames=3),
        ),
        spec=dict(crop_size=384, num_frames=16),
        slow_checks=("frames", "sizes"),
    ),
)

BY_NAME = {case.name: case for case in CASES}


# ------------------------------------------------------------------------------------------ the helpers


@functools.cache
def reference(name: str) -> dict[str, np.ndarray]:
    """The case's io arrays, read once."""
    with np.load(BY_NAME[name].io) as z:
        return {k: z[k] for k in z.files}


@dataclasses.dataclass(frozen=True)
class Conversion:
    dst: str
    status: int
    stdout: str


@functools.cache
def _scratch() -> str:
    """One folder per test process for the shared conversions (read only once written)."""
    path = tempfile.mkdtemp(prefix="gesture_jax_family_cases_")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def converted(name: str) -> Conversion:
    """The case converted by the command's main, in-process, once per test process. Tests only read
    it (load, verify, compare); one that must change a conversion makes its own."""
    dst = os.path.join(_scratch(), name)
    status, stdout = cli_in_process(*BY_NAME[name].convert_args(dst))
    return Conversion(dst, status, stdout)


@functools.cache
def loaded(name: str, dtype: str = "float32", num_frames: int | None = None) -> nnx.Module:
    """The converted case's model, loaded once per test process (tests only call it)."""
    return models.load(converted(name).dst, dtype=dtype, num_frames=num_frames)[0]


Run = tuple[nnx.Module, tuple[Output, ...]]  # a model and the outputs to compute with it


def evaluate(case: Case, *runs: Run, extra: Mapping[str, np.ndarray] | None = None) -> list[dict]:
    """{name: value} of each run's outputs, all runs in one compiled call: an eager forward costs
    seconds op by op, and compiling costs more than computing here, mostly per call, not per op."""
    io = reference(case.name)
    inputs = {k: jnp.asarray(io[k]) for k in (case.video, *case.inputs)}
    inputs |= {k: jnp.asarray(v) for k, v in (extra or {}).items()}

    def run(models, values):
        results = []
        for model, (_, outputs) in zip(models, runs):
            own = dict(values)
            for output in outputs:
                own[output.name] = output.got(model, own)
            results.append({output.name: own[output.name] for output in outputs})
        return results

    return jax.tree.map(np.asarray, nnx.jit(run)(tuple(model for model, _ in runs), inputs))


def clip(case: Case, frames: int | None = None, size: tuple[int, int] | None = None) -> np.ndarray:
    """A video of `frames` frames (the reference video's, cycled) or of frames of `size` (random)."""
    video = reference(case.name)[case.video]
    frames = frames or video.shape[1]
    if size is None:
        return video[:, np.arange(frames) % video.shape[1]]
    return np.random.default_rng(0).normal(size=(1, frames, *size, 3)).astype(np.float32)


def read_source(case: Case) -> sources.Source:
    """The case's checkpoint as the converter reads it, its tensors writable copies."""
    preferred = tuple(getattr(models.family_module(case.family), "STATE_KEYS", ()))
    source = sources.read(case.format, case.src, None, preferred)
    return dataclasses.replace(source, tensors={k: np.array(v, order="C") for k, v in source.tensors.items()})


_STORAGES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float16): "HalfStorage"}


def write_source(case: Case, path: str, source: sources.Source) -> str:
    """`source` (edited) written in the case's checkpoint format at `path`: a folder beside a copy of
    the case's config.json, an .npz, or a torch.save zip with the tensors under the same state key."""
    if case.format == "hf":
        return HFCase(os.path.basename(case.src)).folder(path, source.tensors)
    if case.format == "videoprism_npz":
        np.savez(f"{path}.npz", **source.tensors)
        return f"{path}.npz"
    state = {
        k: tensor(np.array(v, order="C"), str(i), _STORAGES[v.dtype])
        for i, (k, v) in enumerate(source.tensors.items())
    }
    return write_zip(f"{path}.pth", {source.state_key: state} if source.state_key else state)

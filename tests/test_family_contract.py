"""The encoder-family contract (gesture_jax.models.family): every family meets it, ports depend on
models and never the reverse, and a module that misses a member is named with what it lacks."""

import ast
import dataclasses
import pathlib
import types

import pytest

from gesture_jax import models
from gesture_jax.models import family, registry
from gesture_jax.ports import convert

ROOT = pathlib.Path(__file__).resolve().parents[1] / "gesture_jax"


@pytest.mark.parametrize("name", sorted(registry.FAMILIES))
def test_every_family_module_meets_the_contract(name):
    module = models.family_module(name)  # runs family.check
    assert all(callable(getattr(module, m)) for m in family.REQUIRED if m != "CONFIG_CLASS")
    if registry.get_family(name).checkpoint:
        assert family.has_port(module) and convert.keymap_of(name) is module.KEYMAP


def test_ported_families_are_the_ones_with_a_checkpoint_format():
    ported = registry.ported_families()
    assert ported == sorted(n for n, f in registry.FAMILIES.items() if f.checkpoint)
    assert {"umt", "viclip", "videomae_v1", "videomae_v2"} <= set(ported) and "toy" not in ported
    with pytest.raises(convert.PortError, match="family 'toy' has no checkpoint port"):
        convert.keymap_of("toy")


def test_a_module_missing_members_is_named():
    bare = types.ModuleType("gesture_jax.models.half_done")
    bare.build = lambda *a, **k: None
    bare.KEYMAP = object()  # a port without its checkpoint_facts
    with pytest.raises(
        TypeError,
        match=r"half_done lacks \['CONFIG_CLASS', 'buffers', 'adapt_params', "
        r"'layer_index', 'num_layers', 'checkpoint_facts'\]",
    ):
        family.check(bare)


def _imports(path: pathlib.Path) -> list[tuple[str, int]]:
    """(module, line) of every import in a file, at any depth (function-level ones included)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out += [(node.module, node.lineno)] + [
                (f"{node.module}.{a.name}", node.lineno) for a in node.names
            ]
    return out


def test_models_never_import_ports():
    """ports → models, never the reverse (the converted-model format lives in models.model_dir)."""
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / "models").rglob("*.py"))
        for name, line in _imports(path)
        if name.startswith("gesture_jax.ports")
    ]
    assert offending == []


def test_block_layer_index_and_the_families_that_use_it():
    """VideoMAE's get_num_layer_for_vit: embeddings 0, blocks.i → i + 1, the rest depth + 1; each of the
    ViT-shaped families with its own embedding names, over every parameter of a small model."""
    from gesture_jax.models import dinov2, vit, vjepa2

    assert family.block_layer_index(("pos_embed",), 12, ("patch_embed", "pos_embed")) == 0
    assert family.block_layer_index(("blocks", "4", "attn", "qkv", "kernel"), 12, ("patch_embed",)) == 5
    assert family.block_layer_index(("fc_norm", "scale"), 12, ("patch_embed",)) == 13
    small = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2)
    cases = [
        ("umt", vit, dict(registry.get("toy-vit").model_config), ("patch_embed", "pos_embed")),
        ("vjepa2", vjepa2, small, ("patch_embed",)),
        ("dinov2", dinov2, dict(small, pos_grid=4), ("patch_embed", "cls_token", "pos_embed")),
    ]
    for name, module, config, embeddings in cases:
        config = {**registry.get_family(name).config_defaults, **config}
        for path in models.param_shapes(name, config):
            parts = tuple(path.split("."))
            want = (
                0
                if parts[0] in embeddings
                else int(parts[1]) + 1
                if parts[0] == "blocks"
                else config["depth"] + 1
            )
            assert module.layer_index(parts, config) == want, (name, path)
        assert module.num_layers(config) == config["depth"] + 2


@pytest.mark.parametrize("name", sorted(registry.FAMILIES))
def test_a_family_declares_its_text_tower_or_has_none(name):
    """The text side is the family's, typed: a `TextTower` in the module's TEXT, or no text tower, which
    asking for it names."""
    if getattr(models.family_module(name), "TEXT", None) is None:
        with pytest.raises(ValueError, match="has no text tower"):
            models.text_tower(name)
    else:
        assert isinstance(models.text_tower(name), family.TextTower)


def test_the_text_tower_reads_the_model_it_describes():
    model, _ = models.create("toy-viclip")
    tower = models.text_tower("viclip")
    assert hasattr(model, "encode_text") and tower.context(model) == model.config.context_length == 32
    assert tower.vocabulary_size(model) == model.config.vocab_size
    misnamed = dataclasses.replace(tower, vocab_field="vocabulary_size")  # VideoPrism's name, not ViCLIP's
    with pytest.raises(ValueError, match="config has vocabulary_size=None; its text tower names that field"):
        misnamed.vocabulary_size(model)


def test_text_towers_of_the_families_with_one():
    assert {n for n in registry.FAMILIES if getattr(models.family_module(n), "TEXT", None)} == {
        "viclip",
        "siglip",
        "videoprism",
    }
    assert models.text_tower("siglip").scores == "sigmoid" and models.text_tower("viclip").scores == "softmax"
    assert models.text_tower("videoprism").context_length == 64
    with pytest.raises(ValueError, match="expected a tokenizer of"):
        family.TextTower("wordpiece", "softmax")
    with pytest.raises(ValueError, match="softmax text tower has no learned calibration"):
        models.text_tower("viclip").calibration(None)


def test_every_text_tower_names_a_registered_tokenizer():
    from gesture_jax.text import tokenizers

    used = {models.text_tower(n).tokenizer for n in ("viclip", "siglip", "videoprism")}
    assert used == set(tokenizers.TOKENIZERS)
    with pytest.raises(
        ValueError, match="unknown tokenizer 'wordpiece'; known: clip_bpe, siglip, videoprism"
    ):
        tokenizers.tokenize("wordpiece", ["halt"], "", 8)

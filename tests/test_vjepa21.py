"""V-JEPA 2.1 beyond the port conformance kit (tests/family_cases.py: the fixture's tokens, features, the
four hierarchical layers and the image path within 1e-5): its RoPE, its sizes, its refusals, and the
release keys its files keep the encoder under."""

import dataclasses

import numpy as np
import pytest
from family_cases import BY_NAME, converted, read_source, write_source
from port_cases import cli_in_process

from gesture_jax import models
from gesture_jax.models import registry, vjepa21

CASE = BY_NAME["vjepa21_dev"]


def test_rope_pairs_are_interleaved_and_space_is_rescaled_to_the_pretraining_grid():
    """Channels 2k and 2k+1 share a frequency (2.0 tiles them); h and w map onto 0…15 whatever the patch
    grid, t counts tubelets."""
    cos, sin = vjepa21.rope_tables((2, 3, 4), dim=4)
    omega = np.array([1.0, 0.01], np.float32)
    token = 1 * 12 + 2 * 4 + 3  # tubelet 1, row 2 (the last of 3), column 3 (the last of 4)
    t, h, w = 1.0, 2 * 15 / 2, 3 * 15 / 3
    want = np.concatenate([np.repeat(np.sin(p * omega), 2) for p in (t, h, w)])
    np.testing.assert_allclose(sin[token], want, rtol=1e-6)
    np.testing.assert_allclose(cos[0], np.ones(12))
    with pytest.raises(ValueError, match="needs ≥ 2 patch rows and columns, got 1×4"):
        vjepa21.rope_tables((1, 1, 4), dim=4)


def test_registered_sizes_are_the_released_ones():
    """The hub's four 384-px encoders (src/hub/backbones.py), their parameter counts near the published
    rounded figures (B 80M, L 300M, g 1B, G 2B)."""
    published = {
        "vjepa21-vitb-384": (768, 12, 12, 3072, 80e6),
        "vjepa21-vitl-384": (1024, 24, 16, 4096, 300e6),
        "vjepa21-vitg-384": (1408, 40, 22, 6144, 1e9),
        "vjepa21-vitG-384": (1664, 48, 26, 8192, 2e9),
    }
    for name, (dim, depth, heads, mlp, count) in published.items():
        info = registry.get(name)
        config = vjepa21.VJEPA21Config(**info.model_config)
        assert (config.embed_dim, config.depth, config.num_heads, config.mlp_hidden) == (
            dim,
            depth,
            heads,
            mlp,
        )
        assert config.img_size == info.spec.crop_size == 384 and config.patch_size == 16
        params = sum(int(np.prod(s)) for s in models.param_shapes("vjepa21", info.model_config).values())
        assert abs(params / count - 1) < 0.1, (name, params)


def test_what_the_reference_cannot_build_or_give_is_refused():
    with pytest.raises(ValueError, match=r"built only at depths \[12, 24, 40, 48\]"):
        vjepa21.VJEPA21Config(depth=6).hierarchical_layers
    model = models.load(converted(CASE.name).dst)[0]
    video = np.asarray(np.load(CASE.io)["video"])
    with pytest.raises(ValueError, match=r"hierarchical layers \[2, 5, 8, 11\] only, got \[3\]"):
        model.tokens(video, [3])


def test_a_target_encoder_file_converts_to_the_same_weights(tmp_path):
    """ViT-g/G releases keep the encoder under 'target_encoder', B/L under 'ema_encoder': either is found
    without --state_key, and gives the same parameters."""
    source = read_source(CASE)
    assert source.state_key == "ema_encoder"
    src = write_source(CASE, str(tmp_path / "giant"), dataclasses.replace(source, state_key="target_encoder"))
    cli_in_process(
        "--family", "vjepa21", "--src", src, "--model_config", CASE.model_config, "--dst", str(tmp_path / "a")
    )
    ours = models.load(str(tmp_path / "a"))[0]
    theirs = models.load(converted(CASE.name).dst)[0]
    video = np.asarray(np.load(CASE.io)["video"])
    np.testing.assert_array_equal(np.asarray(ours.features(video)), np.asarray(theirs.features(video)))

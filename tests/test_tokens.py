"""`model.tokens(video, layers=None)`: the final tokens a family's feature pools, or the outputs of chosen
blocks stacked [len(layers), B, N, D]. Each family's against its reference: tests/family_cases.py."""

import inspect

import jax
import numpy as np
import pytest

from gesture_jax import models
from gesture_jax.models import layers


def test_block_indices_count_from_the_end_and_name_the_depth():
    assert layers.block_indices([0, -1, 2], 4) == (0, 3, 2)
    with pytest.raises(ValueError, match=r"block index 4 is not in \[-4, 4\) for this 4-block encoder"):
        layers.block_indices([4], 4)
    with pytest.raises(ValueError, match="layers names no block"):
        layers.block_indices([], 4)


@pytest.mark.slow
def test_the_last_block_is_the_final_tokens_and_layers_stack_in_the_order_asked():
    model, spec = models.create("toy-vit")
    video = jax.random.normal(jax.random.key(0), (2, spec.num_frames, 32, 32, 3))
    final = np.asarray(model.tokens(video))
    depth = model.config.depth
    stacked = np.asarray(model.tokens(video, [depth - 1, 0]))
    assert stacked.shape == (2, *final.shape)
    np.testing.assert_array_equal(stacked[0], final)  # the ViT's final tokens are its last block's output
    np.testing.assert_array_equal(stacked[1], np.asarray(model.tokens(video, [0]))[0])
    assert not np.allclose(stacked[0], stacked[1])


def test_every_family_gives_its_tokens_by_layer_or_says_why_not():
    """Each encoder class of every family takes `tokens(video, layers=None)`; VideoPrism, whose reference
    has no per-layer output, refuses a list naming why."""
    from flax import nnx

    from gesture_jax.models import registry, videoprism

    for name in registry.FAMILIES:
        module = models.family_module(name)
        encoders = [
            cls
            for cls in vars(module).values()
            if isinstance(cls, type)
            and issubclass(cls, nnx.Module)
            and hasattr(cls, "features")
            and cls.__module__ == module.__name__
        ]
        assert encoders, name
        for cls in encoders:
            assert list(inspect.signature(cls.tokens).parameters)[:3] == ["self", "video", "layers"], cls
    with pytest.raises(ValueError, match="VideoPrism's reference defines no per-layer output"):
        videoprism._no_layers([0])

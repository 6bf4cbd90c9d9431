"""Where each of a family's tokens sits in space and time, so tokens can be pooled spatially.

Every family orders its tokens its own way: ViT, V-JEPA 2, VideoPrism and SigLIP 2 (per frame) lay out
a (t, h, w) grid t-major with nothing before it; ViCLIP puts its CLS first, then the patches patch-major
and frame-minor; DINOv2 gives each frame its CLS followed by that frame's patches. A family's
``token_layout(video_shape)`` says which, and `pool` averages the grid over windows of (h, w) patches
(2×2 quarters the tokens a token store keeps) and keeps the CLS tokens as they are.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class TokenLayout:
    grid: tuple[int, int, int]  # (t, h, w) of the patch tokens
    order: str = "thw"  # "thw": t-major then rows then columns; "hwt": patch-major, frame-minor (ViCLIP)
    prefix: int = 0  # tokens before the grid (a CLS), kept as they are
    frame_prefix: int = 0  # tokens before each frame's patches (DINOv2's per-frame CLS), kept; "thw" only

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return self.prefix + t * (self.frame_prefix + h * w)


def pool(tokens: jax.Array, layout: TokenLayout, window: tuple[int, int]) -> jax.Array:
    """[..., N, D] → [..., N', D]: the prefix tokens, each frame's prefix tokens (frame after frame), then
    the grid averaged over (h, w) windows, t-major. A window that runs past the grid's edge averages the
    patches it covers (the padding is not counted)."""
    if tokens.shape[-2] != layout.num_tokens:
        raise ValueError(
            f"tokens {tokens.shape} do not match the layout {layout} ({layout.num_tokens} tokens)"
        )
    if layout.frame_prefix and layout.order != "thw":
        raise ValueError(f"a per-frame prefix needs order 'thw', got {layout.order!r}")
    lead, d = tokens.shape[:-2], tokens.shape[-1]
    (t, h, w), (ph, pw) = layout.grid, window
    kept = [tokens[..., : layout.prefix, :]]
    rest = tokens[..., layout.prefix :, :]
    if layout.order == "hwt":
        grid = jnp.moveaxis(rest.reshape(*lead, h, w, t, d), -2, -4)
    elif layout.order == "thw":
        frames = rest.reshape(*lead, t, layout.frame_prefix + h * w, d)
        kept.append(frames[..., : layout.frame_prefix, :].reshape(*lead, -1, d))
        grid = frames[..., layout.frame_prefix :, :].reshape(*lead, t, h, w, d)
    else:
        raise ValueError(f"unknown token order {layout.order!r}; expected 'thw' or 'hwt'")
    hh, ww = -(-h // ph), -(-w // pw)
    pad = [(0, 0)] * (grid.ndim - 3) + [(0, hh * ph - h), (0, ww * pw - w), (0, 0)]
    summed = jnp.pad(grid, pad).reshape(*lead, t, hh, ph, ww, pw, d).sum(axis=(-4, -2))
    ones = jnp.pad(jnp.ones((h, w), grid.dtype), pad[-3:-1]).reshape(hh, ph, ww, pw).sum(axis=(1, 3))
    pooled = (summed / ones[:, :, None]).reshape(*lead, t * hh * ww, d)
    return jnp.concatenate([*kept, pooled.astype(tokens.dtype)], axis=-2)


def recipe_tokens(model, x: jax.Array, layers: tuple[int, ...], window: tuple[int, int]) -> jax.Array:
    """[B, ...] preprocessed clips → [B, L, N, D]: the final tokens (L = 1, `layers` empty) or those
    blocks' outputs, averaged over `window` patches unless it is (1, 1): what a token store holds."""
    if layers:
        tokens = jnp.moveaxis(model.tokens(x, list(layers)), 0, 1)
    else:
        tokens = model.tokens(x)[:, None]
    if tuple(window) != (1, 1):
        if not hasattr(model, "token_layout"):
            raise ValueError(f"{type(model).__name__} has no token_layout, so its tokens cannot be pooled")
        tokens = pool(tokens, model.token_layout(x.shape), tuple(window))
    return tokens


def patches(shape: tuple[int, ...], patch: int, tubelet: int = 1) -> tuple[int, int, int]:
    """The (t, h, w) patch grid of a video [B, T, H, W, 3] (a "valid" patching: the remainder unused)."""
    return (max(shape[1] // tubelet, 1), shape[2] // patch, shape[3] // patch)

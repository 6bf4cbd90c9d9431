"""A grid of token probes trained at once: every (learning rate, weight decay[, layer]) one member of a
`jax.vmap`, so the grid is one compiled program that reads each batch once.

The recipe is V-JEPA 2's frozen evaluation (``evals/video_classification_frozen/eval.py``): AdamW (β
0.9, 0.999, ε 1e-8) on every parameter, the learning rate warmed up linearly from ``start_lr`` over the
warm-up and then cosine-annealed to ``final_lr``, the weight decay cosine-annealed from each member's
value to ``final_weight_decay`` (both schedules stepped before each update, as theirs: the first update
at step 1, the last at step T), cross-entropy, every member seeing the same shuffled batches. Their
configs use no warm-up, ``start_lr`` = lr, ``final_lr`` 0 and a constant weight decay, our defaults.

Views: a video's stored views (clips × crops) are each a training example (the loss is their mean),
and at test time their softmax probabilities are averaged, as both V-JEPA 2 and VideoGLUE evaluate.
Layers: a store of several blocks' tokens is read whole by each member ("tokens": the layers' tokens
concatenated along the token axis, V-JEPA 2's multi-level Jester probe; "channels": along the channels)
or by one member per layer ("per_layer", a grid axis of its own).

The training runs on one device, so the numbers are the same on any mesh. Batches are padded to a fixed
size with zero-weight rows, so a gallery of any size compiles once per shape. A training set of up to
`RESIDENT_BYTES` (float32) is copied to the device once and each epoch is one `lax.scan` over its
batches; a larger one streams from the token store a batch at a time (the same batches and updates).

Speed (bench/probe_grid.py): on a 2-core CPU a depth-4 probe is compute-bound, so the 20-member program
costs about what its 20 probes cost one after another; the one program pays off where one small probe
leaves the device idle (an accelerator, or the light attentive pooler).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from tqdm import tqdm

from gesture_jax.analysis import attentive_heads
from gesture_jax.features.token_store import TokenStore

LAYER_MODES = ("tokens", "channels", "per_layer")
RESIDENT_BYTES = 1 << 30  # a training set up to this size (float32) trains from device memory


@dataclasses.dataclass(frozen=True)
class GridSettings:
    learning_rates: tuple[float, ...] = (5e-3, 3e-3, 1e-3, 3e-4, 1e-4)
    weight_decays: tuple[float, ...] = (0.01, 0.1, 0.4, 0.8)
    epochs: int = 20
    batch_size: int = 32
    warmup_epochs: float = 0.0
    start_lr_fraction: float = 1.0  # start_lr = fraction × lr (V-JEPA 2: start_lr = lr)
    final_lr: float = 0.0
    final_weight_decay: float | None = None  # None: each member's own, i.e. constant
    label_smoothing: float = 0.0
    layer_mode: str = "tokens"  # how a store of several layers is read (LAYER_MODES)

    def __post_init__(self):
        if not self.learning_rates or not self.weight_decays:
            raise ValueError("a probe grid needs at least one learning rate and one weight decay")
        if self.layer_mode not in LAYER_MODES:
            raise ValueError(f"layer_mode {self.layer_mode!r}; expected one of {LAYER_MODES}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs {self.epochs} and batch_size {self.batch_size} must be at least 1")


@dataclasses.dataclass(frozen=True)
class Member:
    learning_rate: float
    weight_decay: float
    layer: int | None = None  # per_layer: the store's layer position


def members(settings: GridSettings, num_layers: int) -> list[Member]:
    """The grid in order (a tie in selection goes to the earlier member): learning rate outer, then
    weight decay, then layer."""
    layers = range(num_layers) if settings.layer_mode == "per_layer" and num_layers > 1 else [None]
    return [
        Member(lr, wd, i)
        for lr, wd, i in itertools.product(settings.learning_rates, settings.weight_decays, layers)
    ]


@dataclasses.dataclass(frozen=True)
class TokenSet:
    """Some videos of a token store: store positions and their labels."""

    store: TokenStore
    rows: np.ndarray  # [n] int
    labels: np.ndarray  # [n] int32

    def __len__(self) -> int:
        return len(self.rows)


def head_dim(shape: Sequence[int], layer_mode: str) -> int:
    """The channels a member reads from a video's [V, L, N, D] tokens."""
    return shape[-1] * shape[1] if layer_mode == "channels" else shape[-1]


def _arrange(x: jax.Array, layer: jax.Array, mode: str, num_layers: int) -> jax.Array:
    """[B, V, L, N, D] → what one member reads, [B, V, N', D']."""
    if num_layers == 1:
        return x[:, :, 0]
    if mode == "per_layer":
        return jnp.take(x, layer, axis=2)
    b, v, depth, n, d = x.shape
    if mode == "channels":
        return jnp.moveaxis(x, 2, 3).reshape(b, v, n, depth * d)
    return x.reshape(b, v, depth * n, d)


def _schedules(s: GridSettings, lr: jax.Array, wd: jax.Array, total, warmup):
    """V-JEPA 2's WarmupCosineLRSchedule and CosineWDSchedule for one member; optax counts updates from 0,
    theirs from 1. `total` and `warmup` (updates) may be traced, so another gallery size reuses the
    compiled program."""
    final_wd = wd if s.final_weight_decay is None else jnp.float32(s.final_weight_decay)

    def learning_rate(count):
        step = count + 1
        warm = s.start_lr_fraction * lr + step / jnp.maximum(1, warmup) * (lr - s.start_lr_fraction * lr)
        progress = (step - warmup) / jnp.maximum(1, total - warmup)
        cosine = s.final_lr + (lr - s.final_lr) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
        return jnp.where(step < warmup, warm, jnp.maximum(s.final_lr, cosine))

    def weight_decay(count):
        progress = (count + 1) / total
        value = final_wd + (wd - final_wd) * 0.5 * (1.0 + jnp.cos(jnp.pi * progress))
        return jnp.where(final_wd <= wd, jnp.maximum(final_wd, value), jnp.minimum(final_wd, value))

    return learning_rate, weight_decay


@dataclasses.dataclass
class TrainedGrid:
    members: list[Member]
    graphdef: nnx.GraphDef
    params: nnx.State  # every member's, stacked on a leading axis
    layer_mode: str
    losses: np.ndarray  # [epochs, G] mean training loss per epoch


def train(head: attentive_heads.HeadConfig, settings: GridSettings, data: TokenSet, *, seed: int,
          device: jax.Device | None = None) -> TrainedGrid:  # fmt: skip
    """Every member of the grid trained on `data`, from seed `seed` (initialisations, shuffling, dropout)."""
    if len(data) == 0:
        raise ValueError("no training videos for the token probes")
    num_layers = data.store.shape[1]
    grid = members(settings, num_layers)
    batch = settings.batch_size
    per_epoch = math.ceil(len(data) / batch)
    total, warmup = settings.epochs * per_epoch, round(settings.warmup_epochs * per_epoch)
    key = jax.random.key(seed)
    device = device or jax.local_devices()[0]
    graphdef = nnx.graphdef(nnx.eval_shape(lambda: attentive_heads.build(head, jax.random.key(0))))
    lr = np.array([m.learning_rate for m in grid], np.float32)
    wd = np.array([m.weight_decay for m in grid], np.float32)
    layer = np.array([m.layer or 0 for m in grid], np.int32)
    member_keys = jax.device_put(jax.random.split(jax.random.fold_in(key, 0), len(grid)), device)
    step = _train_step(graphdef, head.num_classes, _recipe(settings), num_layers)
    length = np.array([total, warmup], np.int32)
    state = jax.device_put(_init(head, _recipe(settings))(member_keys, lr, wd, length), device)
    hyper = jax.device_put((lr, wd, layer, member_keys), device)
    length = jax.device_put(length, device)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    losses = np.zeros((settings.epochs, len(grid)))
    count = 0
    bar = tqdm(range(settings.epochs), desc=f"{head.kind} grid of {len(grid)} on {len(data)} videos",
               unit="epoch", dynamic_ncols=True, disable=jax.process_index() != 0, leave=False)  # fmt: skip
    # A training set that fits is held on the device and each epoch is one scanned program (no host
    # round trip per step); a larger one streams from the store a batch at a time. Same batches, same
    # updates either way.
    resident = len(data) * math.prod(data.store.shape) * 4 <= RESIDENT_BYTES
    if resident:
        on_device = jax.device_put((data.store.take(data.rows), data.labels.astype(np.int32)), device)
        epoch_step = _train_epoch(graphdef, head.num_classes, _recipe(settings), num_layers)
    for epoch in bar:
        order = rng.permutation(len(data))
        if resident:
            index = np.zeros(per_epoch * batch, np.int32)
            index[: len(data)] = order
            weight = (np.arange(per_epoch * batch) < len(data)).astype(np.float32)
            plan = jax.device_put((index.reshape(per_epoch, batch), weight.reshape(per_epoch, batch)), device)
            state, loss = epoch_step(state, hyper, length, on_device, np.int32(count), plan)
            epoch_loss = [(loss, weight.reshape(per_epoch, batch).sum(axis=1)[:, None])]
            count += per_epoch
        else:
            epoch_loss = []
            for start in range(0, len(data), batch):
                x, y, w = _padded(data, order[start : start + batch], batch)
                state, loss = step(state, hyper, length, np.int32(count), jax.device_put((x, y, w), device))
                epoch_loss.append((loss, w.sum()))
                count += 1
        losses[epoch] = sum(
            (np.asarray(loss) * n).reshape(-1, len(grid)).sum(0) for loss, n in epoch_loss
        ) / len(data)
        bar.set_postfix(loss=f"{losses[epoch].min():.3f}–{losses[epoch].max():.3f}")
    logging.info(
        "%s seed %d: %d members trained on %d videos, %d epochs (%d steps); final loss %.3f–%.3f",
        head.kind, seed, len(grid), len(data), settings.epochs, count, losses[-1].min(), losses[-1].max(),
    )  # fmt: skip
    return TrainedGrid(grid, graphdef, state[0], settings.layer_mode, losses)


def probabilities(trained: TrainedGrid, data: TokenSet, *, batch_size: int = 32) -> np.ndarray:
    """[G, n, C] each member's class probabilities for `data`'s videos, the softmax averaged over views."""
    num_layers = data.store.shape[1]
    layer = np.array([m.layer or 0 for m in trained.members], np.int32)
    forward = _predict(trained.graphdef, trained.layer_mode, num_layers)
    device = jax.tree.leaves(trained.params)[0].devices().pop()
    out = []
    for start in range(0, len(data), batch_size):
        index = np.arange(start, min(start + batch_size, len(data)))
        x, _, _ = _padded(data, index, batch_size)
        probs = forward(trained.params, jax.device_put(layer, device), jax.device_put(x, device))
        out.append(np.asarray(probs)[:, : len(index)])
    return np.concatenate(out, axis=1) if out else np.zeros((len(trained.members), 0, 0))


def _recipe(settings: GridSettings) -> GridSettings:
    """The settings a compiled step depends on (the grid's values and the lengths are its inputs)."""
    return dataclasses.replace(settings, learning_rates=(0.0,), weight_decays=(0.0,), epochs=1, batch_size=1)


def _padded(data: TokenSet, index: np.ndarray, size: int):
    """A batch of `size` rows: the videos at `index` of `data`, then zero rows of weight 0."""
    tokens = data.store.take(data.rows[index])
    x = np.zeros((size, *tokens.shape[1:]), np.float32)
    x[: len(index)] = tokens
    y = np.zeros(size, np.int32)
    y[: len(index)] = data.labels[index]
    w = (np.arange(size) < len(index)).astype(np.float32)
    return x, y, w


@functools.lru_cache(maxsize=8)
def _init(head: attentive_heads.HeadConfig, settings: GridSettings):
    """Every member's parameters and optimizer state from its key, compiled once per head and recipe."""

    def one(key, lr, wd, length):
        params = nnx.state(attentive_heads.build(head, key))
        return params, _optimizer(settings, lr, wd, length).init(params)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, 0, None)))


def _optimizer(settings: GridSettings, lr, wd, length) -> optax.GradientTransformation:
    learning_rate, weight_decay = _schedules(settings, lr, wd, length[0], length[1])
    return optax.adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=weight_decay)


def _member_steps(graphdef, num_classes: int, settings: GridSettings, num_layers: int):
    """Every member's update on one batch (vmapped over the members, not compiled)."""

    def member(state, hyper, length, count, batch):
        """state: (params, opt_state); hyper: (lr, wd, layer, key) of this member; batch: (x, y, w)."""
        (params, opt_state), (lr, wd, layer, member_key), (x, y, w) = state, hyper, batch
        key = jax.random.fold_in(jax.random.fold_in(member_key, 1), count)  # this update's dropout

        def loss_fn(p):
            model = nnx.merge(graphdef, p)
            xs = _arrange(x, layer, settings.layer_mode, num_layers)
            b, v = xs.shape[:2]
            logits = model(xs.reshape(b * v, *xs.shape[2:]), dropout_key=key).reshape(b, v, -1)
            target = optax.smooth_labels(jax.nn.one_hot(y, num_classes), settings.label_smoothing)
            ce = optax.softmax_cross_entropy(logits, target[:, None]).mean(axis=1)  # mean over views
            return jnp.sum(w * ce) / jnp.maximum(jnp.sum(w), 1.0)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = _optimizer(settings, lr, wd, length).update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    return jax.vmap(member, in_axes=(0, 0, None, None, None))


@functools.lru_cache(maxsize=8)
def _train_step(graphdef, num_classes: int, settings: GridSettings, num_layers: int):
    """One update of every member on one batch, compiled."""
    return jax.jit(_member_steps(graphdef, num_classes, settings, num_layers), donate_argnums=(0,))


@functools.lru_cache(maxsize=8)
def _train_epoch(graphdef, num_classes: int, settings: GridSettings, num_layers: int):
    """An epoch's updates over device-resident tokens, `lax.scan` over its batches ([steps, batch] rows
    of `tokens` and their weights); returns the per-step losses [steps, G]."""
    steps = _member_steps(graphdef, num_classes, settings, num_layers)

    def epoch(state, hyper, length, data, count, plan):
        tokens, labels = data

        def body(carry, batch):
            state, count = carry
            rows, w = batch
            state, loss = steps(state, hyper, length, count, (tokens[rows], labels[rows], w))
            return (state, count + 1), loss

        (state, _), losses = jax.lax.scan(body, (state, count), plan)
        return state, losses

    return jax.jit(epoch, donate_argnums=(0,))


@functools.lru_cache(maxsize=8)
def _predict(graphdef, layer_mode: str, num_layers: int):
    def member(params, layer, x):
        model = nnx.merge(graphdef, params)
        xs = _arrange(x, layer, layer_mode, num_layers)
        b, v = xs.shape[:2]
        logits = model(xs.reshape(b * v, *xs.shape[2:])).reshape(b, v, -1)
        return jax.nn.softmax(logits.astype(jnp.float32), axis=-1).mean(axis=1)

    return jax.jit(jax.vmap(member, in_axes=(0, 0, None)))

"""A small training loop: one jitted optax step, a progress bar, and loud failures.

``fit`` is the loop every chapter would otherwise rewrite: it compiles one update step
(``jax.value_and_grad`` of the loss, then the optax update), runs it ``steps`` times with a
``tqdm`` progress bar showing the current loss, records the loss of every step, and stops with
a clear message the moment the loss or the gradients stop being finite, which for a neural ODE
usually means an exploding vector field or a solver pushed past its tolerances.

Conventions (the same for every chapter):

- ``loss_fn(params, batch)`` returns a scalar. If ``fit`` is given a ``key``, the loss is
  called as ``loss_fn(params, batch, key)`` with a fresh key every step (for stochastic losses
  such as the Hutchinson trace estimator); a loss that needs no randomness can ignore it.
- The data is either one fixed batch (any pytree of arrays) used at every step, or a callable
  ``batch_fn(step, key)`` returning the batch for step ``step``; ``key`` is a fresh PRNG key
  per step when ``fit`` has a ``key``, else ``None``.
- Step ``i`` uses ``jax.random.fold_in(key, i)``, split into a batch key and a loss key, so a
  run is reproducible from its ``key`` alone.
"""
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from ._argcheck import check_int, check_key, describe


def _check_optimizer(optimizer):
    """Check that ``optimizer`` looks like an optax ``GradientTransformation``."""
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(
            "optimizer must be an optax GradientTransformation such as optax.adam(1e-2); "
            f"got {describe(optimizer)}."
        )


def _step_keys(key, step):
    """The (batch key, loss key) pair of step ``step``, or ``(None, None)`` without a key."""
    if key is None:
        return None, None
    return _split_step_key(key, step)


@jax.jit
def _split_step_key(key, step):
    """``fold_in(key, step)`` split in two, compiled once (``step`` is traced, not static)."""
    batch_key, loss_key = jax.random.split(jax.random.fold_in(key, step))
    return batch_key, loss_key


def _check_loss_shape(loss_fn, params, batch, loss_key):
    """Trace ``loss_fn`` once (no computation) and check that it returns a float scalar."""
    extra = () if loss_key is None else (loss_key,)
    try:
        out = jax.eval_shape(loss_fn, params, batch, *extra)
    except TypeError as err:
        if "positional argument" not in str(err):
            raise
        call = "loss_fn(params, batch, key)" if extra else "loss_fn(params, batch)"
        raise TypeError(
            f"fit calls {call} ({'a key was' if extra else 'no key was'} given to fit), "
            f"but loss_fn does not accept that: {err}"
        ) from err
    shape = getattr(out, "shape", None)
    dtype = getattr(out, "dtype", None)
    if shape != () or not jnp.issubdtype(dtype, jnp.floating):
        received = f"shape {shape} and dtype {dtype}" if shape is not None else describe(out)
        raise TypeError(
            "loss_fn must return a scalar floating-point loss (reduce it with jnp.mean or "
            f"jnp.sum, and return no auxiliary outputs); got {received}."
        )


def _make_update(loss_fn, optimizer, with_key):
    """Build the jitted update ``(params, opt_state, batch, key) -> (params, opt_state, loss, ok)``.

    ``ok`` is True when every gradient entry is finite.
    """

    def update(params, opt_state, batch, loss_key):
        """One optimiser step; the loss is evaluated at the parameters before the step."""
        extra = (loss_key,) if with_key else ()
        loss, grads = jax.value_and_grad(loss_fn)(params, batch, *extra)
        finite = [jnp.all(jnp.isfinite(g)) for g in jax.tree_util.tree_leaves(grads)]
        grads_ok = jnp.all(jnp.stack(finite)) if finite else jnp.array(True)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, grads_ok

    return jax.jit(update)


def _raise_non_finite(step, steps, loss):
    """Raise ``FloatingPointError`` explaining a non-finite loss or gradient at ``step``."""
    what = f"the loss became {loss}" if not np.isfinite(loss) else (
        f"the loss was finite ({loss:.6g}) but a gradient was not"
    )
    raise FloatingPointError(
        f"Training diverged at step {step} of {steps}: {what}. Try a smaller learning rate, "
        "tighter solver tolerances (rtol/atol), gradient clipping "
        "(optax.clip_by_global_norm), or float64 (jax_enable_x64)."
    )


def fit(loss_fn, params, data_or_batches, optimizer, *, steps, key=None, log_every=10,
        progress=True):
    """Minimise ``loss_fn`` over ``params`` with an optax optimiser.

    See the module docstring for the calling conventions of ``loss_fn`` and of a batch
    function. The update step is compiled once with ``jax.jit``; the loss is read back every
    step, to record it and to stop at the first non-finite value.

    Args:
        loss_fn: ``loss_fn(params, batch)``, or ``loss_fn(params, batch, key)`` when ``key`` is
            given, returning a scalar.
        params: initial parameters, any pytree of float arrays.
        data_or_batches: one batch (a pytree of arrays, used at every step) or a callable
            ``batch_fn(step, key)`` returning the batch of step ``step``.
        optimizer: an optax ``GradientTransformation``, e.g. ``optax.adam(1e-2)``.
        steps: number of update steps, an int >= 1.
        key: optional PRNG key; when given, each step gets fresh batch and loss keys.
        log_every: refresh the progress bar's loss every ``log_every`` steps (int >= 1).
        progress: show a ``tqdm.auto`` progress bar (a widget in notebooks, text in a
            terminal); ``False`` runs silently. With the environment variable
            ``NODELIB_PROGRESS=summary`` (set by ``make book``: a static page cannot show a
            bar moving) one line is printed at the end instead: steps, time and final loss.

    Returns:
        ``(params, history)``: the parameters after the last step and a NumPy array of shape
        ``(steps,)`` with the loss of every step, evaluated before that step's update.

    Raises:
        TypeError: on a bad ``optimizer``, ``key``, ``steps`` or ``log_every``, or if the loss
            is not a floating-point scalar.
        FloatingPointError: if the loss or a gradient becomes NaN or infinite; the message
            names the step and suggests remedies.
    """
    _check_optimizer(optimizer)
    steps = check_int(steps, "steps")
    log_every = check_int(log_every, "log_every")
    if key is not None:
        check_key(key)
    batch_fn = data_or_batches if callable(data_or_batches) else None
    update = _make_update(loss_fn, optimizer, with_key=key is not None)
    opt_state = optimizer.init(params)
    history = np.empty(steps)
    summary = progress and os.environ.get("NODELIB_PROGRESS") == "summary"
    started = time.perf_counter()
    bar = tqdm(range(steps), disable=not progress or summary, desc="training", leave=True)
    for step in bar:
        batch_key, loss_key = _step_keys(key, step)
        batch = batch_fn(step, batch_key) if batch_fn else data_or_batches
        if step == 0:
            _check_loss_shape(loss_fn, params, batch, loss_key)
        params, opt_state, loss, grads_ok = update(params, opt_state, batch, loss_key)
        history[step] = loss = float(loss)
        if not (np.isfinite(loss) and bool(grads_ok)):
            bar.close()
            _raise_non_finite(step, steps, loss)
        if step % log_every == 0 or step == steps - 1:
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
    bar.close()
    if summary:
        print(f"training: {steps} steps in {time.perf_counter() - started:.1f} s, "
              f"loss {history[0]:.4g} -> {history[-1]:.4g}")
    return params, history

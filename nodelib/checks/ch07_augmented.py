"""Checks for the exercises of Chapter 7, Augmented neural ODEs.

The reference augmented ODE-Net is the chapter's: the input is padded with zeros by
``nodelib.augment``, then carried from t = 0 to t = 1 by ``nodelib.ode_block`` with the vector
field ``nodelib.time_mlp`` and the default tolerances (Dupont, Doucet & Teh 2019). Solutions of
an adaptive solver agree only to about its tolerance, so values and gradients are compared to a
relative accuracy of 1e-3.
"""
import jax
import jax.numpy as jnp
import numpy as np

from ._common import call, dtypes, fresh_rng, matches, passed
from .ch03_ode_nets import _assert_close

__all__ = ["check_augmented_odenet"]


def _random_anode(rng, dtype, extra):
    """Fresh sizes, MLP parameters ``[dim + extra + 1, width, dim + extra]`` and a batch x."""
    from ..nn import init_mlp

    dim = int(rng.integers(1, 4))
    width, batch = int(rng.integers(4, 9)), int(rng.integers(3, 6))
    key = jax.random.key(int(rng.integers(2**31)))
    params = init_mlp(key, [dim + extra + 1, width, dim + extra], dtype=dtype)
    x = jnp.asarray(rng.uniform(-2.0, 2.0, (batch, dim)), dtype)  # (batch, dim)
    return params, x, extra


def _reference(params, x, extra):
    """The final augmented state of every row of x, shape (batch, dim + extra)."""
    from .. import augment, ode_block, time_mlp

    return ode_block(time_mlp, params, augment(x, extra))


def _hint(got, params, x, extra):
    """Name the usual slips of an augmented forward pass."""
    from .. import ode_block, time_mlp

    dim = x.shape[1]
    if np.shape(got) == (x.shape[0], dim):
        return ("You return only the first dim coordinates: return the whole augmented state, "
                "shape (batch, dim + extra_dims); a readout chooses what to use later.")
    if np.shape(got) != (x.shape[0], dim + extra):
        return ""
    front = jnp.concatenate([jnp.zeros((x.shape[0], extra), x.dtype), x], axis=1)
    if matches(got, ode_block(time_mlp, params, front)):
        return ("The zeros go after the input, not before it: nodelib.augment(x, extra_dims) "
                "appends them to the last axis.")
    ones = jnp.concatenate([x, jnp.ones((x.shape[0], extra), x.dtype)], axis=1)
    if matches(got, ode_block(time_mlp, params, ones)):
        return "The extra coordinates must start at zero, not one."
    if matches(got[:, :dim], x):
        return "You return the initial state: the output is the state at t = 1."
    return ("Hint: pad x with extra_dims zeros (nodelib.augment), then solve from t = 0 to 1 "
            "with nodelib.ode_block(time_mlp, params, ...) and its default tolerances.")


def check_augmented_odenet(fn):
    """Check ``fn(params, x, extra_dims)``, an augmented ODE-Net (Exercise 7.3).

    The reference pads each row of ``x`` (shape ``(batch, dim)``) with ``extra_dims`` zeros and
    returns the state at t = 1 of ``dz/dt = time_mlp(t, z, params)`` in ``R^(dim + extra_dims)``
    (``nodelib.ode_block``, default tolerances), shape ``(batch, dim + extra_dims)``. Random
    dimensions 1 to 3, extra dimensions 1 to 3, hidden widths 4 to 8 and batches of 3 to 5
    inputs from (-2, 2) are drawn; the output and the gradient of its sum with respect to every
    weight matrix and to ``x`` are compared to a relative accuracy of 1e-3.

    Args:
        fn: callable taking MLP parameters (first layer ``dim + extra_dims + 1`` wide), a batch
            ``x`` and the int ``extra_dims``; returning an array ``(batch, dim + extra_dims)``.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    name, rng = "your augmented_odenet", fresh_rng()
    for dtype in dtypes():
        params, x, extra = _random_anode(rng, dtype, int(rng.integers(1, 4)))
        # one forward pass and its vector-Jacobian product (fewer programs to compile)
        got, got_vjp = call(name, jax.vjp, lambda p, xx, e=extra: fn(p, xx, e), params, x)
        want, want_vjp = jax.vjp(lambda p, xx, e=extra: _reference(p, xx, e), params, x)
        what = (f"the output of {name} ({jnp.dtype(dtype).name}, x of shape {x.shape}, "
                f"extra_dims={extra})")
        try:
            _assert_close(what, got, want)
        except AssertionError as error:
            raise AssertionError(f"{error} {_hint(got, params, x, extra)}".strip()) from None
        ones = jnp.ones_like(want)
        (got_p, got_x), (want_p, want_x) = got_vjp(ones), want_vjp(ones)
        hint = ("Hint: keep every operation in JAX (no NumPy, no float() of a traced value) so "
                "that jax.grad can differentiate through the padding and the solve.")
        for i, (g, w) in enumerate(zip(got_p, want_p)):
            _assert_close(f"the gradient with respect to W of layer {i + 1}", g[0], w[0], hint)
        _assert_close("the gradient with respect to x", got_x, want_x, hint)
    passed("check_augmented_odenet passed: outputs and gradients match nodelib's augmented "
           "ODE-Net, in float32 (and float64 in 64-bit mode).")

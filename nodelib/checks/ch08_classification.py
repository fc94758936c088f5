"""Checks for the exercises of Chapter 8, ODE-Nets for classification.

The reference RK-Net block is written out here: ``n_steps`` classical Runge–Kutta steps of
size ``1 / n_steps`` from t = 0 to t = 1 (Hairer, Nørsett & Wanner, Table II.1.2), in plain
JAX, so that ``jax.grad`` differentiates the steps themselves (discretise-then-optimise, the
RK-Net of Chen et al. 2018, Sec. 3). It is also compared with ``nodelib.odeint`` on every call.
"""
import jax
import jax.numpy as jnp
import numpy as np

from ._common import call, dtypes, fresh_rng, matches, passed, show, tolerance

__all__ = ["check_rknet_block"]


def _batch_field(t, z, params):
    """A time-dependent MLP field on a batch of states: (batch, dim) -> (batch, dim)."""
    from ..nn import mlp

    t_col = jnp.full(z.shape[:-1] + (1,), t, z.dtype)  # (batch, 1)
    return mlp(params, jnp.concatenate([z, t_col], axis=-1))


def _rk4_block(f, params, z, n_steps):
    """z(1) of z' = f(t, z, params), z(0) = z, by n_steps classical RK4 steps of size 1/n."""
    h = 1.0 / n_steps
    for i in range(n_steps):
        t = i * h
        k1 = f(t, z, params)
        k2 = f(t + h / 2, z + h / 2 * k1, params)
        k3 = f(t + h / 2, z + h / 2 * k2, params)
        k4 = f(t + h, z + h * k3, params)
        z = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return z


def _random_block(rng, dtype):
    """Fresh field parameters ``[dim + 1, width, dim]`` (scaled up so that the steps matter),
    a batch ``z`` of shape (batch, dim) and a number of steps."""
    from ..nn import init_mlp

    dim, width, batch = int(rng.integers(2, 5)), int(rng.integers(4, 9)), int(rng.integers(3, 7))
    key = jax.random.key(int(rng.integers(2**31)))
    params = init_mlp(key, [dim + 1, width, dim], scale=1.5, dtype=dtype)
    z = jnp.asarray(rng.uniform(-1.5, 1.5, (batch, dim)), dtype)  # (batch, dim)
    return params, z, int(rng.integers(1, 4))


def _close(got, want):
    """Equal to the dtype's tolerance, relative to the size of ``want``."""
    tol = tolerance(want.dtype)
    scale = float(np.max(np.abs(np.asarray(want)))) + 1.0
    return np.allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol * scale)


def _value_hint(got, params, z, n_steps):
    """Name the usual slips of an RK-Net block."""
    from .. import odeint

    if matches(got, z):
        return ("You return the input: the block's output is the state at t = 1, "
                "sol.ys[-1], not sol.ys[0].")
    ts = jnp.asarray([0.0, 1.0], z.dtype)
    adaptive = odeint(_batch_field, z, ts, params, rtol=1e-6, atol=1e-6).ys[-1]
    if matches(got, adaptive):
        return ("This is an adaptive dopri5 solve, close to the exact flow: the RK-Net takes "
                "n_steps fixed steps, solver='rk4' with dt0=1/n_steps.")
    for n in range(1, 9):
        if n != n_steps and matches(got, _rk4_block(_batch_field, params, z, n)):
            return (f"This is {n} RK4 step(s); n_steps={n_steps} were asked for: "
                    "dt0=1/n_steps over [0, 1].")
    euler = z + _batch_field(0.0, z, params)
    if matches(got, euler):
        return "This is one Euler step: use solver='rk4'."
    return ("Hint: nodelib.odeint(f, z, jnp.array([0.0, 1.0], z.dtype), params, solver='rk4', "
            "dt0=1.0 / n_steps, gradient='backprop').ys[-1].")


def check_rknet_block(fn):
    """Check ``fn(f, params, z, n_steps)``, the block of an RK-Net (Exercise 8.2).

    ``fn`` must return the state at t = 1 of ``z' = f(t, z, params)``, ``z(0) = z``, computed by
    ``n_steps`` classical Runge–Kutta steps of size ``1 / n_steps``, and be differentiable by
    JAX through those steps. Random time-dependent MLP fields on batches of 3 to 6 states of
    dimension 2 to 4 and 1 to 3 steps are drawn; the output and the gradients of a scalar
    function of it with respect to the parameters and to ``z`` are compared with a plain-JAX
    RK4 loop (itself compared with ``nodelib.odeint(..., solver="rk4")``), to 1e-4 in float32
    and 1e-10 in float64. The field's weights are large enough that one step, two steps and an
    adaptive solve give clearly different outputs.

    Args:
        fn: callable taking a vector field ``f(t, z, params)`` on a batch ``(batch, dim)``, its
            parameters, the batch ``z`` and the number of steps; returning an array shaped like
            ``z`` in ``z``'s dtype.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    from .. import odeint

    name, rng = "your rknet_block", fresh_rng()
    for dtype in dtypes():
        params, z, n_steps = _random_block(rng, dtype)
        want = _rk4_block(_batch_field, params, z, n_steps)
        ts = jnp.asarray([0.0, 1.0], dtype)
        ref = odeint(_batch_field, z, ts, params, solver="rk4", dt0=1.0 / n_steps).ys[-1]
        assert _close(ref, want), "internal error: the reference RK4 loop disagrees with nodelib"
        got = call(name, fn, _batch_field, params, z, n_steps)
        assert not hasattr(got, "ys"), (
            f"{name} returned a whole solution; the block's output is the array of states at "
            "t = 1, sol.ys[-1].")
        shape = tuple(np.shape(got))
        assert shape == z.shape, (
            f"{name} returned shape {shape}; expected {z.shape}, the shape of z. Hint: "
            "sol.ys has a leading time axis, (2, batch, dim); take its last entry.")
        got_dtype = jnp.asarray(got).dtype
        assert got_dtype == dtype, (
            f"{name} returned dtype {got_dtype}; expected {jnp.dtype(dtype).name}, z's dtype. "
            "Hint: build ts with z's dtype.")
        assert _close(got, want), (
            f"{name} ({jnp.dtype(dtype).name}, {n_steps} step(s)) returned wrong values: got "
            f"{show(got)}, expected {show(want)}. {_value_hint(got, params, z, n_steps)}")
        weights = jnp.asarray(rng.normal(size=z.shape), dtype)  # a random linear read-out

        def loss(p, z0, block, weights=weights, n_steps=n_steps):
            return jnp.sum(weights * jnp.tanh(block(_batch_field, p, z0, n_steps)))

        got_grads = call(name, jax.grad(loss, argnums=(0, 1)), params, z, fn)
        want_grads = jax.grad(loss, argnums=(0, 1))(params, z, _rk4_block)
        pairs = [(f"W of layer {i + 1}", g[0], w[0])
                 for i, (g, w) in enumerate(zip(got_grads[0], want_grads[0]))]
        for what, g, w in pairs + [("the input z", got_grads[1], want_grads[1])]:
            assert _close(g, w), (
                f"the gradient with respect to {what} is wrong: got {show(g)}, expected "
                f"{show(w)}. Hint: an RK-Net differentiates the RK4 steps themselves, "
                "gradient='backprop'; gradient='adjoint' solves a second ODE backwards and "
                "differs from it by the discretisation error.")
    passed("check_rknet_block passed: outputs and gradients match backpropagation through "
           "the RK4 steps.")

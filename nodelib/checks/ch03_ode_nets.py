"""Checks for the exercises of Chapter 3, ODE-Nets: odeint as a layer.

The reference ODE-Net is the chapter's: the vector field ``nodelib.time_mlp`` (an MLP that sees
the time as one more input) integrated from t = 0 to t = 1 by ``nodelib.odeint`` with its
default tolerances. Solutions of an adaptive solver agree only to about its tolerance, so
values and gradients are compared to a relative accuracy of 1e-3, which any tolerance of 1e-4
or tighter meets.
"""
import jax
import jax.numpy as jnp
import numpy as np

from ._common import call, dtypes, fresh_rng, matches, passed, show

__all__ = ["check_odenet_forward", "check_shared_batch_solve"]

ODE_TOL = 1e-3  # relative and absolute accuracy asked of values and gradients


def _random_odenet(rng, dtype):
    """Fresh MLP parameters ``[dim + 1, width, dim]`` and a batch ``x`` of shape (batch, dim)."""
    from ..nn import init_mlp

    dim, width, batch = int(rng.integers(1, 4)), int(rng.integers(4, 9)), int(rng.integers(3, 6))
    params = init_mlp(jax.random.key(int(rng.integers(2**31))), [dim + 1, width, dim], dtype=dtype)
    x = jnp.asarray(rng.uniform(-2.0, 2.0, (batch, dim)), dtype)  # (batch, dim)
    return params, x


def _reference_odenet(params, x):
    """z(1) for every row of x: one solve per example, batched with vmap, (batch, dim)."""
    from .. import odeint, time_mlp

    ts = jnp.asarray([0.0, 1.0], x.dtype)
    return jax.vmap(lambda xi: odeint(time_mlp, xi, ts, params).ys[-1])(x)


def _assert_close(what, got, want, hint=""):
    """Shape, dtype and values to ODE_TOL (solutions of an adaptive solver are not exact)."""
    got_shape = tuple(np.shape(got))
    assert got_shape == want.shape, (
        f"{what} has shape {got_shape}; expected {want.shape}. {hint}".strip())
    got_dtype = jnp.asarray(got).dtype
    assert got_dtype == want.dtype, (
        f"{what} has dtype {got_dtype}; expected {want.dtype} (the dtype of the inputs). "
        f"{hint}".strip())
    scale = float(np.max(np.abs(np.asarray(want)))) + 1.0
    close = np.allclose(np.asarray(got), np.asarray(want), rtol=ODE_TOL, atol=ODE_TOL * scale)
    assert close, f"{what} is wrong: got {show(got)}, expected {show(want)}. {hint}".strip()


def _forward_hint(got, params, x):
    """Name the usual slips of an ODE-Net forward pass."""
    from .. import time_mlp

    if matches(got, x):
        return ("You return the input: sol.ys[0] is the state at ts[0] = 0; the output of the "
                "layer is the state at t = 1, sol.ys[-1].")
    euler = x + jax.vmap(lambda xi: time_mlp(0.0, xi, params))(x)
    if matches(got, euler):
        return ("This is one Euler step x + f(0, x): let nodelib.odeint integrate from t = 0 "
                "to t = 1 instead.")
    return ("Hint: for each row xi of x, nodelib.odeint(time_mlp, xi, jnp.array([0.0, 1.0]), "
            "params).ys[-1]; batch it with jax.vmap.")


def check_odenet_forward(fn):
    """Check ``fn(params, x)``, the forward pass of an ODE-Net (Exercise 3.2).

    The reference maps each row of ``x`` to the state at t = 1 of ``dz/dt = time_mlp(t, z,
    params)``, ``z(0) = x_i``, computed by ``nodelib.odeint`` with default tolerances. Random
    state dimensions 1 to 3, hidden widths 4 to 8 and batches of 3 to 5 inputs are drawn; the
    output and the gradient of its sum with respect to every parameter are compared to a
    relative accuracy of 1e-3.

    Args:
        fn: callable taking MLP parameters (a list of ``(W, b)``, first layer ``dim + 1`` wide)
            and a batch ``x`` of shape ``(batch, dim)``, returning an array shaped like ``x``.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    name, rng = "your odenet_forward", fresh_rng()
    for dtype in dtypes():
        params, x = _random_odenet(rng, dtype)
        got = call(name, fn, params, x)
        assert not hasattr(got, "ys"), (
            f"{name} returned a whole solution; the layer's output is the array of states at "
            "t = 1, sol.ys[-1] (one row per example).")
        want = _reference_odenet(params, x)
        _assert_close(f"the output of {name} ({jnp.dtype(dtype).name}, x of shape {x.shape})",
                      got, want, _forward_hint(got, params, x))
        # x=x binds this iteration's batch (B023: a closure reads its loop variable late)
        loss = lambda p, f, x=x: jnp.sum(f(p, x))  # noqa: E731 - a two-line helper
        got_grad = call(name, jax.grad(loss), params, fn)
        want_grad = jax.grad(loss)(params, _reference_odenet)
        for i, (g, w) in enumerate(zip(got_grad, want_grad)):
            _assert_close(f"the gradient with respect to W of layer {i + 1}", g[0], w[0],
                          "Hint: keep every operation in JAX (no NumPy, no float() of a traced "
                          "value) so that jax.grad can differentiate the solve.")
    passed("check_odenet_forward passed: outputs and parameter gradients match nodelib's "
           "ODE-Net.")


def check_shared_batch_solve(fn):
    """Check ``fn(params, x)``, one solve whose state is the whole batch (Exercise 3.3).

    ``fn`` must return the ``nodelib.Solution`` of a single call of ``nodelib.odeint`` (default
    tolerances, ``ts = [0, 1]``) whose state is the batch ``x`` of shape ``(batch, dim)``, with
    the vector field ``time_mlp`` applied to every row. Checked: ``sol.ys`` has shape
    ``(2, batch, dim)`` and ends at the per-example ODE-Net outputs (to 1e-3), and
    ``sol.stats["nfe"]`` is one number (not one per example), equal to that of the reference
    shared solve within two steps (12 evaluations).

    Args:
        fn: callable taking MLP parameters and ``x``; returning a ``nodelib.Solution``.

    Raises:
        AssertionError: if ``fn`` is not implemented or does not solve one shared ODE.
    """
    from .. import Solution, odeint, time_mlp

    name, rng = "your shared_batch_solve", fresh_rng()
    batch_field = jax.vmap(time_mlp, in_axes=(None, 0, None))  # (batch, dim) -> (batch, dim)
    for dtype in dtypes():
        params, x = _random_odenet(rng, dtype)
        sol = call(name, fn, params, x)
        assert isinstance(sol, Solution), (
            f"{name} returned a {type(sol).__name__}; expected the nodelib.Solution that "
            "nodelib.odeint returns (return sol, not sol.ys).")
        nfe = np.asarray(sol.stats["nfe"])
        assert nfe.shape == (), (
            f"{name} reports {nfe.size} NFE values, one per example: that is jax.vmap over "
            "separate solves. Solve one ODE whose state is the whole batch x, with a vector "
            "field that applies time_mlp to every row (jax.vmap of time_mlp, not of odeint).")
        ts = jnp.asarray([0.0, 1.0], dtype)
        want = odeint(batch_field, x, ts, params)
        _assert_close(f"sol.ys of {name} ({jnp.dtype(dtype).name})", sol.ys, want.ys,
                      "Hint: the state is the whole batch, shape (batch, dim), and "
                      "ts = jnp.array([0.0, 1.0]).")
        assert abs(int(nfe) - int(want.stats["nfe"])) <= 12, (
            f"{name} used {int(nfe)} evaluations of f; one shared solve with the default "
            f"tolerances uses {int(want.stats['nfe'])}. Hint: keep rtol and atol at their "
            "defaults.")
    passed("check_shared_batch_solve passed: one solve for the whole batch, with one step "
           "size and one NFE count.")

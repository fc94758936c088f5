"""Checks for the exercises of Chapter 10, Limitations and remedies.

References: an implicit Euler step converged by Newton's method to machine precision (and, on a
linear problem, its closed form (I - hA)^{-1} y), and the second-derivative regulariser of Kelly
et al. (2020) computed with forward-mode derivatives taken separately in t and in z.
"""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ._common import assert_array, call, dtypes, fresh_rng, matches, passed

__all__ = ["check_implicit_euler_step", "check_second_derivative_dynamics"]


def _nonlinear_field(t, y, args):
    """A random, mildly stiff, nonlinear, time-dependent field on (D,)."""
    A, c = args                                            # (D, D), (D,)
    return A @ y + 0.3 * jnp.sin(y) * jnp.cos(t) + c


def _random_linear(rng, dtype, d):
    q = rng.normal(size=(d, d))
    A = -(q @ q.T) - np.eye(d) * rng.uniform(1.0, 50.0)   # symmetric negative definite: stiff
    return jnp.asarray(A, dtype)


def _newton_reference(f, t, y, h, args, iterations=8):
    y1 = y
    for _ in range(iterations):
        jac = jax.jacfwd(f, argnums=1)(t + h, y1, args)
        eye = jnp.eye(y.shape[0], dtype=y.dtype)
        y1 = y1 - jnp.linalg.solve(eye - h * jac, y1 - y - h * f(t + h, y1, args))
    return y1


def check_implicit_euler_step(fn):
    """Check ``fn(f, t, y, h, args, iterations=5)``, one implicit Euler step solved by Newton's
    method (Exercise 10.2): y1 = y + h f(t + h, y1, args).

    On a random stiff linear field f = A y the result must equal (I - hA)^{-1} y; on a nonlinear
    field it must satisfy the implicit equation (compared with a fully converged Newton solve).

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    name, rng = "your implicit_euler_step", fresh_rng()
    for dtype in dtypes():
        d = int(rng.integers(2, 5))
        A = _random_linear(rng, dtype, d)
        y = jnp.asarray(rng.normal(size=d), dtype)
        h = jnp.asarray(rng.uniform(0.05, 0.5), dtype)      # h * |lambda| up to ~100: stiff
        t = jnp.asarray(rng.uniform(0, 1), dtype)
        linear = lambda t_, y_, A_: A_ @ y_  # noqa: E731
        got = call(name, fn, linear, t, y, h, A)
        want = jnp.linalg.solve(jnp.eye(d, dtype=dtype) - h * A, y)
        hint = ("Hint: y1 solves (I - hA) y1 = y; each Newton step solves "
                "(I - hJ) delta = -residual.")
        explicit = y + h * (A @ y)
        if matches(got, explicit):
            hint = ("This is an explicit Euler step, y + h f(t, y): the implicit step evaluates f "
                    "at the unknown y1 and solves for it.")
        assert_array(f"{name} on a linear problem ({jnp.dtype(dtype).name})", got, want, hint)
        args = (A, jnp.asarray(rng.normal(size=d), dtype))
        got = call(name, fn, _nonlinear_field, t, y, h, args)
        want = _newton_reference(_nonlinear_field, t, y, h, args)
        hint = ("Hint: evaluate f and its Jacobian at (t + h, y1), the end of the step, at every "
                "iteration.")
        if not matches(got, want) and matches(
                got, _newton_reference(_nonlinear_field, t - h, y, h, args)):  # f taken at t
            hint = "Your step evaluates f at time t; the implicit step uses t + h."
        assert_array(f"{name} on a nonlinear problem ({jnp.dtype(dtype).name})", got, want, hint)
    passed("check_implicit_euler_step passed: exact on linear problems, and it solves the implicit "
           "equation on a nonlinear one.")


def _tanh_field(t, z, params):
    """A random time-dependent field on (D,): tanh([z, t] W1) W2."""
    w1, w2 = params
    return jnp.tanh(jnp.concatenate([z, t[None]]) @ w1) @ w2


def _random_field(rng, dtype, d):
    W1 = jnp.asarray(rng.normal(size=(d + 1, 8)) / np.sqrt(d + 1), dtype)   # (D + 1, 8)
    W2 = jnp.asarray(rng.normal(size=(8, d)) / np.sqrt(8), dtype)           # (8, D)
    return _tanh_field, (W1, W2)


@partial(jax.jit, static_argnums=0)
def _second_derivative_reference(f, t, z, params):
    dfdt = jax.jacfwd(lambda s: f(s, z, params))(t)           # (D,)
    dfdz = jax.jacfwd(lambda y: f(t, y, params))(z)           # (D, D)
    return dfdt + dfdz @ f(t, z, params)


def check_second_derivative_dynamics(fn):
    """Check ``fn(f)``, which returns g(t, (z, r), params) = (f(t, z), ||d^2 z/dt^2||^2)
    (Exercise 10.3), with d^2 z/dt^2 = df/dt + (df/dz) f.

    Compared on random time-dependent tanh fields in 2 to 4 dimensions, then integrated with
    nodelib.odeint for z' = -z, where the integral is ||z0||^2 (1 - exp(-2T)) / 2.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    from ..api import odeint

    name, rng = "your second_derivative_dynamics", fresh_rng()
    for dtype in dtypes():
        d = int(rng.integers(2, 5))
        f, params = _random_field(rng, dtype, d)
        t = jnp.asarray(rng.uniform(0, 1), dtype)
        z = jnp.asarray(rng.normal(size=d), dtype)
        g = call(name, fn, f)
        out = call(f"the function returned by {name}", g, t, (z, jnp.zeros((), dtype)), params)
        assert isinstance(out, (tuple, list)) and len(out) == 2, (
            f"g must return a pair (f(t, z), ||d2z/dt2||^2); got {type(out).__name__}.")
        accel = _second_derivative_reference(f, t, z, params)
        assert_array(f"the first output of g ({jnp.dtype(dtype).name})", out[0], f(t, z, params),
                     "Hint: the state's derivative is f(t, z, params) itself.")
        hint = "Hint: jax.jvp of (t, z) -> f(t, z, params) with tangents (1, f(t, z, params))."
        jac_z = jax.jacfwd(f, argnums=1)(t, z, params)                       # (D, D)
        if matches(out[1], jnp.sum((jac_z @ f(t, z, params))**2)):
            hint = "You left out the explicit time derivative: the tangent of t must be 1, not 0."
        assert_array(f"||d2z/dt2||^2 from g ({jnp.dtype(dtype).name})", out[1],
                     jnp.sum(accel**2), hint)
        if dtype != dtypes()[-1]:
            continue                    # the integral is checked once, in the widest dtype
        z0, T = jnp.asarray(rng.normal(size=d), dtype), rng.uniform(0.5, 2.0)
        sol = odeint(call(name, fn, lambda t, z, p: -z), (z0, jnp.zeros((), dtype)),
                     jnp.asarray([0.0, T], dtype), None, rtol=1e-6, atol=1e-6)
        want = jnp.sum(z0**2) * (1 - np.exp(-2 * T)) / 2
        tol = 1e-3 if dtype == jnp.float32 else 1e-5
        assert np.allclose(sol.ys[1][-1], want, rtol=tol, atol=tol), (
            f"integrating z' = -z from ||z0||^2 = {float(jnp.sum(z0**2)):.4f} to T = {T:.3f} gave "
            f"R2 = {float(sol.ys[1][-1]):.6f}, expected {float(want):.6f}.")
    passed("check_second_derivative_dynamics passed: f and ||d2z/dt2||^2 match, and the integral "
           "is right for z' = -z.")

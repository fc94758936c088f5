"""Checks for the exercises of Chapter 5, The adjoint method.

References: the augmented dynamics from `jax.vjp` of the vector field, and the gradient of a
fixed-step RK4 solve from `jax.grad` through the same steps (discretise-then-optimise), which a
continuous adjoint solved with the same steps matches up to the solver's O(h^4) error.
"""
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._common import assert_array, call, dtypes, fresh_rng, matches, passed, show

__all__ = ["check_augmented_dynamics", "check_rk4_adjoint"]


def _field(t, z, theta):
    """A nonlinear, time-dependent test field: tanh(W z + b cos t), theta = [W.ravel(), b]."""
    d = z.shape[0]
    W, b = theta[: d * d].reshape(d, d), theta[d * d:]              # (d, d), (d,)
    return jnp.tanh(W @ z + b * jnp.cos(t))


def _random_problem(rng, dtype):
    d = int(rng.integers(2, 5))
    theta = jnp.asarray(rng.normal(size=d * d + d) / np.sqrt(d), dtype)
    z = jnp.asarray(rng.uniform(-1.5, 1.5, size=d), dtype)
    a = jnp.asarray(rng.normal(size=d), dtype)
    return d, theta, z, a


def _reference_augmented(f, t, z, a, theta):
    fz, vjp = jax.vjp(lambda z_, p_: f(t, z_, p_), z, theta)
    a_fz, a_fp = vjp(a)                                             # a^T df/dz, a^T df/dtheta
    return fz, -a_fz, -a_fp


def check_augmented_dynamics(fn):
    """Check ``fn(f, t, state, theta)``, the augmented adjoint dynamics (Exercise 5.2).

    ``state`` is a tuple ``(z, a, a_theta)``; ``fn`` returns the tuple of their time
    derivatives ``(f(t, z, theta), -a^T df/dz, -a^T df/dtheta)``. Compared with `jax.vjp` of
    a random nonlinear, time-dependent field ``tanh(W z + b cos t)`` in 2 to 4 dimensions
    (``theta`` holds ``W`` and ``b``, 6 to 20 numbers), at a random time, state and adjoint.

    Args:
        fn: callable returning a tuple of three arrays shaped like ``state``.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    name, rng = "your augmented_dynamics", fresh_rng()
    for dtype in dtypes():
        d, theta, z, a = _random_problem(rng, dtype)
        t = jnp.asarray(rng.uniform(0, 3), dtype)
        a_p = jnp.asarray(rng.normal(size=theta.shape), dtype)     # its value must not matter
        got = call(name, fn, _field, t, (z, a, a_p), theta)
        assert isinstance(got, (tuple, list)) and len(got) == 3, (
            f"{name} must return a tuple of three derivatives (dz/dt, da/dt, da_theta/dt); "
            f"got {type(got).__name__}.")
        want = _reference_augmented(_field, t, z, a, theta)
        label = f"({jnp.dtype(dtype).name})"
        assert_array(f"dz/dt of {name} {label}", got[0], want[0],
                     "Hint: the first component is the vector field itself, f(t, z, theta).")
        hint = "Hint: da/dt = -a^T df/dz, a vector-Jacobian product (jax.vjp)."
        if matches(got[1], want[1] * -1):
            hint = "The sign is wrong: the adjoint obeys da/dt = -a^T df/dz."
        elif not matches(got[1], want[1]) and matches(got[1], -jax.jvp(
                lambda z_, t=t, theta=theta: _field(t, z_, theta), (z,), (a,))[1]):
            hint = ("This is -(df/dz) a, a Jacobian-vector product; the adjoint needs the "
                    "transpose, -a^T df/dz = -(df/dz)^T a (use jax.vjp, not jax.jvp).")
        assert_array(f"da/dt of {name} {label}", got[1], want[1], hint)
        hint = "Hint: da_theta/dt = -a^T df/dtheta, from the same jax.vjp as da/dt."
        if matches(got[2], want[2] * -1):
            hint = "The sign is wrong: da_theta/dt = -a^T df/dtheta."
        assert_array(f"da_theta/dt of {name} {label}", got[2], want[2], hint)
    passed("check_augmented_dynamics passed: z, a and a_theta move as the adjoint method says.")


def _rk4_reference(f, z0, theta, t1, n_steps, g):
    """dL/dz0 and dL/dtheta of L = g . z(t1) through n_steps RK4 steps (jax.grad)."""
    h = t1 / n_steps

    def solve(z0, theta):
        def step(z, k):
            t = k * h
            k1 = f(t, z, theta)
            k2 = f(t + h / 2, z + h / 2 * k1, theta)
            k3 = f(t + h / 2, z + h / 2 * k2, theta)
            k4 = f(t + h, z + h * k3, theta)
            return z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None
        steps = jnp.arange(n_steps, dtype=z0.dtype)
        return jnp.vdot(g, lax.scan(step, z0, steps)[0])

    return jax.grad(solve, argnums=(0, 1))(z0, theta)


def check_rk4_adjoint(fn):
    """Check ``fn(f, z0, theta, t1, n_steps, g)``, a minimal RK4 adjoint (Exercise 5.3).

    ``fn`` returns ``(dL/dz0, dL/dtheta)`` for ``L = g . z(t1)``, ``z' = f(t, z, theta)``,
    ``z(0) = z0``, computed by the continuous adjoint method with ``n_steps`` fixed RK4 steps
    forwards and backwards. Compared, on the random fields of Exercise 5.2 with ``t1`` from
    (0.3, 0.6) and 20 steps, with `jax.grad` through the same forward RK4 steps: the two agree
    up to the solver's error, so the tolerance is 1e-5 relative in float64 and 1e-3 in float32.

    Args:
        fn: callable returning a pair of arrays shaped like ``z0`` and ``theta``.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    name, rng, n_steps = "your rk4_adjoint", fresh_rng(), 20
    for dtype in dtypes():
        d, theta, z0, g = _random_problem(rng, dtype)
        t1 = float(rng.uniform(0.3, 0.6))
        got = call(name, fn, _field, z0, theta, t1, n_steps, g)
        assert isinstance(got, (tuple, list)) and len(got) == 2, (
            f"{name} must return a pair (dL/dz0, dL/dtheta); got {type(got).__name__}.")
        want = _rk4_reference(_field, z0, theta, t1, n_steps, g)
        tol = 1e-3 if dtype == jnp.float32 else 1e-5
        for got_x, want_x, what in zip(got, want, ("dL/dz0", "dL/dtheta")):
            got_x = jnp.asarray(got_x)
            assert got_x.shape == want_x.shape and got_x.dtype == want_x.dtype, (
                f"{what} of {name} has shape {got_x.shape} and dtype {got_x.dtype}; expected "
                f"{want_x.shape} and {want_x.dtype}.")
            scale = float(jnp.max(jnp.abs(want_x)))
            err = float(jnp.max(jnp.abs(got_x - want_x))) / scale
            hint = ("Hint: start the backward pass from z(t1), a(t1) = g, a_theta(t1) = 0, and "
                    "take RK4 steps of size -t1/n_steps on the augmented system.")
            if matches(got_x, -want_x):
                hint = "The sign is wrong: check the minus signs of the adjoint dynamics."
            assert err < tol, (
                f"{what} of {name} ({jnp.dtype(dtype).name}) is off by {err:.1e} relative to "
                f"jax.grad through the same RK4 steps: got {show(got_x)}, expected "
                f"{show(want_x)}. {hint}")
    passed("check_rk4_adjoint passed: your adjoint gradients match jax.grad through RK4 to "
           "the solver's accuracy.")

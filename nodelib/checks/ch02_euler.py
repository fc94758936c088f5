"""Checks for the exercises of Chapter 2, ODEs and Euler's method."""
import jax
import jax.numpy as jnp

from ._common import assert_array, call, dtypes, fresh_rng, matches, passed

__all__ = ["check_heun_step", "check_euler_integrate"]


def _test_field(t, y, args):
    """A nonlinear, time-dependent vector field ``f(t, y, (A, c))`` for the solver checks."""
    A, c = args
    return jnp.tanh(A @ y) + c * jnp.cos(t)  # (dim,)


def _random_problem(rng, dtype):
    """Fresh ``(t, y, dt, args)`` for :func:`_test_field` in ``dtype``."""
    dim = int(rng.integers(2, 5))
    A = jnp.asarray(rng.normal(size=(dim, dim)), dtype)  # (dim, dim)
    c = jnp.asarray(rng.normal(size=dim), dtype)  # (dim,)
    y = jnp.asarray(rng.normal(size=dim), dtype)  # (dim,)
    t = jnp.asarray(rng.uniform(0.0, 2.0), dtype)
    dt = jnp.asarray(rng.uniform(0.05, 0.3), dtype)
    return t, y, dt, (A, c)


def _heun_reference(f, t, y, dt, args):
    """One step of Heun's method (explicit trapezoidal rule), Hairer et al. (1993), II.1."""
    k1 = f(t, y, args)
    k2 = f(t + dt, y + dt * k1, args)
    return y + dt / 2 * (k1 + k2)


def _one_step_hint(got, f, t, y, dt, args):
    """Name the method ``got`` came from, when it is a common wrong one."""
    k1 = f(t, y, args)
    if matches(got, y + dt * k1):
        return "This is an Euler step: Heun's method also evaluates f at the end of the step."
    if matches(got, y + dt * f(t + dt / 2, y + dt / 2 * k1, args)):
        return "This is the midpoint method: Heun averages the slopes at both ends of the step."
    if matches(got, y + dt / 2 * (k1 + f(t, y + dt * k1, args))):
        return "The second slope must be evaluated at time t + dt, not t."
    return "Hint: k1 = f(t, y), k2 = f(t + dt, y + dt k1), y_next = y + dt (k1 + k2) / 2."


def check_heun_step(fn):
    """Check ``fn(f, t, y, dt, args)``, one step of Heun's method (Exercise 2.2).

    The test vector field is nonlinear and depends on time, so a slope evaluated at the wrong
    time or state is caught. Values and the Jacobian with respect to ``y`` are compared with
    the reference step.

    Args:
        fn: callable returning the state after one step, same shape and dtype as ``y``; ``f``
            follows nodelib's convention ``f(t, y, args)``.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    name, rng = "your heun_step", fresh_rng()
    for dtype in dtypes():
        t, y, dt, args = _random_problem(rng, dtype)
        got = call(name, fn, _test_field, t, y, dt, args)
        want = _heun_reference(_test_field, t, y, dt, args)
        hint = _one_step_hint(got, _test_field, t, y, dt, args)
        assert_array(f"{name} ({jnp.dtype(dtype).name})", got, want, hint)
        # The default arguments bind this iteration's t, dt and args to each closure (B023).
        step = lambda y_, t=t, dt=dt, args=args: fn(_test_field, t, y_, dt, args)
        ref = lambda y_, t=t, dt=dt, args=args: _heun_reference(_test_field, t, y_, dt, args)
        jac = call(name, jax.jacfwd(step), y)
        want_jac = jax.jacfwd(ref)(y)
        assert_array(f"the Jacobian of {name} with respect to y", jac, want_jac,
                      "Hint: use jax.numpy operations only, so JAX can differentiate them.")
    passed("check_heun_step passed: values and Jacobian match Heun's method.")


def check_euler_integrate(fn):
    """Check ``fn(f, y0, t0, t1, num_steps, args)``, a fixed-step Euler solve (Exercise 2.3).

    The reference is ``nodelib.odeint(f, y0, [t0, t1], args, solver="euler",
    dt0=(t1 - t0) / num_steps)``: the learner's loop must take ``num_steps`` equal steps and
    return the state at ``t1``.

    Args:
        fn: callable returning the state at ``t1``, same shape and dtype as ``y0``.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with nodelib.
    """
    from .. import odeint  # imported here: the solvers modules import nothing from checks

    name, rng = "your euler_integrate", fresh_rng()
    for dtype in dtypes():
        t0, y0, _, args = _random_problem(rng, dtype)
        t0 = float(t0)
        t1, num_steps = t0 + float(rng.uniform(0.5, 1.5)), int(rng.integers(5, 40))
        got = call(name, fn, _test_field, y0, t0, t1, num_steps, args)
        ts = jnp.asarray([t0, t1], dtype)
        sol = odeint(_test_field, y0, ts, args, solver="euler", dt0=(t1 - t0) / num_steps)
        want = sol.ys[-1]
        hint = "Hint: start at (t0, y0) and repeat y <- y + dt f(t, y, args); t <- t + dt."
        if matches(got, y0 + (t1 - t0) * _test_field(t0, y0, args)):
            hint = "This is a single Euler step over the whole interval: take num_steps steps."
        assert_array(f"{name} ({jnp.dtype(dtype).name}, {num_steps} steps)", got, want, hint)
    passed("check_euler_integrate passed: your solver agrees with nodelib.odeint(solver='euler').")

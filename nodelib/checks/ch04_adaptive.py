"""Checks for the exercises of Chapter 4, Adaptive solvers and error control.

The reference embedded step is nodelib's own generic Runge–Kutta step (``nodelib.rk.rk_step``)
fed with the Bogacki–Shampine 3(2) tableau, built here as a ``nodelib.ButcherTableau``, which
checks its own coefficients.
"""
from fractions import Fraction as F

import jax
import jax.numpy as jnp

from ._common import assert_array, call, dtypes, fresh_rng, matches, passed
from .ch02_euler import _random_problem, _test_field

__all__ = ["check_bosh3_step"]


def _bosh3():
    """Bogacki & Shampine (1989), the 3(2) pair of scipy's RK23: FSAL, third-order solution."""
    from ..tableaus import ButcherTableau

    b = (F(2, 9), F(1, 3), F(4, 9), F(0))
    b_hat = (F(7, 24), F(1, 4), F(1, 3), F(1, 8))
    return ButcherTableau(
        name="bosh3", order=3, c=(F(0), F(1, 2), F(3, 4), F(1)),
        a=((), (F(1, 2),), (F(0), F(3, 4)), b[:3]), b=b,
        b_err=tuple(x - y for x, y in zip(b, b_hat)), fsal=True)


def check_bosh3_step(fn):
    """Check ``fn(f, t, y, dt, args)``, one embedded Bogacki–Shampine 3(2) step (Exercise 4.2).

    ``fn`` returns ``(y3, y_err)``: the third-order solution at ``t + dt`` and the error
    estimate ``y3 - y2``, the difference from the embedded second-order solution. Compared with
    nodelib's generic Runge–Kutta step on a random nonlinear, time-dependent vector field in 2
    to 4 dimensions, values and the Jacobian of ``y3`` with respect to ``y``.

    Args:
        fn: callable returning a pair of arrays shaped like ``y``, in ``y``'s dtype.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    from ..rk import rk_step

    tableau, name, rng = _bosh3(), "your bosh3_step", fresh_rng()
    for dtype in dtypes():
        t, y, dt, args = _random_problem(rng, dtype)
        # Default arguments bind this iteration's values to each closure (B023: a closure
        # reads its loop variables late).
        field = lambda t_, y_, args=args: _test_field(t_, y_, args)  # noqa: E731
        want_y, want_err, _ = rk_step(tableau, field, t, y, dt)
        got = call(name, fn, _test_field, t, y, dt, args)
        assert isinstance(got, (tuple, list)) and len(got) == 2, (
            f"{name} must return a pair (y3, y_err); got {type(got).__name__}.")
        got_y, got_err = got
        hint = ("Hint: y3 = y + dt (2/9 k1 + 1/3 k2 + 4/9 k3), with k2 at t + dt/2 and k3 at "
                "t + 3dt/4.")
        y2 = got_y - want_err
        if matches(got_y, y2) and not matches(got_y, want_y):
            hint = ("This is the second-order solution: the step advances with the third-order "
                    "weights b.")
        assert_array(f"y3 of {name} ({jnp.dtype(dtype).name})", got_y, want_y, hint)
        err_hint = ("Hint: y_err = y3 - y2 = dt * sum_i (b_i - b_hat_i) k_i, with "
                    "k4 = f(t + dt, y3).")
        if matches(got_err, -want_err):
            err_hint = "Your estimate has the wrong sign: return y3 - y2, not y2 - y3."
        assert_array(f"y_err of {name} ({jnp.dtype(dtype).name})", got_err, want_err, err_hint)
        step = lambda y_, t=t, dt=dt, args=args: fn(_test_field, t, y_, dt, args)[0]
        ref = lambda y_, field=field, t=t, dt=dt: rk_step(tableau, field, t, y_, dt)[0]
        jac = call(name, jax.jacfwd(step), y)
        want_jac = jax.jacfwd(ref)(y)
        assert_array("the Jacobian of y3 with respect to y", jac, want_jac,
                     "Hint: use jax.numpy operations only, so JAX can differentiate them.")
    passed("check_bosh3_step passed: the third-order solution, its error estimate and its "
           "Jacobian match nodelib's Runge-Kutta step.")

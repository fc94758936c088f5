"""One generic explicit Runge–Kutta step, and the dense output between steps.

The state here is a flat vector: `nodelib.integrate` ravels pytree states before solving,
so every formula below reads exactly as it is written in a textbook.
"""
import jax.numpy as jnp

from .tableaus import ButcherTableau


def _combine(coefs, ks):
    """sum_j coefs[j] * ks[j], skipping the zero coefficients. Returns None if all are zero.

    The coefficients are Python floats, so they take the dtype of the state (JAX's weak
    typing): a float32 state is stepped in float32, a float64 state in float64.
    """
    total = None
    for coef, k in zip(coefs, ks):
        if coef != 0:
            term = float(coef) * k
            total = term if total is None else total + term
    return total


def rk_step(tableau: ButcherTableau, f, t, y, dt, k1=None):
    """Take one step of an explicit Runge–Kutta method (Hairer et al., Definition II.1.1).

    Args:
        tableau: the method.
        f: vector field on flat states, `f(t, y) -> (n,)`.
        t: current time (scalar); y: current state, shape (n,); dt: step size (may be < 0).
        k1: f(t, y) if already known (first-same-as-last methods reuse the previous step's
            last stage); evaluated here when None.

    Returns:
        (y1, y_err, ks): the new state (n,), the embedded error estimate (n,) or None for
        methods without one, and the list of the s stage derivatives, each (n,).
        For an FSAL method ks[-1] == f(t + dt, y1).
    """
    ks = [f(t, y) if k1 is None else k1]
    y1 = None
    for i in range(1, tableau.stages):
        increment = _combine(tableau.a[i], ks)
        y_i = y if increment is None else y + dt * increment
        ks.append(f(t + float(tableau.c[i]) * dt, y_i))
        if tableau.fsal and i == tableau.stages - 1:
            y1 = y_i                                   # last row of a == b
    if y1 is None:
        y1 = y + dt * _combine(tableau.b, ks)
    y_err = None if tableau.b_err is None else dt * _combine(tableau.b_err, ks)
    return y1, y_err, ks


def dense_coefficients(tableau: ButcherTableau, y0, y1, ks, dt):
    """Coefficients of the continuous extension on one step of Dormand–Prince.

    Shampine's fourth-order interpolant for DOPRI5 in the form of Hairer's CONTD5
    (Hairer et al., section II.6): with s = (t - t0) / dt in [0, 1],

        y(s) = r1 + s (r2 + (1 - s) (r3 + s (r4 + (1 - s) r5)))

    with r1 = y0, r2 = y1 - y0, r3 = dt k1 - r2, r4 = r2 - dt k7 - r3 and
    r5 = dt sum_i d_i k_i. It matches y0, y1, f(t0, y0) and f(t1, y1) exactly.

    Returns:
        array (5, n): r1..r5 stacked.
    """
    r2 = y1 - y0
    r3 = dt * ks[0] - r2
    r4 = r2 - dt * ks[-1] - r3
    if tableau.dense is not None:
        r5 = dt * _combine(tableau.dense, ks)
    else:                               # cubic Hermite: third order, no extra term
        r5 = jnp.zeros_like(y0)
    return jnp.stack([y0, r2, r3, r4, r5])


def interpolate(coefs, s):
    """Evaluate the continuous extension at fractions `s` of the step.

    Args:
        coefs: (5, n) from `dense_coefficients`.
        s: fractions of the step, shape (m,).

    Returns:
        array (m, n): the interpolated states.
    """
    s = s[:, None]                                     # (m, 1)
    r1, r2, r3, r4, r5 = coefs[:, None, :]             # each (1, n)
    return r1 + s * (r2 + (1 - s) * (r3 + s * (r4 + (1 - s) * r5)))

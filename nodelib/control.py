"""Error control for adaptive Runge–Kutta methods: error norm, first step, step-size update.

The formulas and constants follow Hairer, Nørsett & Wanner, *Solving ODEs I*, section II.4,
and their DOPRI5 code. With the default constants nodelib takes the same steps as scipy's
RK45 (`solve_ivp`), the usual reference.
"""
import jax.numpy as jnp

# Step-size controller constants (Hairer et al., section II.4 and IV.2; DOPRI5 defaults).
SAFETY = 0.9          # aim a little below the tolerance, so the next step is rarely rejected
FACTOR_MIN = 0.2      # a step may shrink at most 5x at once ...
FACTOR_MAX = 10.0     # ... and grow at most 10x
# PI "memory" exponent on the previous error (Gustafsson's stabilisation, Hairer et al.
# section IV.2). BETA = 0 is the classical I controller, which scipy's RK45, diffrax's
# default PIDController and jax.experimental.ode use; with it nodelib takes exactly scipy's
# steps on the Arenstorf orbit at 1e-7 (1382 evaluations, 26 rejected). Hairer's DOPRI5
# uses 0.04. We measured 0.02 against 0: it cost 1-6 % more evaluations on our test
# problems and neural vector fields, with a larger error on Arenstorf (1.1e-3 vs 6.5e-4).
BETA = 0.0
ALPHA = 0.2 - 0.75 * BETA   # exponent on the current error: 1/5 for a 4th-order estimate,
                            # reduced as Hairer recommends when BETA > 0
MIN_PREV_ERROR = 1e-4  # floor on the remembered error, so one tiny error can't blow dt up


def error_ratio(y_err, y0, y1, rtol, atol):
    """Scaled root-mean-square norm of the local error estimate (Hairer et al., eq. II.4.11).

        err = sqrt(mean((y_err / (atol + rtol * max(|y0|, |y1|)))**2))

    A step is accepted when err <= 1.

    Args:
        y_err, y0, y1: arrays of shape (n,).
        rtol, atol: relative and absolute tolerances (scalars).

    Returns:
        scalar err >= 0; inf or nan if y_err or y1 has a non-finite entry, so one test
        `isfinite(err)` also checks the new state.
    """
    scale = atol + rtol * jnp.maximum(jnp.abs(y0), jnp.abs(y1))      # (n,)
    # An infinite y1 makes its scale infinite and its ratio 0; the term 0 * y1 (0 for a
    # finite entry, nan otherwise) turns it into nan, in the same fused pass over the state.
    return jnp.sqrt(jnp.mean((y_err / scale + 0.0 * y1) ** 2))


def _norm(x, scale):
    # Root-mean-square, as in the error norm and in scipy's and diffrax's starting step.
    # (Hairer's Fortran HINIT sums the squares without dividing by n, which makes the first
    # step of a large batched state needlessly small: by n**(1/5), 1.9x at n = 512.)
    return jnp.sqrt(jnp.mean((x / scale) ** 2))


def initial_step(f, t0, y0, f0, direction, order, rtol, atol):
    """Starting step size when none is given (Hairer et al., section II.4, "Starting Step Size").

    Costs one evaluation of f. Args as in `error_ratio`; `f0 = f(t0, y0)`, `direction` is
    +1 or -1 and `order` the order of the error estimate plus one (5 for Dormand–Prince).

    Returns:
        scalar signed step size.
    """
    scale = atol + jnp.abs(y0) * rtol
    d0, d1 = _norm(y0, scale), _norm(f0, scale)
    h0 = jnp.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
    f1 = f(t0 + direction * h0, y0 + direction * h0 * f0)
    d2 = _norm(f1 - f0, scale) / h0
    dmax = jnp.maximum(d1, d2)
    h1 = jnp.where(dmax <= 1e-15, jnp.maximum(1e-6, h0 * 1e-3),
                   (0.01 / dmax) ** (1.0 / order))
    h = jnp.minimum(100 * h0, h1)
    h = jnp.where(jnp.isfinite(h), h, 1e-6)      # a non-finite f is reported by the solver
    return direction * h


def next_step(dt, err, prev_err, accepted, prev_rejected, alpha=ALPHA):
    """PI step-size controller (Hairer et al., section IV.2, as in DOPRI5).

        accepted:  dt_new = dt * clip(SAFETY * err**-ALPHA * prev_err**BETA, FACTOR_MIN, FACTOR_MAX)
                   and no growth right after a rejection;
        rejected:  dt_new = dt * max(FACTOR_MIN, SAFETY * err**-ALPHA)    (plain I control).

    A non-finite error counts as a rejection with the largest decrease.

    Args:
        dt: signed step just attempted; err: its `error_ratio`; prev_err: the error of the
        last accepted step; accepted / prev_rejected: booleans; alpha: the exponent
        ALPHA, 1 / (q + 1) for an error estimate of order q (1/4 for RODAS4's).

    Returns:
        (dt_new, prev_err_new)
    """
    err = jnp.where(jnp.isfinite(err), err, jnp.inf)
    safe_err = jnp.maximum(err, 1e-30)                       # avoid 0 ** negative
    i_part = safe_err ** alpha
    grow = jnp.clip(SAFETY / (i_part / prev_err ** BETA), FACTOR_MIN, FACTOR_MAX)
    grow = jnp.where(prev_rejected, jnp.minimum(grow, 1.0), grow)
    shrink = jnp.maximum(FACTOR_MIN, SAFETY / i_part)
    factor = jnp.where(accepted, grow, shrink)
    new_prev = jnp.where(accepted, jnp.maximum(err, MIN_PREV_ERROR), prev_err)
    return dt * factor, new_prev

"""Model pieces built on `odeint`: the ODE block, augmentation, and continuous normalizing
flows with exact and Hutchinson trace estimates.

Vector fields follow nodelib's convention `f(t, y, params)` on a single (unbatched) state;
batches are handled by `jax.vmap`, as in the chapters.
"""
from functools import lru_cache

import jax
import jax.numpy as jnp

from .api import odeint


def ode_block(f, params, x, *, t1=1.0, **odeint_kwargs):
    """odeint as a layer: map x to the state at time t1 of y' = f(t, y, params), y(0) = x.

    Args:
        f: vector field f(t, y, params) on one state of shape (dim,).
        params: its parameters (gradients reach them through the adjoint by default).
        x: input of shape (dim,) or a batch (batch, dim), solved independently with vmap.
        t1: integration time (the block's "depth").
        **odeint_kwargs: solver options (rtol, atol, solver, dt0, gradient, ...).

    Returns:
        The states at t1, an array shaped like x.
    """
    x = jnp.asarray(x)
    if x.ndim == 2:
        return jax.vmap(lambda xi: ode_block(f, params, xi, t1=t1, **odeint_kwargs))(x)
    if x.ndim != 1:
        raise ValueError(f"ode_block expects x of shape (dim,) or (batch, dim); got {x.shape}")
    ts = jnp.array([0.0, t1], dtype=x.dtype)
    return odeint(f, x, ts, params, **odeint_kwargs).ys[-1]


def augment(x, extra_dims):
    """Append `extra_dims` zeros to the last axis of x (augmented neural ODEs,
    Dupont et al. 2019): (..., dim) -> (..., dim + extra_dims)."""
    if not isinstance(extra_dims, int) or extra_dims < 0:
        raise ValueError(f"extra_dims must be a non-negative int; got {extra_dims!r}")
    pad = [(0, 0)] * (jnp.ndim(x) - 1) + [(0, extra_dims)]
    return jnp.pad(x, pad)


def exact_trace(f, t, z, params):
    """(f(t, z), tr(df/dz)) with the full Jacobian: D forward-mode products, so it costs
    about D evaluations of f for a state of dimension D."""
    dz, jvp = jax.linearize(lambda z: f(t, z, params), z)
    eye = jnp.eye(z.shape[-1], dtype=z.dtype)                        # (D, D)
    jac_cols = jax.vmap(jvp)(eye)                                    # (D, D): row i = J e_i
    return dz, jnp.trace(jac_cols)


def hutchinson_trace(f, t, z, params, eps):
    """(f(t, z), eps^T (df/dz) eps): an unbiased estimate of tr(df/dz) when eps has zero
    mean and identity covariance (Hutchinson 1989; used by FFJORD, Grathwohl et al. 2019).
    One Jacobian-vector product: about twice the cost of f, whatever D is."""
    dz, j_eps = jax.jvp(lambda z: f(t, z, params), (z,), (eps,))
    return dz, jnp.vdot(eps, j_eps)


@lru_cache(maxsize=64)     # the same f gives the same function, so odeint's compile is reused
def cnf_dynamics(f, trace="exact"):
    """Augmented dynamics of a continuous normalizing flow (Chen et al. 2018, Theorem 1):

        dz/dt = f(t, z),      d(delta)/dt = -tr(df/dz),

    so that log p(z(t1)) = log p(z(t0)) - (delta(t1) - delta(t0)).

    Args:
        f: vector field f(t, z, params) on one sample z of shape (D,).
        trace: "exact" (args = params) or "hutchinson" (args = (params, eps), with eps drawn
            once per solve and held fixed while it runs, so the solver sees a smooth field).

    Returns:
        g(t, (z, delta), args) -> (dz/dt, d delta/dt).
    """
    if trace == "exact":
        def g(t, state, params):
            dz, tr = exact_trace(f, t, state[0], params)
            return dz, -tr
    elif trace == "hutchinson":
        def g(t, state, args):
            params, eps = args
            dz, tr = hutchinson_trace(f, t, state[0], params, eps)
            return dz, -tr
    else:
        raise ValueError(f"trace must be 'exact' or 'hutchinson'; got {trace!r}")
    return g


def standard_normal_logpdf(z):
    """log N(z; 0, I) for z of shape (..., D)."""
    d = z.shape[-1]
    return -0.5 * jnp.sum(z**2, axis=-1) - 0.5 * d * jnp.log(2 * jnp.pi)


def cnf_log_density(f, params, x, *, t1=1.0, trace="exact", key=None,
                    base_logpdf=standard_normal_logpdf, **odeint_kwargs):
    """log p(x) under the flow that carries base samples z(0) to x = z(t1).

    Integrates the CNF dynamics backwards from (x, 0) at t1 to t = 0, then
    log p(x) = base_logpdf(z(0)) - delta(0), where delta(0) = integral_0^t1 tr(df/dz) dt.

    Args:
        f, params: the flow's vector field f(t, z, params).
        x: a sample (D,) or a batch (batch, D).
        trace: "exact" or "hutchinson" (then `key` is required: one noise vector per sample
            and per call, Rademacher distributed).
        **odeint_kwargs: solver options.

    Returns:
        log densities, shape () or (batch,).
    """
    x = jnp.asarray(x)
    if x.ndim == 2:
        keys = None if key is None else jax.random.split(key, x.shape[0])   # one per sample
        one = lambda xi, k: cnf_log_density(f, params, xi, t1=t1, trace=trace, key=k,
                                            base_logpdf=base_logpdf, **odeint_kwargs)
        return jax.vmap(one)(x, keys)
    args = params
    if trace == "hutchinson":
        if key is None:
            raise ValueError("trace='hutchinson' needs a PRNG key for the noise: pass key=...")
        args = (params, jax.random.rademacher(key, x.shape, dtype=x.dtype))
    ts = jnp.array([t1, 0.0], dtype=x.dtype)
    sol = odeint(cnf_dynamics(f, trace), (x, jnp.zeros((), x.dtype)), ts, args, **odeint_kwargs)
    z0, delta0 = sol.ys[0][-1], sol.ys[1][-1]
    return base_logpdf(z0) - delta0

"""Planar normalizing flows (Rezende & Mohamed 2015), the discrete flows of Chapter 6.

A planar layer maps ``z`` (shape ``(D,)``) to

    f(z) = z + u h(w^T z + b),     log|det df/dz| = log|1 + u^T psi(z)|,  psi(z) = h'(w^T z + b) w,

with ``h = tanh``. It is invertible whenever ``w^T u >= -1`` (then ``w^T f(z)`` increases with
``w^T z``); :func:`planar_u_hat` turns any ``u`` into one that satisfies the condition. A flow
is a chain of ``K`` layers whose parameters are stacked: ``{"u": (K, D), "w": (K, D),
"b": (K,)}``. Sampling runs the chain forwards and subtracts the log-determinants; evaluating
the density at a given point needs the inverse, which for a planar layer reduces to a monotone
scalar equation, solved here by bisection.
"""
import jax
import jax.numpy as jnp
from jax import lax

from .models import standard_normal_logpdf


def init_planar(key, num_layers, dim=2, *, scale=0.1, dtype=jnp.float32):
    """Random parameters of a chain of ``num_layers`` planar layers in ``dim`` dimensions.

    Args:
        key: a JAX PRNG key.
        num_layers: number of layers ``K``.
        dim: dimension ``D`` of the samples.
        scale: standard deviation of the normal draws of ``u``, ``w`` and ``b``.
        dtype: floating-point dtype of the parameters.

    Returns:
        ``{"u": (K, D), "w": (K, D), "b": (K,)}``.
    """
    ku, kw, kb = jax.random.split(key, 3)
    draw = lambda k, shape: (scale * jax.random.normal(k, shape, jnp.float32)).astype(dtype)
    return {"u": draw(ku, (num_layers, dim)), "w": draw(kw, (num_layers, dim)),
            "b": draw(kb, (num_layers,))}


def planar_u_hat(u, w):
    """The modified ``u`` of Rezende & Mohamed (2015, Appendix A) that makes a tanh planar layer
    invertible: ``u_hat = u + (m(w^T u) - w^T u) w / |w|^2`` with ``m(x) = -1 + softplus(x)``,
    so that ``w^T u_hat = m(w^T u) > -1``. Works on one layer ``(D,)`` or stacked ``(K, D)``."""
    wu = jnp.sum(w * u, axis=-1, keepdims=True)                       # (..., 1)
    m = -1.0 + jax.nn.softplus(wu)
    return u + (m - wu) * w / jnp.sum(w * w, axis=-1, keepdims=True)


def planar_layer(params, z):
    """One planar layer ``f(z) = z + u tanh(w^T z + b)`` and its log-determinant.

    Args:
        params: ``(u, w, b)`` with ``u, w`` of shape ``(D,)`` and ``b`` a scalar; ``u`` is
            used as given (apply :func:`planar_u_hat` first to guarantee invertibility).
        z: a sample of shape ``(D,)``.

    Returns:
        ``(f(z), log|1 + u^T psi(z)|)`` with ``psi(z) = (1 - tanh^2(w^T z + b)) w``
        (the matrix determinant lemma: ``det(I + u psi^T) = 1 + u^T psi``).
    """
    u, w, b = params
    a = jnp.dot(w, z) + b                                             # ()
    h = jnp.tanh(a)
    log_det = jnp.log(jnp.abs(1.0 + (1.0 - h**2) * jnp.dot(u, w)))
    return z + u * h, log_det


def planar_inverse(params, y, *, iters=40):
    """Invert one planar layer (with ``w^T u >= -1``): the ``z`` with ``f(z) = y``.

    Writing ``z = y - u tanh(alpha + b)`` with ``alpha = w^T z`` leaves the scalar equation
    ``alpha + (w^T u) tanh(alpha + b) = w^T y``, whose left side increases with ``alpha``; its
    root lies within ``|w^T u|`` of ``w^T y`` and is found by ``iters`` bisection steps.
    No gradients flow through the root (it is a density-evaluation tool, not a training one).

    Args:
        params: ``(u, w, b)`` as in :func:`planar_layer`.
        y: a point of shape ``(D,)``.
        iters: bisection steps; each halves the bracket of width ``2 |w^T u|``.

    Returns:
        ``z`` of shape ``(D,)``.
    """
    u, w, b = params
    wu, wy = jnp.dot(w, u), jnp.dot(w, y)
    g = lambda alpha: alpha + wu * jnp.tanh(alpha + b) - wy

    def halve(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        low_side = g(mid) < 0
        return jnp.where(low_side, mid, lo), jnp.where(low_side, hi, mid)

    lo, hi = lax.fori_loop(0, iters, halve, (wy - jnp.abs(wu), wy + jnp.abs(wu)))
    alpha = lax.stop_gradient(0.5 * (lo + hi))
    return y - u * jnp.tanh(alpha + b)


def _layers(flow):
    """The stacked layers of ``flow`` with ``u`` replaced by ``u_hat``."""
    return planar_u_hat(flow["u"], flow["w"]), flow["w"], flow["b"]


def planar_flow_forward(flow, z0):
    """Push base samples through a chain of planar layers (``u`` made invertible first).

    Args:
        flow: ``{"u": (K, D), "w": (K, D), "b": (K,)}``, e.g. from :func:`init_planar`.
        z0: a sample ``(D,)`` or a batch ``(batch, D)``.

    Returns:
        ``(x, sum_log_det)``: the samples after the ``K`` layers and the sum of the layers'
        log-determinants, so that ``log q(x) = log p0(z0) - sum_log_det``.
    """
    if z0.ndim == 2:
        return jax.vmap(lambda z: planar_flow_forward(flow, z))(z0)

    def layer(z, params):
        z, log_det = planar_layer(params, z)
        return z, log_det

    x, log_dets = lax.scan(layer, z0, _layers(flow))                  # log_dets: (K,)
    return x, jnp.sum(log_dets)


def planar_flow_log_density(flow, x, base_logpdf=standard_normal_logpdf):
    """``log q(x)`` of a chain of planar layers at given points, through their inverses.

    The points are carried back through the layers in reverse order (each inverted by
    :func:`planar_inverse`), and ``log q(x) = log p0(z0) - sum_k log|det J_k(z_{k-1})|``,
    the change of variables formula for a chain of flows.

    Args:
        flow: stacked parameters, as in :func:`planar_flow_forward`.
        x: a point ``(D,)`` or a batch ``(batch, D)``.
        base_logpdf: log-density of the base distribution (default: standard normal).

    Returns:
        log densities of shape ``()`` or ``(batch,)``.
    """
    if x.ndim == 2:
        return jax.vmap(lambda xi: planar_flow_log_density(flow, xi, base_logpdf))(x)

    def undo(y, params):
        z = planar_inverse(params, y)
        return z, planar_layer(params, z)[1]

    z0, log_dets = lax.scan(undo, x, _layers(flow), reverse=True)
    return base_logpdf(z0) - jnp.sum(log_dets)

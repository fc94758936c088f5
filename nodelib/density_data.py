"""The 2-D density benchmarks of FFJORD (Grathwohl et al. 2019), generated in code.

Samples for the continuous-normalizing-flow chapter: a mixture of eight Gaussians, a pinwheel
and a checkerboard. The conventions are those of :mod:`nodelib.data`, which re-exports these
functions: an explicit ``seed`` (int or PRNG key), random draws in float32 cast to ``dtype``
(default ``jnp.float32``), and ``jnp`` arrays of shape ``(n, 2)``.
"""
import functools
import math

import jax
import jax.numpy as jnp

from ._argcheck import as_key, check_float_dtype, check_int

_F32 = jnp.float32
# The random part of each generator is compiled once per size, in float32, then cast.
_jit = functools.partial(jax.jit, static_argnames=("n",))


def eight_gaussians(n=1000, seed=0, *, dtype=_F32):
    """Mixture of eight Gaussians on a circle, an FFJORD 2-D density benchmark.

    Equal-weight mixture of isotropic Gaussians with standard deviation ``0.5 / sqrt(2)``,
    centred at radius ``2 sqrt(2)`` at the angles ``k pi / 4``, ``k = 0..7`` (the setting of
    Grathwohl et al. 2019, FFJORD).

    Args:
        n: number of samples, an int >= 1.
        seed: int or PRNG key.
        dtype: floating-point dtype of the result.

    Returns:
        Samples ``x`` of shape ``(n, 2)``.

    Raises:
        TypeError, ValueError: on a bad ``n``, ``seed`` or ``dtype``.
    """
    n = check_int(n, "n")
    dtype = check_float_dtype(dtype)
    return _eight_gaussians(as_key(seed), n=n).astype(dtype)


@_jit
def _eight_gaussians(key, n):
    """Compiled float32 body of :func:`eight_gaussians`."""
    k_comp, k_noise = jax.random.split(key)
    angle = jax.random.randint(k_comp, (n,), 0, 8, jnp.int32).astype(_F32) * (math.pi / 4)
    centres = 2.0 * math.sqrt(2.0) * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    noise = (0.5 / math.sqrt(2.0)) * jax.random.normal(k_noise, (n, 2), _F32)  # (n, 2)
    return centres + noise


def pinwheel(n=1000, seed=0, *, dtype=_F32):
    """A five-armed pinwheel, an FFJORD 2-D density benchmark.

    Sample ``i`` lies on arm ``k = i % 5`` (the arms take turns, so they are equally full and
    any slice of the samples covers all five). It draws a
    radial coordinate ``r ~ N(1, 0.3^2)`` and a tangential one ``s ~ N(0, 0.1^2)``, and rotates
    ``(r, s)`` by the angle ``2 pi k / 5 + 0.25 exp(r)`` before scaling by 2; the ``exp(r)``
    term bends each arm (after Johnson et al. 2016, as used by Grathwohl et al. 2019).

    Args:
        n: number of samples, an int >= 1.
        seed: int or PRNG key.
        dtype: floating-point dtype of the result.

    Returns:
        Samples ``x`` of shape ``(n, 2)``.

    Raises:
        TypeError, ValueError: on a bad ``n``, ``seed`` or ``dtype``.
    """
    n = check_int(n, "n")
    dtype = check_float_dtype(dtype)
    return _pinwheel(as_key(seed), n=n).astype(dtype)


@_jit
def _pinwheel(key, n):
    """Compiled float32 body of :func:`pinwheel`."""
    arm = jnp.arange(n) % 5  # (n,)
    feat = jax.random.normal(key, (n, 2), _F32) * jnp.array([0.3, 0.1], _F32)
    r, s = feat[:, 0] + 1.0, feat[:, 1]
    angle = 2.0 * math.pi * arm / 5 + 0.25 * jnp.exp(r)  # (n,)
    c, sn = jnp.cos(angle), jnp.sin(angle)
    x = 2.0 * jnp.stack([r * c - s * sn, r * sn + s * c], axis=1)  # (n, 2)
    return x


def checkerboard(n=1000, seed=0, *, dtype=_F32):
    """Uniform density on the dark squares of a 4 x 4 checkerboard on ``[-4, 4]^2``.

    An FFJORD 2-D density benchmark (Grathwohl et al. 2019): the square ``[-4, 4]^2`` is cut
    into 16 cells of side 2 and the density is uniform on the 8 cells whose indices
    ``floor(x / 2) + floor(y / 2)`` are even, zero elsewhere.

    Args:
        n: number of samples, an int >= 1.
        seed: int or PRNG key.
        dtype: floating-point dtype of the result.

    Returns:
        Samples ``x`` of shape ``(n, 2)``.

    Raises:
        TypeError, ValueError: on a bad ``n``, ``seed`` or ``dtype``.
    """
    n = check_int(n, "n")
    dtype = check_float_dtype(dtype)
    return _checkerboard(as_key(seed), n=n).astype(dtype)


@_jit
def _checkerboard(key, n):
    """Compiled float32 body of :func:`checkerboard`."""
    u = jax.random.uniform(key, (n, 3), _F32)  # (n, 3)
    col = 4.0 * u[:, 0] - 2.0  # (n,) horizontal position in cell units, in [-2, 2)
    # In column floor(col) the dark cells are the two rows with the same parity as the column:
    # row -2 or 0 for even columns, -1 or 1 for odd ones; u[:, 1] picks one of the two.
    row = jnp.where(u[:, 1] < 0.5, -2.0, 0.0) + jnp.floor(col) % 2  # (n,)
    y = row + u[:, 2]
    return 2.0 * jnp.stack([col, y], axis=1)

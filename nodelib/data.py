"""Toy data sets, generated in code (nothing is downloaded).

Conventions for every function here:

- randomness comes only from the explicit ``seed`` argument (a non-negative int or a JAX PRNG
  key), so the same call always returns the same arrays;
- random samples are drawn in float32 and cast to ``dtype`` (default ``jnp.float32``): one
  seed gives the same points in float32 and float64, with or without ``jax_enable_x64``.
  Deterministic quantities (cubic targets, spiral trajectories) are computed in ``dtype``;
- the random part of each generator is compiled (``jax.jit``) once per size, after the
  arguments are checked: the first call of a new size takes a moment, later calls are instant;
- results are ``jnp`` arrays with the shapes given in each docstring; class labels are int32.

Here: regression and classification sets (the chapters on ODE-Nets and augmented neural ODEs),
the irregularly sampled spirals of the latent-ODE chapter, and scikit-learn's bundled digits.
The FFJORD 2-D density benchmarks (``eight_gaussians``, ``pinwheel``, ``checkerboard``) live in
``nodelib/density_data.py`` and are re-exported here: every toy set is ``nodelib.data.<name>``.
"""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._argcheck import as_key, check_float_dtype, check_int, check_number
from .density_data import checkerboard, eight_gaussians, pinwheel  # noqa: F401  (re-exported)

__all__ = ["cubic_1d", "flip_1d", "two_moons", "concentric_spheres", "eight_gaussians",
           "pinwheel", "checkerboard", "irregular_spirals", "digits"]

_F32 = jnp.float32


def cubic_1d(n=10, *, dtype=_F32):
    """The toy regression set of the seed tutorial: ``y = x**3 + 0.1 x`` on ``[-2, 2]``.

    Args:
        n: number of points, evenly spaced by ``linspace(-2, 2, n)`` (default 10).
        dtype: floating-point dtype of the result.

    Returns:
        ``(x, y)``, both of shape ``(n, 1)``.

    Raises:
        TypeError, ValueError: if ``n`` is not an int >= 2 or ``dtype`` is not floating.
    """
    n = check_int(n, "n", minimum=2)
    dtype = check_float_dtype(dtype)
    x = jnp.linspace(-2.0, 2.0, n, dtype=dtype)[:, None]  # (n, 1)
    return x, x**3 + 0.1 * x


def flip_1d(n=20, noise=0.1, seed=0, *, dtype=_F32):
    """Samples of the 1-D map ``g(-1) = 1, g(1) = -1``, which no neural ODE can represent.

    The flow of a 1-D neural ODE is an increasing homeomorphism of the real line (trajectories
    cannot cross), so it cannot swap ``-1`` and ``1`` (Dupont, Doucet & Teh 2019, Sec. 3).

    Args:
        n: number of points, an int >= 2. The first ``n // 2`` inputs lie near ``-1``, the
            other ``n - n // 2`` near ``+1``.
        noise: inputs are ``-1 + noise * u`` and ``+1 + noise * u`` with ``u`` uniform on
            ``[-1, 1]``; must be in ``[0, 1)`` so the two groups stay apart. ``noise=0`` gives
            exactly ``-1`` and ``+1``.
        seed: int or PRNG key.
        dtype: floating-point dtype of the result.

    Returns:
        ``(x, y)``, both of shape ``(n, 1)``: inputs ``x`` and targets ``y = g(x)``, which is
        ``+1`` for the group near ``-1`` and ``-1`` for the group near ``+1``.

    Raises:
        TypeError, ValueError: on a bad ``n``, ``noise``, ``seed`` or ``dtype``.
    """
    n = check_int(n, "n", minimum=2)
    noise = check_number(noise, "noise", allow_zero=True)
    if noise >= 1:
        raise ValueError(
            f"noise must be in [0, 1) so the groups near -1 and +1 stay apart; got {noise}."
        )
    dtype = check_float_dtype(dtype)
    centres = np.where(np.arange(n) < n // 2, -1.0, 1.0)[:, None].astype(np.float32)  # (n, 1)
    u = np.asarray(_uniform(as_key(seed), (n, 1), -1.0, 1.0))  # (n, 1), float32
    return jnp.asarray(centres + noise * u, dtype), jnp.asarray(-centres, dtype)


@functools.partial(jax.jit, static_argnames=("shape",))
def _uniform(key, shape, low, high):
    """Float32 uniform draws on ``[low, high)``, compiled once per shape."""
    return jax.random.uniform(key, shape, _F32, low, high)


def two_moons(n=200, noise=0.1, seed=0, *, dtype=_F32):
    """Two interleaved half circles, the classic non-linearly-separable 2-D classification set.

    Class 0 lies on the upper unit half circle ``(cos a, sin a)``, class 1 on the lower one
    shifted to ``(1 - cos a, 0.5 - sin a)``, with ``a`` uniform on ``[0, pi]``; isotropic
    Gaussian noise of standard deviation ``noise`` is added. Point ``i`` belongs to class
    ``i % 2``, so the classes alternate and every slice of the data is balanced.

    Args:
        n: number of points, an int >= 2.
        noise: standard deviation of the Gaussian noise, >= 0.
        seed: int or PRNG key.
        dtype: floating-point dtype of ``x``.

    Returns:
        ``(x, labels)``: ``x`` of shape ``(n, 2)`` and ``labels`` of shape ``(n,)``, int32 in
        ``{0, 1}``.

    Raises:
        TypeError, ValueError: on a bad ``n``, ``noise``, ``seed`` or ``dtype``.
    """
    n = check_int(n, "n", minimum=2)
    noise = check_number(noise, "noise", allow_zero=True)
    dtype = check_float_dtype(dtype)
    x, labels = _two_moons(as_key(seed), noise, n=n)
    return x.astype(dtype), labels


@functools.partial(jax.jit, static_argnames=("n",))
def _two_moons(key, noise, n):
    """Compiled float32 body of :func:`two_moons`."""
    k_angle, k_noise = jax.random.split(key)
    labels = jnp.arange(n, dtype=jnp.int32) % 2  # (n,)
    a = jax.random.uniform(k_angle, (n,), _F32, 0.0, math.pi)  # (n,)
    upper = jnp.stack([jnp.cos(a), jnp.sin(a)], axis=1)  # (n, 2)
    lower = jnp.stack([1.0 - jnp.cos(a), 0.5 - jnp.sin(a)], axis=1)  # (n, 2)
    x = jnp.where(labels[:, None] == 0, upper, lower)
    return x + noise * jax.random.normal(k_noise, (n, 2), _F32), labels


def concentric_spheres(n=400, dim=2, r1=0.5, r2=1.0, r3=1.5, seed=0, *, dtype=_F32):
    """A ball inside a shell: the function neural ODEs cannot represent (Dupont et al. 2019).

    Dupont, Doucet & Teh (2019, Sec. 3) define ``g(x) = -1`` for ``|x| <= r1`` and ``g(x) = 1``
    for ``r2 <= |x| <= r3``. Even-numbered points are drawn uniformly *in volume* in the ball
    of radius ``r1``, odd-numbered ones uniformly in volume in the shell ``r2 <= |x| <= r3``:
    the direction is a normalised Gaussian vector and the radius is sampled by inverting
    ``P(R <= r) = (r^d - r_in^d) / (r_out^d - r_in^d)``. In high dimension this puts most
    points near the outer radii, which is what a uniform distribution does.

    Args:
        n: number of points, an int >= 2.
        dim: dimension of the space, an int >= 1.
        r1, r2, r3: radii with ``0 < r1 < r2 < r3``.
        seed: int or PRNG key.
        dtype: floating-point dtype of the result.

    Returns:
        ``(x, y)``: ``x`` of shape ``(n, dim)`` and targets ``y`` of shape ``(n, 1)`` in
        ``dtype``, ``-1`` inside the ball (even rows) and ``+1`` in the shell (odd rows).

    Raises:
        TypeError, ValueError: on bad sizes, radii not ordered as ``0 < r1 < r2 < r3``, a bad
            ``seed`` or ``dtype``.
    """
    n = check_int(n, "n", minimum=2)
    dim = check_int(dim, "dim", minimum=1)
    r1, r2, r3 = (check_number(r, name) for r, name in ((r1, "r1"), (r2, "r2"), (r3, "r3")))
    if not r1 < r2 < r3:
        raise ValueError(f"radii must satisfy 0 < r1 < r2 < r3; got r1={r1}, r2={r2}, r3={r3}.")
    dtype = check_float_dtype(dtype)
    inner = np.arange(n) % 2 == 0  # (n,)
    x = _spheres(as_key(seed), inner, (r1, r2, r3), n=n, dim=dim)
    return x.astype(dtype), jnp.asarray(np.where(inner, -1.0, 1.0)[:, None], dtype)


@functools.partial(jax.jit, static_argnames=("n", "dim"))
def _spheres(key, inner, radii, n, dim):
    """Compiled float32 body of :func:`concentric_spheres`."""
    r1, r2, r3 = jnp.asarray(radii, _F32)
    k_dir, k_rad = jax.random.split(key)
    z = jax.random.normal(k_dir, (n, dim), _F32)  # (n, dim)
    directions = z / jnp.linalg.norm(z, axis=1, keepdims=True)
    r_in = jnp.where(inner, 0.0, r2)[:, None]  # (n, 1)
    r_out = jnp.where(inner, r1, r3)[:, None]  # (n, 1)
    u = jax.random.uniform(k_rad, (n, 1), _F32)  # (n, 1)
    # r = r_out (rho^d + u (1 - rho^d))^(1/d) with rho = r_in / r_out <= 1 (no overflow).
    rho_d = (r_in / r_out) ** dim
    return directions * r_out * (rho_d + u * (1.0 - rho_d)) ** (1.0 / dim)


SPIRAL_DECAY = 0.1  # alpha: the radius of every spiral shrinks like exp(-alpha t)
SPIRAL_FREQUENCY = 1.0  # omega: angular speed, in radians per unit time


def irregular_spirals(n_series=100, n_obs=30, noise=0.1, seed=0, *, t_max=10.0, n_dense=400,
                      dtype=_F32):
    """Noisy 2-D spirals observed at irregular times, for latent ODEs.

    Spirals turning both ways, as in Chen et al. (2018, Sec. 5) and Rubanova et al. (2019).
    Every series solves the linear ODE ``dz/dt = A z`` with
    ``A = [[-alpha, -s omega], [s omega, -alpha]]``, ``alpha = SPIRAL_DECAY = 0.1``,
    ``omega = SPIRAL_FREQUENCY = 1``, whose solution
    ``z(t) = r0 exp(-alpha t) (cos(phi0 + s omega t), sin(phi0 + s omega t))`` is a spiral
    turning counter-clockwise (``s = +1``, even-numbered series) or clockwise (``s = -1``,
    odd). The initial radius ``r0`` is uniform on ``[1, 2]`` and the initial angle ``phi0``
    uniform on ``[0, 2 pi)``. Each series is observed at its own ``n_obs`` times, drawn without
    replacement from the dense grid ``linspace(0, t_max, n_dense)`` and sorted, so they are
    strictly increasing and unevenly spaced. Independent Gaussian noise of standard deviation
    ``noise`` is added to the observed states.

    Args:
        n_series: number of trajectories, an int >= 1.
        n_obs: observations per trajectory, an int with ``2 <= n_obs <= n_dense``.
        noise: standard deviation of the observation noise, >= 0.
        seed: int or PRNG key.
        t_max: length of the time window ``[0, t_max]``, > 0.
        n_dense: number of points of the shared fine time grid, an int >= 2.
        dtype: floating-point dtype of the result (trajectories are computed in it).

    Returns:
        A dict of ``jnp`` arrays:

        - ``"ts"``: ``(n_series, n_obs)`` observation times, sorted along axis 1;
        - ``"ys"``: ``(n_series, n_obs, 2)`` noisy observations;
        - ``"ys_clean"``: ``(n_series, n_obs, 2)`` the exact states at ``ts``;
        - ``"ts_dense"``: ``(n_dense,)`` the fine grid shared by all series, for plotting;
        - ``"ys_dense"``: ``(n_series, n_dense, 2)`` the exact states on ``ts_dense``
          (``ys_dense[:, 0]`` are the initial states);
        - ``"direction"``: ``(n_series,)`` int32, ``+1`` counter-clockwise, ``-1`` clockwise.

    Raises:
        TypeError, ValueError: on bad sizes (including ``n_obs > n_dense``), ``noise``,
            ``t_max``, ``seed`` or ``dtype``.
    """
    n_series = check_int(n_series, "n_series")
    n_dense = check_int(n_dense, "n_dense", minimum=2)
    n_obs = check_int(n_obs, "n_obs", minimum=2)
    if n_obs > n_dense:
        raise ValueError(f"n_obs must be <= n_dense (times are drawn from the dense grid); "
                         f"got n_obs={n_obs}, n_dense={n_dense}.")
    noise = check_number(noise, "noise", allow_zero=True)
    t_max = check_number(t_max, "t_max")
    dtype = check_float_dtype(dtype)
    draws = _spiral_draws(as_key(seed), n=n_series, n_obs=n_obs, n_dense=n_dense)
    return _spiral_paths(*draws, noise, t_max, n_dense=n_dense, dtype=dtype)


@functools.partial(jax.jit, static_argnames=("n", "n_obs", "n_dense"))
def _spiral_draws(key, n, n_obs, n_dense):
    """The random part of :func:`irregular_spirals` (float32): ``r0, phi0, idx, eps``."""
    k_start, k_times, k_noise = jax.random.split(key, 3)
    start = jax.random.uniform(k_start, (n, 2), _F32)  # (n_series, 2)
    r0, phase = 1.0 + start[:, 0], 2 * math.pi * start[:, 1]  # (n_series,) each
    # The first n_obs entries of a random permutation of the grid, then sorted.
    order = jnp.argsort(jax.random.uniform(k_times, (n, n_dense), _F32), axis=1)
    idx = jnp.sort(order[:, :n_obs], axis=1)  # (n_series, n_obs)
    return r0, phase, idx, jax.random.normal(k_noise, (n, n_obs, 2), _F32)


@functools.partial(jax.jit, static_argnames=("n_dense", "dtype"))
def _spiral_paths(r0, phase, idx, eps, noise, t_max, n_dense, dtype):
    """The deterministic part of :func:`irregular_spirals`, computed in ``dtype``."""
    n = r0.shape[0]
    direction = jnp.where(jnp.arange(n) % 2 == 0, 1, -1).astype(jnp.int32)  # (n_series,)
    ts_dense = jnp.linspace(0.0, t_max, n_dense, dtype=dtype)  # (n_dense,)
    angle = phase.astype(dtype)[:, None] + (
        direction.astype(dtype)[:, None] * SPIRAL_FREQUENCY) * ts_dense[None, :]
    radius = r0.astype(dtype)[:, None] * jnp.exp(-SPIRAL_DECAY * ts_dense)[None, :]
    ys_dense = radius[..., None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=-1)
    ys_clean = jnp.take_along_axis(ys_dense, idx[..., None], axis=1)  # (n_series, n_obs, 2)
    return {"ts": ts_dense[idx], "ys": ys_clean + noise * eps.astype(dtype),
            "ys_clean": ys_clean, "ts_dense": ts_dense, "ys_dense": ys_dense,
            "direction": direction}


def digits(seed=0, *, test_fraction=0.25, flatten=True, dtype=_F32):
    """scikit-learn's bundled 8 x 8 handwritten digits, scaled to ``[0, 1]`` and split.

    The 1797 images ship inside scikit-learn (``sklearn.datasets.load_digits``); nothing is
    downloaded. Pixel values 0..16 are divided by 16. The split is a seeded random permutation.

    Args:
        seed: int or PRNG key for the train/test permutation.
        test_fraction: fraction of the images held out for testing, in ``(0, 1)``.
        flatten: if True (default) images are vectors of 64 pixels, else ``8 x 8`` arrays.
        dtype: floating-point dtype of the images.

    Returns:
        ``((x_train, y_train), (x_test, y_test))`` with images ``x`` of shape ``(n, 64)`` (or
        ``(n, 8, 8)``) in ``[0, 1]`` and int32 labels ``y`` of shape ``(n,)`` in ``0..9``;
        ``n_test = round(test_fraction * 1797)``.

    Raises:
        ImportError: if scikit-learn is not installed.
        TypeError, ValueError: on a bad ``seed``, ``test_fraction`` or ``dtype``.
    """
    test_fraction = check_number(test_fraction, "test_fraction")
    if test_fraction >= 1:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}.")
    dtype = check_float_dtype(dtype)
    key = as_key(seed)
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError("digits() needs scikit-learn, which bundles the images: "
                          "pip install scikit-learn") from err
    bunch = load_digits()
    x = (bunch.data if flatten else bunch.images) / 16.0  # (n, 64) or (n, 8, 8), NumPy
    y = bunch.target  # (n,)
    perm = np.asarray(jax.random.permutation(key, x.shape[0]))
    n_test = round(test_fraction * x.shape[0])
    test, train = perm[:n_test], perm[n_test:]
    as_x, as_y = (lambda a: jnp.asarray(a, dtype)), (lambda a: jnp.asarray(a, jnp.int32))
    return (as_x(x[train]), as_y(y[train])), (as_x(x[test]), as_y(y[test]))

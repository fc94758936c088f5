"""Tests for nodelib.data (and the density benchmarks it re-exports): shapes, dtypes,
determinism, correct labels and geometry, and errors on bad input."""
import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nodelib import data  # noqa: E402

DTYPES = [jnp.float32, jnp.float64]

# (function, kwargs): every seeded generator, for the shared determinism and dtype tests. The
# sizes are those of the specific tests below, so each generator is compiled only once.
SEEDED = [
    (data.flip_1d, {"n": 9}),
    (data.two_moons, {"n": 200}),
    (data.concentric_spheres, {"n": 2000, "dim": 10}),
    (data.eight_gaussians, {"n": 4000}),
    (data.pinwheel, {"n": 4000}),
    (data.checkerboard, {"n": 4000}),
    (data.irregular_spirals, {"n_series": 6, "n_obs": 20, "n_dense": 300}),
]


def _leaves(out):
    return jax.tree_util.tree_leaves(out)


def _np(out):
    """NumPy copies of a generator's output (checks in NumPy compile nothing)."""
    return jax.tree_util.tree_map(np.asarray, out)


@pytest.mark.parametrize("fn, kwargs", SEEDED, ids=lambda v: getattr(v, "__name__", ""))
def test_same_seed_same_data_other_seed_other_data(fn, kwargs):
    a, b = fn(**kwargs, seed=3), fn(**kwargs, seed=3)
    c = fn(**kwargs, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(_leaves(a), _leaves(b)))
    assert not all(np.array_equal(x, y) for x, y in zip(_leaves(a), _leaves(c)))
    key_out = fn(**kwargs, seed=jax.random.key(3))  # a PRNG key is accepted as the seed
    assert all(np.array_equal(x, y) for x, y in zip(_leaves(a), _leaves(key_out)))


@pytest.mark.parametrize("fn, kwargs", SEEDED, ids=lambda v: getattr(v, "__name__", ""))
def test_dtype_is_respected_and_draws_agree_across_dtypes(fn, kwargs):
    out32, out64 = fn(**kwargs, dtype=jnp.float32), fn(**kwargs, dtype=jnp.float64)
    for x32, x64 in zip(_leaves(out32), _leaves(out64)):
        if jnp.issubdtype(x32.dtype, jnp.floating):
            assert x32.dtype == jnp.float32 and x64.dtype == jnp.float64
            np.testing.assert_allclose(x32, x64, rtol=1e-5, atol=1e-5)
        else:
            assert x32.dtype == x64.dtype == jnp.int32


@pytest.mark.parametrize("seed, err, match", [
    (-1, ValueError, "non-negative"), ("0", TypeError, "int or a JAX PRNG key"),
    (True, TypeError, "got bool True"), (jnp.ones(3), TypeError, "PRNG key"),
])
def test_bad_seed_is_rejected(seed, err, match):
    with pytest.raises(err, match=match):
        data.two_moons(10, seed=seed)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cubic_1d_is_exact(dtype):
    x, y = data.cubic_1d(dtype=dtype)
    assert x.shape == y.shape == (10, 1) and x.dtype == y.dtype == dtype
    expected_x = np.linspace(-2.0, 2.0, 10)[:, None]
    tol = 1e-6 if dtype == jnp.float32 else 1e-14
    np.testing.assert_allclose(x, expected_x, rtol=tol, atol=tol)
    np.testing.assert_allclose(y, expected_x**3 + 0.1 * expected_x, rtol=tol, atol=tol)
    with pytest.raises(ValueError, match="n must be an int >= 2; got 1"):
        data.cubic_1d(1)
    with pytest.raises(TypeError, match="floating-point dtype"):
        data.cubic_1d(dtype="int32")


def test_flip_1d_labels_swap_minus_one_and_one():
    x, y = _np(data.flip_1d(9, noise=0.2))
    assert x.shape == y.shape == (9, 1)
    assert np.all(np.abs(np.abs(x) - 1) <= 0.2) and np.all(np.sign(x) == -y)
    assert np.sum(y == 1) == 4 and np.sum(y == -1) == 5
    x0, y0 = data.flip_1d(9, noise=0.0)
    np.testing.assert_array_equal(x0[:, 0], [-1] * 4 + [1] * 5)
    np.testing.assert_array_equal(y0[:, 0], [1] * 4 + [-1] * 5)
    with pytest.raises(ValueError, match=r"noise must be in \[0, 1\).*got 1.5"):
        data.flip_1d(4, noise=1.5)


def test_two_moons_shapes_labels_and_geometry():
    x, labels = _np(data.two_moons(200, noise=0.0))
    assert x.shape == (200, 2) and labels.shape == (200,) and labels.dtype == np.int32
    np.testing.assert_array_equal(labels[:4], [0, 1, 0, 1])  # classes alternate
    assert np.sum(labels == 0) == 100 and np.sum(labels == 1) == 100
    upper, lower = x[labels == 0], x[labels == 1]
    np.testing.assert_allclose(np.linalg.norm(upper, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(lower - np.array([1.0, 0.5]), axis=1), 1.0, rtol=1e-5)
    assert np.all(upper[:, 1] >= -1e-6) and np.all(lower[:, 1] <= 0.5 + 1e-6)
    with pytest.raises(ValueError, match="noise must be a non-negative number; got -0.1"):
        data.two_moons(10, noise=-0.1)


@pytest.mark.parametrize("dim", [2, 10])
def test_concentric_spheres_radii_and_labels(dim):
    x, y = _np(data.concentric_spheres(2000, dim=dim, seed=1, dtype=jnp.float64))
    assert x.shape == (2000, dim) and y.shape == (2000, 1)
    np.testing.assert_array_equal(y[:4, 0], [-1, 1, -1, 1])  # ball and shell alternate
    r = np.linalg.norm(x, axis=1)
    inner, outer = r[y[:, 0] == -1], r[y[:, 0] == 1]
    assert len(inner) == len(outer) == 1000 and set(np.unique(y)) == {-1.0, 1.0}
    assert np.all(inner <= 0.5 + 1e-6)
    assert np.all((outer >= 1.0 - 1e-6) & (outer <= 1.5 + 1e-6))
    # Uniform in volume: P(R <= r) = (r / r1)^dim inside the ball, so the median radius
    # is r1 * 2^(-1/dim); in the shell the median solves r^d = (r2^d + r3^d) / 2.
    assert np.median(inner) == pytest.approx(0.5 * 0.5 ** (1 / dim), rel=0.03)
    assert np.median(outer) == pytest.approx(((1 + 1.5**dim) / 2) ** (1 / dim), rel=0.03)


def test_concentric_spheres_rejects_unordered_radii():
    with pytest.raises(ValueError, match=r"0 < r1 < r2 < r3; got r1=1.0, r2=0.5"):
        data.concentric_spheres(10, r1=1.0, r2=0.5, r3=2.0)
    with pytest.raises(TypeError, match="dim must be an int"):
        data.concentric_spheres(10, dim=2.5)


def test_eight_gaussians_clusters():
    x = np.asarray(data.eight_gaussians(4000, seed=0, dtype=jnp.float64))
    assert x.shape == (4000, 2)
    angles = np.arange(8) * np.pi / 4
    centres = 2 * np.sqrt(2) * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (8, 2)
    nearest = np.argmin(np.linalg.norm(x[:, None] - centres[None], axis=2), axis=1)
    assert set(nearest) == set(range(8))
    residual = x - centres[nearest]
    assert np.std(residual) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)


def test_pinwheel_has_five_arms_at_radius_about_two():
    x = np.asarray(data.pinwheel(4000, seed=0, dtype=jnp.float64))
    assert x.shape == (4000, 2) and np.all(np.isfinite(x))
    assert np.median(np.linalg.norm(x, axis=1)) == pytest.approx(2.0, rel=0.1)
    hist, _ = np.histogram(np.arctan2(x[:, 1], x[:, 0]), bins=50)
    assert hist.min() < 0.2 * hist.max()  # gaps between the arms


def test_checkerboard_only_dark_cells():
    x = np.asarray(data.checkerboard(4000, seed=0, dtype=jnp.float64))
    assert x.shape == (4000, 2)
    assert np.all((x >= -4) & (x <= 4))
    cells = np.floor(x / 2).astype(int)
    assert np.all((cells[:, 0] + cells[:, 1]) % 2 == 0)
    assert len({tuple(c) for c in cells}) == 8


def test_irregular_spirals_structure_and_times():
    out = _np(data.irregular_spirals(6, 20, noise=0.05, seed=0, n_dense=300,
                                     dtype=jnp.float64))
    ts, ys, clean = out["ts"], out["ys"], out["ys_clean"]
    assert ts.shape == (6, 20) and ys.shape == clean.shape == (6, 20, 2)
    assert out["ts_dense"].shape == (300,) and out["ys_dense"].shape == (6, 300, 2)
    gaps = np.diff(ts, axis=1)
    assert np.all(gaps > 0)  # strictly increasing
    assert np.all(np.std(gaps, axis=1) > 1e-3 * np.mean(gaps, axis=1))  # irregular
    assert not np.array_equal(ts[0], ts[1])  # each series has its own times
    assert np.all((ts >= 0) & (ts <= 10.0))
    assert 0.03 < np.std(ys - clean) < 0.07
    np.testing.assert_array_equal(out["direction"], [1, -1, 1, -1, 1, -1])


def test_irregular_spirals_solve_the_documented_linear_ode():
    out = _np(data.irregular_spirals(6, 20, seed=2, n_dense=300, dtype=jnp.float64))
    t, z = out["ts_dense"], out["ys_dense"]  # (n_dense,), (n_series, n_dense, 2)
    a, w = data.SPIRAL_DECAY, data.SPIRAL_FREQUENCY
    for s, traj in zip(out["direction"], z):
        A = np.array([[-a, -s * w], [s * w, -a]])
        dz = np.gradient(traj, t, axis=0)  # finite-difference derivative
        np.testing.assert_allclose(dz[1:-1], traj[1:-1] @ A.T, atol=2e-3)
        spin = traj[:-1, 0] * traj[1:, 1] - traj[:-1, 1] * traj[1:, 0]  # z-component of z x z'
        assert np.all(np.sign(spin) == s)
    radius0 = np.linalg.norm(z[:, 0], axis=1)
    assert np.all((radius0 >= 1) & (radius0 <= 2))
    idx = np.searchsorted(t, out["ts"])  # observations lie on the dense trajectory
    np.testing.assert_allclose(out["ys_clean"], np.take_along_axis(z, idx[..., None], 1))


def test_irregular_spirals_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_obs must be <= n_dense.*n_obs=60, n_dense=50"):
        data.irregular_spirals(2, 60, n_dense=50)
    with pytest.raises(ValueError, match="t_max must be a positive number"):
        data.irregular_spirals(2, 5, t_max=0.0)


def test_digits_split_and_range():
    (x_tr, y_tr), (x_te, y_te) = _np(data.digits(seed=0))
    assert x_tr.shape == (1348, 64) and x_te.shape == (449, 64) and x_tr.dtype == jnp.float32
    assert y_tr.shape == (1348,) and y_tr.dtype == np.int32
    assert float(x_tr.min()) == 0.0 and float(x_tr.max()) == 1.0
    assert set(np.unique(y_te)) == set(range(10))
    (x_again, _), _ = data.digits(seed=0)
    np.testing.assert_array_equal(x_tr, x_again)
    (x_img, _), (x_img_te, _) = data.digits(seed=1, test_fraction=0.1, flatten=False,
                                            dtype=jnp.float64)
    assert x_img.shape[1:] == (8, 8) and x_img.dtype == jnp.float64 and x_img_te.shape[0] == 180
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\); got 1.0"):
        data.digits(test_fraction=1.0)

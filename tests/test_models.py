"""Model pieces: ODE block, augmentation, CNF dynamics with exact and Hutchinson traces."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nodelib
from nodelib.models import exact_trace, hutchinson_trace


@pytest.fixture(scope="module")
def params():
    return nodelib.init_mlp(jax.random.PRNGKey(0), [3, 32, 2], dtype=jnp.float64)


def test_exact_trace_is_the_jacobian_trace(params):
    z = jnp.array([0.3, -0.2])
    dz, tr = exact_trace(nodelib.time_mlp, 0.1, z, params)
    jac = jax.jacfwd(lambda z: nodelib.time_mlp(0.1, z, params))(z)
    np.testing.assert_allclose(tr, jnp.trace(jac), rtol=1e-12)
    np.testing.assert_allclose(dz, nodelib.time_mlp(0.1, z, params), rtol=1e-12)


def test_hutchinson_is_unbiased(params):
    z = jnp.array([0.3, -0.2])
    exact = exact_trace(nodelib.time_mlp, 0.1, z, params)[1]
    keys = jax.random.split(jax.random.PRNGKey(1), 20_000)
    draws = jax.vmap(lambda k: hutchinson_trace(
        nodelib.time_mlp, 0.1, z, params, jax.random.rademacher(k, (2,), dtype=z.dtype))[1])(keys)
    stderr = float(draws.std()) / np.sqrt(draws.size)
    assert abs(float(draws.mean()) - float(exact)) < 4 * stderr + 1e-12


def test_cnf_density_integrates_to_one(params):
    grid = np.linspace(-5.0, 5.0, 41)
    xx, yy = np.meshgrid(grid, grid)
    points = jnp.array(np.stack([xx.ravel(), yy.ravel()], axis=1))            # (1681, 2)
    log_p = nodelib.cnf_log_density(nodelib.time_mlp, params, points, rtol=1e-6, atol=1e-6)
    mass = float(jnp.exp(log_p).sum()) * (grid[1] - grid[0]) ** 2
    assert abs(mass - 1.0) < 0.03, mass
    # the flow really changes the density: it is not the base Gaussian
    base = nodelib.models.standard_normal_logpdf(points)
    assert float(jnp.abs(log_p - base).max()) > 0.1


def test_cnf_hutchinson_density_is_unbiased(params):
    x = jnp.array([0.4, 0.1])
    exact = nodelib.cnf_log_density(nodelib.time_mlp, params, x, rtol=1e-8, atol=1e-8)
    xs = jnp.tile(x, (400, 1))
    estimates = nodelib.cnf_log_density(nodelib.time_mlp, params, xs, trace="hutchinson",
                                        key=jax.random.PRNGKey(3), rtol=1e-8, atol=1e-8)
    stderr = float(estimates.std()) / np.sqrt(estimates.size)
    assert abs(float(estimates.mean()) - float(exact)) < 4 * stderr + 1e-9


def test_hutchinson_needs_a_key(params):
    with pytest.raises(ValueError, match="needs a PRNG key"):
        nodelib.cnf_log_density(nodelib.time_mlp, params, jnp.zeros(2), trace="hutchinson")


def test_ode_block_batches_and_differentiates(params):
    x = jnp.array([[0.1, 0.2], [0.3, -0.4], [1.0, 0.0]])
    out = nodelib.ode_block(nodelib.time_mlp, params, x)
    assert out.shape == (3, 2)
    np.testing.assert_allclose(out[1], nodelib.ode_block(nodelib.time_mlp, params, x[1]),
                               rtol=1e-10)
    g = jax.grad(lambda p: jnp.sum(nodelib.ode_block(nodelib.time_mlp, p, x) ** 2))(params)
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(g))
    with pytest.raises(ValueError, match=r"\(dim,\) or \(batch, dim\)"):
        nodelib.ode_block(nodelib.time_mlp, params, jnp.zeros((2, 2, 2)))


def test_augment():
    x = jnp.ones((4, 2))
    y = nodelib.augment(x, 3)
    assert y.shape == (4, 5) and float(y[:, 2:].sum()) == 0.0
    assert nodelib.augment(jnp.ones(2), 1).shape == (3,)
    with pytest.raises(ValueError, match="non-negative"):
        nodelib.augment(x, -1)

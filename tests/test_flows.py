"""Planar normalizing flows: layer, log-determinant, invertibility, inverse, chain density."""
import jax
import jax.numpy as jnp
import numpy as np

from nodelib import flows
from nodelib.models import standard_normal_logpdf


def _layer(seed, dim=3):
    ku, kw, kb = jax.random.split(jax.random.PRNGKey(seed), 3)
    u, w = jax.random.normal(ku, (dim,)), jax.random.normal(kw, (dim,))
    return flows.planar_u_hat(u, w), w, jax.random.normal(kb, ())


def test_log_det_is_that_of_the_full_jacobian():
    for seed in range(5):
        params = _layer(seed)
        z = jax.random.normal(jax.random.PRNGKey(100 + seed), (3,))
        jac = jax.jacfwd(lambda z, params=params: flows.planar_layer(params, z)[0])(z)
        log_det = flows.planar_layer(params, z)[1]
        np.testing.assert_allclose(log_det, jnp.linalg.slogdet(jac)[1], rtol=1e-10)


def test_u_hat_makes_the_layer_invertible():
    u = jnp.array([[-3.0, 0.5], [2.0, 1.0]])
    w = jnp.array([[1.0, 0.0], [0.5, -2.0]])
    u_hat = flows.planar_u_hat(u, w)
    wu_hat = np.sum(u_hat * w, axis=1)
    assert np.all(wu_hat > -1)
    # w^T u_hat = m(w^T u) = -1 + softplus(w^T u), and only the component along w changes
    np.testing.assert_allclose(wu_hat, -1 + jax.nn.softplus(np.sum(u * w, axis=1)), rtol=1e-12)
    w_perp = jnp.stack([-w[:, 1], w[:, 0]], axis=1)
    np.testing.assert_allclose(np.sum(u_hat * w_perp, axis=1), np.sum(u * w_perp, axis=1),
                               rtol=1e-12)


def test_inverse_undoes_the_layer():
    for seed in range(5):
        params = _layer(seed)
        z = 2.0 * jax.random.normal(jax.random.PRNGKey(200 + seed), (3,))
        y = flows.planar_layer(params, z)[0]
        np.testing.assert_allclose(flows.planar_inverse(params, y, iters=60), z, atol=1e-10)


def test_chain_density_agrees_with_sampling_and_integrates_to_one():
    # (with scale=1 some layers have w^T u_hat close to -1: a density spike thinner than the
    # grid's spacing, which the sum below under-counts)
    flow = flows.init_planar(jax.random.PRNGKey(0), 6, scale=0.5, dtype=jnp.float64)
    z0 = jax.random.normal(jax.random.PRNGKey(1), (50, 2), jnp.float64)
    x, sum_log_det = flows.planar_flow_forward(flow, z0)
    assert x.shape == (50, 2) and sum_log_det.shape == (50,)
    np.testing.assert_allclose(flows.planar_flow_log_density(flow, x),
                               standard_normal_logpdf(z0) - sum_log_det, atol=1e-8)
    g = np.linspace(-9, 9, 241)
    X, Y = np.meshgrid(g, g)
    pts = jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1))
    mass = float(jnp.sum(jnp.exp(flows.planar_flow_log_density(flow, pts)))) * (g[1] - g[0])**2
    assert abs(mass - 1) < 1e-4, mass


def test_float32_stays_float32():
    flow = flows.init_planar(jax.random.PRNGKey(0), 4)
    x, ld = flows.planar_flow_forward(flow, jnp.ones((5, 2), jnp.float32))
    assert x.dtype == ld.dtype == jnp.float32
    assert flows.planar_flow_log_density(flow, x).dtype == jnp.float32

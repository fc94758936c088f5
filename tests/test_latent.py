"""nodelib.latent: the reparameterised sample, the Gaussian KL and log-likelihood, against
closed forms, Monte Carlo estimates and scipy."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from nodelib import latent


def _random(shape, seed, dtype=jnp.float64):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.normal(size=shape), dtype),
            jnp.asarray(rng.uniform(-1.5, 0.5, size=shape), dtype))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_sample_is_mean_plus_std_times_the_keys_normal_draw(dtype):
    mean, log_std = _random((3, 4), 0, dtype)
    key = jax.random.key(7)
    z = latent.sample_gaussian(key, mean, log_std)
    eps = jax.random.normal(key, (3, 4), dtype)
    assert z.shape == (3, 4) and z.dtype == dtype
    np.testing.assert_allclose(z, mean + jnp.exp(log_std) * eps, rtol=1e-6)


def test_sample_has_the_requested_moments():
    mean, log_std = jnp.array([0.5, -2.0]), jnp.array([0.0, -1.0])
    z = latent.sample_gaussian(jax.random.key(0), jnp.broadcast_to(mean, (20000, 2)),
                               jnp.broadcast_to(log_std, (20000, 2)))
    np.testing.assert_allclose(z.mean(0), mean, atol=0.03)  # 3-4 standard errors
    np.testing.assert_allclose(z.std(0), jnp.exp(log_std), rtol=0.03)


def test_sample_is_differentiable_in_mean_and_log_std():
    mean, log_std = _random((2, 3), 1)
    key = jax.random.key(3)
    eps = jax.random.normal(key, (2, 3), mean.dtype)
    g_mean, g_log_std = jax.grad(lambda m, s: jnp.sum(latent.sample_gaussian(key, m, s)),
                                 argnums=(0, 1))(mean, log_std)
    np.testing.assert_allclose(g_mean, jnp.ones((2, 3)))
    np.testing.assert_allclose(g_log_std, jnp.exp(log_std) * eps, rtol=1e-12)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_kl_matches_the_closed_form_per_row(dtype):
    mean, log_std = _random((5, 3), 2, dtype)
    kl = latent.kl_standard_normal(mean, log_std)
    assert kl.shape == (5,) and kl.dtype == dtype
    var = np.exp(2 * np.asarray(log_std, np.float64))
    want = 0.5 * np.sum(np.asarray(mean, np.float64) ** 2 + var - 1 - np.log(var), axis=1)
    np.testing.assert_allclose(kl, want, rtol=1e-5 if dtype == jnp.float32 else 1e-12)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere():
    assert float(latent.kl_standard_normal(jnp.zeros(4), jnp.zeros(4))) == 0.0
    mean, log_std = _random((100, 2), 3)
    assert bool(jnp.all(latent.kl_standard_normal(mean, log_std) > 0))


def test_kl_agrees_with_a_monte_carlo_estimate():
    # KL(q || p) = E_q[log q(z) - log p(z)], estimated from 200 000 samples of q
    mean, log_std = jnp.array([0.7, -0.4]), jnp.array([-0.5, 0.3])
    n = 200_000
    z = latent.sample_gaussian(jax.random.key(1), jnp.broadcast_to(mean, (n, 2)),
                               jnp.broadcast_to(log_std, (n, 2)))
    log_q = latent.gaussian_log_likelihood((z - mean) / jnp.exp(log_std), jnp.zeros_like(z),
                                           1.0) - jnp.sum(log_std)
    log_p = latent.gaussian_log_likelihood(z, jnp.zeros_like(z), 1.0)
    estimate = float(jnp.mean(log_q - log_p))
    assert abs(estimate - float(latent.kl_standard_normal(mean, log_std))) < 0.01


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_log_likelihood_matches_scipy(dtype):
    x, mean = _random((4, 2), 4, dtype)
    ll = latent.gaussian_log_likelihood(x, mean, 0.3)
    assert ll.shape == (4,) and ll.dtype == dtype
    want = stats.norm.logpdf(np.asarray(x), np.asarray(mean), 0.3).sum(axis=1)
    np.testing.assert_allclose(ll, want, rtol=1e-5 if dtype == jnp.float32 else 1e-12)


def test_functions_work_under_jit_and_vmap():
    mean, log_std = _random((6, 3), 5)
    kl = jax.jit(jax.vmap(latent.kl_standard_normal))(mean, log_std)
    np.testing.assert_allclose(kl, latent.kl_standard_normal(mean, log_std), rtol=1e-12)
    ll = jax.jit(latent.gaussian_log_likelihood)(mean, log_std, jnp.asarray(0.5))
    np.testing.assert_allclose(ll, latent.gaussian_log_likelihood(mean, log_std, 0.5))


def test_bad_arguments_are_refused_with_a_message():
    mean, log_std = _random((2, 3), 6)
    with pytest.raises(ValueError, match="same shape and dtype"):
        latent.kl_standard_normal(mean, log_std[:, :2])
    with pytest.raises(ValueError, match="same shape and dtype"):
        latent.sample_gaussian(jax.random.key(0), mean, log_std.astype(jnp.float32))
    with pytest.raises(TypeError, match="floating-point"):
        latent.kl_standard_normal(jnp.arange(3), jnp.arange(3))
    with pytest.raises(TypeError, match="PRNG key"):
        latent.sample_gaussian(0, mean, log_std)
    with pytest.raises(ValueError, match="scalar"):
        latent.kl_standard_normal(jnp.asarray(0.0), jnp.asarray(0.0))
    with pytest.raises(ValueError, match="positive"):
        latent.gaussian_log_likelihood(mean, mean, 0.0)
    with pytest.raises(ValueError, match="scalar"):
        latent.gaussian_log_likelihood(mean, mean, jnp.ones(3))

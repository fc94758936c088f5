"""nodelib.regularisers: the augmented dynamics of the kinetic and Jacobian regularisers."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nodelib
from nodelib.regularisers import jacobian_frobenius_sq, regularised_dynamics


def field(t, z, params):
    W, b = params
    return jnp.tanh(z @ W + b) * (1 + t)


@pytest.fixture
def params():
    keys = jax.random.split(jax.random.key(0), 2)
    return jax.random.normal(keys[0], (3, 3)), jax.random.normal(keys[1], (3,))


def test_kinetic_integrand_is_the_squared_norm_of_f(params):
    z = jnp.array([0.3, -1.2, 0.5])
    g = regularised_dynamics(field)
    dz, kinetic, _ = g(0.4, (z, 0.0, 0.0), (params, jnp.ones(3)))
    np.testing.assert_allclose(dz, field(0.4, z, params), rtol=1e-6)
    np.testing.assert_allclose(kinetic, jnp.sum(field(0.4, z, params) ** 2), rtol=1e-6)


def test_jacobian_estimate_is_unbiased(params):
    z = jnp.array([0.3, -1.2, 0.5])
    g = regularised_dynamics(field)
    eps = jax.random.rademacher(jax.random.key(1), (4000, 3), dtype=jnp.float32)
    estimates = jax.vmap(lambda e: g(0.4, (z, 0.0, 0.0), (params, e))[2])(eps)
    exact = jacobian_frobenius_sq(field, 0.4, z, params)
    stderr = estimates.std() / np.sqrt(len(eps))
    assert abs(estimates.mean() - exact) < 4 * stderr


def test_batched_integrands_are_averages_over_the_batch(params):
    zs = jax.random.normal(jax.random.key(2), (5, 3))
    eps = jax.random.normal(jax.random.key(3), (5, 3))
    batch_field = jax.vmap(field, in_axes=(None, 0, None))
    _, kin_b, frob_b = regularised_dynamics(batch_field, batched=True)(0.4, (zs, 0.0, 0.0),
                                                                      (params, eps))
    g = regularised_dynamics(field)
    per_row = [g(0.4, (z, 0.0, 0.0), (params, e)) for z, e in zip(zs, eps)]
    np.testing.assert_allclose(kin_b, np.mean([r[1] for r in per_row]), rtol=1e-5)
    np.testing.assert_allclose(frob_b, np.mean([r[2] for r in per_row]), rtol=1e-5)


def test_solved_with_odeint_and_differentiated(params):
    """For z' = a z the kinetic integral is a^2 |z0|^2 (e^{2aT} - 1) / (2a), and the adjoint
    differentiates it like any other output."""
    g = regularised_dynamics(lambda t, z, a: a * z)
    z0 = jnp.array([1.0, 2.0])

    def kinetic(a):
        sol = nodelib.odeint(g, (z0, 0.0, 0.0), jnp.array([0.0, 1.0]), (a, jnp.ones(2)),
                             rtol=1e-7, atol=1e-7)
        return sol.ys[1][-1]

    a = -0.7
    exact = lambda a: a**2 * 5.0 * (jnp.exp(2 * a) - 1) / (2 * a)  # noqa: E731
    np.testing.assert_allclose(kinetic(a), exact(a), rtol=1e-4)
    np.testing.assert_allclose(jax.grad(kinetic)(a), jax.grad(exact)(a), rtol=1e-3)

"""Checks for the exercises of Chapter 9, Latent ODEs.

The references are ``nodelib.latent.sample_gaussian`` and ``nodelib.latent.kl_standard_normal``,
themselves tested against scipy, Monte Carlo estimates and the closed forms in
``tests/test_latent.py``.
"""
import jax
import jax.numpy as jnp

from ._common import assert_array, call, dtypes, fresh_rng, matches, passed

__all__ = ["check_sample_and_kl"]


def _kl_hint(got, mean, log_std, want):
    """Name the usual slip behind a wrong KL, or give the formula."""
    per_dim = 0.5 * (mean**2 + jnp.exp(2 * log_std) - 1 - 2 * log_std)  # (batch, dim)
    if matches(got, 2 * want):
        return "Your KL is twice the right one: the closed form has a factor 1/2."
    if matches(got, jnp.mean(per_dim, axis=-1)):
        return "Sum over the latent dimensions (the last axis), do not average."
    if matches(got, 0.5 * jnp.sum(mean**2 + log_std**2 - 1 - jnp.log(log_std**2), axis=-1)):
        return "log_std is the log of the standard deviation: the variance is exp(2 log_std)."
    return ("Hint: KL = 0.5 * sum(mean**2 + exp(2 log_std) - 1 - 2 log_std) over the last "
            "axis, one value per row.")


def check_sample_and_kl(fn):
    """Check ``fn(key, mean, log_std) -> (z, kl)`` (Exercise 9.2).

    ``z`` is the reparameterised sample ``mean + exp(log_std) * eps`` with
    ``eps = jax.random.normal(key, mean.shape, mean.dtype)`` and ``kl`` the divergence
    ``KL(N(mean, exp(2 log_std)) || N(0, I))`` of each row, summed over the last axis. Fresh
    random batches of 2 to 5 rows in 2 to 6 dimensions, in float32 (and float64 with
    ``jax_enable_x64``): values, shapes, dtypes, and the gradients of ``sum(z) + sum(kl)``
    with respect to ``mean`` and ``log_std`` (a sample that gradients cannot reach is no
    use to the ELBO).

    Args:
        fn: the learner's function.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with ``nodelib.latent``.
    """
    from ..latent import kl_standard_normal, sample_gaussian

    name, rng = "your sample_and_kl", fresh_rng()
    for dtype in dtypes():
        batch, dim = int(rng.integers(2, 6)), int(rng.integers(2, 7))
        mean = jnp.asarray(rng.normal(size=(batch, dim)), dtype)  # (batch, dim)
        log_std = jnp.asarray(rng.uniform(-2.0, 0.7, size=(batch, dim)), dtype)
        key = jax.random.key(int(rng.integers(2**31)))
        got = call(name, fn, key, mean, log_std)
        assert isinstance(got, (tuple, list)) and len(got) == 2, (
            f"{name} must return a pair (z, kl); got {type(got).__name__}.")
        got_z, got_kl = got
        want_z, want_kl = sample_gaussian(key, mean, log_std), kl_standard_normal(mean, log_std)
        eps = jax.random.normal(key, mean.shape, dtype)
        hint = ("Hint: z = mean + exp(log_std) * eps with eps = jax.random.normal(key, "
                "mean.shape, mean.dtype): draw eps from the key you are given.")
        if matches(got_z, mean + log_std * eps):
            hint = "log_std is a logarithm: the standard deviation is exp(log_std)."
        elif matches(got_z, mean + jnp.exp(2 * log_std) * eps):
            hint = "Scale eps by the standard deviation exp(log_std), not the variance."
        label = jnp.dtype(dtype).name
        assert_array(f"z of {name} ({label})", got_z, want_z, hint)
        assert_array(f"kl of {name} ({label})", got_kl, want_kl,
                     _kl_hint(got_kl, mean, log_std, want_kl))

        def objective(m, s, f, key=key):  # binds this iteration's key (B023)
            z, kl = f(key, m, s)
            return jnp.sum(z) + jnp.sum(kl)

        got_grads = call(name, jax.grad(objective, argnums=(0, 1)), mean, log_std, fn)
        want_grads = jax.grad(objective, argnums=(0, 1))(
            mean, log_std, lambda k, m, s: (sample_gaussian(k, m, s), kl_standard_normal(m, s)))
        for what, g, w in zip(("mean", "log_std"), got_grads, want_grads):
            assert_array(f"the gradient with respect to {what}", g, w,
                         "Hint: write z and kl with jax.numpy from mean and log_std, without "
                         "jax.lax.stop_gradient, so that the gradient reaches the encoder.")
    passed("check_sample_and_kl passed: the reparameterised sample, the KL term and their "
           "gradients match nodelib.latent.")

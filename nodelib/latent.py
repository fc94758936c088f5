"""The probabilistic pieces of a latent ODE: a reparameterised Gaussian sample, the KL
divergence to a standard normal prior, and a Gaussian log-likelihood.

A latent ODE (Chen et al. 2018, Sec. 5; Rubanova, Chen & Duvenaud 2019) is a variational
autoencoder whose decoder solves an ODE. Its encoder returns a diagonal Gaussian
``q(z0 | x) = N(mean, diag(exp(log_std)**2))`` over the initial latent state, and training
maximises the evidence lower bound

    ELBO = E_q[ log p(x | z0) ] - KL( q(z0 | x) || N(0, I) ),

estimated with one reparameterised sample of ``z0`` per series (Kingma & Welling 2014). The
three functions here are those terms. They work on any leading batch axes: the last axis is
the latent (or data) dimension and is summed over.

The standard deviation is passed as its logarithm, as encoders output it: any real number is
a valid ``log_std``, and ``exp`` keeps the standard deviation positive.
"""
import math

import jax
import jax.numpy as jnp

from ._argcheck import check_key

__all__ = ["sample_gaussian", "kl_standard_normal", "gaussian_log_likelihood"]


def _floating_pair(name_a, a, name_b, b):
    """Convert two arrays, check that they are floating point of one dtype and shape."""
    a, b = jnp.asarray(a), jnp.asarray(b)
    for name, x in ((name_a, a), (name_b, b)):
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(f"{name} must be a floating-point array; got dtype {x.dtype}.")
    if a.shape != b.shape or a.dtype != b.dtype:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape and dtype; got "
            f"{a.shape} {a.dtype} and {b.shape} {b.dtype}.")
    if a.ndim == 0:
        raise ValueError(f"{name_a} must have at least one axis (the last is the dimension); "
                         "got a scalar.")
    return a, b


def sample_gaussian(key, mean, log_std):
    """A reparameterised sample ``z = mean + exp(log_std) * eps`` with ``eps ~ N(0, I)``.

    Writing the sample as a deterministic, differentiable function of ``(mean, log_std)`` and
    of noise that does not depend on them lets gradients of ``E_q[g(z)]`` flow to the
    encoder (the reparameterisation trick, Kingma & Welling 2014, Sec. 2.4).

    Args:
        key: a JAX PRNG key; ``eps = jax.random.normal(key, mean.shape, mean.dtype)``.
        mean: array ``(..., dim)``, the mean of the Gaussian.
        log_std: array shaped like ``mean``, the log of its standard deviations.

    Returns:
        ``z``, shaped like ``mean`` and in its dtype.

    Raises:
        TypeError: if ``key`` is not a PRNG key or the arrays are not floating point.
        ValueError: if ``mean`` and ``log_std`` differ in shape or dtype, or are scalars.
    """
    check_key(key)
    mean, log_std = _floating_pair("mean", mean, "log_std", log_std)
    eps = jax.random.normal(key, mean.shape, mean.dtype)  # (..., dim)
    return mean + jnp.exp(log_std) * eps


def kl_standard_normal(mean, log_std):
    """``KL( N(mean, diag(exp(2 log_std))) || N(0, I) )``, summed over the last axis.

    The closed form for diagonal Gaussians (Kingma & Welling 2014, Appendix B):
    ``0.5 * sum(mean**2 + exp(2 log_std) - 1 - 2 log_std)``. It is zero exactly when
    ``mean = 0`` and ``log_std = 0``, and positive otherwise.

    Args:
        mean: array ``(..., dim)``.
        log_std: array shaped like ``mean``.

    Returns:
        The divergence of each distribution, shape ``mean.shape[:-1]``, in ``mean``'s dtype.

    Raises:
        TypeError, ValueError: as :func:`sample_gaussian`.
    """
    mean, log_std = _floating_pair("mean", mean, "log_std", log_std)
    return 0.5 * jnp.sum(mean**2 + jnp.exp(2 * log_std) - 1 - 2 * log_std, axis=-1)


def gaussian_log_likelihood(x, mean, std):
    """``log N(x | mean, std**2 I)``, summed over the last axis.

    ``-0.5 * sum(((x - mean) / std)**2) - dim * (log std + 0.5 log(2 pi))``: with a fixed
    ``std`` this is a scaled squared error plus a constant, which is why a latent ODE with
    Gaussian observation noise fits like least squares weighted by ``1 / (2 std**2)``.

    Args:
        x: observations ``(..., dim)``.
        mean: predictions shaped like ``x``.
        std: the noise's standard deviation, a positive scalar (float or 0-d array).

    Returns:
        The log-likelihood of each row, shape ``x.shape[:-1]``, in ``x``'s dtype.

    Raises:
        TypeError, ValueError: if ``x`` and ``mean`` differ in shape or dtype, or ``std`` is
            not a positive scalar.
    """
    x, mean = _floating_pair("x", x, "mean", mean)
    std_arr = jnp.asarray(std)
    if std_arr.ndim != 0:
        raise ValueError(f"std must be a scalar; got shape {std_arr.shape}.")
    if not isinstance(std_arr, jax.core.Tracer) and not float(std_arr) > 0:
        raise ValueError(f"std must be positive; got {float(std_arr)}.")  # (unchecked if traced)
    std_arr = std_arr.astype(x.dtype)
    dim = x.shape[-1]
    return (-0.5 * jnp.sum(((x - mean) / std_arr) ** 2, axis=-1)
            - dim * (jnp.log(std_arr) + 0.5 * math.log(2 * math.pi)))

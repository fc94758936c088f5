"""Regularisers that keep learned dynamics cheap to solve.

Training a neural ODE tends to make its vector field harder to integrate: the number of
function evaluations (NFE) grows. Finlay et al. (2020, "How to train your neural ODE")
penalise two integrals along each trajectory,

    kinetic energy       R_K = int_0^T ||f(t, z(t))||^2 dt,
    Jacobian norm        R_J = int_0^T ||df/dz (t, z(t))||_F^2 dt,

which favour straight, slowly varying trajectories. Both are integrated by the same solve as
the state, as two extra scalar components, so they cost one solve and their gradients come from
the same adjoint. The Frobenius norm is estimated with Hutchinson's trick,
||J||_F^2 = E[||eps^T J||^2] for eps with zero mean and identity covariance, at the cost of one
vector-Jacobian product (Hutchinson 1989; Finlay et al. 2020, eq. 6).
"""
import jax
import jax.numpy as jnp


def regularised_dynamics(f, *, batched=False):
    """Augment a vector field with the integrands of the kinetic and Jacobian regularisers.

    Args:
        f: vector field f(t, z, params) on a state z of any shape.
        batched: False when z is one example. True when z is a whole batch (batch, ...) solved
            as one state: the integrands are then averages over the batch (the sums over its
            rows divided by the batch size), so that their size, which the solver's error
            control and the adjoint's trajectory check both see, does not grow with the batch.

    Returns:
        g(t, (z, kinetic, frobenius), (params, eps)) -> (f, ||f||^2, ||eps^T df/dz||^2), where
        eps has z's shape and is drawn once per solve (a standard normal or Rademacher
        vector) and held fixed while it runs, so that the solver sees a smooth field. Solve
        from (z0, 0, 0): the last two components at time T are R_K and an unbiased estimate
        of R_J.
    """
    def g(t, state, args):
        params, eps = args
        z = state[0]
        dz, vjp = jax.vjp(lambda z: f(t, z, params), z)
        (eps_jac,) = vjp(jnp.asarray(eps, dz.dtype))   # eps^T df/dz, shaped like z
        n = z.shape[0] if batched else 1
        return dz, jnp.sum(dz**2) / n, jnp.sum(eps_jac**2) / n

    return g


def jacobian_frobenius_sq(f, t, z, params):
    """||df/dz||_F^2 at one state z of shape (D,), from the full Jacobian (D products):
    the exact value that `regularised_dynamics` estimates, for tests and small problems."""
    jac = jax.jacrev(lambda z: f(t, z, params))(z)    # (D, D)
    return jnp.sum(jac**2)

"""Checks for the exercises of Chapter 6, Continuous normalizing flows.

The references are nodelib's planar layer (``nodelib.flows.planar_layer``) and the trace of a
Jacobian built in full with ``jax.jacfwd``.
"""
import jax
import jax.numpy as jnp
import numpy as np

from ._common import assert_array, call, dtypes, fresh_rng, matches, passed

__all__ = ["check_planar_layer", "check_hutchinson_trace"]


def _planar_params(rng, dtype):
    """Random planar parameters (u, w, b) in 2 to 5 dimensions with w^T u > -1, and a point."""
    from ..flows import planar_u_hat

    dim = int(rng.integers(2, 6))
    u, w, z = (jnp.asarray(rng.normal(size=dim), dtype) for _ in range(3))
    u = planar_u_hat(u, w)
    return (u, w, jnp.asarray(rng.normal(), dtype)), z


def check_planar_layer(fn):
    """Check ``fn(params, z)``, one planar layer and its log-determinant (Exercise 6.2).

    ``fn`` returns ``(z + u tanh(w^T z + b), log|1 + u^T psi(z)|)`` for ``params = (u, w, b)``.
    Compared with ``nodelib.flows.planar_layer`` on random layers in 2 to 5 dimensions (with
    ``w^T u > -1``): shapes, dtypes, values, and the gradients of both outputs with respect to
    ``z`` and to every parameter.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    from ..flows import planar_layer

    name, rng = "your planar_layer", fresh_rng()
    for dtype in dtypes():
        for _ in range(2):
            params, z = _planar_params(rng, dtype)
            want_z, want_ld = planar_layer(params, z)
            got = call(name, fn, params, z)
            assert isinstance(got, (tuple, list)) and len(got) == 2, (
                f"{name} must return a pair (new z, log-determinant); got {type(got).__name__}.")
            got_z, got_ld = got
            assert_array(f"the new z of {name} ({jnp.dtype(dtype).name})", got_z, want_z,
                         "Hint: f(z) = z + u * tanh(w . z + b).")
            u, w, b = params
            hint = "Hint: log|1 + u . psi(z)| with psi(z) = (1 - tanh(w . z + b)^2) w."
            if matches(got_ld, jnp.log(jnp.abs(1 + jnp.tanh(w @ z + b) * (u @ w)))):
                hint = "You used tanh where its derivative 1 - tanh^2 belongs. " + hint
            assert_array(f"the log-determinant of {name} ({jnp.dtype(dtype).name})", got_ld,
                         want_ld, hint)
            total = lambda p, z_, f: jnp.sum(f(p, z_)[0]) + 3.0 * f(p, z_)[1]
            got_g = call(name, jax.grad(total, argnums=(0, 1)), params, z, fn)
            want_g = jax.grad(total, argnums=(0, 1))(params, z, planar_layer)
            for got_leaf, want_leaf in zip(jax.tree_util.tree_leaves(got_g),
                                           jax.tree_util.tree_leaves(want_g)):
                assert_array("a gradient of your planar layer", got_leaf, want_leaf,
                             "Hint: write the layer with jax.numpy only, so JAX can "
                             "differentiate it.")
    passed("check_planar_layer passed: outputs, log-determinants and their gradients match "
           "nodelib.flows.planar_layer.")


def _random_field(rng, dtype):
    """A random non-symmetric field R^D -> R^D (D from 3 to 6) through a hidden layer of
    width D + 2, so that no weight matrix is D x D; and a point z."""
    dim = int(rng.integers(3, 7))
    B = jnp.asarray(rng.normal(size=(dim, dim + 2)), dtype)
    A = jnp.asarray(rng.normal(size=(dim + 2, dim)) / np.sqrt(dim), dtype)
    c, d = jnp.asarray(rng.normal(size=dim + 2), dtype), jnp.asarray(rng.normal(size=dim), dtype)
    f = lambda z: jnp.tanh(z @ B + c) @ A + d * z  # noqa: E731
    return f, jnp.asarray(rng.normal(size=dim), dtype), dim


def _equations(jaxpr):
    """Every equation of a jaxpr, those of its sub-jaxprs (jit, custom rules) included."""
    for eqn in jaxpr.eqns:
        yield eqn
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _equations(inner)


def check_hutchinson_trace(fn):
    """Check ``fn(f, z, eps)``, Hutchinson's estimate ``eps^T (df/dz) eps`` (Exercise 6.3).

    On random non-symmetric fields in 3 to 6 dimensions: the value for given noise vectors
    (against the full Jacobian from ``jax.jacfwd``), its dtype, unbiasedness (the mean over
    4000 Rademacher vectors is within five standard errors of the exact trace), and its cost:
    the traced computation must hold no two-dimensional array (no Jacobian is built) and
    evaluate the field's ``tanh`` at most twice (one Jacobian-vector or vector-Jacobian
    product, not one per dimension).

    Raises:
        AssertionError: if ``fn`` is not implemented, is wrong, or builds the Jacobian.
    """
    name, rng = "your estimator", fresh_rng()
    for dtype in dtypes():
        f, z, dim = _random_field(rng, dtype)
        jac = jax.jacfwd(f)(z)                                          # (D, D)
        for _ in range(3):
            eps = jnp.asarray(rng.choice([-1.0, 1.0], size=dim), dtype)
            want = eps @ jac @ eps
            hint = "Hint: one jax.jvp of f at z in the direction eps gives J eps; dot it with eps."
            if matches(call(name, fn, f, z, eps), jnp.trace(jac)):
                hint = "You returned the exact trace: the estimator is eps^T J eps for this eps."
            assert_array(f"{name} ({jnp.dtype(dtype).name})", call(name, fn, f, z, eps), want,
                         hint)
        many = jnp.asarray(rng.choice([-1.0, 1.0], size=(4000, dim)), dtype)
        estimates = np.asarray(call(name, jax.vmap(lambda e, f=f, z=z: fn(f, z, e)), many),
                               np.float64)
        stderr = estimates.std() / np.sqrt(len(estimates))
        exact = float(jnp.trace(jac))
        assert abs(estimates.mean() - exact) < 5 * stderr + 1e-4, (
            f"{name} is biased: the mean over 4000 Rademacher vectors is {estimates.mean():.4f} "
            f"+- {stderr:.4f}, the exact trace {exact:.4f}.")
        jaxpr = jax.make_jaxpr(lambda z_, e_, f=f: fn(f, z_, e_))(z, many[0]).jaxpr
        eqns = list(_equations(jaxpr))
        wide = [e.primitive.name for e in eqns
                if any(getattr(v.aval, "ndim", 0) >= 2 for v in e.outvars)]
        assert not wide, (
            f"{name} builds a two-dimensional array (in {wide[0]}): a Jacobian or a batch of "
            "products, which costs D of them. Hint: one jax.jvp (or jax.vjp) is enough.")
        n_tanh = sum(e.primitive.name == "tanh" for e in eqns)
        assert n_tanh <= 2, (
            f"{name} evaluates the field {n_tanh} times: one product per dimension is the "
            "exact trace's cost. Hint: a single jax.jvp(f, (z,), (eps,)) gives J eps.")
    passed("check_hutchinson_trace passed: eps^T J eps with one Jacobian-vector product, "
           "unbiased over 4000 noise draws.")

"""Derivatives of every order through odeint, in every gradient mode.

The problems are those `jax.experimental.ode`'s own test suite checks (a pendulum, a pytree
state, time-dependent dynamics, a decay and a "swoop" with several arguments, vmap of a
gradient), with its second-order reverse checks (`check_grads(..., order=2)`), run through a
thin adapter for its signature f(y, t, *args). Also: forward mode, Hessians, strict dtype and
rank promotion, the largest step, and the checkpointed gradient against an independent
reference (JAX's own AD through a Python loop over the same steps).
"""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import nodelib
from nodelib import odeint

MODES = ["adjoint", "checkpoint", "backprop"]
TOL = dict(rtol=1e-10, atol=1e-10)


def integrate(fun, gradient):
    """nodelib.odeint called like jax.experimental.ode.odeint(fun, y0, ts, *args)."""
    def run(y0, ts, *args):
        return odeint(lambda t, y, a: fun(y, t, *a), y0, ts, args, gradient=gradient, **TOL).ys
    return run


def pend(y, _t, m, g):
    theta, omega = y
    return [omega, -m * omega - g * jnp.sin(theta)]


def weird_time_pendulum(y, t):
    return jnp.stack([y[1] * -t, -1 * y[1] - 9.8 * jnp.sin(y[0])])


def decay(y, t, arg1, arg2):
    return -jnp.sqrt(t) - y + arg1 - jnp.mean((y + arg2) ** 2)


def swoop(y, t, arg1, arg2):
    return y - jnp.sin(t) - jnp.cos(t) * arg1 + arg2


RNG = np.random.RandomState(0)
CASES = {
    "pendulum": (pend, ([jnp.pi - 0.1, 0.0], jnp.linspace(0.0, 1.0, 11), 0.25, 9.8)),
    "pytree": (lambda y, _t: jax.tree_util.tree_map(jnp.negative, y),
               ((jnp.array(-0.1), jnp.array([[[0.1]]])), jnp.linspace(0.0, 1.0, 11))),
    "weird_time_pendulum": (weird_time_pendulum,
                            (jnp.array([jnp.pi - 0.1, 0.0]), jnp.linspace(0.0, 1.0, 11))),
    "decay": (decay, (RNG.randn(3), jnp.linspace(0.1, 0.2, 4), RNG.randn(3), RNG.randn(3))),
    "swoop": (swoop, (jnp.linspace(0.1, 0.9, 10), jnp.array([0.1, 0.2]), 0.1, 0.2)),
    "swoop_big": (swoop, (jnp.linspace(1.1, 10.9, 10), jnp.array([0.1, 0.2]), 0.1, 0.3)),
}


# Each case in one mode, the modes alternating (a second-order check compiles for 10-25 s).
@pytest.mark.slow
@pytest.mark.parametrize("case, gradient", [(case, MODES[i % 3]) for i, case in enumerate(CASES)])
def test_second_order_reverse_mode_as_jax_experimental_ode_checks_it(case, gradient):
    fun, args = CASES[case]
    check_grads(jax.jit(integrate(fun, gradient)), args, order=2, modes=["rev"],
                atol=1e-3, rtol=1e-3)


@pytest.mark.slow
def test_backprop_supports_forward_mode_to_second_order():
    fun, args = CASES["decay"]
    check_grads(jax.jit(integrate(fun, "backprop")), args, order=2, modes=["fwd"],
                atol=1e-3, rtol=1e-3)


def test_hessian_and_hessian_vector_products_agree_across_modes():
    fun, (y0, ts, m, g) = CASES["pendulum"]
    y0 = jnp.array(y0)

    def loss(y0, gradient):
        ys = integrate(lambda y, t: jnp.stack(pend(y, t, m, g)), gradient)(y0, ts)
        return jnp.sum(jnp.sin(ys) ** 2)

    h_adjoint = jax.hessian(loss)(y0, "adjoint")
    h_checkpoint = jax.hessian(loss)(y0, "checkpoint")
    np.testing.assert_allclose(h_adjoint, h_checkpoint, rtol=1e-6)
    np.testing.assert_allclose(h_adjoint, h_adjoint.T, rtol=1e-6)
    v = jnp.array([0.3, -1.0])
    for gradient in MODES:   # grad of grad (reverse over reverse) and jvp of grad
        grad = partial(jax.grad(loss), gradient=gradient)
        rev_rev = jax.grad(lambda y, grad=grad: jnp.vdot(grad(y), v))(y0)
        fwd_rev = jax.jvp(grad, (y0,), (v,))[1]
        np.testing.assert_allclose(rev_rev, h_checkpoint @ v, rtol=1e-6)
        np.testing.assert_allclose(fwd_rev, h_checkpoint @ v, rtol=1e-6)


def test_jitted_grad_of_grad():
    f = lambda t, y, p: -p * y + 0.1 * jnp.sin(t) * y ** 2
    for gradient in MODES:
        def loss(p, gradient=gradient):
            ys = odeint(f, jnp.array([1.0, 0.5]), jnp.array([0.0, 0.5, 1.0]), p,
                        gradient=gradient, **TOL).ys
            return jnp.sum(jnp.sin(ys) ** 2)
        g2 = jax.jit(jax.grad(jax.grad(loss)))(0.7)
        g1 = jax.grad(loss)
        np.testing.assert_allclose(g2, (g1(0.7 + 1e-5) - g1(0.7 - 1e-5)) / 2e-5, rtol=1e-5)


@pytest.mark.parametrize("gradient", ["adjoint", "checkpoint"])
def test_forward_mode_names_the_mode_that_supports_it(gradient):
    f = lambda t, y, p: -p * y
    final = lambda p: odeint(f, jnp.array([1.0]), jnp.array([0.0, 1.0]), p,
                             gradient=gradient).ys[-1, 0]
    with pytest.raises(TypeError, match="gradient='backprop', which supports every mode"):
        jax.jvp(final, (0.5,), (1.0,))
    with pytest.raises(TypeError, match=f"gradient='{gradient}'.*not forward mode"):
        jax.jacfwd(final)(0.5)
    backprop = lambda p: odeint(f, jnp.array([1.0]), jnp.array([0.0, 1.0]), p,
                                gradient="backprop").ys[-1, 0]
    np.testing.assert_allclose(jax.jvp(backprop, (0.5,), (1.0,))[1], -np.exp(-0.5), rtol=1e-5)


def test_vmap_of_grad_matches_separate_grads():
    dx_dt = lambda t, x, args: 0.1 * x

    def f(x, y):
        return odeint(dx_dt, jnp.array([x, y]), jnp.array([0.0, 5.0])).ys[-1].sum()

    def g(x):
        y0s = jnp.array([[x, 0.1], [x, 0.2]])
        return jax.vmap(lambda y0: odeint(dx_dt, y0, jnp.array([0.0, 5.0])).ys)(y0s)[:, -1].sum()

    expected = jax.grad(f)(2.0, 0.1) + jax.grad(f)(2.0, 0.2)
    np.testing.assert_allclose(jax.grad(g)(2.0), expected, rtol=1e-12)


def test_vmap_under_disable_jit():
    with jax.disable_jit():
        solve = lambda x0: odeint(lambda t, x, a: x, x0, jnp.array([0.0, 1.0])).ys
        sol = jax.vmap(solve)(jnp.zeros((5, 2)))
    assert sol.shape == (5, 2, 2)


@pytest.mark.parametrize("gradient", MODES)
def test_strict_dtype_and_rank_promotion(gradient):
    fun, (y0, ts, m, g) = CASES["pendulum"]
    y0, m, g = jnp.array(y0), jnp.float64(m), jnp.float64(g)
    with jax.numpy_dtype_promotion("strict"), jax.numpy_rank_promotion("raise"):
        loss = lambda y0, m: jnp.sum(odeint(lambda t, y, a: jnp.stack(pend(y, t, *a)), y0, ts,
                                            (m, g), gradient=gradient).ys ** 2)
        assert np.isfinite(loss(y0, m))
        jax.grad(loss, argnums=(0, 1))(y0, m)
        jax.vmap(loss, in_axes=(0, None))(jnp.stack([y0, y0]), m)
        jax.hessian(loss)(y0, m)
        for solver in ("euler", "rk4"):
            odeint(lambda t, y, a: -y, y0, ts, solver=solver, dt0=0.05, gradient=gradient)


def test_dtmax_keeps_dopri5_from_stepping_over_a_short_pulse():
    # y' = -1 on (5, 7) and 0 elsewhere: without a largest step, the steps grow over the
    # flat start and jump the pulse entirely (y(100) = 0 instead of -2).
    pulse = lambda t, y, args: jnp.where((t > 5) & (t < 7), -1.0, 0.0) * jnp.ones_like(y)
    ts = jnp.array([0.0, 100.0])
    blind = odeint(pulse, jnp.zeros(1), ts)
    assert abs(float(blind.ys[-1, 0])) < 1e-12
    sol = odeint(pulse, jnp.zeros(1), ts, dtmax=0.5)
    np.testing.assert_allclose(sol.ys[-1, 0], -2.0, atol=1e-4)
    assert int(sol.stats["num_steps"]) >= 200                  # 100 / 0.5 at least


def test_dtmax_is_rejected_for_fixed_step_solvers_and_must_be_positive():
    f = lambda t, y, args: -y
    with pytest.raises(ValueError, match="lower dt0 instead"):
        odeint(f, jnp.ones(1), jnp.array([0.0, 1.0]), solver="rk4", dt0=0.1, dtmax=0.05)
    with pytest.raises(ValueError, match="dtmax must be positive"):
        odeint(f, jnp.ones(1), jnp.array([0.0, 1.0]), dtmax=-1.0)


def _replayed_solution(f, y0, t_steps, args):
    """The same Dormand-Prince steps as a plain Python loop (JAX differentiates it directly)."""
    y = y0
    for t, t1 in zip(t_steps[:-1], t_steps[1:]):
        y = nodelib.rk.rk_step(nodelib.DOPRI5, lambda t, y: f(t, y, args), t, y, t1 - t)[0]
    return y


def _accepted_times(f, y0, t_end, args, **kwargs):
    """Times of the accepted steps, recorded by running the solve to ever larger max_steps."""
    times, n = [0.0], 1
    while True:
        sol = odeint(f, y0, jnp.array([0.0, t_end]), args, max_steps=n, throw=False, **kwargs)
        if int(sol.stats["num_accepted_steps"]) == len(times):
            times.append(float(sol.t_reached))
        if bool(sol.succeeded):
            return times
        n += 1


def mlp_field(t, y, params):
    (w1, b1), (w2, b2) = params
    return jnp.tanh(y @ w1 + b1 + t) @ w2 + b2


@pytest.mark.parametrize("seed", [0, 1])
def test_checkpoint_is_the_exact_derivative_of_the_steps_taken(seed):
    k = jax.random.split(jax.random.PRNGKey(seed), 5)
    params = [(jax.random.normal(k[0], (3, 16)) / 2, 0.1 * jax.random.normal(k[1], (16,))),
              (jax.random.normal(k[2], (16, 3)) / 4, 0.1 * jax.random.normal(k[3], (3,)))]
    y0 = jax.random.normal(k[4], (3,))
    kwargs = dict(rtol=1e-6, atol=1e-6)
    times = jnp.array(_accepted_times(mlp_field, y0, 2.0, params, **kwargs))
    loss = lambda y, p: jnp.sum(jnp.sin(y) ** 2)
    ref = jax.grad(lambda y0, p: loss(_replayed_solution(mlp_field, y0, times, p), p),
                   argnums=(0, 1))(y0, params)
    got = jax.grad(lambda y0, p: loss(odeint(mlp_field, y0, jnp.array([0.0, 2.0]), p,
                                             gradient="checkpoint", **kwargs).ys[-1], p),
                   argnums=(0, 1))(y0, params)
    for a, b in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)

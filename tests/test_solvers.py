"""nodelib's solvers: tableaus, convergence orders, exact solutions, reference libraries,
NFE bookkeeping, transformations (jit, vmap), pytrees, float32 and backwards time."""
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.linalg

import nodelib
from nodelib import odeint
from nodelib.tableaus import ButcherTableau


def decay(t, y, args):            # h' = 5h - 3, h(0) = 1  ->  h(t) = 3/5 + 2/5 e^{5t}
    return 5.0 * y - 3.0


def exact_decay(t):
    return 0.6 + 0.4 * np.exp(5.0 * np.asarray(t))


def oscillator(t, y, args):       # x'' = -w^2 x as a first-order system
    x, v = y
    return jnp.stack([v, -args**2 * x])


# --- tableaus -------------------------------------------------------------------------

@pytest.mark.parametrize("tab", [t for t in nodelib.SOLVERS.values()
                                 if isinstance(t, ButcherTableau)], ids=lambda t: t.name)
def test_tableau_consistency(tab):                     # rodas4: tests/test_stiff.py
    for i, row in enumerate(tab.a):
        assert sum(row, Fraction(0)) == tab.c[i]
    assert sum(tab.b, Fraction(0)) == 1
    if tab.b_err is not None:
        assert sum(tab.b_err, Fraction(0)) == 0
    # order conditions up to order 4 (Hairer et al., Table II.2.2), for the solution weights
    b, c = np.array(tab.b, float), np.array(tab.c, float)
    A = np.zeros((tab.stages, tab.stages))
    for i, row in enumerate(tab.a):
        A[i, :len(row)] = np.array(row, float)
    conditions = [(b.sum(), 1), (b @ c, 1 / 2), (b @ c**2, 1 / 3), (b @ A @ c, 1 / 6),
                  (b @ c**3, 1 / 4), (b @ (c * (A @ c)), 1 / 8), (b @ A @ c**2, 1 / 12),
                  (b @ A @ A @ c, 1 / 24)]
    order_of = [1, 2, 3, 3, 4, 4, 4, 4]
    for (value, want), p in zip(conditions, order_of):
        if p <= tab.order:
            assert value == pytest.approx(want, abs=1e-14)


def test_inconsistent_tableau_is_rejected():
    with pytest.raises(ValueError, match="sums to"):
        ButcherTableau(name="bad", order=2, c=(Fraction(0), Fraction(1, 2)),
                       a=((), (Fraction(1, 3),)), b=(Fraction(0), Fraction(1)))


# --- accuracy ---------------------------------------------------------------------------

@pytest.mark.parametrize("solver,order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_convergence_order(solver, order):
    ns = np.array([16, 32, 64, 128, 256]) if order < 4 else np.array([8, 16, 32, 64])
    errors = []
    for n in ns:
        sol = odeint(decay, jnp.array([1.0]), jnp.array([0.0, 1.0]), solver=solver, dt0=1.0 / n)
        assert int(sol.stats["num_steps"]) == n
        errors.append(abs(float(sol.ys[-1, 0]) - exact_decay(1.0)))
    slope = np.polyfit(np.log(1.0 / ns), np.log(errors), 1)[0]
    assert abs(slope - order) <= 0.3, (solver, slope, errors)


def test_dopri5_error_falls_with_tolerance():
    tols = [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10]
    errors, nfes = [], []
    for tol in tols:
        sol = odeint(oscillator, jnp.array([1.0, 0.0]), jnp.linspace(0.0, 10.0, 11), 2.0,
                     rtol=tol, atol=tol)
        exact = np.stack([np.cos(2 * sol.ts), -2 * np.sin(2 * sol.ts)], axis=1)
        errors.append(np.abs(np.asarray(sol.ys) - exact).max())
        nfes.append(int(sol.stats["nfe"]))
    assert errors[-1] < 1e-8 and errors[0] > 1e-4
    assert all(e1 < e0 for e0, e1 in zip(errors, errors[1:])), errors
    assert all(n1 >= n0 for n0, n1 in zip(nfes, nfes[1:])), nfes


def test_exact_solution_scalar_growth():
    ts = jnp.linspace(0.0, 2.0, 9)
    sol = odeint(decay, jnp.array([1.0]), ts, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(sol.ys[:, 0], exact_decay(ts), rtol=1e-8)
    assert float(sol.ys[0, 0]) == 1.0


def test_exact_solution_linear_system():
    A = jnp.array([[-0.5, 2.0, 0.0], [-2.0, -0.5, 0.3], [0.1, 0.0, -1.0]])
    y0 = jnp.array([1.0, -1.0, 0.5])
    ts = jnp.linspace(0.0, 3.0, 7)
    sol = odeint(lambda t, y, A: A @ y, y0, ts, A, rtol=1e-10, atol=1e-12)
    exact = np.stack([scipy.linalg.expm(np.asarray(A) * t) @ np.asarray(y0) for t in ts])
    np.testing.assert_allclose(sol.ys, exact, rtol=1e-8, atol=1e-10)


def test_dense_output_does_not_change_the_steps():
    """Output times are served by interpolation: asking for more of them must not change
    the steps taken, and the interpolant is accurate to about the tolerance."""
    y0 = jnp.array([1.0, 0.0])
    coarse = odeint(oscillator, y0, jnp.array([0.0, 10.0]), 2.0, rtol=1e-8, atol=1e-8)
    ts = jnp.linspace(0.0, 10.0, 401)
    fine = odeint(oscillator, y0, ts, 2.0, rtol=1e-8, atol=1e-8)
    assert int(fine.stats["nfe"]) == int(coarse.stats["nfe"])
    np.testing.assert_allclose(fine.ys[-1], coarse.ys[-1], rtol=0, atol=1e-14)
    exact = np.stack([np.cos(2 * ts), -2 * np.sin(2 * ts)], axis=1)
    assert np.abs(np.asarray(fine.ys) - exact).max() < 1e-6


def test_agrees_with_scipy_dop853():
    mu = 0.012277471
    y0 = np.array([0.994, 0.0, 0.0, -2.00158510637908252240537862224])
    T = 17.0652165601579625588917206249

    def arenstorf(t, y, args=None):
        y1, y2, v1, v2 = y
        d1 = ((y1 + mu) ** 2 + y2**2) ** 1.5
        d2 = ((y1 - 1 + mu) ** 2 + y2**2) ** 1.5
        return jnp.stack([v1, v2, y1 + 2 * v2 - (1 - mu) * (y1 + mu) / d1 - mu * (y1 - 1 + mu) / d2,
                          y2 - 2 * v1 - (1 - mu) * y2 / d1 - mu * y2 / d2])

    ts = np.linspace(0.0, T, 6)
    ref = scipy.integrate.solve_ivp(lambda t, y: np.asarray(arenstorf(t, y)), (0.0, T), y0,
                                    method="DOP853", rtol=1e-13, atol=1e-13, t_eval=ts)
    sol = odeint(arenstorf, jnp.asarray(y0), jnp.asarray(ts), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(sol.ys), ref.y.T, atol=1e-6)
    # and the orbit closes: back at y0 after one period
    np.testing.assert_allclose(np.asarray(sol.ys[-1]), y0, atol=1e-6)


def test_agrees_with_jax_experimental_ode():
    ode = pytest.importorskip("jax.experimental.ode")
    ts = jnp.linspace(0.0, 5.0, 11)
    y0 = jnp.array([1.0, 0.0])
    # jax.experimental.ode uses the argument order f(y, t, *args)
    ref = ode.odeint(lambda y, t, w: oscillator(t, y, w), y0, ts, 2.0, rtol=1e-10, atol=1e-10)
    sol = odeint(oscillator, y0, ts, 2.0, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(sol.ys, ref, atol=1e-8)


# --- bookkeeping and transformations ----------------------------------------------------

def _counting(f):
    """Wrap f so that every evaluation at run time increments a host-side counter."""
    calls = []

    def counted(t, y, args):
        jax.debug.callback(lambda: calls.append(1))
        return f(t, y, args)
    return counted, calls


@pytest.mark.parametrize("kwargs", [dict(solver="dopri5"), dict(solver="dopri5", dt0=0.01),
                                    dict(solver="rk4", dt0=0.1), dict(solver="euler", dt0=0.25)])
def test_nfe_counts_every_evaluation(kwargs):
    counted, calls = _counting(oscillator)
    sol = odeint(counted, jnp.array([1.0, 0.0]), jnp.linspace(0.0, 3.0, 4), 2.0, **kwargs)
    jax.effects_barrier()
    assert int(sol.stats["nfe"]) == len(calls) > 0
    s = sol.stats
    assert int(s["num_steps"]) == int(s["num_accepted_steps"]) + int(s["num_rejected_steps"])


def test_jit_and_vmap():
    ts = jnp.linspace(0.0, 1.0, 5)
    y0s = jnp.array([[1.0], [2.0], [-1.0]])
    run = jax.jit(lambda y0: odeint(decay, y0, ts, rtol=1e-9, atol=1e-9).ys)
    batched = jax.vmap(run)(y0s)                                     # (3, 5, 1)
    assert batched.shape == (3, 5, 1)
    for y0, ys in zip(y0s, batched):
        exact = 0.6 + (float(y0[0]) - 0.6) * np.exp(5 * np.asarray(ts))
        np.testing.assert_allclose(ys[:, 0], exact, rtol=1e-7)


def test_pytree_state_and_args():
    y0 = {"x": jnp.array(1.0), "v": jnp.array([0.0])}

    def f(t, y, args):
        return {"x": y["v"][0], "v": -args["w"] ** 2 * jnp.atleast_1d(y["x"])}

    ts = jnp.linspace(0.0, 2.0, 5)
    sol = odeint(f, y0, ts, {"w": 3.0}, rtol=1e-10, atol=1e-10)
    assert sol.ys["x"].shape == (5,) and sol.ys["v"].shape == (5, 1)
    np.testing.assert_allclose(sol.ys["x"], np.cos(3 * ts), atol=1e-8)


def test_float32():
    ts = jnp.linspace(0.0, 1.0, 3, dtype=jnp.float32)
    sol = odeint(decay, jnp.array([1.0], dtype=jnp.float32), ts, rtol=1e-5, atol=1e-5)
    assert sol.ys.dtype == jnp.float32 and sol.ts.dtype == jnp.float32
    np.testing.assert_allclose(sol.ys[:, 0], exact_decay(np.asarray(ts)), rtol=1e-4)
    fixed = odeint(decay, jnp.array([1.0], dtype=jnp.float32), ts, solver="rk4", dt0=0.01)
    assert fixed.ys.dtype == jnp.float32


def test_backwards_in_time():
    ts = jnp.array([1.0, 0.5, 0.0])
    sol = odeint(decay, jnp.array([exact_decay(1.0)]), ts, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(sol.ys[:, 0], exact_decay(ts), rtol=1e-8)
    fixed = odeint(decay, jnp.array([exact_decay(1.0)]), ts, solver="rk4", dt0=0.01)
    np.testing.assert_allclose(fixed.ys[:, 0], exact_decay(ts), rtol=1e-6)

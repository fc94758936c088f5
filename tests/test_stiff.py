"""The stiff solver "rodas4" (nodelib.rosenbrock): its coefficients, order, stability,
agreement with scipy's Radau on stiff problems, gradients in every mode, jit and vmap,
statistics and error messages."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

import nodelib
from nodelib import RODAS4, odeint
from nodelib.rosenbrock import rosenbrock_step


def van_der_pol(t, y, mu):        # y'' = mu (1 - y^2) y' - y, MATLAB's vdp1000 form
    return jnp.stack([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])


def van_der_pol_np(mu):
    def f(t, y):
        return [y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]]

    def jac(t, y):
        return [[0.0, 1.0], [-2 * mu * y[0] * y[1] - 1.0, mu * (1 - y[0] ** 2)]]
    return f, jac


def robertson(t, y, k):           # Robertson's chemical kinetics (Hairer & Wanner, IV.1)
    k1, k2, k3 = k
    return jnp.stack([-k1 * y[0] + k2 * y[1] * y[2],
                      k1 * y[0] - k2 * y[1] * y[2] - k3 * y[1] ** 2,
                      k3 * y[1] ** 2])


ROBERTSON_K = (0.04, 1e4, 3e7)


def robertson_np(t, y):
    k1, k2, k3 = ROBERTSON_K
    return [-k1 * y[0] + k2 * y[1] * y[2], k1 * y[0] - k2 * y[1] * y[2] - k3 * y[1] ** 2,
            k3 * y[1] ** 2]


def robertson_jac_np(t, y):
    k1, k2, k3 = ROBERTSON_K
    return [[-k1, k2 * y[2], k2 * y[1]],
            [k1, -k2 * y[2] - 2 * k3 * y[1], -k2 * y[1]],
            [0.0, 2 * k3 * y[1], 0.0]]


def prothero_robinson(t, y, lam):  # y' = lam (y - cos t) - sin t: y = cos t exactly
    return lam * (y - jnp.cos(t)) - jnp.sin(t)


# --- coefficients ----------------------------------------------------------------------

def order_conditions(alpha, gamma_matrix, b, gamma):
    """Residuals of the Rosenbrock order conditions up to order 4 (Hairer & Wanner,
    *Solving ODEs II*, section IV.7), with beta = alpha + Gamma below the diagonal."""
    beta = np.tril(alpha + gamma_matrix, -1)
    bp, a = beta.sum(1), alpha.sum(1)
    g = gamma
    return np.array([
        b.sum() - 1,
        b @ bp - (1 / 2 - g),
        b @ a ** 2 - 1 / 3, b @ beta @ bp - (1 / 6 - g + g ** 2),
        b @ a ** 3 - 1 / 4, (b * a) @ alpha @ bp - (1 / 8 - g / 3),
        b @ beta @ a ** 2 - (1 / 12 - g / 3),
        b @ beta @ beta @ bp - (1 / 24 - g / 2 + 3 * g ** 2 / 2 - g ** 3)])


def test_rodas4_satisfies_the_order_conditions():
    alpha, big_gamma, b = RODAS4.untransformed()
    res = order_conditions(alpha, big_gamma, b, RODAS4.gamma)
    assert np.all(np.abs(res) < 1e-13), res                     # order 4
    b_hat = (np.array(RODAS4.m) - np.array(RODAS4.e)) @ np.linalg.inv(
        np.eye(6) / RODAS4.gamma - _lower(RODAS4.cc))
    res_hat = order_conditions(alpha, big_gamma, b_hat, RODAS4.gamma)
    assert np.all(np.abs(res_hat[:4]) < 1e-13), res_hat         # embedded: order 3 ...
    assert np.max(np.abs(res_hat[4:])) > 1e-3                   # ... and not 4


def test_inconsistent_rosenbrock_tableau_is_rejected():
    from dataclasses import replace
    with pytest.raises(ValueError, match="row sums"):
        replace(RODAS4, c=(0.0, 0.4, 0.21, 0.63, 1.0, 1.0))
    with pytest.raises(ValueError, match="6 stages"):
        replace(RODAS4, m=RODAS4.m[:5])


def _lower(rows):
    return np.array([list(r) + [0.0] * (6 - len(r)) for r in rows])


def stability_function(z, weights):
    """R(z) = 1 + z b^T (I - z B)^{-1} 1 with B = alpha + Gamma (the method on y' = y/h)."""
    alpha, big_gamma, _ = RODAS4.untransformed()
    k = np.linalg.solve(np.eye(6) - z * (alpha + big_gamma), np.ones(6))
    return 1 + z * weights @ k


def test_rodas4_is_a_and_l_stable():
    _, _, b = RODAS4.untransformed()
    axis = [stability_function(1j * w, b) for w in np.logspace(-3, 6, 200)]
    assert np.max(np.abs(axis)) <= 1 + 1e-12          # A-stable (no poles in Re z < 0 either)
    left = [stability_function(complex(x, y), b) for x in -np.logspace(-2, 4, 30)
            for y in np.linspace(-1e3, 1e3, 31)]
    assert np.max(np.abs(left)) <= 1 + 1e-12
    assert abs(stability_function(-1e10, b)) < 1e-8              # L-stable: R(-inf) = 0
    # the implemented step agrees with the formula
    for z in (-0.5, -10.0, -1e6):
        y1, _, _ = rosenbrock_step(RODAS4, lambda t, y: -1e3 * y, 0.0, jnp.ones(1), z / -1e3,
                                   -1e3 * jnp.ones(1))
        assert float(y1[0]) == pytest.approx(stability_function(z, b).real, rel=1e-10, abs=1e-14)


# --- accuracy --------------------------------------------------------------------------

@jax.jit
def _fixed_steps(n, lam):
    """n equal steps of RODAS4 over [0, 1] on Prothero–Robinson: (y1, y1 - error estimate)."""
    fn = lambda t, y: prothero_robinson(t, y, lam)

    def body(i, carry):
        y, y_hat = carry
        dt = 1.0 / n
        t = i * dt
        y1, err, _ = rosenbrock_step(RODAS4, fn, t, y, dt, fn(t, y))
        y1_hat, err_hat, _ = rosenbrock_step(RODAS4, fn, t, y_hat, dt, fn(t, y_hat))
        return y1, y1_hat - err_hat
    y0 = jnp.ones(1) + 0.0 * lam
    return jax.lax.fori_loop(0, n, body, (y0, y0))


def test_convergence_order_with_fixed_steps():
    # Non-autonomous, so the df/dt terms are exercised; lam = -2 is not stiff, where the
    # classical order shows (stiff problems can reduce it: Hairer & Wanner, section VI.3).
    ns = np.array([8, 16, 32, 64])
    errs, errs_hat = [], []
    for n in ns:
        y, y_hat = _fixed_steps(int(n), -2.0)
        errs.append(abs(float(y[0]) - np.cos(1.0)))
        errs_hat.append(abs(float(y_hat[0]) - np.cos(1.0)))
    slope = np.polyfit(np.log(1.0 / ns), np.log(errs), 1)[0]
    slope_hat = np.polyfit(np.log(1.0 / ns), np.log(errs_hat), 1)[0]
    assert abs(slope - 4) <= 0.3, (slope, errs)
    assert abs(slope_hat - 3) <= 0.3, (slope_hat, errs_hat)


def test_error_falls_with_tolerance_and_dense_output_is_accurate():
    ts = jnp.linspace(0.0, 5.0, 11)
    for tol in (1e-5, 1e-8):
        sol = odeint(prothero_robinson, jnp.array([1.0]), ts, -2.0, solver="rodas4",
                     rtol=tol, atol=tol)
        err = np.max(np.abs(np.asarray(sol.ys[:, 0]) - np.cos(np.asarray(ts))))
        assert err < 10 * tol, (tol, err)


def test_very_stiff_linear_problem_takes_few_steps():
    # y' = -1e6 (y - cos t): an explicit method needs ~1e6 steps per unit of time
    # (|h lambda| <= 3.3); an L-stable method steps at the accuracy of the slow solution.
    f = lambda t, y, args: -1e6 * (y - jnp.cos(t))
    exact = lambda t: (1e12 * np.cos(t) + 1e6 * np.sin(t)) / (1e12 + 1)  # after the transient
    sol = odeint(f, jnp.array([0.0]), jnp.array([0.0, 10.0]), solver="rodas4")
    assert abs(float(sol.ys[-1, 0]) - exact(10.0)) < 1e-5
    assert int(sol.stats["num_steps"]) < 100, sol.stats      # 49 measured
    # The error estimate vanishes as the stiffness grows, so the steps grow to ~1 and the
    # cubic dense output between them is only accurate to ~1e-2 here; dtmax bounds it.
    ts = jnp.linspace(0.0, 10.0, 21)
    sol = odeint(f, jnp.array([0.0]), ts, solver="rodas4", dtmax=0.1)
    assert np.max(np.abs(np.asarray(sol.ys[1:, 0]) - exact(np.asarray(ts[1:])))) < 1e-5


def _radau(f, jac, y0, ts, rtol, atol):
    return scipy.integrate.solve_ivp(f, (ts[0], ts[-1]), y0, method="Radau", t_eval=ts,
                                     rtol=rtol, atol=atol, jac=jac).y.T


def test_van_der_pol_mu_1000_agrees_with_scipy_radau():
    ts = np.array([0.0, 100.0, 400.0, 700.0, 1000.0])     # one relaxation jump, at t ~ 807
    f, jac = van_der_pol_np(1000.0)
    ref = _radau(f, jac, [2.0, 0.0], ts, 1e-10, 1e-10)
    sol = odeint(van_der_pol, jnp.array([2.0, 0.0]), jnp.asarray(ts), 1000.0, solver="rodas4",
                 rtol=1e-7, atol=1e-7, max_steps=20000)
    scale = 1e-7 * (1 + np.abs(ref))
    assert np.max(np.abs(np.asarray(sol.ys) - ref) / scale) < 100
    assert int(sol.stats["num_steps"]) < 2000, sol.stats


def test_robertson_agrees_with_scipy_radau():
    ts = np.array([0.0, 0.4, 4.0, 40.0, 400.0, 4e3, 4e4, 4e5])
    ref = _radau(robertson_np, robertson_jac_np, [1.0, 0.0, 0.0], ts, 1e-10, 1e-14)
    sol = odeint(robertson, jnp.array([1.0, 0.0, 0.0]), jnp.asarray(ts), ROBERTSON_K,
                 solver="rodas4",
                 rtol=1e-7, atol=1e-12)
    rel = np.abs(np.asarray(sol.ys) - ref) / (1e-12 + np.abs(ref))
    assert np.max(rel) < 1e-4, rel
    np.testing.assert_allclose(np.asarray(sol.ys).sum(1), 1.0, atol=1e-10)   # mass conserved
    assert int(sol.stats["num_steps"]) < 400, sol.stats


# --- statistics, float32, jit, vmap, pytrees --------------------------------------------

def test_stats_count_jacobians_and_linear_solves():
    sol = odeint(van_der_pol, jnp.array([2.0, 0.0]), jnp.array([0.0, 1.0]), 5.0,
                 solver="rodas4")
    s = {k: int(v) for k, v in sol.stats.items()}
    assert s["njev"] == s["num_steps"] and s["nlinsolve"] == 6 * s["num_steps"]
    assert s["nfe"] == 2 + 6 * s["num_steps"]           # f(t0, y0) + first-step probe
    assert s["num_steps"] == s["num_accepted_steps"] + s["num_rejected_steps"]
    explicit = odeint(van_der_pol, jnp.array([2.0, 0.0]), jnp.array([0.0, 1.0]), 5.0)
    assert int(explicit.stats["njev"]) == int(explicit.stats["nlinsolve"]) == 0


def test_float32_on_robertson():
    y0 = jnp.array([1.0, 0.0, 0.0], jnp.float32)
    k = tuple(jnp.float32(x) for x in ROBERTSON_K)
    sol = odeint(robertson, y0, jnp.array([0.0, 40.0], jnp.float32), k, solver="rodas4",
                 rtol=1e-4, atol=1e-8)
    assert sol.ys.dtype == jnp.float32
    ref = _radau(robertson_np, robertson_jac_np, [1.0, 0.0, 0.0], [0.0, 40.0], 1e-10, 1e-14)[-1]
    np.testing.assert_allclose(np.asarray(sol.ys[-1]), ref, rtol=2e-3)


def test_jit_vmap_and_pytree_states():
    ts = jnp.array([0.0, 0.5, 1.0])

    def f(t, y, mu):                      # the Van der Pol field on a dict state
        return {"x": y["v"], "v": mu * (1 - y["x"] ** 2) * y["v"] - y["x"]}

    solve = jax.jit(lambda y0, mu: odeint(f, y0, ts, mu, solver="rodas4").ys)
    mus = jnp.array([1.0, 10.0, 100.0])
    y0 = {"x": jnp.full(3, 2.0), "v": jnp.zeros(3)}
    batched = jax.vmap(solve)(y0, mus)
    for i, mu in enumerate(mus):
        single = odeint(van_der_pol, jnp.array([2.0, 0.0]), ts, mu, solver="rodas4").ys
        np.testing.assert_allclose(np.asarray(batched["x"][i]), np.asarray(single[:, 0]),
                                   rtol=1e-9, atol=1e-12)


# --- gradients -----------------------------------------------------------------------------

def _loss(mode, rtol=1e-10):
    def loss(y0, mu):
        sol = odeint(van_der_pol, y0, jnp.array([0.0, 0.5, 1.0]), mu, solver="rodas4",
                     rtol=rtol, atol=rtol, gradient=mode)
        return jnp.sum(sol.ys[1:] ** 2)
    return loss


@pytest.mark.parametrize("mode", ["checkpoint", "adjoint"])
def test_gradients_match_finite_differences_on_a_mildly_stiff_problem(mode):
    # Van der Pol with mu = 5: the Jacobian's fast eigenvalue is about -15 at the start.
    # (With mu = 20 the backward solve of the adjoint already loses the trajectory and
    # says so: backwards, the fast mode grows by about e^{60 t}.)
    y0, mu = jnp.array([2.0, 0.0]), jnp.asarray(5.0)
    g_y0, g_mu = jax.jit(jax.grad(_loss(mode), argnums=(0, 1)))(y0, mu)
    loss, eps = jax.jit(_loss("checkpoint", rtol=1e-12)), 1e-4
    fd_mu = (loss(y0, mu + eps) - loss(y0, mu - eps)) / (2 * eps)
    fd_y0 = [(loss(y0.at[i].add(eps), mu) - loss(y0.at[i].add(-eps), mu)) / (2 * eps)
             for i in range(2)]
    np.testing.assert_allclose(float(g_mu), float(fd_mu), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(g_y0), np.asarray(fd_y0), rtol=1e-5, atol=1e-8)


@pytest.mark.slow
def test_adjoint_on_a_stiff_problem_fails_loudly_or_agrees_with_checkpoint():
    # Backwards in time the fast modes of a stiff problem expand. Whatever the backward
    # solve does, the adjoint must not return a wrong gradient silently.
    y0, mu = jnp.array([2.0, 0.0]), jnp.asarray(1000.0)

    def loss(mode):
        def fn(mu):
            sol = odeint(van_der_pol, y0, jnp.array([0.0, 1000.0]), mu, solver="rodas4",
                         rtol=1e-6, atol=1e-6, gradient=mode, max_steps=20000)
            return jnp.sum(sol.ys[-1] ** 2)
        return fn
    exact = float(jax.grad(loss("checkpoint"))(mu))
    try:
        adjoint = float(jax.grad(loss("adjoint"))(mu))
    except nodelib.SOLVER_ERRORS as e:
        assert "backward solve" in str(e)
    else:
        assert adjoint == pytest.approx(exact, rel=1e-2), (adjoint, exact)


# --- errors --------------------------------------------------------------------------------

def test_errors_name_the_cause():
    y0, ts = jnp.array([2.0, 0.0]), jnp.array([0.0, 3000.0])
    with pytest.raises(nodelib.SolverError, match="max_steps=50"):
        odeint(van_der_pol, y0, ts, 1000.0, solver="rodas4", max_steps=50)
    solve = jax.jit(lambda y0: odeint(van_der_pol, y0, ts, 1000.0, solver="rodas4",
                                      max_steps=50).ys)
    with pytest.raises(nodelib.SOLVER_ERRORS, match="max_steps=50"):
        solve(y0)
    blow_up = lambda t, y, args: y ** 2                 # y = 1 / (1 - t): infinite at t = 1
    with pytest.raises(nodelib.SolverError, match="step size|NaN"):
        odeint(blow_up, jnp.array([1.0]), jnp.array([0.0, 2.0]), solver="rodas4")
    with pytest.raises(ValueError, match="rodas4"):
        odeint(van_der_pol, y0, ts, 1000.0, solver="rodas5")
    with pytest.raises(ValueError, match="dtmax must be positive"):
        odeint(van_der_pol, y0, ts, 1000.0, solver="rodas4", dtmax=-1.0)
    sol = odeint(van_der_pol, y0, ts, 1000.0, solver="rodas4", max_steps=50, throw=False)
    assert int(sol.result) == 1 and "max_steps" in sol.message

"""Never a silent wrong answer: failed solves and bad arguments raise clear errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nodelib
from nodelib import SolverError, odeint
from nodelib.solution import DT_UNDERFLOW, MAX_STEPS_REACHED, NONFINITE


def decay(t, y, args):
    return -y


def blow_up(t, y, args):          # y' = y^2, y(0) = 1: y = 1 / (1 - t) blows up at t = 1
    return y**2


def always_nan(t, y, args):
    return y * jnp.nan


Y0 = jnp.array([1.0])
TS = jnp.array([0.0, 2.0])


# --- failed solves ----------------------------------------------------------------------

def test_max_steps_raises_with_cause_time_and_fix():
    with pytest.raises(SolverError, match=r"max_steps=3 .*stopped at t=.*Raise max_steps"):
        odeint(decay, Y0, TS, max_steps=3)


def test_max_steps_fixed_step():
    with pytest.raises(SolverError, match="max_steps=10"):
        odeint(decay, Y0, TS, solver="euler", dt0=0.01, max_steps=10)


def test_step_size_underflow():
    with pytest.raises(SolverError, match=r"step size shrank .* at t=(0\.99|1 )"):
        odeint(blow_up, Y0, TS)


def test_tiny_steps_near_t0_are_not_an_underflow_in_float32():
    # A first step of 1e-8 is far below float32's eps * |t_end| = 1.2e-7 but perfectly
    # representable next to t = 0: the solve must go on (it once stopped with dt_underflow).
    sol = odeint(decay, jnp.ones(1, jnp.float32), jnp.array([0.0, 1.0], jnp.float32), dt0=1e-8)
    np.testing.assert_allclose(sol.ys[-1, 0], np.exp(-1.0), rtol=1e-5)


def test_nonfinite_state():
    with pytest.raises(SolverError, match="NaN or infinite at t=0"):
        odeint(always_nan, Y0, TS)
    with pytest.raises(SolverError, match="NaN or infinite"):
        odeint(blow_up, Y0, jnp.array([0.0, 50.0]), solver="euler", dt0=0.5)


@pytest.mark.parametrize("f,kwargs,code", [
    (decay, dict(max_steps=3), MAX_STEPS_REACHED),
    (blow_up, {}, DT_UNDERFLOW),
    (always_nan, {}, NONFINITE),
])
def test_throw_false_reports_result_and_marks_missing_outputs(f, kwargs, code):
    sol = odeint(f, Y0, jnp.array([0.0, 1.5, 2.0]), throw=False, **kwargs)
    assert int(sol.result) == code and not bool(sol.succeeded)
    assert np.isnan(np.asarray(sol.ys[-1])).all()       # never a silent wrong answer
    assert "nodelib.odeint failed" in sol.message


def test_failure_under_jit_raises():
    run = jax.jit(lambda y0: odeint(decay, y0, TS, max_steps=3).ys)
    with pytest.raises(nodelib.SOLVER_ERRORS, match="max_steps=3"):
        jax.block_until_ready(run(Y0))


def test_failure_of_one_batch_element_under_vmap_raises():
    run = jax.jit(jax.vmap(lambda y0: odeint(blow_up, y0, TS).ys))
    with pytest.raises(nodelib.SOLVER_ERRORS, match="step size shrank"):
        jax.block_until_ready(run(jnp.array([[-1.0], [1.0]])))


def test_successful_batch_under_vmap_never_calls_the_host(monkeypatch):
    # The check's condition is whether any solve of the batch failed, so the cond stays a
    # cond under vmap and the host is called only on failure (then with the whole batch).
    calls = []
    real = nodelib.solution.raise_if_failed
    monkeypatch.setattr(nodelib.solution, "raise_if_failed",
                        lambda *a, **k: (calls.append(np.shape(a[0])), real(*a, **k)))
    run = jax.jit(jax.vmap(jax.vmap(lambda y0: odeint(blow_up, y0, TS).ys[-1])))
    jax.block_until_ready(run(-jnp.ones((2, 3, 1))))
    assert calls == []
    with pytest.raises(nodelib.SOLVER_ERRORS, match=r"batch element 4 of 6"):
        jax.block_until_ready(run(jnp.array([[-1.0, -2.0, -3.0], [-1.0, 1.0, -1.0]])[..., None]))
    assert calls == [(2, 3)]


@pytest.mark.parametrize("gradient", ["adjoint", "checkpoint", "backprop"])
def test_failure_in_a_vmapped_gradient_raises(gradient):
    loss = lambda y0: jnp.sum(odeint(blow_up, y0, TS, gradient=gradient).ys[-1])
    run = jax.jit(jax.vmap(jax.grad(loss)))
    np.testing.assert_allclose(run(-jnp.ones((2, 1))), 1 / 9, rtol=1e-4)  # y = y0/(1-y0 t)
    with pytest.raises(nodelib.SOLVER_ERRORS, match="step size shrank"):
        jax.block_until_ready(run(jnp.array([[-1.0], [1.0]])))


@pytest.mark.parametrize("use", [lambda sol: sol.ys, lambda sol: sol.stats["nfe"],
                                 lambda sol: sol.result])
def test_check_under_jit_survives_whatever_part_of_the_solution_is_used(use):
    run = jax.jit(lambda y0: use(odeint(decay, y0, TS, max_steps=3)))
    with pytest.raises(nodelib.SOLVER_ERRORS, match="max_steps=3"):
        jax.block_until_ready(run(Y0))


@pytest.mark.parametrize("gradient", ["adjoint", "checkpoint", "backprop"])
def test_failure_inside_a_jitted_gradient_raises(gradient):
    # jax.grad drops the primal output; the check must still run, and before any adjoint.
    loss = lambda y0: jnp.sum(odeint(decay, y0, TS, max_steps=3, gradient=gradient).ys[-1])
    with pytest.raises(nodelib.SOLVER_ERRORS, match="max_steps=3"):
        jax.block_until_ready(jax.jit(jax.grad(loss))(Y0))


def test_failure_of_the_adjoint_backward_solve_raises():
    # The forward solve meets its loose tolerance; the backward one cannot meet 1e-13 in 60 steps.
    loss = lambda y0: jnp.sum(odeint(decay, y0, TS, rtol=1e-3, atol=1e-3, max_steps=60,
                                     adjoint_rtol=1e-13, adjoint_atol=1e-13).ys[-1])
    with pytest.raises(nodelib.SOLVER_ERRORS, match="adjoint's backward solve.*max_steps=60"):
        jax.block_until_ready(jax.jit(jax.grad(loss))(Y0))


def test_adjoint_that_loses_the_forward_trajectory_raises():
    # Backwards, y' = -y multiplies the forward solve's error in y(20) by e^20: the recomputed
    # y(0) is far from 1 and the gradient meaningless. It must raise, not return it.
    final = lambda y0, ts: odeint(decay, y0, ts).ys[-1, 0]
    with pytest.raises(nodelib.SOLVER_ERRORS,
                       match=r"backward solve: solving backwards from t=20, it lost the forward "
                             r"trajectory: at t=0 .*gradient='checkpoint' \(the exact gradient "
                             r"of the solver's steps\), or add output times"):
        jax.block_until_ready(jax.grad(final)(Y0, jnp.array([0.0, 20.0])))
    # The fix the message names: output times one unit apart, each restarting the backward solve.
    g = jax.grad(final)(Y0, jnp.linspace(0.0, 20.0, 21))
    np.testing.assert_allclose(g, np.exp(-20.0), rtol=1e-2)


def test_lost_trajectory_needs_both_a_relative_and_a_tolerance_sized_drift():
    from nodelib.adjoint import lost_trajectory
    y = jnp.array([1.0, -2.0])
    assert not lost_trajectory(y + 0.5, y, 1e-3, 1e-3)     # 30 % but ~300 tolerances
    assert not lost_trajectory(y + 1e-3, y, 1e-9, 1e-9)    # 1e6 tolerances but 0.06 %
    assert lost_trajectory(y + 0.5, y, 1e-6, 1e-6)
    assert not lost_trajectory(jnp.zeros(2), jnp.zeros(2), 1e-6, 1e-6)


def test_failure_after_a_successful_call_is_caught_by_solver_errors():
    # Once a jitted function has succeeded, JAX (>= 0.7.2) reports a callback's exception as a
    # plain ValueError (jax-ml/jax issue 34083); SOLVER_ERRORS must still catch it.
    run = jax.jit(lambda y0, t1: odeint(decay, y0, jnp.stack([0.0, t1]), max_steps=20).ys)
    jax.block_until_ready(run(Y0, 1.0))
    with pytest.raises(nodelib.SOLVER_ERRORS, match=r"nodelib.odeint failed.*max_steps=20"):
        jax.block_until_ready(run(Y0, 1000.0))


def test_success_under_jit_does_not_raise():
    ys = jax.jit(lambda y0: odeint(decay, y0, TS).ys)(Y0)
    np.testing.assert_allclose(ys[-1], np.exp(-2.0) * np.ones(1), rtol=1e-5)


# --- bad arguments ----------------------------------------------------------------------

@pytest.mark.parametrize("ts,match", [
    ([0.0, 1.0, 1.0], "strictly increasing or strictly decreasing"),
    ([0.0, 2.0, 1.0], "strictly increasing or strictly decreasing"),
    ([0.0], "at least 2 times"),
    ([[0.0, 1.0]], r"got shape \(1, 2\)"),
    ([0.0, np.nan], "finite"),
])
def test_bad_times(ts, match):
    with pytest.raises(ValueError, match=match):
        odeint(decay, Y0, jnp.asarray(ts))


@pytest.mark.parametrize("name", ["rtol", "atol"])
@pytest.mark.parametrize("value", [0.0, -1e-3])
def test_tolerances_must_be_positive(name, value):
    with pytest.raises(ValueError, match=f"{name} must be positive"):
        odeint(decay, Y0, TS, **{name: value})


def test_unknown_solver_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown solver 'rk45'.*euler, midpoint, rk4, dopri5"):
        odeint(decay, Y0, TS, solver="rk45")


def test_fixed_step_solver_needs_dt0():
    with pytest.raises(ValueError, match="'rk4' takes fixed steps .* dt0="):
        odeint(decay, Y0, TS, solver="rk4")


def test_dt0_must_be_positive():
    with pytest.raises(ValueError, match="dt0 must be positive"):
        odeint(decay, Y0, TS, solver="rk4", dt0=-0.1)


def test_integer_state_is_rejected():
    with pytest.raises(TypeError, match="dtype int.* floating point"):
        odeint(decay, jnp.array([1, 2]), TS)


def test_vector_field_shape_mismatch():
    with pytest.raises(ValueError, match=r"returned shape \(3,\) for a state of shape \(2,\)"):
        odeint(lambda t, y, a: jnp.zeros(3), jnp.ones(2), TS)


def test_vector_field_structure_mismatch():
    with pytest.raises(ValueError, match="must return the structure of y"):
        odeint(lambda t, y, a: (y, y), jnp.ones(2), TS)


def test_vector_field_with_the_jax_ode_argument_order():
    with pytest.raises(TypeError, match=r"f\(t, y, args\)"):
        odeint(lambda y, t: -y, Y0, TS)


@pytest.mark.parametrize("kwargs,match", [
    (dict(gradient="finite-differences"), "gradient must be one of"),
    (dict(max_steps=0), "max_steps must be a positive integer"),
])
def test_other_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        odeint(decay, Y0, TS, **kwargs)


def test_error_ratio_is_not_finite_when_the_new_state_is_infinite():
    # An infinite y1 makes its own scale infinite; the error norm must still flag it.
    from nodelib.control import error_ratio
    y0, y_err = jnp.ones(3), jnp.full(3, 1e-9)
    y1 = jnp.array([1.0, jnp.inf, 1.0])
    jitted = jax.jit(error_ratio, static_argnums=(3, 4))
    assert not np.isfinite(float(jitted(y_err, y0, y1, 1e-6, 1e-6)))
    assert np.isfinite(float(error_ratio(y_err, y0, jnp.ones(3), 1e-6, 1e-6)))


def test_an_infinite_vector_field_is_reported_by_dopri5():
    f = lambda t, y, args: jnp.where(t > 0.5, jnp.inf, 1.0) * y
    with pytest.raises(SolverError, match="NaN or infinite at t=0.5"):
        odeint(f, Y0, TS)

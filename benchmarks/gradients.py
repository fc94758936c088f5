"""Gradient cost of a neural ODE, and the cost of CNF trace estimates.

1. A 2 -> 64 -> 2 tanh MLP vector field over t in [0, 10], rtol = atol = 1e-6, float64: wall
   time of one gradient (median of repeats after compilation) and the number of vector-field
   evaluations in the forward and backward passes, for nodelib's adjoint and backprop,
   jax.experimental.ode.odeint and diffrax (BacksolveAdjoint and its default), as ratios
   to nodelib's adjoint. Evaluations are counted on the host by a callback in the field.
2. Cost of one CNF dynamics evaluation with Hutchinson's estimator and with the exact
   trace, relative to one evaluation of f, at D = 2, 32, 512.

    .venv/bin/python benchmarks/gradients.py
"""
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import nodelib  # noqa: E402
from nodelib.models import exact_trace, hutchinson_trace  # noqa: E402

T1, TOL, REPEATS = 10.0, 1e-6, 21
COUNT = []


def field(t, y, params, counted=False):
    if counted:
        jax.debug.callback(lambda: COUNT.append(1))
    return nodelib.mlp(params, y)


def median_time(fn, *args):
    jax.block_until_ready(fn(*args))                        # compile
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def count_evals(fn, *args):
    COUNT.clear()
    jax.block_until_ready(fn(*args))
    jax.effects_barrier()
    return len(COUNT)


def methods():
    y0 = jnp.array([1.0, -0.5])
    ts = jnp.array([0.0, T1])

    def nodelib_loss(gradient, counted):
        def loss(p):
            f = lambda t, y, p: field(t, y, p, counted)
            return jnp.sum(nodelib.odeint(f, y0, ts, p, rtol=TOL, atol=TOL, gradient=gradient,
                                          max_steps=2048).ys[-1] ** 2)
        return loss

    def jax_ode_loss(counted):
        from jax.experimental.ode import odeint

        def loss(p):
            return jnp.sum(odeint(lambda y, t, p: field(t, y, p, counted), y0, ts, p,
                                  rtol=TOL, atol=TOL)[-1] ** 2)
        return loss

    def diffrax_loss(adjoint_name, counted):
        import diffrax

        def loss(p):
            term = diffrax.ODETerm(lambda t, y, p: field(t, y, p, counted))
            adjoint = diffrax.BacksolveAdjoint() if adjoint_name == "backsolve" else \
                diffrax.RecursiveCheckpointAdjoint()
            sol = diffrax.diffeqsolve(term, diffrax.Dopri5(), 0.0, T1, None, y0, args=p,
                                      stepsize_controller=diffrax.PIDController(rtol=TOL, atol=TOL),
                                      adjoint=adjoint, max_steps=2048)
            return jnp.sum(sol.ys[-1] ** 2)
        return loss

    yield "nodelib adjoint", lambda c: nodelib_loss("adjoint", c)
    yield "nodelib backprop", lambda c: nodelib_loss("backprop", c)
    yield "jax.experimental.ode", jax_ode_loss
    try:
        import diffrax  # noqa: F401
        yield "diffrax BacksolveAdjoint", lambda c: diffrax_loss("backsolve", c)
        yield "diffrax default (checkpointed)", lambda c: diffrax_loss("default", c)
    except ImportError:
        print("(diffrax not installed: `make bench` installs it)")


def gradient_table():
    params = nodelib.init_mlp(jax.random.PRNGKey(0), [2, 64, 2], dtype=jnp.float64, scale=None)
    rows = []
    for name, make in methods():
        fwd = count_evals(jax.jit(make(True)), params)
        total = count_evals(jax.jit(jax.grad(make(True))), params)
        wall = median_time(jax.jit(jax.grad(make(False))), params)
        rows.append((name, wall, fwd, total - fwd))
    base = rows[0][1]
    print(f"Gradient of a 2-64-2 tanh MLP neural ODE on [0, {T1:g}], rtol = atol = {TOL:g}, float64")
    print(f"{'method':<34}{'time (ms)':>10}{'ratio':>8}{'NFE fwd':>9}{'NFE bwd':>9}")
    for name, wall, fwd, bwd in rows:
        print(f"{name:<34}{1e3 * wall:>10.2f}{wall / base:>8.2f}{fwd:>9}{bwd:>9}")
    print("(NFE counted by a host callback in the vector field; for backward passes that "
          "recompute the forward under autodiff, the count is what actually ran)")


def trace_table(batch=256):
    print(f"\nCost of one CNF dynamics evaluation relative to one evaluation of f "
          f"(median times, a batch of {batch} states per call so call overhead is amortised)")
    print(f"{'D':>6}{'hutchinson / f':>16}{'exact / f':>12}{'bound D+1':>11}")
    for d in (2, 32, 512):
        params = nodelib.init_mlp(jax.random.PRNGKey(d), [d + 1, 64, d], dtype=jnp.float64)
        z = jax.random.normal(jax.random.PRNGKey(1), (batch, d), dtype=jnp.float64)
        eps = jax.random.rademacher(jax.random.PRNGKey(2), (batch, d), dtype=jnp.float64)
        f = jax.jit(jax.vmap(lambda z: nodelib.time_mlp(0.0, z, params)))
        hutch = jax.jit(jax.vmap(lambda z, e: hutchinson_trace(nodelib.time_mlp, 0.0, z, params, e)))
        exact = jax.jit(jax.vmap(lambda z: exact_trace(nodelib.time_mlp, 0.0, z, params)))
        f_time = median_time(f, z)
        h_time, e_time = median_time(hutch, z, eps), median_time(exact, z)
        print(f"{d:>6}{h_time / f_time:>16.2f}{e_time / f_time:>12.2f}{d + 1:>11}")


if __name__ == "__main__":
    gradient_table()
    trace_table()

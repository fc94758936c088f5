"""`odeint`: the one entry point. Checks its arguments, flattens pytree states, picks the
gradient method, and raises `SolverError` when a solve fails."""
import numbers
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .adjoint import _split_parameters, adjoint_solve, backward
from .integrate import Config, solve
from .rosenbrock import RosenbrockTableau
from .solution import Solution, checked, raise_if_failed
from .tableaus import SOLVERS, ButcherTableau

GRADIENTS = ("adjoint", "checkpoint", "backprop")
_BACKWARD_PASS = {"adjoint": "the adjoint", "checkpoint": "the checkpointed gradient"}


def odeint(f, y0, ts, args=None, *, solver="dopri5", rtol=1e-6, atol=1e-6, dt0=None,
           dtmax=None, max_steps=4096, gradient="adjoint", throw=True, adjoint_rtol=None,
           adjoint_atol=None) -> Solution:
    """Solve y' = f(t, y, args) from y(ts[0]) = y0 and return the states at all times `ts`.

    Args:
        f: vector field `f(t, y, args)` returning a pytree shaped like `y` (the order of
            scipy's `solve_ivp`, diffrax and torchdiffeq; `jax.experimental.ode` uses
            `f(y, t, *args)`).
        y0: initial state: a floating-point array or a pytree of them.
        ts: output times, strictly increasing or strictly decreasing, at least two.
        args: any pytree passed to f; gradients flow to all its floating-point leaves.
        solver: "dopri5" (adaptive, default); "rodas4" (adaptive, for stiff problems: a
            linearly implicit Rosenbrock method of order 4 that computes the Jacobian of f
            with `jax.jacfwd` and solves linear systems of the state's size at every step,
            see `nodelib.rosenbrock`); "euler", "midpoint", "rk4" (fixed step, need dt0);
            or a `ButcherTableau` or `RosenbrockTableau`.
        rtol, atol: relative and absolute tolerances of the adaptive solver. In float32,
            tolerances below about 1e-6 cannot be met; use float64 for tighter ones.
        dt0: step size of a fixed-step solver (the largest step; each output interval gets
            a whole number of equal steps), or the first step of dopri5 and rodas4 (default:
            chosen automatically). Always positive: the direction comes from ts.
        dtmax: largest step of dopri5 and rodas4 (default: none), so that it cannot step over a
            short feature of f (scipy's `max_step`, diffrax's `dtmax`, jax's `hmax`).
            Fixed-step solvers take steps of at most dt0 and do not accept it.
        max_steps: most step attempts (accepted or rejected) before giving up.
        gradient: how derivatives of the solve are computed.
            "adjoint" (default): the continuous adjoint (Chen et al. 2018), solving an
            augmented system backwards; memory constant in the number of steps, gradients
            accurate to the tolerances. Reverse mode (`jax.grad`, `jax.vjp`, `jax.jacrev`)
            and second derivatives (`jax.hessian`, grad of grad); no forward mode.
            "checkpoint": the exact derivative of the solver's own steps
            (discretise-then-optimise) by a reverse pass over checkpoints recorded at three
            levels: 55 saved states at the default max_steps (82 at 20,000), and a solve of
            up to 32 steps runs each step twice forwards and once backwards, a longer one
            three or four times forwards (see `nodelib.checkpoint`); for a wide f on a batch
            of states, the reverse pass evaluates f again rather than keep its intermediate
            values (`nodelib.remat`). Reverse
            mode and second derivatives (grad of grad, `jax.hessian`, which run at
            "backprop"'s cost); no forward mode.
            "backprop": the same numbers, with JAX differentiating the solver's steps itself
            (checkpointed scans, see `integrate.run_loop`): every mode of differentiation,
            to any order, forward mode (`jax.jvp`, `jax.jacfwd`) included; for a gradient it
            is slower than "checkpoint" and keeps a copy of the parameters per checkpoint.
        throw: if True, a failed solve raises `SolverError`; if False, check `sol.result`.
        adjoint_rtol, adjoint_atol: tolerances of the adjoint's backward solve (default:
            the forward ones).

    Returns:
        `Solution` with `ts`, `ys` (leading axis over ts), `stats`, `result`, `t_reached`.
        `stats` counts evaluations of f ("nfe", Jacobians not included), step attempts,
        Jacobians ("njev") and linear solves ("nlinsolve"); the last two are 0 for the
        explicit solvers.

    Raises:
        TypeError, ValueError: bad arguments, with what was received and what is expected.
        SolverError: with throw=True, when the solve fails (max_steps reached, step size
            underflow, non-finite state; for a gradient, an adjoint backward solve that
            failed or lost the forward trajectory). Under `jax.jit` JAX reports it as a
            `jax.errors.JaxRuntimeError`, or a `ValueError` once the jitted function has
            run before, carrying the same message (catch `nodelib.SOLVER_ERRORS`).
    """
    tableau = _check_solver(solver, dt0)
    if dtmax is not None and not tableau.adaptive:
        raise ValueError(f"dtmax limits the steps of an adaptive solver; {tableau.name!r} "
                         "takes fixed steps of at most dt0: lower dt0 instead")
    if not callable(f):
        raise TypeError(f"f must be a callable f(t, y, args); got {type(f).__name__}")
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}; got {gradient!r}")
    dtype = _check_state(y0)
    ts = _check_times(ts, dtype)
    rtol, atol = _positive("rtol", rtol), _positive("atol", atol)
    if not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise ValueError(f"max_steps must be a positive integer; got {max_steps!r}")
    cfg = Config(tableau, rtol, atol, None if dt0 is None else _positive("dt0", dt0),
                 int(max_steps),
                 differentiable={"adjoint": False, "checkpoint": "checkpoint",
                                 "backprop": True}[gradient],
                 dtmax=None if dtmax is None else _positive("dtmax", dtmax))
    adj = (_positive("adjoint_rtol", adjoint_rtol) if adjoint_rtol is not None else rtol,
           _positive("adjoint_atol", adjoint_atol) if adjoint_atol is not None else atol)
    try:
        sol = _odeint(f, y0, ts, args, cfg, gradient, adj)
    except TypeError as e:
        if "forward-mode autodiff" not in str(e):
            raise
        raise TypeError(
            f"odeint(..., gradient={gradient!r}) supports reverse mode (jax.grad, jax.vjp, "
            "jax.jacrev) and second derivatives built on it (jax.hessian, grad of grad), but "
            f"not forward mode (jax.jvp, jax.jacfwd): {_BACKWARD_PASS[gradient]} is defined "
            "by its backward pass. Use gradient='backprop', which supports every mode"
        ) from None
    if throw:
        if any(isinstance(x, jax.core.Tracer) for x in (sol.result, sol.t_reached)):
            # under jit (or a transformation): raise when the program runs
            sol = checked(sol, sol.result, sol.t_reached, ts[-1], cfg.max_steps)
        else:
            raise_if_failed(sol.result, sol.t_reached, ts[-1], cfg.max_steps)
    return sol


def _flatten_problem(f, y0):
    """Ravel a pytree state into one vector (n,) and wrap f to work on such vectors."""
    y0_flat, unravel = ravel_pytree(y0)                         # (n,)
    dtype = y0_flat.dtype

    def f_flat(t, y, args):
        out = f(t, unravel(y), args)
        return jnp.concatenate([jnp.ravel(x).astype(dtype) for x in jax.tree_util.tree_leaves(out)])

    return y0_flat, unravel, f_flat


@partial(jax.jit, static_argnums=(0, 4, 5, 6))
def _odeint(f, y0, ts, args, cfg, gradient, adj_tols):
    _check_vector_field(f, ts[0], y0, args)
    y0_flat, unravel, f_flat = _flatten_problem(f, y0)
    if gradient == "adjoint":
        ys, stats, result, t_reached = adjoint_solve(f_flat, y0_flat, ts, args, cfg, adj_tols)
    else:
        # Parameters f closes over become explicit arguments, so that they are differentiated.
        fc, diff, _ = _split_parameters(f_flat, ts, y0_flat, args)
        ys, stats, result, t_reached = solve(fc, y0_flat, ts, diff, cfg)
    return Solution(ts=ts, ys=jax.vmap(unravel)(ys), stats=stats, result=result,
                    t_reached=t_reached)


class AdjointPass(NamedTuple):
    """Forward solve, gradients and the cost of the backward pass (see `adjoint_pass`)."""
    forward: Solution
    grads: dict            # {"y0": like y0, "args": like args, "ts": (T,)}
    backward_stats: dict   # summed over the backward solves of all output intervals


def adjoint_pass(f, y0, ts, args=None, cotangent=None, **kwargs) -> AdjointPass:
    """Run the adjoint method step by step, to see what the backward pass costs.

    `jax.grad` of a loss through `odeint(..., gradient="adjoint")` computes the same
    gradients, but hides the backward solve; this function returns its statistics.

    Args:
        f, y0, ts, args: as for `odeint`.
        cotangent: dL/dys, with the structure of `sol.ys`; default: the gradient of
            sum(ys[-1]) (all ones at the last time, zeros before).
        **kwargs: the keyword options of `odeint` (solver, rtol, atol, adjoint_rtol, ...).

    Returns:
        `AdjointPass(forward, grads, backward_stats)`.
    """
    if kwargs.get("gradient", "adjoint") != "adjoint":
        raise ValueError("adjoint_pass runs the adjoint method; do not pass gradient=...")
    kwargs.pop("gradient", None)
    forward = odeint(f, y0, ts, args, **kwargs)
    if cotangent is None:
        cotangent = jax.tree_util.tree_map(lambda y: jnp.zeros_like(y).at[-1].set(1), forward.ys)
    rtol, atol = float(kwargs.get("rtol", 1e-6)), float(kwargs.get("atol", 1e-6))
    cfg = Config(_check_solver(kwargs.get("solver", "dopri5"), kwargs.get("dt0")), rtol, atol,
                 kwargs.get("dt0"), int(kwargs.get("max_steps", 4096)),
                 dtmax=None if kwargs.get("dtmax") is None else float(kwargs["dtmax"]))
    adj = (float(kwargs.get("adjoint_rtol") or rtol), float(kwargs.get("adjoint_atol") or atol))
    grads, stats, result, (t_reached, target) = _adjoint_pass(f, forward.ys, forward.ts, args,
                                                              cotangent, cfg, adj)
    if kwargs.get("throw", True):
        raise_if_failed(result, t_reached, target, cfg.max_steps,
                        context="the adjoint's backward solve")
    return AdjointPass(forward, grads, stats)


@partial(jax.jit, static_argnums=(0, 5, 6))
def _adjoint_pass(f, ys, ts, args, cotangent, cfg, adj_tols):
    y0 = jax.tree_util.tree_map(lambda y: y[0], ys)
    y0_flat, _, f_flat = _flatten_problem(f, y0)
    ys_flat = jax.vmap(lambda y: ravel_pytree(y)[0])(ys)                 # (T, n)
    g_flat = jax.vmap(lambda g: ravel_pytree(g)[0])(cotangent)           # (T, n)
    fc, diff, unsplit = _split_parameters(f_flat, ts, y0_flat, args)
    (a0, a_p, a_t), ts_bar, result, stats, where = backward(fc, cfg, adj_tols, ys_flat, ts,
                                                            diff, g_flat)
    _, unravel = ravel_pytree(y0)
    grads = {"y0": unravel(a0), "args": unsplit(a_p), "ts": ts_bar.at[0].set(a_t)}
    return grads, stats, result, where


def _check_solver(solver, dt0):
    if isinstance(solver, (ButcherTableau, RosenbrockTableau)):
        tableau = solver
    elif isinstance(solver, str) and solver in SOLVERS:
        tableau = SOLVERS[solver]
    else:
        raise ValueError(f"unknown solver {solver!r}; known solvers: {', '.join(SOLVERS)} "
                         "(rodas4 for stiff problems), or a nodelib.ButcherTableau or "
                         "nodelib.RosenbrockTableau")
    if isinstance(tableau, RosenbrockTableau):
        return tableau
    if not tableau.adaptive and dt0 is None:
        raise ValueError(f"solver {tableau.name!r} takes fixed steps and needs a step size: "
                         "pass dt0=... (e.g. dt0=0.01), or use solver='dopri5' for adaptive steps")
    if tableau.adaptive and not tableau.fsal:
        raise ValueError(f"adaptive solver {tableau.name!r} must be first-same-as-last (FSAL) "
                         "for nodelib's dense output")
    return tableau


def _check_state(y0):
    leaves = jax.tree_util.tree_leaves(y0)
    if not leaves:
        raise ValueError(f"y0 must contain at least one array; got {y0!r}")
    for leaf in leaves:
        dtype = jnp.result_type(leaf)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"y0 has a leaf of dtype {dtype}; ODE states must be floating point. "
                            "Convert it, e.g. jnp.asarray(y0, dtype=jnp.float32)")
    return jnp.result_type(*leaves)


def _check_times(ts, dtype):
    ts_arr = jnp.asarray(ts)
    if ts_arr.ndim != 1 or ts_arr.shape[0] < 2:
        raise ValueError(f"ts must be a 1-D array of at least 2 times (start, ..., end); "
                         f"got shape {ts_arr.shape}")
    ts_arr = ts_arr.astype(dtype)
    if not isinstance(ts_arr, jax.core.Tracer):       # values can only be checked outside jit
        d = np.diff(np.asarray(ts_arr))
        if not (np.all(np.isfinite(np.asarray(ts_arr))) and (np.all(d > 0) or np.all(d < 0))):
            raise ValueError("ts must be finite and strictly increasing or strictly decreasing "
                             f"(in the state's dtype {dtype}); got {np.asarray(ts)}")
    return ts_arr


def _positive(name, x):
    if isinstance(x, jax.core.Tracer) or not isinstance(x, (numbers.Real, np.ndarray, np.generic)):
        raise TypeError(f"{name} must be a positive Python number; got {type(x).__name__}")
    value = float(x)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite; got {x!r}")
    return value


def _check_vector_field(f, t0, y0, args):
    try:
        out = jax.eval_shape(f, t0, y0, args)
    except TypeError as e:
        raise TypeError(f"calling f(t, y, args) failed: {e}. nodelib calls the vector field as "
                        "f(t, y, args) (jax.experimental.ode uses f(y, t, *args))") from e
    want, got = jax.tree_util.tree_structure(y0), jax.tree_util.tree_structure(out)
    if want != got:
        raise ValueError(f"f(t, y, args) must return the structure of y; y is {want}, "
                         f"f returned {got}")
    for a, b in zip(jax.tree_util.tree_leaves(y0), jax.tree_util.tree_leaves(out)):
        if jnp.shape(a) != b.shape:
            raise ValueError(f"f(t, y, args) returned shape {b.shape} for a state of shape "
                             f"{jnp.shape(a)}; it must return dy/dt with the state's shape")

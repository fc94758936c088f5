"""The solve loops: fixed steps that land on every output time, and adaptive steps (explicit
Dormand–Prince, or the stiff Rosenbrock method RODAS4) with error control and dense output.
States are flat vectors here (see `nodelib.odeint`).

Both loops are written once, as a `body` taking the loop state to the next one, and run by
`run_loop`: a `lax.while_loop` (fast, used whenever the solve is not differentiated); with
`gradient="checkpoint"`, the while loop of `nodelib.checkpoint`, which records checkpoints
for a reverse pass of its own; or, when JAX differentiates through the steps itself
(`gradient="backprop"`, second derivatives, and the adjoint's own solves under second
derivatives), nested scans of checkpointed chunks that skip the work once the solve is done.
"""
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from . import control, rosenbrock
from .checkpoint import any_in_batch, checkpointed_loop
from .remat import recompute_in_reverse, worth_recomputing
from .rk import dense_coefficients, interpolate, rk_step
from .rosenbrock import RosenbrockTableau
from .solution import DT_UNDERFLOW, MAX_STEPS_REACHED, NONFINITE, SUCCESS
from .tableaus import ButcherTableau


class Config(NamedTuple):
    """Static settings of one solve (hashable, so `jax.jit` can key on it)."""
    tableau: ButcherTableau | RosenbrockTableau
    rtol: float
    atol: float
    dt0: float | None
    max_steps: int
    differentiable: bool | str = False  # True: JAX can differentiate the loop (`run_loop`);
    #                                     "checkpoint": `checkpoint.checkpointed_loop`
    dtmax: float | None = None        # largest step of an adaptive solver


def chunk_sizes(max_steps: int):
    """Sizes (middle, outer) of the nested chunks of a differentiable loop (`run_loop`).

    middle * outer >= max_steps, both about sqrt(max_steps): 64 x 64 for the default 4096
    steps, 141 x 142 for 20,000, 22 x 23 for 500.
    """
    middle = max(1, int(round(max_steps ** 0.5)))
    return middle, -(-max_steps // middle)


def run_loop(cond, body, state, cfg: Config, reverse_body=None):
    """Iterate `body` while `cond` holds, at most `cfg.max_steps` times.

    Not differentiable (`cfg.differentiable=False`): a `lax.while_loop`.

    `cfg.differentiable="checkpoint"`: `checkpoint.checkpointed_loop`, a while loop with a
    reverse pass of its own (first-order reverse mode), which differentiates
    `reverse_body` (the same step, with f evaluated again in the reverse pass; `body` if
    None); its derivatives of higher order fall back on `scan_loop` over `body`.

    Differentiable by JAX (gradient="backprop", `scan_loop`): reverse mode needs loops of
    fixed length, and a plain `lax.scan` of max_steps steps stores every step's
    intermediate values, used or not
    (1.8 GB at the default max_steps for a batch-64 MLP field that takes 15 steps). Instead
    the steps run in two nested levels of chunks (`chunk_sizes`). Each chunk is skipped
    whole once the solve is done (a `lax.cond`, kept unbatched under `jax.vmap` by
    `any_in_batch`), and each chunk and each step is a `jax.checkpoint`: its backward pass
    recomputes it from the state at its start. This is recursive checkpointing with two
    levels of checkpoints (Griewank and Walther, *Evaluating Derivatives*, 2008, ch. 12)
    done by JAX's own `jax.checkpoint`:

        memory:  (middle + outer) saved states + the intermediates of one step:
                 about 2 sqrt(max_steps) states, 128 at 4096, 283 at 20,000. Each saved
                 state comes with a copy of the parameters f closes over: JAX's
                 linearisation of `lax.cond` returns its operands as residuals, and `scan`
                 stacks them (the checkpoint outside the cond would avoid the copies, but
                 then a skipped chunk's backward pass fills a whole chunk's residuals with
                 zeros: measured 1.6-2x slower on batched neural fields);
        time:    each step taken runs three times forwards and once backwards; chunks that
                 are skipped cost one `lax.cond` each.

    Everything stays differentiable by JAX to any order, forward mode included. (Measured on
    the benchmark's neural fields: chunks of single steps are both faster and smaller than
    chunks of 4 or 16 steps; longer chunks only flatten the memory's growth with max_steps.)
    """
    if not cfg.differentiable:
        return lax.while_loop(cond, body, state)
    if cfg.differentiable == "checkpoint":
        return checkpointed_loop(cond, body, state, cfg.max_steps,
                                 lambda c, b, s: scan_loop(c, b, s, cfg), reverse_body)
    return scan_loop(cond, body, state, cfg)


def scan_loop(cond, body, state, cfg: Config):
    """The loop of `run_loop` written so that JAX can differentiate it to any order."""
    middle, outer = chunk_sizes(cfg.max_steps)

    def step(s):
        # Only reached inside a chunk that some solve still needs (see `repeat`): without
        # vmap that solve is this one, so `body` always runs; under vmap the select leaves
        # the finished solves of the batch as they are.
        new = body(s)
        done = ~cond(s)
        return jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), s, new)

    def repeat(fn, length):
        def chunk(s, _):
            return lax.cond(any_in_batch(cond(s)), fn, lambda s: s, s), None

        def run(s):
            return lax.scan(chunk, s, None, length=length)[0]
        return run

    run_step = jax.checkpoint(step, prevent_cse=False)
    run_middle = jax.checkpoint(repeat(run_step, middle), prevent_cse=False)
    return repeat(run_middle, outer)(state)


def _code(x):
    """Result codes and counters are int32 whatever jax_enable_x64 says."""
    return jnp.asarray(x, jnp.int32)


def _all_finite(*xs):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in xs]))


def solve(f, y0, ts, args, cfg: Config):
    """Integrate y' = f(t, y, args) from ts[0] through every time in ts.

    Args:
        f: vector field on flat states, `f(t, y, args) -> (n,)`. It must not close over
            values to be differentiated: pass them in `args` (`jax.closure_convert`).
        y0: initial state, shape (n,), floating point.
        ts: strictly monotonic output times, shape (T,), same dtype as y0.
        args: pytree passed to f.
        cfg: `Config`. With `cfg.differentiable=True`, JAX can differentiate the solve to
            any order, in forward and reverse mode: the derivatives run the checkpointed
            scans of `run_loop`, and evaluating the solve alone runs the fast while loop.
            With `cfg.differentiable="checkpoint"`, reverse mode runs the reverse pass of
            `nodelib.checkpoint` (higher orders fall back on the scans); no forward mode.

    Returns:
        (ys, stats, result, t_reached): ys (T, n) with ys[0] == y0 (NaN where a failed
        solve never arrived), the stats dict, the result code and the last time reached.
    """
    if not cfg.differentiable or cfg.differentiable == "checkpoint":
        return _solve(f, y0, ts, args, cfg)
    return _solve_differentiable(f, cfg, y0, ts, args)


@partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _solve_differentiable(f, cfg, y0, ts, args):
    return _solve(f, y0, ts, args, cfg._replace(differentiable=False))


@_solve_differentiable.defjvp
def _solve_differentiable_jvp(f, cfg, primals, tangents):
    # Forward mode, and reverse mode by transposing it, through the checkpointed loops.
    return jax.jvp(lambda y0, ts, args: _solve(f, y0, ts, args, cfg), primals, tangents)


def _solve(f, y0, ts, args, cfg: Config):
    # A jitted f is traced once per loop body and lowered once, not once per stage: the
    # same program (XLA inlines it), traced sooner (the adjoint gradient on the benchmark's
    # neural fields: 0.35-0.43 s of tracing and lowering instead of 0.44-0.67 s).
    fn = jax.jit(lambda t, y: f(t, y, args))
    fn_reverse = None
    if (cfg.differentiable == "checkpoint" and isinstance(cfg.tableau, ButcherTableau)
            and worth_recomputing(f, ts[0], y0, args)):
        # The reverse pass keeps f's inputs at each stage and evaluates f again for its
        # derivative (a Rosenbrock step needs forward-mode Jacobians of f: left as it is).
        fn_reverse = lambda t, y: recompute_in_reverse(f, t, y, args)
    if cfg.tableau.adaptive:
        return _solve_adaptive(fn, y0, ts, cfg, fn_reverse)
    return _solve_fixed(fn, y0, ts, cfg, fn_reverse)


def _empty_outputs(y0, ts):
    ys = jnp.full((ts.shape[0],) + y0.shape, jnp.nan, dtype=y0.dtype)   # (T, n)
    return ys.at[0].set(y0)


def _stats(nfe, steps, accepted, njev=0, nlinsolve=0):
    """The stats dict of a solve. njev: Jacobians of f (one per attempted step of a
    Rosenbrock method, 0 for explicit ones); nlinsolve: linear solves with them."""
    return {"nfe": nfe, "num_steps": steps, "num_accepted_steps": accepted,
            "num_rejected_steps": steps - accepted, "njev": _code(njev),
            "nlinsolve": _code(nlinsolve)}


def _solve_fixed(fn, y0, ts, cfg, fn_reverse=None):
    """Fixed steps of size at most |dt0|: each output interval gets an integer number of
    equal steps, so every output time is hit exactly (no interpolation needed)."""
    tab, T = cfg.tableau, ts.shape[0]
    tol = 100 * jnp.finfo(ts.dtype).eps
    widths = jnp.diff(ts)                                                  # (T-1,)
    n_steps = jnp.maximum(1, jnp.ceil(jnp.abs(widths) / cfg.dt0 * (1 - tol))).astype(jnp.int32)

    def cond(s):
        return (s["i"] < T - 1) & (s["result"] == SUCCESS) & (s["steps"] < cfg.max_steps)

    def body(s, fn=fn):
        i, k = s["i"], s["k"]
        dt = widths[i] / n_steps[i].astype(ts.dtype)
        t = ts[i] + k.astype(ts.dtype) * dt
        y1, _, _ = rk_step(tab, fn, t, s["y"], dt)
        finite = _all_finite(y1)
        done_interval = k + 1 == n_steps[i]
        out = {}
        if T > 2:       # with ts = [t0, t1] the final y is the output: no (T, n) buffer
            out["ys"] = jnp.where(done_interval & finite, s["ys"].at[i + 1].set(y1), s["ys"])
        return dict(
            out, i=_code(jnp.where(done_interval & finite, i + 1, i)),
            k=_code(jnp.where(done_interval, 0, k + 1)),
            y=y1, steps=s["steps"] + 1,
            t=jnp.where(done_interval, ts[i + 1], t + dt),
            result=_code(jnp.where(finite, SUCCESS, NONFINITE)))

    zero = jnp.zeros((), jnp.int32)
    init = dict(i=zero, k=zero, y=y0, steps=zero,
                t=ts[0], result=_code(jnp.where(_all_finite(y0), SUCCESS, NONFINITE)))
    if T > 2:
        init["ys"] = _empty_outputs(y0, ts)                                     # (T, n)
    reverse_body = fn_reverse and partial(body, fn=fn_reverse)
    s = run_loop(cond, body, init, cfg, reverse_body)
    short = (s["result"] == SUCCESS) & (s["i"] < T - 1)
    result = _code(jnp.where(short, MAX_STEPS_REACHED, s["result"]))
    stats = _stats(_code(tab.evals_per_step * s["steps"]), s["steps"], s["steps"])
    if T == 2:
        ys = jnp.stack([y0, jnp.where(s["i"] == 1, s["y"], jnp.nan)])          # (2, n)
    else:
        ys = s["ys"]
    return ys, stats, result, s["t"]


def _limit(dt, cfg):
    """The step dt (signed) shortened to at most cfg.dtmax in size."""
    if cfg.dtmax is None:
        return dt
    return jnp.sign(dt) * jnp.minimum(jnp.abs(dt), cfg.dtmax)


def _method(tab):
    """The adaptive method as `step(fn, t, y, dt, f0) -> (y1, y_err, f1, dense)`, where
    f1 = fn(t + dt, y1) starts the next step and `dense()` returns the (5, n) coefficients
    of `rk.interpolate` on this step; and the exponent of the step-size controller."""
    if isinstance(tab, RosenbrockTableau):
        def step(fn, t, y, dt, f0):
            y1, y_err, us = rosenbrock.rosenbrock_step(tab, fn, t, y, dt, f0)
            return (y1, y_err, fn(t + dt, y1),
                    lambda: rosenbrock.dense_coefficients(tab, y, y1, us))
        # 1 / (q + 1) for an error estimate of order q = order - 1 (Hairer's RODAS: 1/4)
        return step, 1.0 / tab.order

    def step(fn, t, y, dt, f0):
        # err below is finite only if y1 and the error estimate are; the estimate includes
        # the last stage f(t1, y1) for Dormand–Prince (its error weight is -1/40).
        y1, y_err, ks = rk_step(tab, fn, t, y, dt, k1=f0)
        return y1, y_err, ks[-1], lambda: dense_coefficients(tab, y, y1, ks, dt)
    return step, control.ALPHA


def _adaptive_body(fn, ts, cfg):
    """One attempted adaptive step: accept or reject, fill outputs, choose the next dt."""
    tab, T = cfg.tableau, ts.shape[0]
    method, alpha = _method(tab)
    t_end = ts[-1]
    direction = jnp.sign(t_end - ts[0])
    eps = jnp.finfo(ts.dtype).eps

    def body(s):
        t, y, dt = s["t"], s["y"], s["dt"]
        # Don't overshoot the end; stretch a step that would leave a sliver (Hairer's DOPRI5).
        last = (t + 1.01 * dt - t_end) * direction > 0
        dt = jnp.where(last, t_end - t, dt)
        y1, y_err, f1, dense = method(fn, t, y, dt, s["f0"])
        # The step sizes are not differentiated: gradients treat the steps taken as given
        # (and d sqrt(x)/dx at x = 0 would turn a zero error into NaN gradients).
        err = lax.stop_gradient(control.error_ratio(y_err, y, y1, cfg.rtol, cfg.atol))
        finite = jnp.isfinite(err)
        accepted = finite & (err <= 1.0)
        t1 = jnp.where(last, t_end, t + dt)

        out = {}
        if T == 2:
            # Only the end is wanted (the common case ts = [t0, t1]): the step that reaches
            # it lands on it exactly, and the loop's final y is the output.
            out["n_out"] = s["n_out"] + _code(accepted & last)
        else:
            # Dense output: every output time in (t, t1] is interpolated from this step.
            # Most steps pass no output time, and the cond skips the interpolation for them
            # (under vmap, unless some solve of the batch passes one: any_in_batch keeps the
            # predicate unbatched, since a batched cond would become a select of both branches,
            # which reverse mode cannot transpose here).
            pending = jnp.arange(T, dtype=jnp.int32) >= s["n_out"]                  # (T,)
            fill = accepted & pending & ((ts - t1) * direction <= 0)                # (T,)

            def fill_outputs(ys):
                coefs = dense()                                                    # (5, n)
                # dt is 0 in a solve of a vmapped batch that has already finished: its values
                # are discarded, but must stay finite, or their zero cotangents become NaN.
                safe_dt = jnp.where(dt == 0, jnp.ones_like(dt), dt)
                values = interpolate(coefs, (ts - t) / safe_dt)                    # (T, n)
                values = jnp.where((ts == t1)[:, None], y1, values)
                return jnp.where(fill[:, None], values, ys)

            out["ys"] = lax.cond(any_in_batch(jnp.any(fill)), fill_outputs, lambda ys: ys, s["ys"])
            out["n_out"] = s["n_out"] + _code(jnp.sum(fill))

        dt_new, prev_err = control.next_step(dt, err, s["prev_err"], accepted,
                                             s["prev_rejected"], alpha=alpha)
        dt_new = _limit(dt_new, cfg)
        t_next = jnp.where(accepted, t1, t)
        # The step can no longer move t (Hairer's DOPRI5 test, relative to the current time:
        # near t = 0 float32 resolves steps far below eps * |t_end|).
        underflow = 0.1 * jnp.abs(dt_new) <= eps * jnp.abs(t_next)
        return dict(
            out, t=t_next, y=jnp.where(accepted, y1, y), f0=jnp.where(accepted, f1, s["f0"]),
            dt=dt_new, prev_err=prev_err, prev_rejected=~accepted, steps=s["steps"] + 1,
            accepted=s["accepted"] + _code(accepted),
            result=_code(jnp.where(underflow, jnp.where(finite, DT_UNDERFLOW, NONFINITE), SUCCESS)))

    return body


def _solve_adaptive(fn, y0, ts, cfg, fn_reverse=None):
    """Adaptive steps with error control, PI step control and dense output."""
    tab, T = cfg.tableau, ts.shape[0]
    direction = jnp.sign(ts[-1] - ts[0])
    f0 = fn(ts[0], y0)
    if cfg.dt0 is None:
        dt = lax.stop_gradient(
            control.initial_step(fn, ts[0], y0, f0, direction, tab.order, cfg.rtol, cfg.atol))
        nfe0 = 2
    else:
        dt, nfe0 = direction * jnp.asarray(cfg.dt0, ts.dtype), 1
    dt = _limit(dt, cfg)
    zero = jnp.zeros((), jnp.int32)
    init = dict(t=ts[0], y=y0, f0=f0, dt=dt.astype(ts.dtype),
                prev_err=jnp.asarray(control.MIN_PREV_ERROR, ts.dtype),
                prev_rejected=jnp.asarray(False), n_out=jnp.ones((), jnp.int32),
                steps=zero, accepted=zero,
                result=_code(jnp.where(_all_finite(y0, f0), SUCCESS, NONFINITE)))
    if T > 2:
        init["ys"] = _empty_outputs(y0, ts)                                     # (T, n)

    def cond(s):
        return (s["n_out"] < T) & (s["result"] == SUCCESS) & (s["steps"] < cfg.max_steps)

    reverse_body = fn_reverse and _adaptive_body(fn_reverse, ts, cfg)
    s = run_loop(cond, _adaptive_body(fn, ts, cfg), init, cfg, reverse_body)
    short = (s["result"] == SUCCESS) & (s["n_out"] < T)
    result = _code(jnp.where(short, MAX_STEPS_REACHED, s["result"]))
    implicit = isinstance(tab, RosenbrockTableau)       # one Jacobian per attempted step
    stats = _stats(_code(nfe0 + tab.evals_per_step * s["steps"]), s["steps"], s["accepted"],
                   njev=s["steps"] if implicit else 0,
                   nlinsolve=tab.stages * s["steps"] if implicit else 0)
    if T == 2:
        ys = jnp.stack([y0, jnp.where(s["n_out"] == 2, s["y"], jnp.nan)])      # (2, n)
    else:
        ys = s["ys"]
    return ys, stats, result, s["t"]

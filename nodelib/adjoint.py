"""The continuous adjoint method (Chen et al. 2018, section 2 and Appendix C) as a
`jax.custom_vjp`: gradients of a solve without storing its steps.

For a loss L that depends on the states y_i = y(t_i) at the output times, the adjoint
a(t) = dL/dy(t) obeys, backwards in time between output times,

    da/dt     = -a^T df/dy            (the adjoint state)
    da_p/dt   = -a^T df/dp            (accumulates dL/dp; p = parameters of f)
    da_t/dt   = -a^T df/dt            (accumulates dL/dt_0)

solved together with y itself (y' = f) as one augmented system, from t_i back to t_{i-1}.
At each output time the state restarts from the value stored by the forward pass and a
jumps by that time's cotangent g_i. The time gradients are dL/dt_i = g_i . f(t_i, y_i) for
i >= 1 and dL/dt_0 = a_t(t_0), with a_t(t_N) = -g_N . f(t_N, y_N) and a_t decreasing by
g_i . f(t_i, y_i) at every intermediate output time.

Memory: the forward pass keeps only the outputs ys, never the steps between them.
"""
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax
from jax.flatten_util import ravel_pytree

from .integrate import solve
from .solution import ADJOINT_DIVERGED, SUCCESS, checked

# The backward solve recomputes y(t_{i-1}), which the forward pass stored. If the two differ
# by more than DRIFT_RELATIVE of the state's size (RMS) and by more than DRIFT_TOLERANCES
# times the tolerance (the RMS error norm of the step control), the reverse-time solve has
# lost the forward trajectory and its gradient is meaningless. Both conditions: at loose
# tolerances a 10 % drift can be ordinary error (seen up to 55 % in float32 at 1e-3 on a
# neural field, where drifts stay below 100 tolerances), and at tight tolerances thousands
# of tolerances can still be a small relative drift (Arenstorf at 1e-9: 3e4 tolerances,
# 3e-5 relative, gradient accurate to 6e-5). Van der Pol at 1e-9 drifts by 100 %, 5e8
# tolerances, and its adjoint gradient is off by a factor of 1e27 (appendix: benchmarks).
DRIFT_RELATIVE = 0.1
DRIFT_TOLERANCES = 1e3


def lost_trajectory(y_back, y_fwd, rtol, atol):
    """Whether the backward solve's y_back (n,) has lost the stored forward state y_fwd (n,)."""
    rms = lambda x: jnp.sqrt(jnp.mean(x ** 2))
    drift = y_back - y_fwd
    scaled = rms(drift / (atol + rtol * jnp.abs(y_fwd)))
    return (rms(drift) > DRIFT_RELATIVE * rms(y_fwd)) & (scaled > DRIFT_TOLERANCES)


def _is_float(x):
    return jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def _split_parameters(f, ts, y0, args):
    """Closure-convert f and split its parameters into differentiable arrays and the rest.

    Returns (fc, diff, unsplit): `fc(t, y, diff)` is f with every floating-point parameter
    (leaves of args and values f closes over) passed explicitly in the list `diff`;
    `unsplit(diff_grads)` maps gradients back onto the structure of `args`.
    """
    closed, consts = jax.closure_convert(f, ts[0], y0, args)
    params = (args, tuple(consts))
    leaves, treedef = jax.tree_util.tree_flatten(params)
    mask = tuple(_is_float(x) for x in leaves)
    diff = [x for x, m in zip(leaves, mask) if m]
    fixed = [x for x, m in zip(leaves, mask) if not m]

    def merge(diff_leaves, fill):
        it_d, it_f = iter(diff_leaves), iter(fill)
        leaves = [next(it_d) if m else next(it_f) for m in mask]
        return jax.tree_util.tree_unflatten(treedef, leaves)

    def fc(t, y, diff_leaves):
        a, c = merge(diff_leaves, fixed)
        return closed(t, y, a, *c)

    def unsplit(diff_grads):
        return merge(diff_grads, [None] * len(fixed))[0]

    return fc, diff, unsplit


def adjoint_solve(f, y0, ts, args, cfg, adj_tols, throw=True):
    """`integrate.solve` with gradients by the continuous adjoint.

    Parameters closed over by f (e.g. network weights captured by a lambda) are found with
    `jax.closure_convert` and receive gradients like the leaves of `args`.
    """
    fc, diff, _ = _split_parameters(f, ts, y0, args)
    return _adjoint(fc, cfg, adj_tols, throw, y0, ts, diff)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2, 3))
def _adjoint(fc, cfg, adj_tols, throw, y0, ts, diff):
    return solve(fc, y0, ts, diff, cfg)


def _adjoint_fwd(fc, cfg, adj_tols, throw, y0, ts, diff):
    # The forward and backward solves of the adjoint are themselves differentiable
    # (checkpointed loops, see `integrate.run_loop`), so second derivatives work: grad of
    # grad differentiates through both, jax.hessian runs forward mode over them.
    ys, stats, result, t_reached = solve(fc, y0, ts, diff, cfg._replace(differentiable=True))
    return (ys, stats, result, t_reached), (ys, ts, diff)


def _adjoint_bwd(fc, cfg, adj_tols, throw, res, cotangents):
    ys, ts, diff = res
    g_ys = cotangents[0]                                              # (T, n)
    (a0, a_p, a_t), ts_bar, back_result, _, (t_reached, target) = backward(
        fc, cfg, adj_tols, ys, ts, diff, g_ys)
    ok = back_result == SUCCESS
    nan_if_failed = lambda x: jnp.where(ok, x, jnp.nan)
    grads = jax.tree_util.tree_map(nan_if_failed, (a0, ts_bar.at[0].set(a_t), a_p))
    if throw:
        grads = checked(grads, back_result, t_reached, target, cfg.max_steps,
                        context="the adjoint's backward solve")
    return grads


_adjoint.defvjp(_adjoint_fwd, _adjoint_bwd)


def backward(fc, cfg, adj_tols, ys, ts, diff, g_ys):
    """Run the adjoint backwards over every output interval.

    Args:
        fc: vector field `fc(t, y, diff)` on flat states; diff: list of parameter arrays.
        cfg: forward `Config`; adj_tols: (rtol, atol) of the backward solves.
        ys: (T, n) forward states; ts: (T,); g_ys: (T, n) cotangents dL/dys.

    Returns:
        ((dL/dy0, dL/d diff, dL/dt0), dL/dts (T,) with entry 0 left for the caller,
         result code of the backward solves, stats summed over them, and
         (time reached, target time) of the first backward solve that failed, for messages).
    """
    back_cfg = cfg._replace(rtol=adj_tols[0], atol=adj_tols[1], differentiable=True)
    zeros_p = [jnp.zeros_like(p) for p in diff]
    z_example = (ys[0], ys[0], zeros_p, jnp.zeros((), ys.dtype))
    _, unravel = ravel_pytree(z_example)

    def aug_dynamics(t, z, diff):
        y, a, _, _ = unravel(z)
        fy, vjp = jax.vjp(fc, t, y, diff)
        t_bar, y_bar, p_bar = vjp(a)
        return ravel_pytree((fy, -y_bar, [-p for p in p_bar], -t_bar))[0]

    def interval(carry, i):
        a, a_p, a_t, result, stats, where = carry
        z0 = ravel_pytree((ys[i], a, a_p, a_t))[0]
        interval_ts = jnp.stack([ts[i], ts[i - 1]])                     # backwards
        zs, st, res, t_reached = solve(aug_dynamics, z0, interval_ts, diff, back_cfg)
        y_back, a, a_p, a_t = unravel(zs[1])
        lost = (res == SUCCESS) & lost_trajectory(y_back, ys[i - 1], *adj_tols)
        res = jnp.where(lost, ADJOINT_DIVERGED, res)
        # g_{i-1} . f(t_{i-1}, y_{i-1})
        t_bar = jnp.vdot(g_ys[i - 1], fc(ts[i - 1], ys[i - 1], diff))
        a_t = jnp.where(i - 1 > 0, a_t - t_bar, a_t)
        stats = jax.tree_util.tree_map(jnp.add, stats, st)
        first_failure = (result == SUCCESS) & (res != SUCCESS)
        where = jnp.where(first_failure, jnp.where(lost, jnp.stack([ts[i - 1], ts[i]]),
                                                   jnp.stack([t_reached, ts[i - 1]])), where)
        result = jnp.where(result == SUCCESS, res, result)
        return (a + g_ys[i - 1], a_p, a_t, result, stats, where), t_bar

    T = ts.shape[0]
    t_bar_last = jnp.vdot(g_ys[-1], fc(ts[-1], ys[-1], diff))
    zero = jnp.zeros((), jnp.int32)
    stats0 = {"nfe": zero, "num_steps": zero, "num_accepted_steps": zero,
              "num_rejected_steps": zero, "njev": zero, "nlinsolve": zero}
    init = (g_ys[-1], zeros_p, -t_bar_last, jnp.asarray(SUCCESS, jnp.int32), stats0, ts[:2])
    (a, a_p, a_t, result, stats, where), t_bars = lax.scan(interval, init, jnp.arange(T - 1, 0, -1))
    ts_bar = jnp.concatenate([t_bars[::-1], t_bar_last[None]])          # (T,)
    return (a, a_p, a_t), ts_bar, result, stats, where

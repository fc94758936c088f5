"""A while loop with a fast reverse pass: the engine of `odeint(..., gradient="checkpoint")`.

The forward pass is an ordinary `lax.while_loop` that also records states: every m-th loop
state in `ckpts` (m = about sqrt(max_steps)), and every state of the current segment of m
steps in `seg`. The reverse pass walks the steps backwards, taking the vector-Jacobian
product of one step at a time (`jax.vjp`, which recomputes that step). The last segment's
states are still in `seg`; each earlier segment is first recomputed from its checkpoint.
This is two-level checkpointing (Griewank and Walther, *Evaluating Derivatives*, 2008,
ch. 12) with the final segment kept, the cost model of diffrax's RecursiveCheckpointAdjoint
for short solves:

    memory:  (max_steps / m + m) loop states, about 2 sqrt(max_steps): 128 at the default
             4096; the parameters once, not once per state;
    time:    a solve of N <= m steps runs each step twice forwards and once backwards;
             a longer one recomputes its earlier segments once more (three forwards).

A `jax.custom_vjp` cannot be differentiated in forward mode, and JAX cannot differentiate a
while loop in reverse mode. So the two passes are `jax.custom_jvp` functions whose derivative
rules fall back on the loop JAX can differentiate to any order (`integrate.scan_loop`):
second derivatives (grad of grad, Hessians) work and cost what `gradient="backprop"` costs;
forward mode of the first order (`jax.jvp`, `jax.jacfwd`) needs `gradient="backprop"`.
"""
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax


def segment_length(max_steps: int) -> int:
    """m: steps per segment, about sqrt(max_steps) (64 at 4096)."""
    return max(1, int(round(max_steps ** 0.5)))


def _is_float(x):
    return jnp.issubdtype(jnp.result_type(x), jnp.inexact)


def _floats(s):
    """The floating-point leaves of a loop state (the ones with cotangents)."""
    return [x for x in jax.tree_util.tree_leaves(s) if _is_float(x)]


def _with_floats(s, floats):
    """`s` with its floating-point leaves replaced by `floats`."""
    leaves, treedef = jax.tree_util.tree_flatten(s)
    it = iter(floats)
    return jax.tree_util.tree_unflatten(
        treedef, [next(it) if _is_float(x) else x for x in leaves])


def _put(buffers, i, s):
    return jax.tree_util.tree_map(lambda b, x: b.at[i].set(x), buffers, s)


def _get(buffers, i):
    return jax.tree_util.tree_map(lambda b: b[i], buffers)


def _empty(s, n):
    return jax.tree_util.tree_map(lambda x: jnp.zeros((n,) + x.shape, x.dtype), s)


@jax.custom_batching.custom_vmap
def any_in_batch(flag):
    """`flag` itself; under `jax.vmap`, whether it holds for any element (an unbatched bool).

    A `lax.cond` whose predicate is batched runs both branches and selects; an unbatched
    predicate keeps the cond, so a batch of solves skips the work that none of them needs
    (the chunks after all are done, a segment no solve needs recomputed).
    """
    return flag


@any_in_batch.def_vmap
def _any_in_batch_vmap(axis_size, in_batched, flag):
    # Called again on the result, so that an enclosing vmap reduces over its axis too.
    return any_in_batch(jnp.any(flag) if in_batched[0] else flag), False


def checkpointed_loop(cond, body, state, max_steps, scan_loop):
    """Iterate `body` while `cond` holds, at most `max_steps` times, with the reverse pass
    of the module docstring.

    Args:
        cond, body: the loop's functions of the state; they may close over traced values
            (the times, the parameters), which receive gradients.
        state: the initial loop state, a pytree.
        max_steps: static bound on the iterations.
        scan_loop: `scan_loop(cond, body, state)`, the same loop written so that JAX can
            differentiate it itself (used for second derivatives).

    Returns:
        The final state.
    """
    body_c, consts, body_fixed = _convert(body, state)
    cond_c, cond_floats, cond_fixed = _convert(cond, state)
    m = segment_length(max_steps)
    return _loop(body_c, cond_c, scan_loop, max_steps, m, state, consts,
                 (body_fixed, cond_floats, cond_fixed))


def _convert(fn, state):
    """fn(s) as converted(s, floats, fixed): every value fn closes over becomes an argument,
    the floating-point ones in `floats` (they receive cotangents), the rest in `fixed`.
    (`jax.closure_convert` hoists only values being differentiated; a custom_vjp must not
    close over any traced value.)"""
    closed, out_shape = jax.make_jaxpr(fn, return_shape=True)(state)
    out_tree = jax.tree_util.tree_structure(out_shape)
    mask = [_is_float(c) for c in closed.consts]
    floats = [c for c, f in zip(closed.consts, mask) if f]
    fixed = [c for c, f in zip(closed.consts, mask) if not f]

    def converted(s, floats, fixed):
        it_f, it_o = iter(floats), iter(fixed)
        values = [next(it_f) if f else next(it_o) for f in mask]
        out = jax.core.eval_jaxpr(closed.jaxpr, values, *jax.tree_util.tree_leaves(s))
        return jax.tree_util.tree_unflatten(out_tree, out)
    return converted, floats, fixed


def _step(body, cond, s, consts, fixed):
    """One iteration; a finished solve (of a vmapped batch) stays as it is."""
    new = body(s, consts, fixed[0])
    done = ~cond(s, fixed[1], fixed[2])
    return jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), s, new)


def _slow(body, cond, scan_loop, state, consts, fixed):
    return scan_loop(lambda s: cond(s, fixed[1], fixed[2]), lambda s: body(s, consts, fixed[0]),
                     state)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2, 3, 4))
def _loop(body, cond, scan_loop, max_steps, m, state, consts, fixed):
    def keep_going(c):
        return cond(c[0], fixed[1], fixed[2]) & (c[1] < max_steps)

    return lax.while_loop(keep_going, lambda c: (body(c[0], consts, fixed[0]), c[1] + 1),
                          (state, jnp.zeros((), jnp.int32)))[0]


def _loop_fwd(body, cond, scan_loop, max_steps, m, state, consts, fixed):
    final, ckpts, seg, n = _record(body, cond, scan_loop, max_steps, m, state, consts,
                                   fixed)
    return final, (state, consts, fixed, ckpts, seg, n)


def _loop_bwd(body, cond, scan_loop, max_steps, m, res, ct_final):
    state, consts, fixed, ckpts, seg, n = res
    ct_state, ct_consts = _reverse(body, cond, scan_loop, m, state, consts, fixed,
                                   ckpts, seg, n, _floats(ct_final))
    zeros = jax.tree_util.tree_map(jnp.zeros_like, fixed)
    return _cotangent_tree(state, ct_state), ct_consts, _zero_cotangents(zeros)


_loop.defvjp(_loop_fwd, _loop_bwd)


def _cotangent_tree(state, ct_floats):
    """The cotangent of a state: ct_floats on its float leaves, float0 zeros elsewhere."""
    leaves, treedef = jax.tree_util.tree_flatten(state)
    it = iter(ct_floats)
    out = [next(it) if _is_float(x) else
           jnp.zeros(jnp.shape(x), jax.dtypes.float0) for x in leaves]
    return jax.tree_util.tree_unflatten(treedef, out)


def _zero_cotangents(tree):
    return jax.tree_util.tree_map(
        lambda x: x if _is_float(x) else jnp.zeros(jnp.shape(x), jax.dtypes.float0), tree)


# --- the forward pass: run and record ----------------------------------------------------

@partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2, 3, 4))
def _record(body, cond, scan_loop, max_steps, m, state, consts, fixed):
    """(final state, ckpts, seg, n): ckpts[j] is the state before step j*m, seg[i] the
    state before step j*m + i of the last segment j, n the number of steps taken."""
    n_ckpts = -(-max_steps // m)

    def keep_going(c):
        return cond(c[0], fixed[1], fixed[2]) & (c[3] < max_steps)

    def run(c):
        s, ckpts, seg, k = c
        # A write at every step (of the old value, between checkpoints) costs one state;
        # a cond around it would copy the whole buffer under vmap.
        first = k % m == 0
        kept = jax.tree_util.tree_map(lambda a, b: jnp.where(first, a, b), s, _get(ckpts, k // m))
        return body(s, consts, fixed[0]), _put(ckpts, k // m, kept), _put(seg, k % m, s), k + 1

    init = (state, _empty(state, n_ckpts), _empty(state, m), jnp.zeros((), jnp.int32))
    return lax.while_loop(keep_going, run, init)


@_record.defjvp
def _record_jvp(body, cond, scan_loop, max_steps, m, primals, tangents):
    # Differentiated only under second derivatives: the final state's tangent comes from the
    # loop JAX can differentiate; the recorded states are a cache that `_reverse` never
    # differentiates (its own derivative rule recomputes from state and consts).
    state, consts, fixed = primals
    out = _record(body, cond, scan_loop, max_steps, m, *primals)
    _, final_dot = jax.jvp(lambda s, c: _slow(body, cond, scan_loop, s, c, fixed),
                           (state, consts), (tangents[0], tangents[1]))
    zeros = jax.tree_util.tree_map(_zero_tangent, out[1:])
    return out, (final_dot, *zeros)


def _zero_tangent(x):
    return jnp.zeros(jnp.shape(x), jnp.result_type(x) if _is_float(x) else jax.dtypes.float0)


# --- the reverse pass ----------------------------------------------------------------------

@partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2, 3))
def _reverse(body, cond, scan_loop, m, state, consts, fixed, ckpts, seg, n, ct):
    """(ct_state floats, ct_consts): the cotangents of the initial state and the constants
    for the cotangent `ct` (floats) of the final state."""
    def vjp_step(s, ct_s, acc):
        f = lambda floats, c: _floats(_step(body, cond, _with_floats(s, floats), c,
                                            fixed))
        _, pullback = jax.vjp(f, _floats(s), consts)
        ct_prev, ct_c = pullback(ct_s)
        return ct_prev, jax.tree_util.tree_map(jnp.add, acc, ct_c)

    def recompute(j, buf):
        # Fills the carried buffer in place: a reference to `seg` here would keep it alive
        # beside `buf`, and XLA would copy it (a third buffer of m states).
        def fill(i, c):
            s, buf = c
            return _step(body, cond, s, consts, fixed), _put(buf, i, s)
        return lax.fori_loop(0, m, fill, (_get(ckpts, j), buf))[1]

    def segment(c):
        j, ct_s, acc, buf = c
        # Under vmap, any_in_batch keeps the cond (a batched predicate would make it a
        # select that recomputes every segment): a solve of the batch that does not need
        # this segment recomputed gets the states it recorded, computed again.
        buf = lax.cond(any_in_batch(j < (n - 1) // m), recompute, lambda j, buf: buf, j, buf)
        last = jnp.where(j == (n - 1) // m, (n - 1) % m, m - 1)

        def back(c):
            i, ct_s, acc = c
            ct_s, acc = vjp_step(_get(buf, i), ct_s, acc)
            return i - 1, ct_s, acc
        _, ct_s, acc = lax.while_loop(lambda c: c[0] >= 0, back, (last, ct_s, acc))
        return j - 1, ct_s, acc, buf

    acc = jax.tree_util.tree_map(jnp.zeros_like, consts)
    init = ((n - 1) // m, list(ct), acc, seg)
    _, ct_state, acc, _ = lax.while_loop(lambda c: (c[0] >= 0) & (n > 0), segment, init)
    return ct_state, acc


@_reverse.defjvp
def _reverse_jvp(body, cond, scan_loop, m, primals, tangents):
    # Second derivatives: differentiate the vector-Jacobian product of the loop JAX can
    # differentiate itself, which equals this reverse pass, with respect to the initial
    # state, the constants and the cotangent (the recorded states are only a cache).
    state, consts, fixed, ckpts, seg, n, ct = primals
    t_state, t_consts, _, _, _, _, t_ct = tangents

    def slow_vjp(s, c, ct):
        f = lambda floats, c: _floats(_slow(body, cond, scan_loop, _with_floats(s, floats),
                                            c, fixed))
        _, pullback = jax.vjp(f, _floats(s), c)
        return pullback(ct)

    out = _reverse(body, cond, scan_loop, m, *primals)
    _, out_dot = jax.jvp(slow_vjp, (state, consts, ct), (t_state, t_consts, t_ct))
    return out, out_dot

"""A while loop with a fast reverse pass: the engine of `odeint(..., gradient="checkpoint")`.

The forward pass is an ordinary `lax.while_loop` that also records states at three levels
(`level_sizes`; (11, 12, 32) at the default max_steps = 4096): the top keeps every 384th
loop state, the middle every 32nd state of the current top segment, the finest every state
of the current middle segment. The reverse pass walks the steps backwards, taking the
vector-Jacobian product of one step at a time (`jax.vjp`, which recomputes that step) from
the finest buffer; a finest segment not in the buffer is first recomputed from the middle
level, and a middle segment from the top. This is multi-level checkpointing (Griewank and
Walther, *Evaluating Derivatives*, 2008, ch. 12) with the last segment of every level kept;
diffrax's RecursiveCheckpointAdjoint uses an online binomial scheme (treeverse) instead,
about log2(max_steps) states, each recomputed a few times more. The cost model:

    memory:  top + middle + finest loop states: 55 at the default 4096 steps, 40 at 500,
             82 at 20,000, and a spare row per buffer (`_record`); the parameters once,
             not once per state; and the intermediate values of one step, or of one
             evaluation of f (see below);
    time:    a solve of N <= 32 steps runs each step twice forwards and once backwards;
             a longer one recomputes its earlier finest segments once more (three
             forwards), one of more than 384 steps its earlier middle segments too (four).

A step's vector-Jacobian product keeps what f computes at every stage: for a wide MLP on a
batch of states, seven stages of activations, more than the saved states. Where f's
intermediate values outweigh its inputs (`remat.worth_recomputing`), the reverse pass calls f
through `nodelib.remat.recompute_in_reverse`, which keeps only its inputs and evaluates it
again when its cotangent arrives (diffrax does the same with a checkpointed loop over the
stages).

A `jax.custom_vjp` cannot be differentiated in forward mode, and JAX cannot differentiate a
while loop in reverse mode. So the two passes are `jax.custom_jvp` functions whose derivative
rules fall back on the loop JAX can differentiate to any order (`integrate.scan_loop`):
second derivatives (grad of grad, Hessians) work and cost what `gradient="backprop"` costs;
forward mode of the first order (`jax.jvp`, `jax.jacfwd`) needs `gradient="backprop"`.
"""
import math
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

FINEST = 32   # states in the finest buffer: a solve of up to 32 steps recomputes nothing


def level_sizes(max_steps: int) -> tuple[int, int, int]:
    """States kept at each of the three levels, (top, middle, finest), whose product covers
    max_steps: (11, 12, 32) at the default 4096 steps, 55 states in all; (4, 4, 32) at 500;
    (25, 25, 32) at 20,000."""
    fine = min(FINEST, max_steps)
    middle = 1
    while middle * middle * fine < max_steps:
        middle += 1
    return -(-max_steps // (middle * fine)), middle, fine


def _strides(sizes):
    """Steps between consecutive states of each level: the product of the finer sizes."""
    return [math.prod(sizes[level + 1:]) for level in range(len(sizes))]


def _offsets(sizes):
    """Where each level below the top starts in the buffer `low` (the top: unused, 0)."""
    return [0] + [sum(sizes[1:level]) for level in range(1, len(sizes))]


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


class _Packed:
    """A loop state's leaves concatenated into one vector per dtype (booleans stored as
    int32: a solve's state packs into two), so that a buffer of states is two arrays, and
    writing or reading a state two instructions rather than one per leaf: fewer kernels for
    XLA to compile and to launch at every step."""

    def __init__(self, state):
        leaves, self.treedef = jax.tree_util.tree_flatten(state)
        self.shapes = [jnp.shape(x) for x in leaves]
        self.dtypes = [jnp.result_type(x) for x in leaves]
        self.stored = [jnp.dtype(jnp.int32) if d == jnp.bool_ else d for d in self.dtypes]
        self.groups = sorted(set(self.stored), key=str)

    def pack(self, s):
        leaves = jax.tree_util.tree_leaves(s)
        return [jnp.concatenate([jnp.ravel(x).astype(g) for x, d in zip(leaves, self.stored)
                                 if d == g]) for g in self.groups]

    def unpack(self, vectors):
        start = dict.fromkeys(self.groups, 0)
        leaves = []
        for shape, dtype, stored in zip(self.shapes, self.dtypes, self.stored):
            vector, at = vectors[self.groups.index(stored)], start[stored]
            start[stored] = at + math.prod(shape)
            leaves.append(vector[at:start[stored]].reshape(shape).astype(dtype))
        return jax.tree_util.tree_unflatten(self.treedef, leaves)

    def empty(self, rows):
        """A buffer of `rows` packed states (zeros)."""
        return [jnp.zeros((rows, sum(math.prod(s) for s, d in zip(self.shapes, self.stored)
                                     if d == g)), g) for g in self.groups]


def _put(buffers, i, vectors):
    return [lax.dynamic_update_index_in_dim(b, x, i, 0) for b, x in zip(buffers, vectors)]


def _get(buffers, i):
    return [lax.dynamic_index_in_dim(b, i, 0, False) for b in buffers]


def _div(a, b):
    """a // b and a % b for non-negative int32 a and positive b (C division is floor
    division there, and XLA's is a single instruction)."""
    b = jnp.asarray(b, jnp.int32)
    return lax.div(a, b), lax.rem(a, b)


def _where(flag, a, b):
    return jax.tree_util.tree_map(lambda x, y: jnp.where(flag, x, y), a, b)


@jax.custom_batching.custom_vmap
def any_in_batch(flag):
    """`flag` itself; under `jax.vmap`, whether it holds for any element (an unbatched bool).

    A `lax.cond` whose predicate is batched runs both branches and selects; an unbatched
    predicate keeps the cond, so a batch of solves skips the work that none of them needs
    (the chunks after all are done, the dense output of a step that passes no output time).
    """
    return flag


@any_in_batch.def_vmap
def _any_in_batch_vmap(axis_size, in_batched, flag):
    # Called again on the result, so that an enclosing vmap reduces over its axis too.
    return any_in_batch(jnp.any(flag) if in_batched[0] else flag), False


def checkpointed_loop(cond, body, state, max_steps, scan_loop, reverse_body=None):
    """Iterate `body` while `cond` holds, at most `max_steps` times, with the reverse pass
    of the module docstring.

    Args:
        cond, body: the loop's functions of the state; they may close over traced values
            (the times, the parameters), which receive gradients.
        state: the initial loop state, a pytree.
        max_steps: static bound on the iterations.
        scan_loop: `scan_loop(cond, body, state)`, the same loop written so that JAX can
            differentiate it itself (used for second derivatives).
        reverse_body: `body` as the reverse pass differentiates it, one step at a time
            (e.g. with `remat.recompute_in_reverse` around its costly calls); `body` if
            None.

    Returns:
        The final state.
    """
    (body_c, reverse_c), consts, body_fixed = _convert([body, reverse_body or body], state)
    (cond_c,), cond_floats, cond_fixed = _convert([cond], state)
    plan = level_sizes(max_steps)
    return _loop(body_c, cond_c, reverse_c, scan_loop, max_steps, plan, state, consts,
                 (body_fixed, cond_floats, cond_fixed))


def _convert(fns, state):
    """Each fn(s) of `fns` as converted(s, floats, fixed): every value the functions close
    over becomes an argument, the floating-point ones in `floats` (they receive cotangents),
    the rest in `fixed`; a value two of them close over appears once. (`jax.closure_convert`
    hoists only values being differentiated; a custom_vjp must not close over any traced
    value.)"""
    closed = [jax.make_jaxpr(fn, return_shape=True)(state) for fn in fns]
    values, index = [], {}
    for jaxpr, _ in closed:
        for v in jaxpr.consts:
            if id(v) not in index:
                index[id(v)] = len(values)
                values.append(v)
    mask = [_is_float(v) for v in values]

    def convert(jaxpr, out_shape):
        out_tree = jax.tree_util.tree_structure(out_shape)
        where = [index[id(v)] for v in jaxpr.consts]

        def converted(s, floats, fixed):
            it_f, it_o = iter(floats), iter(fixed)
            vals = [next(it_f) if f else next(it_o) for f in mask]
            out = jax.core.eval_jaxpr(jaxpr.jaxpr, [vals[i] for i in where],
                                      *jax.tree_util.tree_leaves(s))
            return jax.tree_util.tree_unflatten(out_tree, out)
        return converted
    return ([convert(*c) for c in closed], [v for v, f in zip(values, mask) if f],
            [v for v, f in zip(values, mask) if not f])


def _step(body, cond, s, consts, fixed):
    """One iteration; a finished solve (of a vmapped batch) stays as it is."""
    new = body(s, consts, fixed[0])
    done = ~cond(s, fixed[1], fixed[2])
    return jax.tree_util.tree_map(lambda a, b: jnp.where(done, a, b), s, new)


def _slow(body, cond, scan_loop, state, consts, fixed):
    return scan_loop(lambda s: cond(s, fixed[1], fixed[2]), lambda s: body(s, consts, fixed[0]),
                     state)


@partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2, 3, 4, 5))
def _loop(body, cond, rbody, scan_loop, max_steps, plan, state, consts, fixed):
    def keep_going(c):
        return cond(c[0], fixed[1], fixed[2]) & (c[1] < max_steps)

    return lax.while_loop(keep_going, lambda c: (body(c[0], consts, fixed[0]), c[1] + 1),
                          (state, jnp.zeros((), jnp.int32)))[0]


def _loop_fwd(body, cond, rbody, scan_loop, max_steps, plan, state, consts, fixed):
    final, top, low, n = _record(body, cond, scan_loop, max_steps, plan, state, consts,
                                 fixed)
    return final, (state, consts, fixed, top, low, n)


def _loop_bwd(body, cond, rbody, scan_loop, max_steps, plan, res, ct_final):
    state, consts, fixed, top, low, n = res
    ct_state, ct_consts = _reverse(body, cond, rbody, scan_loop, plan, state, consts, fixed,
                                   top, low, n, _floats(ct_final))
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
def _record(body, cond, scan_loop, max_steps, plan, state, consts, fixed):
    """(final state, top, low, n), for sizes = `plan`: top[q] is the state before step
    q * strides[0]; low holds, for each level l >= 1, the sizes[l] states of that level in
    the last segment of the level above: the state before step k at
    low[offsets[l] + (k // strides[l]) % sizes[l]]; n is the number of steps taken."""
    sizes, strides, offsets = plan, _strides(plan), _offsets(plan)

    def keep_going(carry):
        return cond(carry[0], fixed[1], fixed[2]) & (carry[2] < max_steps)

    def run(carry):
        s, levels, k = carry
        # Every level is written at every step: a state between two of its own goes to a
        # spare last row (a cond around the write would copy the whole buffer under vmap).
        # Each level has a buffer of its own (XLA copies a buffer written twice in one
        # iteration); the finest writes straight into its part of `low`.
        vectors, out = packing.pack(s), []
        for level, buf in enumerate(levels):
            q, r = _div(k, strides[level])
            at = q if level == 0 else _div(q, sizes[level])[1]
            at = at + offsets[level] if level == len(sizes) - 1 else at
            out.append(_put(buf, jnp.where(r == 0, at, buf[0].shape[0] - 1), vectors))
        return body(s, consts, fixed[0]), out, k + 1

    packing = _Packed(state)
    init = (state, [packing.empty(size + 1) for size in sizes[:-1]]
            + [packing.empty(sum(sizes[1:]) + 1)], jnp.zeros((), jnp.int32))
    final, levels, n = lax.while_loop(keep_going, run, init)
    low = levels[-1]
    for level in range(1, len(sizes) - 1):       # in place: low's part for them is unused
        low = [lax.dynamic_update_slice_in_dim(a, b[:sizes[level]], offsets[level], 0)
               for a, b in zip(low, levels[level])]
    return final, levels[0], low, n


@_record.defjvp
def _record_jvp(body, cond, scan_loop, max_steps, plan, primals, tangents):
    # Differentiated only under second derivatives: the final state's tangent comes from the
    # loop JAX can differentiate; the recorded states are a cache that `_reverse` never
    # differentiates (its own derivative rule recomputes from state and consts).
    state, consts, fixed = primals
    out = _record(body, cond, scan_loop, max_steps, plan, *primals)
    _, final_dot = jax.jvp(lambda s, c: _slow(body, cond, scan_loop, s, c, fixed),
                           (state, consts), (tangents[0], tangents[1]))
    zeros = jax.tree_util.tree_map(_zero_tangent, out[1:])
    return out, (final_dot, *zeros)


def _zero_tangent(x):
    return jnp.zeros(jnp.shape(x), jnp.result_type(x) if _is_float(x) else jax.dtypes.float0)


# --- the reverse pass ----------------------------------------------------------------------

@partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2, 3, 4))
def _reverse(body, cond, rbody, scan_loop, plan, state, consts, fixed, top, low, n, ct):
    """(ct_state floats, ct_consts): the cotangents of the initial state and the constants
    for the cotangent `ct` (floats) of the final state."""
    depth, fine = len(plan), plan[-1]
    packing, spare = _Packed(state), low[0].shape[0] - 1      # spare: the row written to
    sizes, strides, offsets = (jnp.asarray(x(plan), jnp.int32)
                               for x in (lambda p: p, _strides, _offsets))

    def vjp_step(s, ct_s, acc):
        f = lambda floats, c: _floats(_step(rbody, cond, _with_floats(s, floats), c,
                                            fixed))
        _, pullback = jax.vjp(f, _floats(s), consts)
        ct_prev, ct_c = pullback(ct_s)
        return ct_prev, jax.tree_util.tree_map(jnp.add, acc, ct_c)

    def segment_of(k, level):
        """The segment of `level` (the span of its buffer) that holds step k."""
        return _div(k, strides[level - 1])[0]

    def refill(level, k0, low, held):
        # Recompute the states of `level` in the segment that holds step k0, from the level
        # above, into its part of `low` (in place: one loop for every level, so the program
        # holds the step once).
        segment, stride = segment_of(k0, level), strides[level]
        above = offsets[level - 1] + _div(segment, sizes[level - 1])[1]
        source = _where(level == 1, _get(top, jnp.minimum(segment, plan[0] - 1)),
                        _get(low, above))

        def fill(i, carry):
            s, low = carry
            q, r = _div(i, stride)
            low = _put(low, jnp.where(r == 0, offsets[level] + q, spare), packing.pack(s))
            return _step(body, cond, s, consts, fixed), low
        low = lax.fori_loop(0, (sizes[level] - 1) * stride + 1, fill,
                            (packing.unpack(source), low))[1]
        return level + 1, low, held.at[level].set(segment)

    def segment(carry):
        g, ct_s, acc, low, held = carry           # g: segment of the finest level
        # The levels from the coarsest one that does not hold step g*fine yet are
        # recomputed (a finer level's segment changes whenever a coarser one's does). A
        # while loop of data-dependent length: XLA would unroll a loop over the levels,
        # copying the step.
        levels = jnp.arange(depth)
        stale = (levels >= 1) & (held != segment_of(g * fine, jnp.maximum(levels, 1)))
        first = jnp.where(jnp.any(stale), jnp.argmax(stale), depth).astype(jnp.int32)
        _, low, held = lax.while_loop(lambda c: c[0] < depth,
                                      lambda c: refill(c[0], g * fine, c[1], c[2]),
                                      (first, low, held))
        end, last = _div(n - 1, fine)
        last = jnp.where(g == end, last, fine - 1)

        def back(carry):
            i, ct_s, acc = carry
            ct_s, acc = vjp_step(packing.unpack(_get(low, offsets[-1] + i)), ct_s, acc)
            return i - 1, ct_s, acc
        _, ct_s, acc = lax.while_loop(lambda carry: carry[0] >= 0, back, (last, ct_s, acc))
        return g - 1, ct_s, acc, low, held

    # held[l]: the segment whose states low holds for level l >= 1 (as the forward left it)
    held = (n - 1) // jnp.concatenate([strides[:1], strides[:-1]])
    acc = jax.tree_util.tree_map(jnp.zeros_like, consts)
    init = ((n - 1) // fine, list(ct), acc, low, held)
    _, ct_state, acc, _, _ = lax.while_loop(lambda carry: (carry[0] >= 0) & (n > 0), segment,
                                            init)
    return ct_state, acc


@_reverse.defjvp
def _reverse_jvp(body, cond, rbody, scan_loop, plan, primals, tangents):
    # Second derivatives: differentiate the vector-Jacobian product of the loop JAX can
    # differentiate itself, which equals this reverse pass, with respect to the initial
    # state, the constants and the cotangent (the recorded states are only a cache).
    state, consts, fixed, top, low, n, ct = primals
    t_state, t_consts, _, _, _, _, t_ct = tangents

    def slow_vjp(s, c, ct):
        f = lambda floats, c: _floats(_slow(body, cond, scan_loop, _with_floats(s, floats),
                                            c, fixed))
        _, pullback = jax.vjp(f, _floats(s), c)
        return pullback(ct)

    out = _reverse(body, cond, rbody, scan_loop, plan, *primals)
    _, out_dot = jax.jvp(slow_vjp, (state, consts, ct), (t_state, t_consts, t_ct))
    return out, out_dot

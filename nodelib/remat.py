"""Rematerialisation: evaluate a function again in the reverse pass instead of keeping what
it computes inside.

The checkpointed gradient (`nodelib.checkpoint`) differentiates one solver step at a time.
A step's vector-Jacobian product keeps every value its stages compute: for a wide MLP on a
batch of states, seven sets of activations. Calling f through `recompute_in_reverse` keeps
only f's inputs and evaluates f again when the cotangent of its output arrives, so that the
reverse pass holds the activations of one evaluation at a time (Griewank and Walther,
*Evaluating Derivatives*, 2008, ch. 12; `jax.checkpoint` does the same, but leaves XLA free
to schedule all the recomputations of a step before the first of them is needed, which
measured no saving at all). `worth_recomputing` decides whether it pays.
"""
import math
from functools import partial

import jax
import jax.extend
import jax.numpy as jnp
from jax import lax

from .checkpoint import _cotangent_tree, _floats, _with_floats, any_in_batch


def worth_recomputing(f, t, y, args) -> bool:
    """Whether `recompute_in_reverse` saves memory on f: whether the values f computes
    inside take more bytes than its inputs, which is what the recomputation keeps instead
    (true of a wide MLP on a batch of states; false of a small field on one state, where
    keeping the inputs would cost more than it saves)."""
    jaxpr = jax.make_jaxpr(f)(t, y, args)
    inputs = sum(_nbytes(jax.typeof(x)) for x in jax.tree_util.tree_leaves((y, args)))
    return _inner_bytes(jaxpr.jaxpr) > inputs


def _nbytes(aval):
    return math.prod(aval.shape) * aval.dtype.itemsize


def _inner_bytes(jaxpr):
    """Bytes of every value an equation of `jaxpr` (or of a jaxpr inside it) computes."""
    total = 0
    for eqn in jaxpr.eqns:
        total += sum(_nbytes(v.aval) for v in eqn.outvars if hasattr(v.aval, "shape"))
        total += sum(_inner_bytes(sub) for sub in _subjaxprs(eqn.params))
    return total


def _subjaxprs(params):
    """The jaxprs among an equation's parameters (the body of a jit, a loop, a cond)."""
    for value in params.values():
        for x in value if isinstance(value, (tuple, list)) else [value]:
            if isinstance(x, jax.extend.core.ClosedJaxpr):
                yield x.jaxpr
            elif isinstance(x, jax.extend.core.Jaxpr):
                yield x


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def recompute_in_reverse(f, t, y, args):
    """f(t, y, args), whose reverse-mode derivative keeps only the inputs and evaluates f
    again when its cotangent arrives: the reverse pass then holds the intermediate values
    of one evaluation of f at a time, not those of every stage of a step. (Only the first
    derivative: the reverse pass's derivatives use `body`, not `reverse_body`.)"""
    return f(t, y, args)


def _recompute_fwd(f, t, y, args):
    return f(t, y, args), (t, y, args)


def _recompute_bwd(f, inputs, ct):
    # A cond whose predicate depends on the cotangent: a branch runs as one unit, so XLA
    # can neither evaluate f again before the cotangent exists nor merge that evaluation
    # with the forward one. (Its other branch, taken only when the cotangent's first entry
    # is NaN, returns NaN; any_in_batch keeps it a cond under vmap.)
    floats = _floats(inputs)

    def vjp(floats, ct):
        return _floats(jax.vjp(lambda *x: f(*_with_floats(inputs, x)), *floats)[1](ct))

    first = jax.tree_util.tree_leaves(ct)[0].ravel()[0]
    ct_floats = lax.cond(any_in_batch(first == first), vjp,
                         lambda floats, ct: [jnp.full_like(x, jnp.nan) for x in floats],
                         floats, ct)
    return _cotangent_tree(inputs, ct_floats)


recompute_in_reverse.defvjp(_recompute_fwd, _recompute_bwd)

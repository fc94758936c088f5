"""What a solve returns (`Solution`), why it may have failed (`RESULTS`), and `SolverError`."""
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .checkpoint import any_in_batch

SUCCESS, MAX_STEPS_REACHED, DT_UNDERFLOW, NONFINITE, ADJOINT_DIVERGED = 0, 1, 2, 3, 4

# result code -> (short name, what went wrong, what to change). {t}, {target} and
# {max_steps} are filled in when the message is shown.
RESULTS = {
    SUCCESS: ("success", "the solve reached the last output time", ""),
    MAX_STEPS_REACHED: (
        "max_steps_reached",
        "the solver took max_steps={max_steps} steps and stopped at t={t:.6g}, "
        "short of t={target:.6g}",
        "Raise max_steps, loosen rtol/atol, or use a larger dt0 with a fixed-step solver. "
        "Needing very many steps often means the problem is stiff (then use "
        "solver='rodas4') or the dynamics have grown too complex (see the chapter on "
        "limitations).",
    ),
    DT_UNDERFLOW: (
        "dt_underflow",
        "the step size shrank below what floating point can resolve at t={t:.6g} "
        "(target t={target:.6g})",
        "The solution may blow up near this time, or the problem is very stiff (then use "
        "solver='rodas4'). Check the vector field, loosen rtol/atol, or compute in float64 "
        "(jax_enable_x64).",
    ),
    NONFINITE: (
        "nonfinite",
        "the state or the vector field became NaN or infinite at t={t:.6g} (target t={target:.6g})",
        "Check f for overflow, division by zero or log of non-positive numbers; with a "
        "fixed-step solver, a smaller dt0 often cures it; with dopri5 or rodas4, tighter "
        "tolerances.",
    ),
    ADJOINT_DIVERGED: (
        "adjoint_diverged",
        "solving backwards from t={target:.6g}, it lost the forward trajectory: at t={t:.6g} "
        "its state differs from the one the forward solve stored by more than 10 % and by "
        "more than 1000 times the tolerance, so the gradient it computed is meaningless",
        "The dynamics contract strongly forwards in time (stiff or chaotic systems), so they "
        "expand backwards and the continuous adjoint cannot recover y(t). Use "
        "gradient='checkpoint' (the exact gradient of the solver's steps), or add output "
        "times to ts: the backward solve restarts from the stored state at each of them.",
    ),
}


class SolverError(RuntimeError):
    """A solve did not reach its last output time; the message says why and what to change.

    Raised directly when `odeint` runs outside `jax.jit`. Inside a jitted function the error
    is raised while the compiled program runs, and JAX reports it as a
    `jax.errors.JaxRuntimeError` (or, see `SOLVER_ERRORS`, a `ValueError`) whose message
    contains this one: catch `nodelib.SOLVER_ERRORS` to handle every form.
    """


# What a failed solve raises: SolverError outside jit; inside, JAX wraps the callback's
# exception. Since JAX 0.7.2 a jitted function whose earlier calls succeeded (its C++ fast
# path is then in use) raises a plain ValueError instead of a JaxRuntimeError
# (jax-ml/jax issue 34083). The message is "INTERNAL: CpuCallback error ..." ending with
# nodelib's message in either case. ValueError is also what nodelib raises for a bad
# argument, before anything runs: read the message to tell them apart.
SOLVER_ERRORS = (SolverError, jax.errors.JaxRuntimeError, ValueError)


class Solution(NamedTuple):
    """The result of `nodelib.odeint`; a pytree, so it can leave `jax.jit` and `jax.vmap`.

    Attributes:
        ts: the output times, shape (T,).
        ys: the states at `ts`, with the structure of y0 and a leading axis of size T.
        stats: dict of int arrays: "nfe" (evaluations of f), "num_steps" (attempts),
            "num_accepted_steps", "num_rejected_steps", "njev" (Jacobians of f) and
            "nlinsolve" (linear solves; both 0 for the explicit solvers).
        result: int array; 0 (`SUCCESS`) or a code of `RESULTS` saying why the solve stopped.
        t_reached: the last time the solver reached (equal to ts[-1] on success).
    """

    ts: Any
    ys: Any
    stats: dict
    result: Any
    t_reached: Any

    @property
    def succeeded(self):
        return self.result == SUCCESS

    @property
    def message(self) -> str:
        """Readable description of `result` (needs concrete values, i.e. outside jit)."""
        return describe(self.result, self.t_reached, self.ts[-1], max_steps=None)


def describe(result, t_reached, target, max_steps, context="") -> str:
    """Human-readable message for result code(s); for batched codes, the first failure."""
    codes = np.asarray(result).reshape(-1)
    failed = np.flatnonzero(codes != SUCCESS)
    i = int(failed[0]) if failed.size else 0
    code = int(codes[i])
    t = float(np.asarray(t_reached).reshape(-1)[i])
    target = float(np.asarray(target).reshape(-1)[-1])
    name, what, fix = RESULTS[code]
    if code == SUCCESS:
        return "success: " + what
    what = what.format(t=t, target=target, max_steps="?" if max_steps is None else max_steps)
    batch = f" (batch element {i} of {codes.size})" if codes.size > 1 else ""
    where = f" in {context}" if context else ""
    if "backward" in context and code != ADJOINT_DIVERGED:
        fix += (" Solving backwards, dynamics that contract forwards in time (stiff or "
                "chaotic systems) expand, and the continuous adjoint may fail however it is "
                "solved: gradient='checkpoint' differentiates the forward steps instead.")
    return f"nodelib.odeint failed{where}{batch}: {what}. {fix}".strip()


def raise_if_failed(result, t_reached, target, max_steps, context=""):
    """Raise `SolverError` if any result code is not SUCCESS (host-side; also a jit callback)."""
    if np.any(np.asarray(result) != SUCCESS):
        raise SolverError(describe(result, t_reached, target, max_steps, context))


def checked(values, result, t_reached, target, max_steps, context=""):
    """Return `values` unchanged, raising `SolverError` while the program runs if `result`
    says the solve failed: `raise_if_failed` for traced values (under `jax.jit`).

    The check costs nothing on success: a `lax.cond` calls the host only when a result code
    is not SUCCESS, and the host raises. The callback is declared to return `values` (it
    never does), which ties the check to what the caller goes on to use, so XLA cannot drop
    it as dead code; it receives only the result codes and times, so nothing else is
    computed or copied for it (Equinox's `error_if` works this way). Under `jax.vmap` the
    condition is whether any solve of the batch failed (`any_in_batch`), so the cond stays
    a cond. Tangents pass through unchanged.

    Args:
        values: pytree of arrays to return (e.g. the `Solution`, or gradients).
        result, t_reached, target: the result code(s), the time reached and the target time.
        max_steps, context: for the message (static).

    Returns:
        `values`.
    """
    return _checked(values, result, t_reached, target, max_steps, context)


@partial(jax.custom_jvp, nondiff_argnums=(4, 5))
def _checked(values, result, t_reached, target, max_steps, context):
    return _check(values, result, t_reached, target, max_steps, context)[0]


def _check(values, result, t_reached, target, max_steps, context):
    """(values, one): `one` is 1.0, computed by the check, for the tangent rule below."""
    shapes = jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype),
                                    (values, jnp.ones((), jnp.float32)))

    def host(result, t_reached, target):
        raise_if_failed(result, t_reached, target, max_steps, context)
        # Not reached: the callback runs only when some result code is not SUCCESS. (The
        # result code is a scalar, so under vmap its shape is the batch's.)
        batch = np.shape(result)
        return jax.tree_util.tree_map(lambda s: np.zeros(batch + s.shape, s.dtype), shapes)

    def fail(_values):
        return jax.pure_callback(host, shapes, result, t_reached, target,
                                 vmap_method="broadcast_all")

    failed = any_in_batch(jnp.any(result != SUCCESS))
    return lax.cond(failed, fail, lambda values: (values, jnp.ones((), jnp.float32)), values)


@_checked.defjvp
def _checked_jvp(max_steps, context, primals, tangents):
    # Reverse mode keeps only what the backward pass needs, and the primal output is not
    # needed there: scaling the tangents by the check's `one` makes the backward pass
    # depend on the check, so `jax.grad` of a failed solve raises too, before any adjoint.
    # The check itself is never differentiated (stop_gradient), so that higher derivatives
    # (jax.hessian, grad of grad) pass through it without touching the host callback.
    values = primals[0]
    _, one = _check(*jax.tree_util.tree_map(lax.stop_gradient, primals), max_steps, context)
    scale = lambda t: t if t.dtype == jax.dtypes.float0 else t * one.astype(t.dtype)
    return values, jax.tree_util.tree_map(scale, tangents[0])

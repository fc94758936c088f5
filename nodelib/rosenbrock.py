"""A stiff solver: the Rosenbrock method RODAS4 (linearly implicit, L-stable, order 4(3)).

Explicit Runge–Kutta methods are stable only while the step size h times the largest
eigenvalue of the Jacobian df/dy stays in a small region around 0: on a stiff problem
(fast modes that decay, slow ones that matter) their step is pinned by stability, not by
accuracy. A Rosenbrock method replaces the Newton iterations of an implicit Runge–Kutta
method by one linear solve per stage with the exact Jacobian J (Hairer & Wanner, *Solving
ODEs II*, section IV.7). In the transformed form that their code RODAS uses, one step from
(t, y) with step h reads

    E   = I / (h gamma) - J                                              (n, n)
    E u_i = f(t + c_i h, y + sum_{j<i} a_ij u_j) + sum_{j<i} (c_ij / h) u_j + h d_i f_t
    y1  = y + sum_i m_i u_i,        error estimate  sum_i e_i u_i

with J = df/dy and f_t = df/dt at (t, y), both from JAX (`jax.jacfwd`), and one LU
factorisation of E shared by the s = 6 stages. RODAS4 is stiffly accurate: y1 is the
argument of a last stage plus its increment u_6, and that increment is the error estimate
of an embedded third-order solution. Its stability function vanishes at infinity (L-stable),
so the fast modes are damped, not merely kept bounded.

The coefficients are those of Hairer & Wanner's Fortran code RODAS (METH = 1, subroutine
RODCOE of rodas.f; the method is described in *Solving ODEs II*, 2nd ed., 1996, section
VI.4), with its third-order dense output (the `dense` rows below). `tests/test_stiff.py`
checks them against the Rosenbrock order conditions (Hairer & Wanner, section IV.7): order 4
for y1, order 3 for the embedded solution; and the stability function: A-stable, and zero at
infinity.

States here are flat vectors (n,), as in `nodelib.rk`.
"""
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import lu_factor, lu_solve

Row = tuple[float, ...]


@dataclass(frozen=True)
class RosenbrockTableau:
    """A Rosenbrock method in Hairer & Wanner's transformed form (see the module docstring).

    Attributes:
        name: short name, the one `nodelib.odeint(solver=...)` accepts.
        order: order of the solution y1; the embedded estimate has order `order - 1`.
        gamma: the diagonal coefficient (the same for every stage).
        c: nodes c_i, one per stage (c_1 = 0).
        d: coefficients d_i of the time derivative f_t (row sums of the untransformed gamma).
        a: a_ij, lower triangular; `a[i]` has i entries.
        cc: c_ij, lower triangular; `cc[i]` has i entries.
        m: solution weights; e: error weights (y1 - y_hat = sum e_i u_i).
        dense: two rows of weights for the dense output (see `dense_coefficients`).

    Raises:
        ValueError: if the coefficients are inconsistent: wrong lengths, or nodes c that are
            not the row sums of the untransformed stage weights, or d that are not the row
            sums of the untransformed gamma matrix.
    """

    name: str
    order: int
    gamma: float
    c: Row
    d: Row
    a: tuple[Row, ...]
    cc: tuple[Row, ...]
    m: Row
    e: Row
    dense: tuple[Row, Row]

    def __post_init__(self):
        s = self.stages
        rows_ok = all(len(r) == i for i, r in enumerate(self.a)) and \
            all(len(r) == i for i, r in enumerate(self.cc))
        if not (len(self.d) == len(self.a) == len(self.cc) == len(self.m) == len(self.e) == s
                and rows_ok):
            raise ValueError(f"{self.name}: c, d, a, cc, m, e must all have {s} stages, "
                             "a and cc lower triangular")
        alpha, big_gamma, _ = self.untransformed()
        if not np.allclose(alpha.sum(1), self.c, atol=1e-12):
            raise ValueError(f"{self.name}: nodes c are not the row sums of alpha = a Gamma")
        if not np.allclose(big_gamma.sum(1), self.d, atol=1e-12):
            raise ValueError(f"{self.name}: d are not the row sums of Gamma")

    @property
    def stages(self) -> int:
        return len(self.c)

    adaptive = True                # every Rosenbrock method here has an error estimate

    @property
    def evals_per_step(self) -> int:
        """Evaluations of f per step attempt: stages 2..s, and f(t1, y1) for the next step."""
        return self.stages

    def untransformed(self):
        """(alpha, Gamma, b): the method in its standard form (Hairer & Wanner, section IV.7).

        The transformed coefficients satisfy Gamma^{-1} = diag(1/gamma) - C, a = alpha
        Gamma^{-1} and m = b^T Gamma^{-1} (Hairer & Wanner, section IV.7, "Implementation").

        Returns:
            numpy float64 arrays alpha (s, s), Gamma (s, s) and the weights b (s,).
        """
        s = self.stages
        lower = lambda rows: np.array([list(r) + [0.0] * (s - len(r)) for r in rows])
        gamma_inv = np.eye(s) / self.gamma - lower(self.cc)
        big_gamma = np.linalg.inv(gamma_inv)
        return lower(self.a) @ big_gamma, big_gamma, np.asarray(self.m) @ big_gamma


_A5 = (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950)

# Hairer & Wanner's RODAS, METH = 1 (subroutine RODCOE of rodas.f).
RODAS4 = RosenbrockTableau(
    name="rodas4", order=4, gamma=0.25,
    c=(0.0, 0.386, 0.21, 0.63, 1.0, 1.0),
    d=(0.25, -0.1043, 0.1035, -0.3620000000000023e-01, 0.0, 0.0),
    a=((), (1.544,), (0.9466785280815826, 0.2557011698983284),
       (3.314825187068521, 2.896124015972201, 0.9986419139977817), _A5, _A5 + (1.0,)),
    cc=((), (-5.6688,), (-2.430093356833875, -0.2063599157091915),
        (-0.1073529058151375, -9.594562251023355, -20.47028614809616),
        (7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160),
        (8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136,
         -6.058818238834054)),
    m=_A5 + (1.0, 1.0),
    e=(0.0, 0.0, 0.0, 0.0, 0.0, 1.0),
    dense=((10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823,
            1.025137723295662, 0.0),
           (-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386,
            -6.594389125716872, 0.0)),
)


def _combine(coefs, us):
    """sum_j coefs[j] * us[j] over the nonzero coefficients (None if all are zero)."""
    total = None
    for coef, u in zip(coefs, us):
        if coef != 0:
            total = coef * u if total is None else total + coef * u
    return total


def jacobians(fn, t, y):
    """(f_t, J): df/dt (n,) and df/dy (n, n) at (t, y), in one forward-mode pass."""
    f_t, jac = jax.jacfwd(fn, argnums=(0, 1))(t, y)
    return f_t, jac


def rosenbrock_step(tab: RosenbrockTableau, fn, t, y, dt, f0):
    """Take one step of a Rosenbrock method (Hairer & Wanner, section IV.7, transformed form).

    Args:
        tab: the method.
        fn: vector field on flat states, `fn(t, y) -> (n,)`.
        t: current time (scalar); y: current state (n,); dt: step size (may be < 0).
        f0: fn(t, y).

    Returns:
        (y1, y_err, us): the new state (n,), the error estimate (n,), and the s stage
        increments u_i, each (n,), for the dense output. Costs s - 1 evaluations of f,
        one Jacobian (`jacobians`), one LU factorisation and s linear solves.
    """
    f_t, jac = jacobians(fn, t, y)                                        # (n,), (n, n)
    n = y.shape[0]
    # A step of size 0 (a finished solve in a vmapped batch keeps stepping) leaves y as it
    # is. It is computed with dt = 1 and discarded: dividing by 0 would give NaN values
    # whose zero cotangents turn into NaN gradients.
    zero = dt == 0
    dt = jnp.where(zero, jnp.ones_like(dt), dt)
    lu = lu_factor(jnp.eye(n, dtype=y.dtype) / (dt * tab.gamma) - jac)   # E, factorised
    us = []
    for i in range(tab.stages):
        increment = _combine(tab.a[i], us)
        f_i = f0 if i == 0 else fn(t + tab.c[i] * dt, y + increment)
        rhs = f_i
        coupling = _combine(tab.cc[i], us)
        if coupling is not None:
            rhs = rhs + coupling / dt
        if tab.d[i] != 0:
            rhs = rhs + (tab.d[i] * dt) * f_t
        us.append(lu_solve(lu, rhs))                                      # (n,)
    y1 = jnp.where(zero, y, y + _combine(tab.m, us))
    y_err = jnp.where(zero, jnp.zeros_like(y), _combine(tab.e, us))
    return y1, y_err, us


def dense_coefficients(tab: RosenbrockTableau, y0, y1, us):
    """Coefficients of the method's own dense output, in the form of `nodelib.rk`.

    Hairer & Wanner's RODAS interpolates, with s = (t - t0) / dt in [0, 1],

        y(s) = (1 - s) y0 + s (y1 + (1 - s) (q1 + s q2)),   q_k = sum_j dense[k-1][j] u_j,

    which is `nodelib.rk.interpolate`'s polynomial with r = (y0, y1 - y0, q1, q2, 0).

    Returns:
        array (5, n), for `nodelib.rk.interpolate`.
    """
    q1, q2 = _combine(tab.dense[0], us), _combine(tab.dense[1], us)
    return jnp.stack([y0, y1 - y0, q1, q2, jnp.zeros_like(y0)])

"""Butcher tableaus: the coefficients that define explicit Runge–Kutta methods.

An explicit s-stage Runge–Kutta method advances y' = f(t, y) from t to t + h by

    k_i = f(t + c_i h, y + h * sum_{j<i} a_ij k_j),      i = 1..s
    y1  = y + h * sum_i b_i k_i

(Hairer, Nørsett & Wanner, *Solving ODEs I*, section II.1). Every explicit solver in nodelib
is one of the tableaus below fed to the single generic step in `nodelib.rk`; the stiff
solver "rodas4" is a Rosenbrock method (`nodelib.rosenbrock`), listed in `SOLVERS` too.

The coefficients are stored as exact fractions and checked when the tableau is built:
each row of `a` sums to its `c`, the weights `b` sum to 1 and the error weights sum to 0.
They become floating point only when a step uses them, in the dtype of the state.
"""
from dataclasses import dataclass
from fractions import Fraction as F

from .rosenbrock import RODAS4

Row = tuple[F, ...]


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge–Kutta method.

    Attributes:
        name: short name, the one `nodelib.odeint(solver=...)` accepts.
        order: order of the solution `b` (global error O(h**order)).
        c: nodes, one per stage; c[0] == 0.
        a: lower-triangular stage weights; `a[i]` has i entries (a[0] is empty).
        b: solution weights.
        b_err: `b - b_hat`, the weights of the embedded error estimate, or None
            for fixed-step methods.
        dense: weights of the extra term in the continuous extension (dense output),
            or None. See `nodelib.rk.interpolate`.
        fsal: "first same as last": the last stage is evaluated at (t + h, y1), so it is
            the first stage of the next step and costs nothing there.

    Raises:
        ValueError: if the coefficients are inconsistent.
    """

    name: str
    order: int
    c: Row
    a: tuple[Row, ...]
    b: Row
    b_err: Row | None = None
    dense: Row | None = None
    fsal: bool = False

    def __post_init__(self):
        s = len(self.c)
        if len(self.a) != s or len(self.b) != s:
            raise ValueError(f"{self.name}: c, a and b must all have {s} stages")
        if self.c[0] != 0:
            raise ValueError(f"{self.name}: an explicit method needs c[0] == 0")
        for i, row in enumerate(self.a):
            if len(row) != i:
                raise ValueError(f"{self.name}: row {i} of a must have {i} entries, has {len(row)}")
            if sum(row, F(0)) != self.c[i]:
                raise ValueError(f"{self.name}: row {i} of a sums to {sum(row)}, "
                                 f"not c[{i}] = {self.c[i]}")
        if sum(self.b, F(0)) != 1:
            raise ValueError(f"{self.name}: weights b sum to {sum(self.b)}, not 1")
        if self.b_err is not None and sum(self.b_err, F(0)) != 0:
            raise ValueError(f"{self.name}: error weights sum to {sum(self.b_err)}, not 0")
        if self.fsal and (self.c[-1] != 1 or tuple(self.a[-1]) + (F(0),) != tuple(self.b)):
            raise ValueError(f"{self.name}: FSAL needs the last row of a to equal b, at c = 1")

    @property
    def stages(self) -> int:
        return len(self.c)

    @property
    def adaptive(self) -> bool:
        """Whether the method carries an error estimate (and so can adapt its step)."""
        return self.b_err is not None

    @property
    def evals_per_step(self) -> int:
        """New evaluations of f per step attempt (FSAL saves one)."""
        return self.stages - 1 if self.fsal else self.stages


def _f(*xs):
    return tuple(F(x) for x in xs)


EULER = ButcherTableau(name="euler", order=1, c=_f(0), a=((),), b=_f(1))

MIDPOINT = ButcherTableau(
    name="midpoint", order=2,
    c=_f(0, "1/2"),
    a=((), _f("1/2")),
    b=_f(0, 1),
)

# The classical fourth-order method (Kutta 1901; Hairer et al., Table II.1.2).
RK4 = ButcherTableau(
    name="rk4", order=4,
    c=_f(0, "1/2", "1/2", 1),
    a=((), _f("1/2"), _f(0, "1/2"), _f(0, 0, 1)),
    b=_f("1/6", "1/3", "1/3", "1/6"),
)

# Dormand & Prince (1980), "A family of embedded Runge-Kutta formulae", Table 2 (DOPRI5):
# fifth-order solution, fourth-order embedded estimate, FSAL.
_DP_B = _f("35/384", 0, "500/1113", "125/192", "-2187/6784", "11/84", 0)
_DP_B_HAT = _f("5179/57600", 0, "7571/16695", "393/640", "-92097/339200", "187/2100", "1/40")
DOPRI5 = ButcherTableau(
    name="dopri5", order=5,
    c=_f(0, "1/5", "3/10", "4/5", "8/9", 1, 1),
    a=(
        (),
        _f("1/5"),
        _f("3/40", "9/40"),
        _f("44/45", "-56/15", "32/9"),
        _f("19372/6561", "-25360/2187", "64448/6561", "-212/729"),
        _f("9017/3168", "-355/33", "46732/5247", "49/176", "-5103/18656"),
        _DP_B[:6],
    ),
    b=_DP_B,
    b_err=tuple(x - y for x, y in zip(_DP_B, _DP_B_HAT)),
    # Continuous extension of Shampine (1986) as coded in Hairer's DOPRI5 (CONTD5):
    # the coefficients d_i of the fourth-order dense output (Hairer et al., section II.6).
    dense=_f("-12715105075/11282082432", 0, "87487479700/32700410799",
             "-10690763975/1880347072", "701980252875/199316789632",
             "-1453857185/822651844", "69997945/29380423"),
    fsal=True,
)

SOLVERS = {tab.name: tab for tab in (EULER, MIDPOINT, RK4, DOPRI5, RODAS4)}

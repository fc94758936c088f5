"""Memory of a gradient as the number of solver steps grows, for every gradient method.

Compiled temporary memory (XLA's memory analysis, `nodelib.peak_memory`) of the gradient of
sum(y(1)**2) with respect to the parameters of a tanh MLP vector field, for fixed-step RK4
solves of 100, 1 000 and 10 000 steps: nodelib's continuous adjoint and checkpointed
gradient, diffrax's RecursiveCheckpointAdjoint and BacksolveAdjoint (jax.experimental.ode
has no fixed-step solver and is left out). Nothing is
run: the figures are what XLA plans for the compiled programs. Also: for a solve of a few
dozen adaptive steps, the memory at max_steps = 500 and 20 000. Prints one Markdown section
on stdout, progress on stderr, and saves a figure.

    .venv/bin/python benchmarks/memory.py [--quick]
"""
import jax

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from common import (  # noqa: E402
    QUICK,
    RESULTS_DIR,
    Stopwatch,
    fmt_bytes,
    fmt_ratio,
    log,
    markdown_table,
    neural_problem,
    target,
)

import nodelib  # noqa: E402

STEPS = (100, 1000) if QUICK else (100, 1000, 10000)
SIZES, BATCH, DTYPE = (2, 64, 2), 16, jnp.float64
LIMIT = 1.2
METHODS = ["nodelib adjoint", "nodelib checkpoint", "nodelib backprop",
           "diffrax RecursiveCheckpoint",
           "diffrax Backsolve"]


class DiffraxRK4(diffrax.AbstractERK):
    """The classical RK4 as a diffrax solver (diffrax ships no RK4), for fixed steps."""
    tableau = diffrax.ButcherTableau(
        c=np.array([0.5, 0.5, 1.0]), b_sol=np.array([1 / 6, 1 / 3, 1 / 3, 1 / 6]),
        b_error=np.zeros(4),
        a_lower=(np.array([0.5]), np.array([0.0, 0.5]), np.array([0.0, 0.0, 1.0])))
    interpolation_cls = diffrax.ThirdOrderHermitePolynomialInterpolation.from_k

    def order(self, terms):
        return 4


def solve_fixed(f, y0, n, method):
    """y(1) by n RK4 steps, differentiated by `method`."""
    ts = jnp.array([0.0, 1.0], DTYPE)
    if method.startswith("nodelib"):
        gradient = method.split()[1]
        return lambda p: nodelib.odeint(f, y0, ts, p, solver="rk4", dt0=1.0 / n, max_steps=n,
                                        gradient=gradient).ys[-1]
    adjoint = (diffrax.RecursiveCheckpointAdjoint() if method.endswith("RecursiveCheckpoint")
               else diffrax.BacksolveAdjoint())
    return lambda p: diffrax.diffeqsolve(diffrax.ODETerm(f), DiffraxRK4(), 0.0, 1.0, 1.0 / n,
                                         y0, p, max_steps=n, adjoint=adjoint).ys[-1]


def memory(solve, params):
    return nodelib.peak_memory(jax.grad(lambda p: jnp.sum(solve(p) ** 2)), params)


def max_steps_memory(f, params, y0):
    """Gradient memory of an adaptive solve of a few dozen steps at max_steps 500 and 20 000."""
    out = {}
    for method in ("adjoint", "checkpoint", "backprop"):
        for ms in (500, 20_000):
            solve = lambda p, ms=ms, method=method: nodelib.odeint(
                f, y0, jnp.array([0.0, 6.0], DTYPE), p, max_steps=ms, gradient=method).ys[-1]
            out[(f"nodelib {method}", ms)] = memory(solve, params)
    for ms in (500, 20_000):
        solve = lambda p, ms=ms: diffrax.diffeqsolve(
            diffrax.ODETerm(f), diffrax.Dopri5(), 0.0, 6.0, None, y0, p, max_steps=ms,
            stepsize_controller=diffrax.PIDController(rtol=1e-6, atol=1e-6)).ys[-1]
        out[("diffrax RecursiveCheckpoint", ms)] = memory(solve, params)
    sol = nodelib.odeint(f, y0, jnp.array([0.0, 6.0], DTYPE), params)
    return out, int(sol.stats["num_steps"])


def figure(mem):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, method in enumerate(METHODS):
        ax.loglog(STEPS, [mem[(method, n)] / 1e6 for n in STEPS], marker="osvD^"[i],
                  label=method)
    ax.set_xlabel("RK4 steps (max_steps equal to the steps)")
    ax.set_ylabel("compiled temporary memory (MB)")
    ax.set_title("Gradient memory against the number of steps")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS_DIR / "gradient_memory.png", dpi=110)
    plt.close(fig)
    alt = ("Log-log plot of the compiled memory of a gradient against the number of RK4 "
           "steps, one line per gradient method: " + "; ".join(
               f"{m} from {fmt_bytes(mem[(m, STEPS[0])])} to {fmt_bytes(mem[(m, STEPS[-1])])}"
               for m in METHODS) + ".")
    return "\n".join(["```{figure} results/gradient_memory.png", f":alt: {alt}",
                      ":width: 80%", "", "Gradient memory against the number of steps", "```"])


def main():
    clock = Stopwatch()
    f, params, y0 = neural_problem(SIZES, BATCH, DTYPE)
    mem = {}
    for method in METHODS:
        for n in STEPS:
            log(f"{clock} memory: {method}, {n} steps")
            mem[(method, n)] = memory(solve_fixed(f, y0, n, method), params)
    log(f"{clock} memory: max_steps")
    f64, p64, y64 = neural_problem((8, 64, 8), 64, DTYPE)
    ms_mem, steps_taken = max_steps_memory(f64, p64, y64)
    log(f"{clock} memory: done")
    first, last = STEPS[0], STEPS[-1]
    growth = {m: mem[(m, last)] / mem[(m, first)] for m in METHODS}
    rows = [[f"{n:,}".replace(",", " ")] +
            [f"{fmt_bytes(mem[(m, n)])} ({fmt_ratio(mem[(m, n)] / mem[(m, first)])})"
             for m in METHODS] for n in STEPS]
    ms_rows = [[m, fmt_bytes(ms_mem[(m, 500)]), fmt_bytes(ms_mem[(m, 20_000)]),
                fmt_ratio(ms_mem[(m, 20_000)] / ms_mem[(m, 500)])]
               for m in ("nodelib adjoint", "nodelib checkpoint", "nodelib backprop",
                         "diffrax RecursiveCheckpoint")]
    ck, rc = "nodelib checkpoint", "diffrax RecursiveCheckpoint"
    worst_vs_rc = max(mem[(ck, n)] / mem[(rc, n)] for n in STEPS)
    ms_growth = ms_mem[(ck, 20_000)] / ms_mem[(ck, 500)]
    lines = ["## Gradient memory against the number of steps", "",
             "Temporary memory of the compiled gradient (XLA memory analysis, "
             "`nodelib.peak_memory`; nothing is run) of sum(y(1)**2) with respect to the "
             f"parameters of a {'-'.join(map(str, SIZES))} tanh MLP vector field on a batch of "
             f"{BATCH} states ({jnp.dtype(DTYPE).name}), solved by fixed-step RK4 with "
             f"{', '.join(str(n) for n in STEPS)} steps (`max_steps` equal to the number of "
             "steps). In brackets: the ratio to the first row. The continuous adjoints "
             "(nodelib's `gradient=\"adjoint\"`, diffrax's BacksolveAdjoint) keep only the "
             "final state and solve backwards; nodelib's `gradient=\"checkpoint\"` keeps "
             "states at three levels (every state of the last 32 steps, every 32nd of a "
             "longer stretch and a coarse top level: 36 states at 100 steps, 68 at 10 000) "
             "and the intermediates of one step; "
             "`gradient=\"backprop\"` (the same derivative, taken by JAX through two levels "
             "of checkpointed scans) about as many states, each with a copy of the "
             "parameters; "
             "diffrax's RecursiveCheckpointAdjoint keeps about log2(max_steps) states "
             "(online treeverse).", "",
             markdown_table(["steps"] + METHODS, rows), "", figure(mem), "",
             f"The steps a solve takes, not `max_steps`: an adaptive Dopri5 solve of a "
             f"batch-64 8-64-8 tanh MLP field over [0, 6] at rtol = atol = 1e-6 "
             f"({steps_taken} steps), its gradient compiled at max_steps = 500 and 20 000:", "",
             markdown_table(["method", "max_steps 500", "max_steps 20 000", "ratio"], ms_rows),
             "", "**Targets**", "",
             target(f"adjoint gradient memory flat in the number of steps (≤ {LIMIT}× from "
                    f"{first} to {last} steps): {growth['nodelib adjoint']:.2f}×",
                    growth["nodelib adjoint"] <= LIMIT),
             target(f"checkpoint gradient memory ≤ 1.0× diffrax's RecursiveCheckpointAdjoint's "
                    f"at every step count: at most {worst_vs_rc:.2f}×", worst_vs_rc <= 1.0),
             target(f"checkpoint memory growing from {first} to {last} steps no faster than "
                    f"RecursiveCheckpointAdjoint's: {growth[ck]:.2f}× against "
                    f"{growth[rc]:.2f}×", growth[ck] <= growth[rc]),
             target(f"checkpoint memory at max_steps 20 000 within a small factor (≤ 2×) of "
                    f"that at 500 for a solve of {steps_taken} steps: {ms_growth:.2f}×",
                    ms_growth <= 2.0)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

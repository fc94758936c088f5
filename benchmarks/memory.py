"""Memory of a gradient as the number of solver steps grows: continuous adjoint against
backpropagation through the solver.

Compiled temporary memory (XLA's memory analysis, `nodelib.peak_memory`) of the gradient of
sum(y(1)**2) with respect to the parameters of a tanh MLP vector field, for fixed-step RK4
solves of 100, 1 000 and 10 000 steps, with gradient="adjoint" and gradient="backprop".
Nothing is run: the figures are what XLA plans for the compiled programs. Prints one
Markdown section on stdout, progress on stderr.

    .venv/bin/python benchmarks/memory.py [--quick]
"""
import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import nodelib  # noqa: E402
from common import (QUICK, Stopwatch, fmt_bytes, fmt_ratio, log, markdown_table,  # noqa: E402
                    neural_problem, target)

STEPS = (100, 1000) if QUICK else (100, 1000, 10000)
SIZES, BATCH, DTYPE = (2, 64, 2), 16, jnp.float64
LIMIT = 1.2


def gradient(f, y0, n, method):
    ts = jnp.array([0.0, 1.0], DTYPE)

    def loss(p):
        sol = nodelib.odeint(f, y0, ts, p, solver="rk4", dt0=1.0 / n, max_steps=n,
                             gradient=method)
        return jnp.sum(sol.ys[-1] ** 2)
    return jax.grad(loss)


def main():
    clock = Stopwatch()
    f, params, y0 = neural_problem(SIZES, BATCH, DTYPE)
    mem = {}
    for method in ("adjoint", "backprop"):
        for n in STEPS:
            log(f"{clock} memory: {method}, {n} steps")
            mem[(method, n)] = nodelib.peak_memory(gradient(f, y0, n, method), params)
    log(f"{clock} memory: done")
    first, last = STEPS[0], STEPS[-1]
    rows = [[f"{n:,}".replace(",", " "), fmt_bytes(mem[("adjoint", n)]),
             fmt_ratio(mem[("adjoint", n)] / mem[("adjoint", first)]),
             fmt_bytes(mem[("backprop", n)]),
             fmt_ratio(mem[("backprop", n)] / mem[("backprop", first)])] for n in STEPS]
    per_step = (mem[("backprop", last)] - mem[("backprop", STEPS[-2])]) / (last - STEPS[-2])
    state = BATCH * SIZES[0] * jnp.dtype(DTYPE).itemsize
    growth = mem[("adjoint", last)] / mem[("adjoint", first)]
    lines = ["## Gradient memory against the number of steps", "",
             "Temporary memory of the compiled gradient (XLA memory analysis, "
             "`nodelib.peak_memory`; nothing is run) of sum(y(1)**2) with respect to the "
             f"parameters of a {'-'.join(map(str, SIZES))} tanh MLP vector field on a batch of "
             f"{BATCH} states ({jnp.dtype(DTYPE).name}), solved by fixed-step RK4 with "
             f"{', '.join(str(n) for n in STEPS)} steps (`max_steps` equal to the number of "
             "steps). `gradient=\"adjoint\"` is the continuous adjoint (a backward solve "
             "restarting from the stored final state); `gradient=\"backprop\"` differentiates "
             "through the steps and must keep each step's intermediate values.", "",
             markdown_table(["steps", "adjoint", "adjoint ÷ first", "backprop",
                             "backprop ÷ first"], rows), "",
             f"Backpropagation stores about {fmt_bytes(per_step)} per step between "
             f"{STEPS[-2]} and {last} steps (one state is {fmt_bytes(state)}; each RK4 step "
             "also keeps its stages and the MLP's hidden activations).", "",
             "**Targets**", "",
             target(f"adjoint gradient memory flat in the number of steps (≤ {LIMIT}× from "
                    f"{first} to {last} steps): {growth:.2f}×", growth <= LIMIT)]
    print("\n".join(lines))


if __name__ == "__main__":
    main()

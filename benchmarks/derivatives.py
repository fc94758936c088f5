"""Which derivatives each gradient method can take: first and second order, reverse and forward.

A gradient method is more than its speed: a sensitivity analysis needs Hessians, a
Gauss-Newton or natural-gradient step needs Jacobian-vector products, and a regulariser on
a gradient (gradient penalties, meta-learning) needs the gradient of a gradient. This script
asks each method for five derivatives of one loss and reports, for each, whether JAX could
take it and, if so, its error against a reference:

- **grad**: `jax.grad` (reverse mode, first order);
- **grad of grad**: `jax.jit(jax.grad(...))` of one entry of the gradient (reverse over reverse);
- **Hessian**: `jax.hessian` (forward over reverse);
- **jvp**: `jax.jvp` (forward mode, first order);
- **jacfwd**: `jax.jacfwd` (forward mode, the whole gradient).

The problem is a damped, forced nonlinear oscillator with three parameters (float64,
t in [0, 3], rtol = atol = 1e-10), loss sum(y(3)**2). The reference differentiates, by JAX's
own automatic differentiation, a `lax.scan` of 20 000 classical RK4 steps: an ordinary JAX
program that every transformation applies to, accurate to about 1e-13 here. Prints one
Markdown section on stdout, progress on stderr.

    .venv/bin/python benchmarks/derivatives.py
"""
import jax

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from common import (  # noqa: E402
    QUICK,
    fmt_bytes,
    fmt_ratio,
    interleaved_medians,
    log,
    markdown_table,
    neural_problem,
    quiet_callback_errors,
    temp_bytes,
)
from jax.experimental.ode import odeint as jax_odeint  # noqa: E402

import nodelib  # noqa: E402

T1, TOL, REF_STEPS = 3.0, 1e-10, 20_000
THETA = jnp.array([0.3, 1.5, 0.8])          # damping, stiffness of the cubic term, forcing
Y0 = jnp.array([1.0, 0.0])


def field(t, y, theta):
    """y'' + c y' + k y^3 = a cos(t), as a first-order system."""
    c, k, a = theta
    return jnp.stack([y[1], -c * y[1] - k * y[0] ** 3 + a * jnp.cos(t)])


def reference_solve(theta):
    h = T1 / REF_STEPS

    def step(y, i):
        t = i * h
        k1 = field(t, y, theta)
        k2 = field(t + h / 2, y + h / 2 * k1, theta)
        k3 = field(t + h / 2, y + h / 2 * k2, theta)
        k4 = field(t + h, y + h * k3, theta)
        return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None
    return jax.lax.scan(step, Y0, jnp.arange(REF_STEPS, dtype=Y0.dtype))[0]


def nodelib_solve(gradient):
    ts = jnp.array([0.0, T1])
    return lambda theta: nodelib.odeint(field, Y0, ts, theta, rtol=TOL, atol=TOL,
                                        max_steps=20_000, gradient=gradient).ys[-1]


def jax_solve(theta):
    ts = jnp.array([0.0, T1])
    return jax_odeint(lambda y, t, th: field(t, y, th), Y0, ts, theta, rtol=TOL, atol=TOL)[-1]


def diffrax_solve(adjoint):
    def solve(theta):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(field), diffrax.Dopri5(), 0.0, T1, None, Y0, theta,
            stepsize_controller=diffrax.PIDController(rtol=TOL, atol=TOL),
            max_steps=20_000, adjoint=adjoint)
        return sol.ys[-1]
    return solve


METHODS = {
    "nodelib adjoint": nodelib_solve("adjoint"),
    "nodelib checkpoint": nodelib_solve("checkpoint"),
    "nodelib backprop": nodelib_solve("backprop"),
    "jax.experimental.ode": jax_solve,
    "diffrax RecursiveCheckpoint": diffrax_solve(diffrax.RecursiveCheckpointAdjoint()),
    "diffrax Backsolve": diffrax_solve(diffrax.BacksolveAdjoint()),
    "diffrax Direct": diffrax_solve(diffrax.DirectAdjoint()),
    "diffrax ForwardMode": diffrax_solve(diffrax.ForwardMode()),
}


def derivatives(solve):
    """The five derivatives of loss(theta) = sum(solve(theta)**2), as zero-argument calls."""
    loss = lambda theta: jnp.sum(solve(theta) ** 2)
    v = jnp.array([1.0, -0.5, 0.25])
    return {
        "grad": lambda: jax.jit(jax.grad(loss))(THETA),
        "grad of grad": lambda: jax.jit(jax.grad(lambda th: jax.grad(loss)(th)[0]))(THETA),
        "Hessian": lambda: jax.jit(jax.hessian(loss))(THETA),
        "jvp": lambda: jax.jit(lambda th: jax.jvp(loss, (th,), (v,))[1])(THETA),
        "jacfwd": lambda: jax.jit(jax.jacfwd(loss))(THETA),
    }


INTRO = (
    "Five derivatives of one loss, asked of each gradient method: **grad** (`jax.grad`, "
    "reverse mode), **grad of grad** (`jax.grad` of one entry of the gradient, reverse over "
    "reverse), **Hessian** (`jax.hessian`, forward over reverse), **jvp** (`jax.jvp`, "
    "forward mode) and **jacfwd** (`jax.jacfwd`), each jitted. The problem is a damped, "
    "forced oscillator $y'' + c y' + k y^3 = a \\cos t$ with the three parameters "
    "$(c, k, a) = (0.3, 1.5, 0.8)$, $y(0) = 1$, $y'(0) = 0$, $t \\in [0, 3]$, "
    "rtol = atol = 1e-10, float64, and the loss sum(y(3)**2). The reference applies the "
    "same JAX transformations to a `lax.scan` "
    "of 20 000 classical RK4 steps, an ordinary JAX program that every transformation "
    "applies to. A sensitivity analysis needs Hessians, Gauss-Newton and natural-gradient "
    "methods need Jacobian-vector products, and a penalty on a gradient needs the gradient "
    "of a gradient: what a method can differentiate matters as much as its speed.")


COST_CASES = [((2, 64, 2), 1), ((16, 128, 16), 128)]
COST_METHODS = ["nodelib checkpoint", "nodelib backprop", "diffrax Direct",
                "diffrax RecursiveCheckpoint"]


def neural_gradient(method, f, y0, tol=1e-6, t1=8.0):
    """The parameter gradient of sum(y(t1)**2) for a neural field, by `method`."""
    if method.startswith("nodelib"):
        ts = jnp.array([0.0, t1], y0.dtype)
        solve = lambda p: nodelib.odeint(f, y0, ts, p, rtol=tol, atol=tol,
                                         gradient=method.split()[1]).ys[-1]
    else:
        adjoint = (diffrax.DirectAdjoint() if method == "diffrax Direct"
                   else diffrax.RecursiveCheckpointAdjoint())
        solve = lambda p: diffrax.diffeqsolve(
            diffrax.ODETerm(f), diffrax.Dopri5(), 0.0, t1, None, y0, p,
            stepsize_controller=diffrax.PIDController(rtol=tol, atol=tol), max_steps=4096,
            adjoint=adjoint).ys[-1]
    return jax.grad(lambda p: jnp.sum(solve(p) ** 2))


def cost_rows():
    """Gradient time and compiled memory, ratios to nodelib's checkpoint, on neural fields."""
    rows = []
    for sizes, batch in COST_CASES[:1] if QUICK else COST_CASES:
        f, params, y0 = neural_problem(sizes, batch, jnp.float64)
        grads = {m: jax.jit(neural_gradient(m, f, y0)) for m in COST_METHODS}
        memory = {m: temp_bytes(neural_gradient(m, f, y0), params) for m in COST_METHODS}
        log(f"derivatives: cost of {sizes}, batch {batch}")
        times = interleaved_medians({m: (lambda g=g, p=params: g(p)) for m, g in grads.items()},
                                    repeats=5 if QUICK else 20)
        base = COST_METHODS[0]
        case = f"{'-'.join(map(str, sizes))}, batch {batch}"
        for m in COST_METHODS:
            rows.append([case, m,
                         fmt_ratio(times[m] / times[base])
                         + (f" ({times[m] * 1e3:.2f} ms)" if m == base else ""),
                         f"{fmt_bytes(memory[m])} ({fmt_ratio(memory[m] / memory[base])})"])
    return rows


def reason(exc):
    """The first line of an error, for the notes under the table."""
    line = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {line}"


def main():
    quiet_callback_errors()
    reference = {name: np.asarray(call()) for name, call in
                 derivatives(reference_solve).items()}
    kinds = list(reference)
    rows, supported, notes = [], {}, {}
    for method, solve in METHODS.items():
        log(f"derivatives: {method}")
        row = [method]
        for kind, call in derivatives(solve).items():
            try:
                value = np.asarray(call())
            except Exception as exc:  # noqa: BLE001 -- the table reports every failure
                note = notes.setdefault(reason(exc), "abcdefghijklmnopqrstuvwxyz"[len(notes)])
                row.append(f"no ({note})")
                continue
            ref = reference[kind]
            error = np.max(np.abs(value - ref)) / np.max(np.abs(ref))
            ok = bool(np.isfinite(error) and error < 1e-6)
            supported[(method, kind)] = ok
            row.append(f"yes ({error:.0e})" if ok else f"wrong ({error:.1e})")
        rows.append(row)

    out = [INTRO, "", "Each cell: *yes* and the largest error relative to the reference's "
           "largest entry (below 1e-6 counts as correct), *wrong* and that error, or *no* and "
           "a letter for the error JAX or the library raised, listed under the table.", ""]
    out.append(markdown_table(["method"] + kinds, rows, align="l" * (len(kinds) + 1)))
    out += [""] + [f"- ({letter}) {text}" for text, letter in notes.items()]
    def takes(method):
        done = [k for k in kinds if supported.get((method, k))]
        return f"{len(done)} ({', '.join(done) or 'none'})"
    out += ["", f"Of the {len(kinds)} derivatives, nodelib's `gradient=\"checkpoint\"` takes "
            f"{takes('nodelib checkpoint')}, `gradient=\"backprop\"` "
            f"{takes('nodelib backprop')}, and diffrax's RecursiveCheckpointAdjoint, the peer "
            f"of the checkpoint targets, {takes('diffrax RecursiveCheckpoint')}."]
    out += ["", "### What the derivatives cost", "",
            "The gradient of sum(y(8)**2) with respect to the parameters of the tanh MLP "
            "fields of the neural benchmark (Dopri5, rtol = atol = 1e-6, float64, "
            "`max_steps` 4096 for every method): time as a ratio to nodelib's checkpoint "
            "(medians of interleaved rounds; nodelib's own time in brackets) and the compiled "
            "memory of the gradient (XLA's analysis; in brackets the ratio to nodelib's "
            "checkpoint). nodelib's backprop and diffrax's DirectAdjoint take all five "
            "derivatives; nodelib's checkpoint and diffrax's RecursiveCheckpointAdjoint have "
            "reverse passes of their own.", ""]
    out.append(markdown_table(["field", "method", "time ÷ nodelib checkpoint",
                               "memory (÷ nodelib checkpoint)"], cost_rows()))
    print("\n".join(out))


if __name__ == "__main__":
    main()

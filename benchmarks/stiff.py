"""Stiff problems: nodelib's Rosenbrock solver rodas4 against scipy's Radau and BDF, diffrax's
Kvaerno5 and nodelib's own explicit dopri5.

Two classic stiff problems (Hairer & Wanner, *Solving ODEs II*, section IV.1 and IV.10):
Van der Pol with mu = 1000 over two relaxation periods (MATLAB's vdp1000) and Robertson's
chemical kinetics. For each solver: evaluations of the vector field (NFE), Jacobian
evaluations, steps, time and the error at the end against a Radau reference at 1e-12.
The target (issue 17): rodas4 at rtol = atol = 1e-6 costs at most 1/10 of dopri5's
evaluations, a Jacobian counted as D evaluations (D = the state's dimension), with a final
error within 100 times the tolerance. Prints one Markdown section on stdout, progress on
stderr.

    .venv/bin/python benchmarks/stiff.py [--quick]
"""
import time
from dataclasses import dataclass

import jax

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.integrate  # noqa: E402
from common import (  # noqa: E402
    QUICK,
    Stopwatch,
    fmt_int,
    fmt_ratio,
    fmt_sci,
    fmt_seconds,
    interleaved_medians,
    log,
    markdown_table,
    target,
)

import nodelib  # noqa: E402

TOLS = (1e-6,) if QUICK else (1e-4, 1e-6, 1e-8)
TARGET_TOL = 1e-6
REF_TOL = 1e-12
MAX_STEPS = 100_000                 # implicit solvers
DOPRI5_MAX_STEPS = 10_000_000       # the explicit solver, pinned by stability


@dataclass
class Problem:
    name: str
    field: object           # f(t, y, args) in jax.numpy
    jac_np: object          # analytic Jacobian (t, y) -> (D, D), for scipy
    y0: np.ndarray
    t1: float
    args: object            # the field's args
    ref_atol: float
    what: str


def van_der_pol(t, y, mu):
    return jnp.stack([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])


def van_der_pol_jac(t, y, mu=1000.0):
    return np.array([[0.0, 1.0], [-2 * mu * y[0] * y[1] - 1.0, mu * (1 - y[0] ** 2)]])


def robertson(t, y, k):
    k1, k2, k3 = k
    return jnp.stack([-k1 * y[0] + k2 * y[1] * y[2],
                      k1 * y[0] - k2 * y[1] * y[2] - k3 * y[1] ** 2,
                      k3 * y[1] ** 2])


def robertson_jac(t, y, k=(0.04, 1e4, 3e7)):
    k1, k2, k3 = k
    return np.array([[-k1, k2 * y[2], k2 * y[1]],
                     [k1, -k2 * y[2] - 2 * k3 * y[1], -k2 * y[1]],
                     [0.0, 2 * k3 * y[1], 0.0]])


PROBLEMS = [
    Problem("Van der Pol, mu = 1000", van_der_pol, van_der_pol_jac, np.array([2.0, 0.0]),
            3000.0, 1000.0, REF_TOL,
            "y'' = mu (1 - y^2) y' - y, y(0) = 2, y'(0) = 0, t in [0, 3000] (about two "
            "relaxation periods; MATLAB's vdp1000)"),
    Problem("Robertson", robertson, robertson_jac, np.array([1.0, 0.0, 0.0]), 100.0,
            (0.04, 1e4, 3e7), 1e-16,
            "rates 0.04, 1e4, 3e7, y(0) = (1, 0, 0), t in [0, 100] (short enough for dopri5 "
            "to finish: it needs ~1e5 steps per 100 time units, pinned by stability)"),
]


def numpy_field(pb):
    """The field in plain NumPy (scipy calls it from Python; a jitted call would cost more
    dispatch time than the arithmetic)."""
    if pb.field is van_der_pol:
        mu = pb.args
        return lambda t, y: np.array([y[1], mu * (1 - y[0] ** 2) * y[1] - y[0]])
    k1, k2, k3 = pb.args
    return lambda t, y: np.array([-k1 * y[0] + k2 * y[1] * y[2],
                                  k1 * y[0] - k2 * y[1] * y[2] - k3 * y[1] ** 2,
                                  k3 * y[1] ** 2])


def reference(pb):
    """y(t1) from scipy's Radau at rtol = 1e-12, and how far it moves from 1e-11."""
    run = lambda tol: scipy.integrate.solve_ivp(
        numpy_field(pb), (0.0, pb.t1), pb.y0, method="Radau", rtol=tol,
        atol=min(tol, pb.ref_atol), jac=pb.jac_np).y[:, -1]
    y12 = run(REF_TOL)
    return y12, float(np.max(np.abs(y12 - run(10 * REF_TOL))))


def counted(f, counts):
    """f with host counters: counts["f"] per evaluation, counts["jac"] per forward-mode
    product (a `jax.jacfwd` of f, batched over its D tangents, counts once)."""
    def tick(key):
        def add():
            counts[key] += 1
        return add

    @jax.custom_jvp
    def g(t, y, args):
        jax.debug.callback(tick("f"))
        return f(t, y, args)

    @g.defjvp
    def g_jvp(primals, tangents):
        jax.debug.callback(tick("jac"))
        return jax.jvp(f, primals, tangents)
    return g


def nodelib_solver(name):
    def make(f, pb, tol):
        max_steps = DOPRI5_MAX_STEPS if name == "dopri5" else MAX_STEPS
        return jax.jit(lambda y0, args: (lambda s: (s.ys[-1], s.stats))(nodelib.odeint(
            f, y0, jnp.array([0.0, pb.t1]), args, solver=name, rtol=tol, atol=tol,
            max_steps=max_steps)))
    return make


def kvaerno5(f, pb, tol):
    term = diffrax.ODETerm(f)
    ctrl = diffrax.PIDController(rtol=tol, atol=tol)

    @jax.jit
    def solve(y0, args):
        sol = diffrax.diffeqsolve(term, diffrax.Kvaerno5(), 0.0, pb.t1, None, y0, args,
                                  stepsize_controller=ctrl, max_steps=MAX_STEPS)
        return sol.ys[-1], sol.stats
    return solve


JAX_SOLVERS = {"nodelib rodas4": nodelib_solver("rodas4"), "diffrax Kvaerno5": kvaerno5}


def scaled_error(y, ref, tol):
    """max_i |y_i - ref_i| / (atol + rtol |ref_i|): 1 means an error of one tolerance."""
    return float(np.max(np.abs(np.asarray(y) - ref) / (tol + tol * np.abs(ref))))


def measure_jax(pb, tol, name, make, repeats, count=True):
    """Counts (from host counters in the field), error and median time of a JAX solver.
    With count=False (dopri5's ten million evaluations would take minutes of host
    callbacks) the counts are nodelib's own stats, which `classic.py` checks the same way."""
    y0, args = jnp.asarray(pb.y0), jax.tree_util.tree_map(jnp.asarray, pb.args)
    timed = make(pb.field, pb, tol)
    y1, stats = timed(y0, args)                              # compile and run
    stats = {k: int(v) for k, v in stats.items()}
    counts = {"f": stats.get("nfe"), "jac": stats.get("njev")}
    if count:
        counts = {"f": 0, "jac": 0}
        jax.effects_barrier()
        jax.block_until_ready(make(counted(pb.field, counts), pb, tol)(y0, args))
        jax.effects_barrier()
        if name.startswith("nodelib") and (stats["nfe"], stats["njev"]) != (counts["f"],
                                                                           counts["jac"]):
            raise AssertionError(f"{name} reports {stats}, the counters saw {counts}")
    seconds = interleaved_medians({name: lambda: timed(y0, args)[0]}, repeats=repeats,
                                  min_time=0.0, warmup=0, max_time=5.0, min_repeats=1)[name]
    return dict(nfe=counts["f"], jac=counts["jac"], accepted=stats["num_accepted_steps"],
                rejected=stats["num_rejected_steps"], time=seconds, y1=np.asarray(y1))


def measure_scipy(pb, tol, method, repeats):
    run = lambda: scipy.integrate.solve_ivp(numpy_field(pb), (0.0, pb.t1), pb.y0,
                                            method=method, rtol=tol, atol=tol, jac=pb.jac_np)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = run()
        times.append(time.perf_counter() - t0)
    if not res.success:
        raise RuntimeError(f"scipy {method} failed: {res.message}")
    return dict(nfe=res.nfev, jac=res.njev, accepted=len(res.t) - 1, rejected=None,
                time=float(np.median(times)), y1=res.y[:, -1])


def measure(pb, ref, clock):
    """{tol: {method: measurements}}; dopri5 only at the target tolerance."""
    out = {}
    for tol in TOLS:
        log(f"{clock} stiff: {pb.name}, tol {tol:g}")
        rows = {}
        for name, make in JAX_SOLVERS.items():
            rows[name] = measure_jax(pb, tol, name, make, repeats=5 if QUICK else 10)
        for method in ("Radau", "BDF"):
            rows[f"scipy {method}"] = measure_scipy(pb, tol, method, repeats=1 if QUICK else 3)
        if tol == TARGET_TOL:
            log(f"{clock} stiff: {pb.name}, dopri5")
            rows["nodelib dopri5"] = measure_jax(pb, tol, "nodelib dopri5",
                                                 nodelib_solver("dopri5"), repeats=3,
                                                 count=False)
        for r in rows.values():
            r["error"] = float(np.max(np.abs(r["y1"] - ref)))
            r["scaled"] = scaled_error(r["y1"], ref, tol)
        out[tol] = rows
    return out


def fmt_time(seconds):
    return fmt_seconds(seconds) if seconds >= 1 else f"{1e3 * seconds:.1f} ms"


def table(pb, results):
    d = pb.y0.size
    rows = []
    for tol, methods in results.items():
        for name, r in methods.items():
            rejected = "" if r["rejected"] is None else f" / {r['rejected']}"
            rows.append([f"{tol:.0e}", name, fmt_int(r["nfe"]), fmt_int(r["jac"]),
                         fmt_int(r["nfe"] + d * r["jac"]), f"{r['accepted']}{rejected}",
                         fmt_time(r["time"]), fmt_sci(r["error"]), fmt_ratio(r["scaled"])])
    return markdown_table(["tol", "solver", "NFE", "Jacobians", f"NFE + {d}·Jacobians",
                           "steps (accepted / rejected)", "time", "error", "error ÷ tol"], rows)


def targets(pbs, results):
    lines = []
    for pb in pbs:
        rows = results[pb.name][TARGET_TOL]
        ours, dp = rows["nodelib rodas4"], rows["nodelib dopri5"]
        ratio = (ours["nfe"] + pb.y0.size * ours["jac"]) / dp["nfe"]
        lines.append(target(f"{pb.name}: rodas4's NFE + D·Jacobians = "
                            f"{ours['nfe'] + pb.y0.size * ours['jac']}, "
                            f"{ratio:.1e} of dopri5's {dp['nfe']} (target at most 0.1)",
                            ratio <= 0.1))
        lines.append(target(f"{pb.name}: rodas4's final error is {ours['scaled']:.1f} "
                            "tolerances (target at most 100)", ours["scaled"] <= 100))
    return lines


def main():
    clock = Stopwatch()
    pbs = PROBLEMS[1:] if QUICK else PROBLEMS
    results, refs = {}, {}
    for pb in pbs:
        log(f"{clock} stiff: reference for {pb.name}")
        ref, moved = reference(pb)
        refs[pb.name] = (ref, moved)
        results[pb.name] = measure(pb, ref, clock)
    log(f"{clock} stiff: done")
    lines = [
        "## Stiff problems", "",
        "nodelib's Rosenbrock solver `rodas4` against scipy's implicit `Radau` (Radau IIA, "
        "order 5) and `BDF` (variable order 1–5), both given the analytic Jacobian, diffrax's "
        "`Kvaerno5` (an ESDIRK method of order 5 with Newton iterations; Jacobians by JAX), "
        "and nodelib's explicit `dopri5` at the target tolerance. rtol = atol = tol for every "
        "solver, float64. **NFE** counts evaluations of the vector field outside Jacobians; "
        "**Jacobians** counts Jacobian evaluations (scipy's `njev`; for the JAX solvers, "
        "forward-mode passes through the field, counted by a host callback in its JVP rule, "
        "where a `jax.jacfwd` over all D tangents counts once; nodelib's `stats['nfe']` and "
        "`stats['njev']` are checked against the counts, except for `dopri5`, whose millions "
        "of evaluations are taken from its stats). "
        "**NFE + D·Jacobians** prices a Jacobian at D evaluations, as a finite-difference "
        "Jacobian would cost. **Time** is the median wall time of a solve (JAX solvers "
        "jitted and compiled first; scipy runs from Python, step by step). **Error**: "
        "max-norm at t1 against the reference; **error ÷ tol**: "
        "max_i |y_i - ref_i| / (tol (1 + |ref_i|)), the error in tolerances.", ""]
    for pb in pbs:
        ref, moved = refs[pb.name]
        lines += [f"### {pb.name}", "", f"{pb.what}. Reference y(t1) = "
                  f"({', '.join(f'{x:.10g}' for x in ref)}): scipy Radau at rtol = 1e-12 "
                  f"(atol = {min(REF_TOL, pb.ref_atol):g}); it moves by {moved:.1e} from "
                  "1e-11.", "", table(pb, results[pb.name]), ""]
    lines += ["### Targets", ""] + targets(pbs, results)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

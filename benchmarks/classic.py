"""Classic test problems: evaluations, steps, accuracy, forward and gradient cost.

Five problems with trustworthy references (Arenstorf orbit, Lorenz, Brusselator, a linear
system with an exact solution, a moderately stiff Van der Pol oscillator), solved at
rtol = atol = 1e-3, 1e-6, 1e-9 by nodelib's dopri5 and by its peers: scipy's RK45,
jax.experimental.ode.odeint, diffrax (Dopri5 + PIDController) and torchdiffeq (dopri5).
Gradients of sum(y(t1)**2) with respect to y0 and the problem's parameters are compared at
the same tolerances. Prints one Markdown section on stdout, progress on stderr.

    .venv/bin/python benchmarks/classic.py [--quick]
"""
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import partial

import jax

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.integrate  # noqa: E402
import scipy.linalg  # noqa: E402
import torch  # noqa: E402
import torchdiffeq  # noqa: E402
from common import (  # noqa: E402
    QUICK,
    EvalCounter,
    Stopwatch,
    failure,
    fmt_bytes,
    fmt_ratio,
    fmt_sci,
    fmt_seconds,
    fresh_compile,
    geomean,
    interleaved_medians,
    log,
    markdown_table,
    quiet_callback_errors,
    target,
    warm_up,
    work_precision_figure,
)
from jax.experimental.ode import odeint as jax_odeint  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402

import nodelib  # noqa: E402

TOLS = (1e-3, 1e-6) if QUICK else (1e-3, 1e-6, 1e-9)
F32_TOLS = (1e-3,) if QUICK else (1e-3, 1e-6)
GRAD_TOLS = (1e-6,) if QUICK else TOLS
NOTE_TOL = 1e-6           # the tolerance the notes on failing adjoints describe
REF_TOL = 1e-13            # scipy DOP853 reference
SENS_TOL = 1e-12           # scipy DOP853 on the forward-sensitivity system (gradient reference)
# nodelib's and diffrax's default, passed to all three JAX libraries (jax.experimental.ode's
# own default is unlimited: a backward solve that cannot finish then never returns).
MAX_STEPS = 4096
ARENSTORF_TOL = 1e-7       # Hairer, Nørsett & Wanner, Solving ODEs I, section II.0
HAIRER_NFE, HAIRER_REJECTED = 1429, 21
TARGET_REJECTED = 30
torch.set_num_threads(1)          # XLA runs these small programs on one thread too


# --- the problems: one vector field per problem, written once for NumPy, JAX and torch ------
# `xp` is the array module (np, jnp or torch); only `xp.stack` and arithmetic are used, so
# the three libraries evaluate exactly the same formula.

def arenstorf(t, y, p, xp):
    mu = p[0]
    y1, y2, v1, v2 = y[0], y[1], y[2], y[3]
    d1 = ((y1 + mu) ** 2 + y2 ** 2) ** 1.5
    d2 = ((y1 - 1 + mu) ** 2 + y2 ** 2) ** 1.5
    return xp.stack([v1, v2,
                     y1 + 2 * v2 - (1 - mu) * (y1 + mu) / d1 - mu * (y1 - 1 + mu) / d2,
                     y2 - 2 * v1 - (1 - mu) * y2 / d1 - mu * y2 / d2])


def lorenz(t, y, p, xp):
    sigma, rho, beta = p
    return xp.stack([sigma * (y[1] - y[0]), y[0] * (rho - y[2]) - y[1], y[0] * y[1] - beta * y[2]])


def brusselator(t, y, p, xp):
    a, b = p
    return xp.stack([a + y[0] ** 2 * y[1] - (b + 1) * y[0], b * y[0] - y[0] ** 2 * y[1]])


def linear(t, y, p, xp):
    return p[0] @ y


def van_der_pol(t, y, p, xp):
    mu = p[0]
    return xp.stack([y[1], mu * ((1 - y[0] ** 2) * y[1] - y[0])])


def _linear_system(n=6, seed=0):
    """A = S - 0.2 I with S skew-symmetric: damped oscillations, eigenvalues -0.2 +- i w."""
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, n))
    return 0.5 * (m - m.T) - 0.2 * np.eye(n), rng.standard_normal(n)


@dataclass
class Problem:
    name: str
    field: callable
    y0: np.ndarray
    t1: float
    params: tuple
    about: str
    exact: np.ndarray = None          # exact y(t1), when known
    ref_note: str = ""                # how the reference was obtained, and its check
    amplification: float = float("nan")   # see sensitivity_gradient
    results: dict = dc_field(default_factory=dict)   # (dtype, tol) -> solver -> figures


def problems():
    a_lin, y_lin = _linear_system()
    return [
        Problem("Arenstorf", arenstorf,
                np.array([0.994, 0.0, 0.0, -2.00158510637908252240537862224]),
                17.0652165601579625588917206249, (0.012277471,),
                "restricted three-body orbit, one period (Hairer et al., section II.0), "
                "parameter: the mass ratio"),
        Problem("Lorenz", lorenz, np.array([-8.0, 8.0, 27.0]), 5.0, (10.0, 28.0, 8.0 / 3.0),
                "sigma = 10, rho = 28, beta = 8/3, y0 = (-8, 8, 27), t1 = 5 (chaotic: a "
                "short horizon keeps the reference meaningful)"),
        Problem("Brusselator", brusselator, np.array([1.5, 3.0]), 20.0, (1.0, 3.0),
                "A = 1, B = 3, y0 = (1.5, 3), t in [0, 20], as in Hairer et al.; an "
                "attracting limit cycle"),
        Problem("Linear", linear, y_lin, 10.0, (a_lin,),
                f"y' = A y in {len(y_lin)} dimensions, A = S - 0.2 I with S skew-symmetric "
                "(seed 0): damped oscillations; exact solution expm(A t1) y0",
                exact=scipy.linalg.expm(a_lin * 10.0) @ y_lin),
        Problem("Van der Pol", van_der_pol, np.array([2.0, 0.0]), 10.0, (10.0,),
                "mu = 10, y0 = (2, 0), t in [0, 10] (ends on a slow branch)"),
    ]


# --- one solve per library: y0, args -> (y(t1), the step statistics the library reports) ----

def jax_params(pb, dtype):
    return tuple(jnp.asarray(p, dtype) for p in pb.params)


def jax_field(pb):
    return lambda t, y, args: pb.field(t, y, args, jnp)


def nodelib_solve(f, pb, tol, dtype, gradient="adjoint"):
    ts = jnp.array([0.0, pb.t1], dtype)

    def solve(y0, args):
        sol = nodelib.odeint(f, y0, ts, args, rtol=tol, atol=tol, max_steps=MAX_STEPS,
                             gradient=gradient)
        return sol.ys[-1], sol.stats
    return solve


def jax_ode_solve(f, pb, tol, dtype):
    ts = jnp.array([0.0, pb.t1], dtype)

    def solve(y0, args):
        return jax_odeint(lambda y, t, *a: f(t, y, a), y0, ts, *args, rtol=tol, atol=tol,
                          mxstep=MAX_STEPS)[-1], {}
    return solve


def diffrax_solve(f, pb, tol, dtype, adjoint=None):
    adjoint = adjoint or diffrax.RecursiveCheckpointAdjoint()

    def solve(y0, args):
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(f), diffrax.Dopri5(), jnp.asarray(0.0, dtype),
            jnp.asarray(pb.t1, dtype), None, y0, args,
            stepsize_controller=diffrax.PIDController(rtol=tol, atol=tol),
            adjoint=adjoint, max_steps=MAX_STEPS)
        return sol.ys[-1], {"num_accepted_steps": sol.stats["num_accepted_steps"],
                            "num_rejected_steps": sol.stats["num_rejected_steps"]}
    return solve


JAX_SOLVERS = {"nodelib dopri5": nodelib_solve, "jax.experimental.ode": jax_ode_solve,
               "diffrax Dopri5": diffrax_solve}


def scipy_run(pb, tol, counter=None):
    p = tuple(np.asarray(x, np.float64) for x in pb.params)

    def f(t, y):
        if counter is not None:
            counter[0] += 1
        return pb.field(t, y, p, np)
    return scipy.integrate.solve_ivp(f, (0.0, pb.t1), pb.y0, method="RK45", rtol=tol, atol=tol)


def torch_run(pb, tol, counter=None):
    p = tuple(torch.as_tensor(np.asarray(x), dtype=torch.float64) for x in pb.params)

    def f(t, y):
        if counter is not None:
            counter[0] += 1
        return pb.field(t, y, p, torch)
    with torch.no_grad():
        y0 = torch.as_tensor(pb.y0, dtype=torch.float64)
        return torchdiffeq.odeint(f, y0, torch.tensor([0.0, pb.t1], dtype=torch.float64),
                                  rtol=tol, atol=tol, method="dopri5")[-1]


# --- references -----------------------------------------------------------------------------

def reference(pb):
    """y(t1) from scipy's DOP853 at rtol = atol = 1e-13, or exact; with a check of it."""
    p = tuple(np.asarray(x, np.float64) for x in pb.params)
    run = lambda tol: scipy.integrate.solve_ivp(lambda t, y: pb.field(t, y, p, np), (0.0, pb.t1),
                                                pb.y0, method="DOP853", rtol=tol, atol=tol).y[:, -1]
    y13 = run(REF_TOL)
    check = np.max(np.abs(y13 - run(1e-12)))          # how much the reference still moves
    if pb.exact is not None:
        return pb.exact, f"exact; DOP853 at 1e-13 is off by {np.max(np.abs(y13 - pb.exact)):.1e}"
    return y13, f"DOP853 at 1e-13; it moves by {check:.1e} from 1e-12"


def sensitivity_gradient(pb):
    """Gradient of sum(y(t1)**2) w.r.t. (y0, params) from the forward sensitivity equations
    S' = J_y S + [0 | J_p], S(0) = [I | 0], solved with scipy's DOP853 at rtol=atol=1e-12
    (independent of every library benchmarked here; Jacobians by jax.jacfwd).

    Returns:
        (gradient (n + m,), amplification): the second is 1 / sigma_min(dy(t1)/dy0), the
        largest factor by which solving the ODE backwards from t1 magnifies an error in y(t1).
    """
    f = jax_field(pb)
    p0 = jax_params(pb, jnp.float64)
    p_flat, unravel = ravel_pytree(p0)
    n, m = pb.y0.size, p_flat.size

    @jax.jit
    def aug(t, z):
        y, s = z[:n], z[n:].reshape(n, n + m)
        fy = lambda y: f(t, y, unravel(p_flat))
        fp = lambda q: f(t, y, unravel(q))
        ds = jax.jacfwd(fy)(y) @ s + jnp.concatenate([jnp.zeros((n, n)), jax.jacfwd(fp)(p_flat)], 1)
        return jnp.concatenate([fy(y), ds.ravel()])

    z0 = np.concatenate([pb.y0, np.hstack([np.eye(n), np.zeros((n, m))]).ravel()])
    res = scipy.integrate.solve_ivp(lambda t, z: np.asarray(aug(t, z)), (0.0, pb.t1), z0,
                                    method="DOP853", rtol=SENS_TOL, atol=SENS_TOL)
    y1, s1 = res.y[:n, -1], res.y[n:, -1].reshape(n, n + m)
    # Solving backwards from t1 amplifies an error in y(t1) by up to 1 / sigma_min(dy(t1)/dy0).
    amplification = 1.0 / np.linalg.svd(s1[:, :n], compute_uv=False)[-1]
    return 2 * s1.T @ y1, amplification                           # (n + m,) = (dL/dy0, dL/dp)


# --- forward measurements -------------------------------------------------------------------

def measure_forward(pb, tol, dtype, ref):
    """NFE, steps and error of every solver, then interleaved timings; returns rows."""
    y0, args = jnp.asarray(pb.y0, dtype), jax_params(pb, dtype)
    out, timed = {}, {}
    counter = EvalCounter()
    for name, make in JAX_SOLVERS.items():
        # Counted program: a host callback in the field; its own compilation.
        counted = jax.jit(make(counter.counted(jax_field(pb)), pb, tol, dtype))
        run_counted = partial(counted, y0, args)
        # Timed program: no callback; a fresh compilation (its time is reported too).
        fn = make(jax_field(pb), pb, tol, dtype)
        jitted, info = fresh_compile(lambda y0, args, fn=fn: fn(y0, args)[0], y0, args)
        try:
            nfe, (y1, stats) = counter.run(run_counted)
        except Exception as e:                        # reported in the table, not raised
            out[name] = dict(nfe=counter.n, accepted=None, rejected=None, error=failure(e),
                             compile_s=info["seconds"], time=None)
            continue
        stats = {k: int(v) for k, v in stats.items()}
        if name == "nodelib dopri5" and stats.get("nfe", nfe) != nfe:
            raise AssertionError(f"nodelib reports {stats['nfe']} evaluations, {nfe} ran")
        timed[name] = partial(jitted, y0, args)
        out[name] = dict(nfe=nfe, accepted=stats.get("num_accepted_steps"),
                         rejected=stats.get("num_rejected_steps"),
                         error=float(np.max(np.abs(np.asarray(y1, np.float64) - ref))),
                         compile_s=info["seconds"])
    if dtype == jnp.float64:
        c = [0]
        res = scipy_run(pb, tol, c)
        assert c[0] == res.nfev, (c[0], res.nfev)
        attempts, rem = divmod(res.nfev - 2, 6)     # 2 start-up evaluations, 6 per attempt (FSAL)
        assert rem == 0, res.nfev
        steps = len(res.t) - 1
        out["scipy RK45"] = dict(nfe=res.nfev, accepted=steps, rejected=attempts - steps,
                                 error=float(np.max(np.abs(res.y[:, -1] - ref))))
        c = [0]
        y1 = torch_run(pb, tol, c)
        out["torchdiffeq dopri5"] = dict(nfe=c[0], accepted=None, rejected=None,
                                         error=float(np.max(np.abs(y1.numpy() - ref))))
    # Wall times. JAX programs interleaved with each other; the eager host libraries
    # (scipy, torch) interleaved with nodelib in a second group with fewer repeats.
    times = interleaved_medians(timed, repeats=5 if QUICK else 20, min_time=0.1, warmup=1,
                                max_time=3.0)
    base = times.get("nodelib dopri5", float("nan"))
    for name, t in times.items():
        out[name]["time"] = t / base
    if "nodelib dopri5" in times:
        out["nodelib dopri5"]["time_abs"] = base
    if dtype == jnp.float64 and "nodelib dopri5" in timed:
        eager = {"nodelib dopri5": timed["nodelib dopri5"],
                 "scipy RK45": lambda: scipy_run(pb, tol),
                 "torchdiffeq dopri5": lambda: torch_run(pb, tol)}
        times = interleaved_medians(eager, repeats=3, min_time=0.0, warmup=1, max_time=2.0)
        for name in ("scipy RK45", "torchdiffeq dopri5"):
            out[name]["time"] = times[name] / times["nodelib dopri5"]
    return out


# --- gradient measurements ------------------------------------------------------------------

GRAD_METHODS = {
    "nodelib adjoint": lambda f, pb, tol: nodelib_solve(f, pb, tol, jnp.float64, "adjoint"),
    "nodelib checkpoint": lambda f, pb, tol: nodelib_solve(f, pb, tol, jnp.float64,
                                                           "checkpoint"),
    "nodelib backprop": lambda f, pb, tol: nodelib_solve(f, pb, tol, jnp.float64, "backprop"),
    "jax.experimental.ode": lambda f, pb, tol: jax_ode_solve(f, pb, tol, jnp.float64),
    "diffrax RecursiveCheckpoint": lambda f, pb, tol: diffrax_solve(
        f, pb, tol, jnp.float64, diffrax.RecursiveCheckpointAdjoint()),
    "diffrax Backsolve": lambda f, pb, tol: diffrax_solve(
        f, pb, tol, jnp.float64, diffrax.BacksolveAdjoint()),
}


def measure_gradients(pb, g_ref, tol):
    y0, args = jnp.asarray(pb.y0), jax_params(pb, jnp.float64)
    out, timed = {}, {}
    for name, make in GRAD_METHODS.items():
        solve = make(jax_field(pb), pb, tol)
        loss = lambda y0, args, solve=solve: jnp.sum(solve(y0, args)[0] ** 2)
        grad = jax.grad(loss, argnums=(0, 1))
        jitted, info = fresh_compile(grad, y0, args)
        out[name] = dict(compile_s=info["seconds"], memory=info["temp_bytes"], time=None)
        try:
            g = ravel_pytree(jitted(y0, args))[0]
        except Exception as e:                        # reported in the table, not raised
            out[name]["error"] = failure(e)
            continue
        out[name]["error"] = float(np.max(np.abs(np.asarray(g) - g_ref)) / np.max(np.abs(g_ref)))
        timed[name] = partial(jitted, y0, args)
    times = interleaved_medians(timed, repeats=5 if QUICK else 15, min_time=0.1, warmup=1,
                                max_time=4.0)
    for name, t in times.items():
        out[name]["time"] = t
    return out


# --- stiffness of the Van der Pol problem ---------------------------------------------------

def vdp_stiffness(pb):
    """Largest |eigenvalue| of the Jacobian along the reference solution, and the number of
    steps the stability bound of Dormand–Prince (|h lambda| <= 3.3 on the real axis) alone
    forces over [0, t1]."""
    mu = pb.params[0]
    sol = scipy.integrate.solve_ivp(lambda t, y: van_der_pol(t, y, (mu,), np), (0.0, pb.t1),
                                    pb.y0, method="DOP853", rtol=1e-10, atol=1e-10,
                                    dense_output=True)
    ts = np.linspace(0.0, pb.t1, 2001)
    lam = []
    for y1, y2 in sol.sol(ts).T:
        jac = np.array([[0.0, 1.0], [-mu * (2 * y1 * y2 + 1), mu * (1 - y1 ** 2)]])
        lam.append(np.max(np.abs(np.linalg.eigvals(jac))))
    lam = np.array(lam)
    min_steps = np.trapezoid(lam, ts) / 3.3           # integral of the largest stable dt^-1
    return float(lam.max()), float(min_steps)


# --- output ---------------------------------------------------------------------------------

FWD_ORDER = ["nodelib dopri5", "scipy RK45", "jax.experimental.ode", "diffrax Dopri5",
             "torchdiffeq dopri5"]


def _num(x):
    """A measured float, or nan where the cell holds a failure message."""
    return float("nan") if isinstance(x, str) else float(x)


def _int(x):
    return "n/a" if x is None else str(x)


def forward_table(pb):
    rows = []
    for (dtype, tol), res in pb.results.items():
        for name in FWD_ORDER:
            if name not in res:
                continue
            r = res[name]
            time = fmt_ratio(r.get("time"))
            if "time_abs" in r:
                time += f" ({1e3 * r['time_abs']:.2f} ms)"
            error = r["error"] if isinstance(r["error"], str) else fmt_sci(r["error"])
            rows.append([f"{tol:.0e}", dtype, name, r["nfe"], _int(r["accepted"]),
                         _int(r["rejected"]), error, time,
                         fmt_seconds(r.get("compile_s"))])
    return markdown_table(["tol", "dtype", "solver", "NFE", "accepted", "rejected",
                           "error at t1", "forward time / nodelib", "compile"], rows,
                          align="lll" + "r" * 6)


def main():
    quiet_callback_errors()
    clock = Stopwatch()
    warm_up()
    pbs = problems()
    if QUICK:
        pbs = pbs[:2]
    arenstorf_row, grads = None, {}
    for pb in pbs:
        ref, pb.ref_note = reference(pb)
        for dtype, tols in ((jnp.float64, TOLS), (jnp.float32, F32_TOLS)):
            for tol in tols:
                log(f"{clock} classic: {pb.name}, {jnp.dtype(dtype).name}, tol {tol:g}")
                pb.results[(jnp.dtype(dtype).name, tol)] = measure_forward(pb, tol, dtype, ref)
        g_ref, pb.amplification = sensitivity_gradient(pb)
        for tol in GRAD_TOLS:
            log(f"{clock} classic: {pb.name}, gradients, tol {tol:g}")
            grads[(pb.name, tol)] = measure_gradients(pb, g_ref, tol)
        if pb.name == "Arenstorf":
            log(f"{clock} classic: Arenstorf at 1e-7")
            arenstorf_row = arenstorf_target(pb, ref)
    log(f"{clock} classic: done")
    print(report(pbs, grads, arenstorf_row))


def arenstorf_target(pb, ref):
    """NFE, rejected steps and error of every solver at rtol = atol = 1e-7 (no timings)."""
    y0, args = jnp.asarray(pb.y0), jax_params(pb, jnp.float64)
    counter, out = EvalCounter(), {}
    for name, make in JAX_SOLVERS.items():
        counted = jax.jit(make(counter.counted(jax_field(pb)), pb, ARENSTORF_TOL, jnp.float64))
        nfe, (y1, stats) = counter.run(partial(counted, y0, args))
        stats = {k: int(v) for k, v in stats.items()}
        if name == "nodelib dopri5" and stats["nfe"] != nfe:
            raise AssertionError(f"nodelib reports {stats['nfe']} evaluations, {nfe} ran")
        out[name] = (nfe, stats.get("num_rejected_steps"), np.max(np.abs(np.asarray(y1) - ref)))
    res = scipy_run(pb, ARENSTORF_TOL)
    out["scipy RK45"] = (res.nfev, (res.nfev - 2) // 6 - (len(res.t) - 1),
                         np.max(np.abs(res.y[:, -1] - ref)))
    c = [0]
    y1 = torch_run(pb, ARENSTORF_TOL, c)
    out["torchdiffeq dopri5"] = (c[0], None, np.max(np.abs(y1.numpy() - ref)))
    return out


def gradient_notes(pbs, all_grads):
    """What the gradient table shows about the continuous adjoint at NOTE_TOL."""
    grads = {name: g for (name, tol), g in all_grads.items() if tol == NOTE_TOL}
    backsolve = ("nodelib adjoint", "jax.experimental.ode", "diffrax Backsolve")
    through = ("nodelib checkpoint", "nodelib backprop", "diffrax RecursiveCheckpoint")
    failed = [pb.name for pb in pbs if isinstance(grads[pb.name]["nodelib adjoint"]["error"], str)]
    if not failed:
        return []

    def describe(name, r):
        err = r["error"]
        return f"{name} {err}" if isinstance(err, str) else f"{name} error {fmt_sci(err)}"

    worst = max(_num(grads[pb.name][m]["error"]) for pb in pbs for m in through)
    lines = ["", f"Where the continuous adjoint fails at {NOTE_TOL:g}: " + "; ".join(
        f"{name}: " + ", ".join(describe(m, grads[name][m]) for m in backsolve) for name in failed)
        + ". These methods recover y(t) by solving the ODE backwards from t1, which "
        "magnifies an error in y(t1) by up to 1 / sigma_min(dy(t1)/dy0) (computed from the "
        "sensitivity reference): " + ", ".join(f"{pb.name} {pb.amplification:.1e}" for pb in pbs)
        + ". Backpropagating through the forward steps does not re-solve the ODE: its "
        f"largest gradient error over the problems is {fmt_sci(worst)} "
        f"({', '.join(through[:-1])} and {through[-1]})."]
    return lines


def work_precision_figures(pbs, grads):
    """Error against time, one line per library or gradient method across the tolerances."""
    fwd = {}
    for pb in pbs:
        base = {tol: pb.results[("float64", tol)]["nodelib dopri5"].get("time_abs")
                for tol in TOLS}
        lines = {}
        for name in FWD_ORDER:
            lines[name] = [(_abs_time(pb.results[("float64", tol)].get(name), base[tol]),
                            _num(pb.results[("float64", tol)].get(name, {}).get("error", "n/a")))
                           for tol in TOLS]
        fwd[pb.name] = lines
    grad = {pb.name: {m: [(grads[(pb.name, tol)][m]["time"],
                           _num(grads[(pb.name, tol)][m]["error"])) for tol in GRAD_TOLS]
                      for m in GRAD_METHODS} for pb in pbs}
    tols = ", ".join(f"{t:g}" for t in TOLS)
    return "\n\n".join([
        work_precision_figure(
            "work_precision_classic", fwd, "forward time (s)", "error of y(t1)",
            f"Forward solves, float64, rtol = atol = {tols}",
            "Work-precision diagrams, one panel per classic problem: the error of y(t1) against "
            "the time of a solve, one line per library with one point per tolerance. Lower "
            "and further left is better."),
        work_precision_figure(
            "work_precision_classic_gradients", grad, "gradient time (s)",
            "relative gradient error",
            f"Gradients, float64, rtol = atol = {tols}",
            "Work-precision diagrams of the gradients, one panel per classic problem: the "
            "gradient's relative error against its time, one line per library and gradient "
            "method with one point per tolerance. Methods that failed at a tolerance have no "
            "point there.")])


def _abs_time(r, base):
    if not r or r.get("time") is None or base is None:
        return None
    return r["time"] * base


def checkpoint_targets(pbs, grads):
    """nodelib's checkpointed gradient against diffrax's RecursiveCheckpointAdjoint, and
    against nodelib's own backpropagation through the steps (the same discrete gradient)."""
    mine = "nodelib checkpoint"

    def ratios(peer, field):
        vals = []
        for pb in pbs:
            for tol in GRAD_TOLS:
                a, b = grads[(pb.name, tol)][mine], grads[(pb.name, tol)][peer]
                x, y = a[field], b[field]
                if x is None or y is None or isinstance(x, str) or isinstance(y, str):
                    continue
                vals.append((x / y if y > 0 else float("nan"), f"{pb.name} {tol:g}"))
        return vals

    def line(what, peer, field, limit):
        vals = ratios(peer, field)
        if not vals:
            return f"- {what}: not measured"
        worst, where = max(vals)
        within = sum(v <= limit for v, _ in vals)
        return target(f"{what} ≤ {limit:g}× {PEER_NAMES[peer]}: at most "
                      f"{worst:.2f} ({where}), geometric mean {geomean([v for v, _ in vals]):.2f}, "
                      f"within in {within} of {len(vals)} cases", within == len(vals))

    rc, bp = "diffrax RecursiveCheckpoint", "nodelib backprop"
    return [line("checkpoint gradient time", rc, "time", 1.0),
            line("checkpoint compiled memory", rc, "memory", 1.0),
            line("checkpoint gradient error", rc, "error", 1.1),
            line("checkpoint gradient time", bp, "time", 0.5),
            line("checkpoint gradient error", bp, "error", 1.1)]


PEER_NAMES = {"diffrax RecursiveCheckpoint": "diffrax's RecursiveCheckpointAdjoint",
              "nodelib backprop": 'nodelib\'s `gradient="backprop"`'}


def gradient_rows(pbs, grads, tol):
    rows = []
    for pb in pbs:
        res = grads[(pb.name, tol)]
        base = res["nodelib adjoint"]
        # Times are ratios to nodelib's adjoint; where it failed, to nodelib's checkpoint.
        tbase = "nodelib adjoint" if base["time"] is not None else "nodelib checkpoint"
        for name, r in res.items():
            error = r["error"] if isinstance(r["error"], str) else fmt_sci(r["error"])
            t0 = res[tbase]["time"]
            if r["time"] is None or t0 is None:
                time = "n/a"
            else:
                time = fmt_ratio(r["time"] / t0) + ("*" if tbase != "nodelib adjoint" else "")
                if name == tbase:
                    time += f" ({1e3 * r['time']:.2f} ms)"
            rows.append([pb.name, name, error, time,
                         f"{r['compile_s']:.2f} s "
                         f"({fmt_ratio(r['compile_s'] / base['compile_s'])})",
                         f"{fmt_bytes(r['memory'])} ({fmt_ratio(r['memory'] / base['memory'])})"])
    return rows


def report(pbs, grads, arenstorf_row):
    lines = ["## Classic test problems", ""]
    lines.append(
        "Five problems with trustworthy references, solved from t = 0 to t1 at rtol = atol "
        f"= {', '.join(f'{t:g}' for t in TOLS)} in float64 (and "
        f"{', '.join(f'{t:g}' for t in F32_TOLS)} in float32 for the JAX libraries: below "
        "about 1e-6 a float32 state cannot honour the tolerance, its rounding error alone is "
        "of order 1e-7 per step). **NFE** is the number of evaluations of the vector field, "
        "counted on the host by a callback inside the field (for the JAX libraries, in a "
        "separately compiled copy of each program) or by a counter in the Python function "
        "(scipy, torchdiffeq); accepted and rejected steps are what the library reports "
        "(scipy's rejected steps are derived from its evaluation count: 2 start-up "
        "evaluations and 6 per attempted step). **error** is the max-norm of y(t1) minus the "
        "reference. **forward time** is the median over repeated solves after warm-up, as a "
        "ratio to nodelib's time measured in the same interleaved rounds (nodelib's own time "
        "in brackets for scale). The JAX programs are jitted and compiled ahead of timing; "
        "scipy and torchdiffeq run eagerly on the host, step by step from Python, and are "
        "timed against nodelib in rounds of their own (torch with one thread, like XLA's "
        "execution of these small programs). **compile** is the time to trace, lower and "
        "compile the jitted forward solve, a program never compiled before in the process. "
        "The vector field is written once and evaluated with NumPy, JAX or torch.")
    lines.append("")
    lines.append(markdown_table(["problem", "what", "reference at t1"],
                                [[pb.name, pb.about, pb.ref_note] for pb in pbs], align="lll"))
    vdp = next((pb for pb in pbs if pb.name == "Van der Pol"), None)
    if vdp is not None:
        lam, min_steps = vdp_stiffness(vdp)
        acc = vdp.results[("float64", TOLS[0])]["nodelib dopri5"]["accepted"]
        lines += ["", f"*Moderately stiff* here means: the largest eigenvalue of the Jacobian "
                  f"along the solution reaches |lambda| = {lam:.0f}, while the solution varies "
                  f"on a time scale of order mu = {vdp.params[0]:g}; the stability bound of "
                  "Dormand–Prince (|h lambda| <= 3.3) alone forces at least "
                  f"{min_steps:.0f} steps on [0, {vdp.t1:g}], against {acc} accepted steps "
                  f"for nodelib at rtol = {TOLS[0]:g}: at loose tolerances the step size is "
                  "set by stability rather than accuracy, yet an explicit solver still "
                  "finishes in a few thousand evaluations."]
    for pb in pbs:
        lines += ["", f"### {pb.name}", "", forward_table(pb)]

    # Totals against scipy's RK45 (float64).
    rows, nfe_nl, nfe_sp, ratios_by_pb = [], 0, 0, {}
    for pb in pbs:
        for tol in TOLS:
            r = pb.results[("float64", tol)]
            nl, sp = r["nodelib dopri5"], r["scipy RK45"]
            nfe_nl += nl["nfe"]
            nfe_sp += sp["nfe"]
            e_nl, e_sp = _num(nl["error"]), _num(sp["error"])
            ratio = e_nl / e_sp if e_sp > 0 else float("nan")
            ratios_by_pb.setdefault(pb.name, []).append(ratio)
            rows.append([pb.name, f"{tol:.0e}", nl["nfe"], sp["nfe"],
                         fmt_ratio(nl["nfe"] / sp["nfe"]), fmt_sci(e_nl), fmt_sci(e_sp),
                         fmt_ratio(ratio)])
    nfe_ratio = nfe_nl / nfe_sp
    rows.append(["**total**", "", nfe_nl, nfe_sp, f"**{nfe_ratio:.2f}**", "", "", ""])
    lines += ["", "### nodelib against scipy's RK45 (float64)", "",
              markdown_table(["problem", "tol", "NFE nodelib", "NFE scipy", "NFE ratio",
                              "error nodelib", "error scipy", "error ratio"], rows)]
    per_pb = {name: geomean(r) for name, r in ratios_by_pb.items()}
    cells = [x for r in ratios_by_pb.values() for x in r if np.isfinite(x)]
    worst_cell = max(cells) if cells else float("nan")
    lines += ["", "Error ratio per problem (geometric mean over the tolerances): " +
              ", ".join(f"{name} {fmt_ratio(x)}" for name, x in per_pb.items()) + "."]

    # Arenstorf at 1e-7.
    if arenstorf_row is not None:
        rows = [[name, nfe, _int(rej), fmt_sci(err)]
                for name, (nfe, rej, err) in arenstorf_row.items()]
        rows.append(["Hairer's DOPRI5 (Fortran; literature, not measured here)", HAIRER_NFE,
                     HAIRER_REJECTED, ""])
        lines += ["", f"### Arenstorf orbit at rtol = atol = {ARENSTORF_TOL:g}", "",
                  "One period in float64, the experiment of Hairer, Nørsett & Wanner, "
                  "*Solving ODEs I*, section II.0 (results of their DOPRI5 code quoted from "
                  "there). Error: max-norm at the end of the period against the reference.",
                  "", markdown_table(["solver", "NFE", "rejected", "error"], rows)]

    # Gradients.
    lines += ["", "### Gradients (float64)", "",
              "Gradient of sum(y(t1)**2) with respect to y0 and the problem's parameters "
              "(passed as `args`), jitted. **gradient error**: max-norm relative to the "
              "largest entry of a reference gradient from the forward sensitivity equations "
              f"solved by scipy's DOP853 at {SENS_TOL:g}. **time**: median, ratio to nodelib's "
              "adjoint in the same interleaved rounds. **compile**: trace, lower and compile "
              "a program never compiled before, in brackets as a ratio to nodelib's adjoint. "
              "**memory**: temporary bytes of the compiled gradient (XLA memory analysis), in "
              "brackets as a ratio to nodelib's adjoint. \\* marks a time that is a ratio to "
              "nodelib's checkpoint, where nodelib's adjoint failed."]
    for tol in GRAD_TOLS:
        lines += ["", f"#### rtol = atol = {tol:g}", "",
                  markdown_table(["problem", "method", "gradient error",
                                  "time / nodelib adjoint", "compile", "memory"],
                                 gradient_rows(pbs, grads, tol), align="llrrrr")]

    lines += gradient_notes(pbs, grads)
    lines += ["", work_precision_figures(pbs, grads)]

    # Targets.
    nl_rej = arenstorf_row["nodelib dopri5"][1] if arenstorf_row else None
    nl_nfe = arenstorf_row["nodelib dopri5"][0] if arenstorf_row else None
    worst_pb = max(per_pb, key=per_pb.get)
    lines += ["", "**Targets**", "",
              target(f"NFE within ±10 % of scipy's RK45 in total over the problems and "
                     f"tolerances (float64): nodelib / scipy = {nfe_ratio:.3f} "
                     f"({nfe_nl} against {nfe_sp})", 0.9 <= nfe_ratio <= 1.1),
              target(f"errors within 2× of scipy's RK45: the largest per-problem error ratio "
                     f"(geometric mean over the tolerances) is {per_pb[worst_pb]:.2f} "
                     f"({worst_pb}); the largest single (problem, tolerance) ratio is "
                     f"{worst_cell:.2f}", per_pb[worst_pb] <= 2.0)]
    lines += checkpoint_targets(pbs, grads)
    if arenstorf_row is not None:
        lines += [target(f"Arenstorf at {ARENSTORF_TOL:g}: at most {HAIRER_NFE} evaluations "
                         f"(Hairer's DOPRI5): nodelib takes {nl_nfe}", nl_nfe <= HAIRER_NFE),
                  target(f"Arenstorf at {ARENSTORF_TOL:g}: at most {TARGET_REJECTED} rejected "
                         f"steps: nodelib rejects {nl_rej}", nl_rej <= TARGET_REJECTED)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Neural vector fields: forward and gradient cost against jax.experimental.ode, diffrax and
torchdiffeq.

tanh MLP vector fields f(t, y, params), applied to a batch of states with `jax.vmap` inside
f (one solve over a (batch, dim) state), in float64 at rtol = atol = 1e-3, 1e-6 and 1e-9 and
in float32 at 1e-3 and 1e-6. Measures evaluations (forward and backward), the error of y(t1)
and of the gradient against a tight reference, wall time of a forward solve and of the
gradient of a scalar loss with respect to the parameters, compile time and the compiled
temporary memory of the gradient. Prints one Markdown section on stdout, progress on stderr.

    .venv/bin/python benchmarks/neural.py [--quick]
"""
from functools import partial

import jax

jax.config.update("jax_enable_x64", True)

import diffrax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchdiffeq  # noqa: E402
from common import (  # noqa: E402
    QUICK,
    EvalCounter,
    Stopwatch,
    failure,
    fmt_bytes,
    fmt_ratio,
    fresh_compile,
    geomean,
    interleaved_medians,
    log,
    markdown_table,
    neural_problem,
    quiet_callback_errors,
    round_ratio_quartiles,
    target,
    warm_up,
    work_precision_figure,
)
from jax.experimental.ode import odeint as jax_odeint  # noqa: E402

import nodelib  # noqa: E402

# (name, layer sizes, batch, t1): each solve takes tens of steps at 1e-6.
CONFIGS = [("small, batch 1", (2, 64, 2), 1, 8.0),
           ("small, batch 256", (2, 64, 2), 256, 8.0),
           ("medium, batch 128", (16, 128, 16), 128, 8.0)]
# Tolerances per dtype: below about 1e-6 a float32 state cannot honour the tolerance.
TOLS = {"float64": (1e-3, 1e-6, 1e-9), "float32": (1e-3, 1e-6)}
REF_TOL = 1e-12            # diffrax Dopri8 in float64: the reference y(t1) and gradient
REF_CHECK_TOL = 1e-11      # how far the reference moves from this tolerance: its own accuracy
if QUICK:
    CONFIGS, TOLS = [CONFIGS[0], CONFIGS[2]], {"float64": (1e-3, 1e-6)}
# XLA runs each operation of these small programs on one thread, so torch gets one too.
torch.set_num_threads(1)


# --- the solves -----------------------------------------------------------------------------

def loss_of(y1):
    return jnp.sum(y1 ** 2)


def solvers(f, t1, tol, dtype):
    """Forward solves y0, params -> y(t1), one per JAX library."""
    ts = jnp.array([0.0, t1], dtype)

    def nl(y0, p, gradient="adjoint"):
        return nodelib.odeint(f, y0, ts, p, rtol=tol, atol=tol, gradient=gradient).ys[-1]

    def jode(y0, p):
        return jax_odeint(lambda y, t, p: f(t, y, p), y0, ts, p, rtol=tol, atol=tol)[-1]

    def dfx(y0, p, adjoint=None):
        adjoint = adjoint or diffrax.RecursiveCheckpointAdjoint()
        return diffrax.diffeqsolve(
            diffrax.ODETerm(f), diffrax.Dopri5(), ts[0], ts[1], None, y0, p,
            stepsize_controller=diffrax.PIDController(rtol=tol, atol=tol), adjoint=adjoint).ys[-1]

    forward = {"nodelib": nl, "jax.experimental.ode": jode, "diffrax": dfx}
    gradient = {"nodelib adjoint": nl, "nodelib checkpoint": partial(nl, gradient="checkpoint"),
                "nodelib backprop": partial(nl, gradient="backprop"),
                "jax.experimental.ode": jode,
                "diffrax RecursiveCheckpoint": dfx,
                "diffrax Backsolve": partial(dfx, adjoint=diffrax.BacksolveAdjoint())}
    return forward, gradient


def grad_of(solve):
    """Gradient of the loss with respect to the parameters."""
    return jax.grad(lambda p, y0: loss_of(solve(y0, p)))


def reference(f, params, y0, t1):
    """y(t1) and the loss gradient from diffrax's eighth-order Dopri8 at REF_TOL in float64,
    differentiated through its steps, with the float32 cases' parameters and y0 cast up.

    Returns (y1, grads, drift): drift is the largest relative change of y1 and of the
    gradient between REF_CHECK_TOL and REF_TOL, an estimate of the reference's own error.
    """
    up = lambda x: jnp.asarray(x, jnp.float64)
    params, y0 = jax.tree_util.tree_map(up, params), up(y0)

    def solve(y0, p, tol):
        return diffrax.diffeqsolve(
            diffrax.ODETerm(f), diffrax.Dopri8(), 0.0, t1, None, y0, p, max_steps=100_000,
            stepsize_controller=diffrax.PIDController(rtol=tol, atol=tol)).ys[-1]

    out = {}
    for tol in (REF_TOL, REF_CHECK_TOL):
        solve_at = partial(solve, tol=tol)
        run = jax.jit(jax.value_and_grad(lambda p, y0, solve_at=solve_at: loss_of(solve_at(y0, p))))
        y1 = jax.jit(solve_at)(y0, params)
        out[tol] = (np.asarray(y1), _flat(jax.tree_util.tree_leaves(run(params, y0)[1])))
    (y1, g), (y1c, gc) = out[REF_TOL], out[REF_CHECK_TOL]
    drift = max(_relerr(y1c, y1), _relerr(gc, g))
    return y1, g, drift


class TorchField(torch.nn.Module):
    """The same MLP in torch, with the same weights; counts its evaluations."""

    def __init__(self, params, dtype):
        super().__init__()
        self.layers = torch.nn.ParameterList()
        for w, b in params:
            self.layers.append(torch.nn.Parameter(torch.tensor(np.array(w), dtype=dtype)))
            self.layers.append(torch.nn.Parameter(torch.tensor(np.array(b), dtype=dtype)))
        self.n = 0

    def forward(self, t, y):                          # y: (batch, dim)
        self.n += 1
        ws = list(self.layers)
        for i in range(0, len(ws) - 2, 2):
            y = torch.tanh(y @ ws[i] + ws[i + 1])
        return y @ ws[-2] + ws[-1]


def torch_calls(module, y0, t1, tol, dtype):
    ts = torch.tensor([0.0, t1], dtype=dtype)
    y0 = torch.tensor(np.array(y0), dtype=dtype)

    def forward():
        with torch.no_grad():
            return torchdiffeq.odeint(module, y0, ts, rtol=tol, atol=tol, method="dopri5")[-1]

    def gradient(odeint):
        def run():
            module.zero_grad()
            y1 = odeint(module, y0, ts, rtol=tol, atol=tol, method="dopri5")[-1]
            (y1 ** 2).sum().backward()
            return [p.grad for p in module.parameters()]
        return run

    return forward, {"torchdiffeq odeint": gradient(torchdiffeq.odeint),
                     "torchdiffeq odeint_adjoint": gradient(torchdiffeq.odeint_adjoint)}


# --- one case: configuration x dtype x tolerance --------------------------------------------

def compile_count_time(results, counter, programs, counted, args, max_time):
    """For each method m of `programs`: compile a fresh copy (compile time, memory), run the
    evaluation-counting copy `counted[m]` (NFE and output, or the failure), then time the
    compiled copies in interleaved rounds. Fills results[m]; returns the timed callables."""
    timed = {}
    for m, program in programs.items():
        jitted, info = fresh_compile(program, *args)
        results[m] = dict(compile=info["seconds"], memory=info["temp_bytes"], info=info)
        try:
            results[m]["nfe"], results[m]["out"] = counter.run(partial(counted[m], *args))
        except Exception as e:
            results[m]["failed"] = failure(e)
            continue
        timed[m] = partial(jitted, *args)
    rounds = {}
    times = interleaved_medians(timed, repeats=5 if QUICK else 15, min_time=0.1, warmup=1,
                                max_time=max_time, rounds=rounds)
    for m, t in times.items():
        results[m].update(time=t, rounds=rounds[m])
    return timed


def measure(config, dtype_name, tol):
    _, sizes, batch, t1 = config
    dtype = jnp.dtype(dtype_name)
    f, params, y0 = neural_problem(sizes, batch, dtype)
    counter = EvalCounter()
    fwd_c, grad_c = solvers(counter.counted(f), t1, tol, dtype)
    # Each timed program is built around a new closure of f, so that its compilation reuses
    # nothing traced for another program (the libraries' jit caches are keyed on f).
    fresh = lambda: solvers(lambda t, y, p: f(t, y, p), t1, tol, dtype)
    fwd, grad = solvers(f, t1, tol, dtype)
    fw, gr = {}, {}
    ref_y1, ref_g, drift = reference(f, params, y0, t1)

    # The evaluation-counting copies (compiled on their first call; not timed).
    counted = {**{("fwd", m): jax.jit(fwd_c[m]) for m in fwd_c},
               **{("grad", m): jax.jit(grad_of(grad_c[m])) for m in grad_c}}

    # Forward solves, then the gradient w.r.t. the parameters: NFE, compile and time each.
    timed_fwd = compile_count_time(fw, counter, {m: fresh()[0][m] for m in fwd},
                                   {m: counted[("fwd", m)] for m in fwd}, (y0, params), 2.0)
    for r in fw.values():
        if "out" in r:
            r["y1"] = r.pop("out")
    nl_fwd = timed_fwd.get("nodelib")
    timed_grad = compile_count_time(gr, counter, {m: grad_of(fresh()[1][m]) for m in grad},
                                    {m: counted[("grad", m)] for m in grad}, (params, y0), 3.0)
    fwd_nfe = {"nodelib adjoint": "nodelib", "nodelib checkpoint": "nodelib",
               "nodelib backprop": "nodelib",
               "jax.experimental.ode": "jax.experimental.ode",
               "diffrax RecursiveCheckpoint": "diffrax", "diffrax Backsolve": "diffrax"}
    for m, r in gr.items():
        if "out" in r:                       # the gradient program ran: split its count
            r["nfe_fwd"] = fw[fwd_nfe[m]].get("nfe")
            r["nfe_bwd"] = None if r["nfe_fwd"] is None else r.pop("nfe") - r["nfe_fwd"]
            r["g"] = jax.tree_util.tree_leaves(r.pop("out"))
    nl_grad = timed_grad.get("nodelib adjoint")

    # torchdiffeq: eager on the host, timed against nodelib in rounds of their own.
    tdtype = torch.float64 if dtype_name == "float64" else torch.float32
    module = TorchField(params, tdtype)
    t_fwd, t_grads = torch_calls(module, y0, t1, tol, tdtype)
    module.n = 0
    y1 = t_fwd()
    fw["torchdiffeq"] = {"nfe": module.n, "y1": y1.numpy(), "compile": None}
    for m, run in t_grads.items():
        module.n = 0
        g = run()
        total = module.n
        gr[m] = {"nfe_fwd": fw["torchdiffeq"]["nfe"], "nfe_bwd": total - fw["torchdiffeq"]["nfe"],
                 "g": [x.detach().numpy() for x in g], "compile": None, "memory": None}
    if "time" in fw["nodelib"]:
        times = interleaved_medians({"nodelib": nl_fwd, "torchdiffeq": t_fwd},
                                    repeats=3, min_time=0.0, warmup=1, max_time=2.0)
        fw["torchdiffeq"]["time"] = times["torchdiffeq"] / times["nodelib"] * fw["nodelib"]["time"]
    if "time" in gr["nodelib adjoint"]:
        times = interleaved_medians({"nodelib adjoint": nl_grad, **t_grads},
                                    repeats=3, min_time=0.0, warmup=1, max_time=3.0)
        for m in t_grads:
            gr[m]["time"] = times[m] / times["nodelib adjoint"] * gr["nodelib adjoint"]["time"]
    for r in fw.values():
        r["error"] = _relerr(r["y1"], ref_y1) if "y1" in r else None
    for r in gr.values():
        r["error"] = _relerr(_flat(r["g"]), ref_g) if "g" in r else None
    fw["nodelib"]["ref_drift"] = drift
    return fw, gr


# --- output ---------------------------------------------------------------------------------

def _flat(x):
    if isinstance(x, list):
        return np.concatenate([np.ravel(np.asarray(v, np.float64)) for v in x])
    return np.ravel(np.asarray(x, np.float64))


def _relerr(x, ref):
    """Max-norm of x - ref relative to the largest entry of ref."""
    a, b = _flat(x), _flat(ref)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# Targets: (key, label, kind, peer, limit); kind "fwd"/"grad" for times, "cfwd"/"cgrad" for
# compile times. Figures are nodelib ÷ peer.
TARGETS = [
    ("forward time vs jax.experimental.ode", "fwd", "jax.experimental.ode", 1.0),
    ("forward time vs diffrax", "fwd", "diffrax", 1.0),
    ("gradient time vs jax.experimental.ode", "grad", "jax.experimental.ode", 1.0),
    ("gradient time vs diffrax (RecursiveCheckpointAdjoint, its default)", "grad",
     "diffrax RecursiveCheckpoint", 1.0),
    ("gradient time vs diffrax (BacksolveAdjoint)", "grad", "diffrax Backsolve", 1.0),
    ("forward compile time vs jax.experimental.ode", "cfwd", "jax.experimental.ode", 1.0),
    ("gradient compile time vs jax.experimental.ode", "cgrad", "jax.experimental.ode", 1.0),
    ("forward compile time vs diffrax", "cfwd", "diffrax", 0.5),
    ("gradient compile time vs diffrax (RecursiveCheckpointAdjoint)", "cgrad",
     "diffrax RecursiveCheckpoint", 0.5),
    ("gradient compile time vs diffrax (BacksolveAdjoint)", "cgrad", "diffrax Backsolve", 0.5),
    # nodelib's checkpointed gradient (gradient="checkpoint") against the peers' exact ones.
    ("checkpoint gradient time vs diffrax (RecursiveCheckpointAdjoint)", "grad_ckpt",
     "diffrax RecursiveCheckpoint", 1.0),
    ("checkpoint gradient memory vs diffrax (RecursiveCheckpointAdjoint)", "mem_ckpt",
     "diffrax RecursiveCheckpoint", 1.0),
    ("checkpoint gradient compile time vs jax.experimental.ode", "cgrad_ckpt",
     "jax.experimental.ode", 1.0),
    # ... and against nodelib's own backpropagation through the steps (the same gradient).
    ('checkpoint gradient time vs nodelib `gradient="backprop"`', "grad_ckpt",
     "nodelib backprop", 0.5),
    ('checkpoint gradient error vs nodelib `gradient="backprop"`', "err_ckpt",
     "nodelib backprop", 1.1),
]


def comparisons(cases, kind, peer):
    """[(case, nodelib ÷ peer, nodelib's record, peer's record)] over the cases."""
    out = []
    for (cname, dtype, tol), (fw, gr) in cases.items():
        if kind.endswith("fwd"):
            res, nl = fw, "nodelib"
        else:
            res, nl = gr, "nodelib checkpoint" if kind.endswith("_ckpt") else "nodelib adjoint"
        field = {"c": "compile", "m": "memory", "e": "error"}.get(kind[0], "time")
        a, b = res[nl], res[peer]
        out.append((f"{cname}, {dtype}, {tol:.0e}", _div(a.get(field), b.get(field)), a, b))
    return out


def target_lines(cases):
    lines, notes = [], []
    for label, kind, peer, limit in TARGETS:
        vals = [(c, v, a, b) for c, v, a, b in comparisons(cases, kind, peer) if v is not None]
        if not vals:
            lines.append(f"- {label}: not measured")
            continue
        worst_case, worst, wa, wb = max(vals, key=lambda cvab: cvab[1])
        missed = [(c, v, a, b) for c, v, a, b in vals if v > limit]
        spread = ""
        if kind[0] not in "cme" and wa.get("rounds") and wb.get("rounds"):
            q1, q3 = round_ratio_quartiles(wa["rounds"], wb["rounds"])
            spread = f"; its per-round ratios lie between {q1:.2f} and {q3:.2f} (quartiles)"
        lines.append(target(
            f"{label} ≤ {limit:g}×: nodelib ÷ peer is at most {worst:.2f} "
            f"({worst_case}{spread}), "
            f"geometric mean {geomean([v for _, v, _, _ in vals]):.2f}, within the target in "
            f"{len(vals) - len(missed)} of {len(vals)} cases", not missed))
        if missed:
            notes.append(f"- *{label}*, the {len(missed)} case{'s' if len(missed) > 1 else ''} "
                         "above the target: " + explain(kind, missed))
    if notes:
        lines += ["", "Measured figures behind the missed targets (geometric means over the "
                  "cases that miss; all ratios nodelib ÷ peer):", ""] + notes
    return lines


def explain(kind, missed):
    """Split a missed time ratio into evaluations and time per evaluation, or a missed
    compile ratio into tracing, XLA compilation and program size."""
    g = lambda xs: fmt_ratio(geomean(xs))
    if kind.startswith("m"):
        return "memory is measured, not explained (XLA's memory analysis of each program)."
    if kind.startswith("e"):
        return "errors are measured against the reference, not explained."
    if kind[0] != "c":
        nfe = (lambda r: r.get("nfe")) if kind == "fwd" else \
            (lambda r: None if r.get("nfe_bwd") is None else r["nfe_fwd"] + r["nfe_bwd"])
        pairs = [(v, nfe(a), nfe(b)) for _, v, a, b in missed if nfe(a) and nfe(b)]
        what = "evaluations of f" if kind == "fwd" else "evaluations of f, forward and backward,"
        return (f"nodelib makes {g([x / y for _, x, y in pairs])}× the {what} and spends "
                f"{g([v * y / x for v, x, y in pairs])}× the time per evaluation.")
    infos = [(a["info"], b["info"]) for _, _, a, b in missed if a.get("info") and b.get("info")]
    return (f"tracing and lowering take {g([a['trace_s'] / b['trace_s'] for a, b in infos])}×, "
            f"XLA compilation {g([a['xla_s'] / b['xla_s'] for a, b in infos])}×, and the "
            f"optimised program has {g([a['hlo_ops'] / b['hlo_ops'] for a, b in infos])}× the "
            "HLO instructions.")


def report(cases):
    fwd_rows, grad_rows = [], []
    for (cname, dtype, tol), (fw, gr) in cases.items():
        case = f"{cname}, {dtype}, {tol:.0e}"
        base = fw["nodelib"]
        for m, r in fw.items():
            time = _ratio(r.get("time"), base.get("time"))
            comp = _ratio(r.get("compile"), base.get("compile"))
            if m == "nodelib" and base.get("time") is not None:
                time += f" ({_ms(base['time'])})"
                comp += f" ({base['compile']:.2f} s)"
            fwd_rows.append([case, m, r.get("failed", r.get("nfe")), time, comp,
                             _sci(r.get("error"))])
        b = gr["nodelib adjoint"]
        for m, r in gr.items():
            time = _ratio(r.get("time"), b.get("time"))
            comp = _ratio(r.get("compile"), b.get("compile"))
            mem = "n/a (eager)" if r.get("memory") is None else \
                f"{fmt_bytes(r['memory'])} ({_ratio(r['memory'], b.get('memory'))})"
            if m == "nodelib adjoint" and b.get("time") is not None:
                time += f" ({_ms(b['time'])})"
                comp += f" ({b['compile']:.2f} s)"
            grad_rows.append([case, m, r.get("failed", r.get("nfe_fwd")), _int(r.get("nfe_bwd")),
                              time, comp, mem,
                              _sci(r.get("error"))])

    lines = ["## Neural vector fields", ""]
    lines.append(
        "tanh MLP vector fields f(t, y, params), applied with `jax.vmap` to a batch of states "
        "inside f, so each case is one solve over a (batch, dim) state from t = 0 to t1 = "
        f"{CONFIGS[0][3]:g}: "
        + "; ".join(f"{n}: {'-'.join(map(str, s))} MLP, {b} state{'s' if b > 1 else ''}"
                    for n, s, b, _ in CONFIGS)
        + ". Parameters from `nodelib.init_mlp` (LeCun normal, seed 0), y0 standard normal. "
        "The loss is sum(y(t1)**2); its gradient is taken with respect to the parameters. "
        "**All times are ratios \"method ÷ nodelib\"** (above 1: nodelib is faster), medians "
        "over interleaved rounds after warm-up; nodelib's own figure in brackets for scale. "
        "JAX programs are jitted; **compile** is trace + lower + XLA compile of a program "
        "never compiled before in the process. torchdiffeq runs eagerly (no compile step) "
        "with `torch.set_num_threads(1)`: XLA runs each operation of programs this small on "
        "one thread (checked when this benchmark was written: pinning the process to one core "
        "left the JAX times of the medium field unchanged), so one torch thread is the "
        "like-for-like setting; torchdiffeq is timed against nodelib in rounds of its own. "
        "**NFE** counts evaluations of f as they run (host callback in a separately "
        "compiled copy of each JAX program; a counter in the torch module); backward NFE is "
        "the gradient program's count minus the forward solve's (an evaluation inside a "
        "vector-Jacobian product or a recomputation counts once; backpropagation through "
        "torch's recorded graph replays its operations without calling f, hence 0). "
        "**memory** is the temporary memory of the compiled gradient (XLA memory analysis). "
        "**error** is the max-norm of y(t1) (forward) or of the gradient minus a reference, "
        "relative to the reference's largest entry; the reference is diffrax's eighth-order "
        f"Dopri8 at rtol = atol = {REF_TOL:g} in float64 (float32 cases: the same parameters "
        "and y0 cast to float64), differentiated through its steps, and it moves by at most "
        f"{_sci(max(fw['nodelib']['ref_drift'] for fw, _ in cases.values()))} (relative) "
        f"from {REF_CHECK_TOL:g}. Tolerances: "
        + "; ".join(f"{d} at {', '.join(f'{t:g}' for t in ts)}" for d, ts in TOLS.items())
        + " (below about 1e-6 a float32 state cannot honour the tolerance).")
    lines += ["", "### Forward solve", "",
              markdown_table(["case (config, dtype, tol)", "method", "NFE", "time ÷ nodelib",
                              "compile ÷ nodelib", "error"], fwd_rows, align="llrrrr"),
              "", "### Gradient with respect to the parameters", "",
              markdown_table(["case (config, dtype, tol)", "method", "NFE fwd", "NFE bwd",
                              "time ÷ nodelib adjoint", "compile ÷ nodelib adjoint",
                              "memory (÷ nodelib adjoint)", "error"], grad_rows,
                             align="llrrrrrr")]
    lines += ["", compile_breakdown(cases), "", neural_figures(cases)]
    lines += ["", "**Targets** (each in every case above; figures are nodelib ÷ peer)", ""]
    lines += target_lines(cases)
    return "\n".join(lines)


def neural_figures(cases):
    """Work-precision diagrams: error against time across the float64 tolerances."""
    fwd, grad = {}, {}
    for (cname, dtype, _tol), (fw, gr) in cases.items():
        if dtype != "float64":
            continue
        for panels, res in ((fwd, fw), (grad, gr)):
            for m, r in res.items():
                panels.setdefault(cname, {}).setdefault(m, []).append(
                    (r.get("time"), r.get("error")))
    tols = ", ".join(f"{t:g}" for t in TOLS["float64"])
    return "\n\n".join([
        work_precision_figure(
            "work_precision_neural", fwd, "forward time (s)", "relative error of y(t1)",
            f"Neural vector fields, forward solves, float64, rtol = atol = {tols}",
            "Work-precision diagrams, one panel per neural vector field: the relative error "
            "of y(t1) against the time of a forward solve, one line per library with one "
            "point per tolerance. Lower and further left is better."),
        work_precision_figure(
            "work_precision_neural_gradients", grad, "gradient time (s)",
            "relative gradient error",
            f"Neural vector fields, gradients, float64, rtol = atol = {tols}",
            "Work-precision diagrams of the gradients, one panel per neural vector field: the "
            "relative error of the parameter gradient against its time, one line per library "
            "and gradient method with one point per tolerance.")])


def compile_breakdown(cases):
    """Where compile time goes, for the last float64 case at 1e-6: tracing and lowering to
    StableHLO in Python, then XLA, and the size of the optimised program."""
    key = [k for k in cases if k[1] == "float64" and k[2] == 1e-6][-1]
    _, gr = cases[key]
    rows = []
    for m, r in gr.items():
        info = r.get("info")
        if info:
            rows.append([m, f"{info['trace_s']:.2f} s", f"{info['xla_s']:.2f} s", info["hlo_ops"]])
    return "\n".join([f"Where the gradient's compile time goes ({key[0]}, {key[1]}, {key[2]:.0e}): "
                      "trace and lower in Python, then XLA compilation, and the number of "
                      "instructions in the optimised HLO program.", "",
                      markdown_table(["method", "trace + lower", "XLA compile", "HLO instructions"],
                                     rows)])


def _div(a, b):
    return None if a is None or b is None else a / b


def _ratio(a, b):
    return fmt_ratio(_div(a, b)) if a is not None and b is not None else "n/a"


def _ms(t):
    return f"{1e3 * t:.2f} ms"


def _sci(x):
    return "n/a" if x is None else f"{x:.1e}"


def _int(x):
    return "n/a" if x is None else str(int(x))


def main():
    quiet_callback_errors()
    clock = Stopwatch()
    warm_up()
    cases = {}
    for config in CONFIGS:
        for dtype, tols in TOLS.items():
            for tol in tols:
                log(f"{clock} neural: {config[0]}, {dtype}, tol {tol:g}")
                cases[(config[0], dtype, tol)] = measure(config, dtype, tol)
    log(f"{clock} neural: done")
    print(report(cases))


if __name__ == "__main__":
    main()

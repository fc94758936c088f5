"""Shared helpers of the benchmark scripts: timing, compile time, memory, evaluation counts
and Markdown output.

Every benchmark script prints one Markdown section on stdout (progress goes to stderr);
`run_all.py` assembles the sections into the appendix page. Figures are medians over
repeated runs after warm-up and compilation, and the methods being compared are run in
turn inside each repeat (interleaved), so that a slow spell of the machine hits all of
them alike and the ratios between them stay meaningful.

Run any script with `--quick` for a smoke test (fewer cases and repeats); its figures are
not meant for publication.
"""
import sys
import time

import jax
import numpy as np

QUICK = "--quick" in sys.argv


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def block(x):
    """Wait for JAX arrays; torch tensors and NumPy arrays are already computed."""
    return jax.block_until_ready(x) if isinstance(x, jax.Array) or _has_jax(x) else x


def _has_jax(x):
    return any(isinstance(leaf, jax.Array) for leaf in jax.tree_util.tree_leaves(x))


def interleaved_medians(calls, repeats=30, min_time=0.2, warmup=2, max_time=None, min_repeats=3,
                        rounds=None):
    """Median wall time of each zero-argument callable in `calls` (a dict name -> call).

    Each call runs `warmup` times first (compilation and warm-up). Then, `repeats` times
    (or more, until each method has run for `min_time` seconds in total), every call runs
    once in turn. With `max_time`, the rounds stop once they have taken `max_time` seconds
    in total and at least `min_repeats` rounds were run (for slow, eager peers).

    Args:
        rounds: optional dict, filled with name -> the list of times of every round (the
            i-th entries of two methods were measured in the same round).

    Returns:
        dict name -> median seconds.
    """
    for call in calls.values():
        for _ in range(warmup):
            block(call())
    times = {name: [] for name in calls}
    start = time.perf_counter()
    while True:
        for name, call in calls.items():
            t0 = time.perf_counter()
            block(call())
            times[name].append(time.perf_counter() - t0)
        n = len(next(iter(times.values())))
        elapsed = time.perf_counter() - start
        if n >= repeats and elapsed >= min_time * len(calls):
            break
        if max_time is not None and n >= min_repeats and elapsed >= max_time:
            break
        if n >= 50 * repeats:
            break
    if rounds is not None:
        rounds.update(times)
    return {name: float(np.median(t)) for name, t in times.items()}


def round_ratio_quartiles(a, b):
    """Quartiles of the per-round ratios a[i] / b[i] of two methods timed in the same rounds:
    how far the ratio of medians could move from one run to the next."""
    r = np.asarray(a) / np.asarray(b)
    return float(np.percentile(r, 25)), float(np.percentile(r, 75))


# --- compilation and memory -------------------------------------------------------------

def fresh_compile(fn, *args, clear_caches=False):
    """Trace, lower and compile `jax.jit(fn)` for `args`, and time it.

    `fn` must be a new function object (built by a fresh closure), so that no jit cache
    holds it and everything specific to it is traced and compiled anew: its own jit,
    the jits inside the libraries (keyed on the vector field, itself a new closure) and
    XLA's compilation. JAX's generic helpers stay warm, as in any process that has already
    run something; `clear_caches=True` empties every cache first (`jax.clear_caches()`),
    which also drops the executables of earlier jitted functions.

    Returns:
        (jitted, info): `jax.jit(fn)`, whose cache now holds the executable (so calling it
        with `args` takes JAX's fast dispatch path and compiles nothing), and a dict with
        `seconds` (trace + lower + compile), `trace_s` (trace and lower to StableHLO),
        `xla_s` (XLA compilation), `temp_bytes` (temporary memory of the compiled program,
        XLA's memory analysis) and `hlo_ops` (instructions in the optimised HLO, a measure
        of program size).
    """
    if clear_caches:
        jax.clear_caches()
    jitted = jax.jit(fn)
    t0 = time.perf_counter()
    lowered = jitted.lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    info = {"seconds": t2 - t0, "trace_s": t1 - t0, "xla_s": t2 - t1,
            "temp_bytes": _temp_bytes(compiled), "hlo_ops": _hlo_ops(compiled)}
    return jitted, info


def warm_up():
    """Compile and run one throwaway forward solve and gradient with each JAX library, so
    that the first measured compilation does not also pay for warming JAX's generic helpers
    (the first function compiled in a process is slower than the next, whatever it is)."""
    import diffrax
    import jax.numpy as jnp
    from jax.experimental.ode import odeint as jax_odeint

    import nodelib
    f = lambda t, y, a: -a * y
    y0, a = jnp.ones(2), jnp.asarray(0.5)
    solves = [lambda y0, a: nodelib.odeint(f, y0, jnp.array([0.0, 1.0]), a).ys[-1],
              lambda y0, a: jax_odeint(lambda y, t, a: f(t, y, a), y0,
                                       jnp.array([0.0, 1.0]), a)[-1],
              lambda y0, a: diffrax.diffeqsolve(
                  diffrax.ODETerm(f), diffrax.Dopri5(), 0.0, 1.0, None, y0, a,
                  stepsize_controller=diffrax.PIDController(rtol=1e-6, atol=1e-6)).ys[-1]]
    for solve in solves:
        block(jax.jit(solve)(y0, a))
        block(jax.jit(jax.grad(lambda a, s=solve: s(y0, a).sum()))(a))


def compile_seconds(fn, *args, repeats=3):
    """Median time to trace, lower and compile `jax.jit(fn)` for `args` (a fresh jit each
    time, after `jax.clear_caches()`, so no cache is hit)."""
    return float(np.median([fresh_compile(fn, *args, clear_caches=True)[1]["seconds"]
                            for _ in range(repeats)]))


def temp_bytes(fn, *args):
    """Temporary memory XLA allocates for `jax.jit(fn)(*args)` (compiled memory analysis)."""
    return _temp_bytes(jax.jit(fn).lower(*args).compile())


def _temp_bytes(compiled):
    stats = compiled.memory_analysis()
    return int(stats.temp_size_in_bytes) if stats is not None else -1


def _hlo_ops(compiled):
    text = compiled.as_text() or ""
    return sum(1 for line in text.splitlines()
               if " = " in line and not line.lstrip().startswith("//"))


def failure(exc):
    """A short reason for a failed solve, for a table cell ("failed: max_steps reached")."""
    msg = str(exc)
    for phrase, reason in (("lost the forward trajectory", "lost the forward trajectory"),
                           ("max_steps", "max_steps reached"), ("step size", "step size underflow"),
                           ("dt_underflow", "step size underflow"), ("NaN", "non-finite values"),
                           ("nonfinite", "non-finite values")):
        if phrase in msg:
            where = " in the backward solve" if "backward" in msg else ""
            return f"failed: {reason}{where}"
    return f"failed: {type(exc).__name__}"


def quiet_callback_errors():
    """A solver that raises from a host callback also makes JAX log the traceback; the
    failure is reported in the tables instead."""
    import logging
    logging.getLogger("jax._src.callback").setLevel(logging.CRITICAL)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.CRITICAL)


class Stopwatch:
    """Elapsed time since construction, for progress messages."""

    def __init__(self):
        self.start = time.perf_counter()

    def __str__(self):
        return f"[{time.perf_counter() - self.start:6.1f} s]"


# --- counting evaluations of the vector field --------------------------------------------

class EvalCounter:
    """Counts evaluations of a vector field as they happen, on the host.

    `counted(f)` returns f with a `jax.debug.callback` in front: every time the compiled
    program executes the field's code, the host adds one. It counts what actually ran,
    including evaluations inside a backward pass (a vector-Jacobian product of f runs f's
    forward code once) and recomputations by checkpointing. A call of f on a batch of states
    counts once. The counted program is compiled separately from the timed one, so the
    callback never slows down a timing.
    """

    def __init__(self):
        self.n = 0

    def _tick(self):
        self.n += 1

    def counted(self, f):
        def f_counted(*args):
            jax.debug.callback(self._tick)
            return f(*args)
        return f_counted

    def run(self, call):
        """Run `call()` and return (evaluations it made, its result)."""
        jax.effects_barrier()
        self.n = 0
        out = block(call())
        jax.effects_barrier()
        return self.n, out


# --- Markdown ---------------------------------------------------------------------------

def markdown_table(header, rows, align=None):
    """A Markdown table; `align` is a string of 'l'/'r' per column (default: first left)."""
    align = align or "l" + "r" * (len(header) - 1)
    marks = {"l": ":--", "r": "--:"}
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def target(text, ok):
    """One bullet of a "Targets" list: the measured figure in `text`, then met or missed."""
    return f"- {text}: **{'met' if ok else 'missed'}**"


def geomean(xs):
    xs = [x for x in xs if x is not None and np.isfinite(x) and x > 0]
    return float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")


def fmt_ratio(x):
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.2f}"


def fmt_sci(x):
    if x is None:
        return "n/a"
    return f"{x:.1e}" if np.isfinite(x) else "non-finite"


def fmt_seconds(x):
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.2f} s"


def fmt_us(x):
    return "n/a" if x is None or not np.isfinite(x) else f"{1e6 * x:.1f} µs"


def fmt_bytes(n):
    if n is None or n < 0:
        return "n/a"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000


def fmt_int(x):
    return "n/a" if x is None else str(int(x))


# --- neural vector fields -----------------------------------------------------------------

def mlp(params, x):
    """tanh MLP: affine layers with tanh between them, none after the last. x: (dim,)."""
    *hidden, (w_last, b_last) = params
    for w, b in hidden:
        x = jax.numpy.tanh(x @ w + b)                 # (hidden,)
    return x @ w_last + b_last                        # (dim,)


def neural_problem(sizes, batch, dtype, seed=0):
    """A neural vector field f(t, y, params) on a batch of states, applied with `jax.vmap`.

    Returns:
        (f, params, y0): f(t, y, params) with y of shape (batch, dim); params from
        `nodelib.init_mlp` (LeCun normal); y0 standard normal, shape (batch, dim).
    """
    import nodelib
    params = nodelib.init_mlp(jax.random.PRNGKey(seed), list(sizes), dtype=dtype)
    y0 = jax.random.normal(jax.random.PRNGKey(seed + 1), (batch, sizes[0]), dtype)

    def f(t, y, params):
        return jax.vmap(lambda x: mlp(params, x))(y)  # (batch, dim)
    return f, params, y0


# --- figures --------------------------------------------------------------------------------

RESULTS_DIR = __import__("pathlib").Path(__file__).resolve().parent.parent / "appendix" / "results"


def work_precision_figure(name, panels, xlabel, ylabel, title, alt):
    """Save a grid of log-log work-precision panels as appendix/results/<name>.png.

    Args:
        name: file name without suffix.
        panels: dict panel title -> dict method -> list of (x, y) points (one per tolerance,
            in tolerance order); points with a missing or non-positive value are left out.
        xlabel, ylabel, title: axis labels and figure title.
        alt: alt text of the figure.

    Returns:
        The MyST figure block that shows it from appendix/benchmarks.md.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    methods = sorted({m for lines in panels.values() for m in lines})
    ncol = min(4, len(methods))
    legend_in = 0.1 + 0.22 * -(-len(methods) // ncol)      # inches below the panels
    height = 3.4 * rows + legend_in
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, height), squeeze=False)
    styles = {m: (f"C{i % 10}", "osD^vP*Xh"[i % 9]) for i, m in enumerate(methods)}
    for ax, (panel, lines) in zip(axes.flat, panels.items()):
        for method, points in lines.items():
            pts = [(x, y) for x, y in points
                   if x is not None and y is not None and np.isfinite(x) and np.isfinite(y)
                   and x > 0 and y > 0]
            if pts:
                color, marker = styles[method]
                ax.loglog(*zip(*pts), marker=marker, color=color, label=method, lw=1.2, ms=5)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # no crowded labels
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=styles[m][0], marker=styles[m][1], label=m)
               for m in methods]
    fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=9,
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, legend_in / height, 1, 1 - 0.1 / height))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS_DIR / f"{name}.png", dpi=110)
    plt.close(fig)
    return "\n".join(["```{figure} results/" + name + ".png", f":alt: {alt}", ":width: 100%",
                      "", title, "```"])

"""Cost of the trace in continuous normalizing flows: Hutchinson's estimate against the exact
trace, relative to one evaluation of the vector field.

CNF dynamics need tr(df/dz) at every evaluation (Grathwohl et al. 2019). The exact trace
(`nodelib.models.exact_trace`) takes D Jacobian-vector products for a state of dimension D;
Hutchinson's estimate (`nodelib.models.hutchinson_trace`) takes one. Prints one Markdown
section on stdout, progress on stderr.

    .venv/bin/python benchmarks/traces.py [--quick]
"""
from functools import partial

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
from common import QUICK, Stopwatch, fmt_ratio, interleaved_medians, log, markdown_table  # noqa: E402

import nodelib  # noqa: E402
from nodelib.models import exact_trace, hutchinson_trace  # noqa: E402

DIMS = (2, 32) if QUICK else (2, 32, 512)
BATCH, HIDDEN = 256, 64


def main():
    clock = Stopwatch()
    rows = []
    for d in DIMS:
        log(f"{clock} traces: D = {d}")
        params = nodelib.init_mlp(jax.random.PRNGKey(d), [d + 1, HIDDEN, d], dtype=jnp.float64)
        z = jax.random.normal(jax.random.PRNGKey(1), (BATCH, d), dtype=jnp.float64)
        eps = jax.random.rademacher(jax.random.PRNGKey(2), (BATCH, d), dtype=jnp.float64)
        f = jax.jit(jax.vmap(lambda z, p=params: nodelib.time_mlp(0.0, z, p)))
        hutch = jax.jit(jax.vmap(
            lambda z, e, p=params: hutchinson_trace(nodelib.time_mlp, 0.0, z, p, e)))
        exact = jax.jit(jax.vmap(lambda z, p=params: exact_trace(nodelib.time_mlp, 0.0, z, p)))
        t = interleaved_medians({"f": partial(f, z), "hutchinson": partial(hutch, z, eps),
                                 "exact": partial(exact, z)},
                                repeats=10 if QUICK else 30, min_time=0.2, max_time=10.0)
        rows.append([d, fmt_ratio(t["hutchinson"] / t["f"]), fmt_ratio(t["exact"] / t["f"]),
                     d + 1])
    log(f"{clock} traces: done")
    print("\n".join([
        "## Trace estimates for continuous normalizing flows", "",
        "Time of one CNF dynamics evaluation (the vector field and the trace of its Jacobian) "
        f"divided by the time of one evaluation of the field alone, for a "
        f"(D+1)-{HIDDEN}-D tanh MLP `nodelib.time_mlp` on a batch of {BATCH} states (float64, "
        "jitted, medians over interleaved rounds). The exact trace builds the Jacobian from D "
        "forward-mode products; Hutchinson's estimator uses one, whatever D is. The last "
        "column is the cost the exact trace would have if each product cost one evaluation "
        "of f.", "",
        markdown_table(["D", "Hutchinson ÷ f", "exact ÷ f", "D + 1"], rows)]))


if __name__ == "__main__":
    main()

"""Arenstorf orbit (Hairer, Nørsett & Wanner, Solving ODEs I, section II.0): one period at
rtol = atol = 1e-7 in float64. Prints NFE, accepted/rejected steps and the error at T for
nodelib's dopri5, scipy's RK45 and jax.experimental.ode.odeint, all measured in this run.

Reference from the literature (not measured here): Hairer's DOPRI5 Fortran code needs 1429
evaluations with 21 rejected steps on this problem.

    .venv/bin/python benchmarks/arenstorf.py
"""
import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy.integrate  # noqa: E402

import nodelib  # noqa: E402

MU = 0.012277471
Y0 = np.array([0.994, 0.0, 0.0, -2.00158510637908252240537862224])
PERIOD = 17.0652165601579625588917206249
TOL = 1e-7


def arenstorf(t, y, args=None):
    y1, y2, v1, v2 = y[0], y[1], y[2], y[3]
    d1 = ((y1 + MU) ** 2 + y2**2) ** 1.5
    d2 = ((y1 - 1 + MU) ** 2 + y2**2) ** 1.5
    return jnp.stack([v1, v2,
                      y1 + 2 * v2 - (1 - MU) * (y1 + MU) / d1 - MU * (y1 - 1 + MU) / d2,
                      y2 - 2 * v1 - (1 - MU) * y2 / d1 - MU * y2 / d2])


def run_nodelib():
    sol = nodelib.odeint(arenstorf, jnp.asarray(Y0), jnp.array([0.0, PERIOD]), rtol=TOL, atol=TOL)
    s = {k: int(v) for k, v in sol.stats.items()}
    return s["nfe"], s["num_accepted_steps"], s["num_rejected_steps"], np.asarray(sol.ys[-1])


def run_scipy():
    f = lambda t, y: np.asarray(arenstorf(t, y))
    f_np = lambda t, y: np.array(f(t, y))
    res = scipy.integrate.solve_ivp(f_np, (0.0, PERIOD), Y0, method="RK45", rtol=TOL, atol=TOL)
    steps = len(res.t) - 1
    rejected = (res.nfev - 2) // 6 - steps       # 2 start-up evaluations, 6 per attempt (FSAL)
    return res.nfev, steps, rejected, res.y[:, -1]


def run_jax_ode():
    from jax.experimental.ode import odeint
    counter = []

    def f(y, t):
        jax.debug.callback(lambda: counter.append(1))
        return arenstorf(t, y)

    ys = odeint(f, jnp.asarray(Y0), jnp.array([0.0, PERIOD]), rtol=TOL, atol=TOL)
    jax.effects_barrier()
    return len(counter), "n/a", "n/a", np.asarray(ys[-1])


def main():
    print(f"Arenstorf orbit, one period, rtol = atol = {TOL:g}, float64")
    print(f"{'solver':<32}{'NFE':>8}{'accepted':>10}{'rejected':>10}{'error at T':>14}")
    for name, run in [("nodelib dopri5", run_nodelib), ("scipy RK45", run_scipy),
                      ("jax.experimental.ode.odeint", run_jax_ode)]:
        nfe, acc, rej, y_end = run()
        err = np.linalg.norm(y_end - Y0)
        print(f"{name:<32}{nfe:>8}{acc!s:>10}{rej!s:>10}{err:>14.3e}")
    print("Reference (Hairer's DOPRI5 Fortran code, from the literature): 1429 NFE, 21 rejected")


if __name__ == "__main__":
    main()

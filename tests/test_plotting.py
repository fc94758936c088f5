"""Smoke tests for nodelib.plotting with the non-interactive Agg backend."""
import jax

jax.config.update("jax_enable_x64", True)

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nodelib import plotting  # noqa: E402
from nodelib.nn import init_mlp, time_mlp  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _has_labels(ax):
    return ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_plot_trajectories_time_and_phase():
    ts = jnp.linspace(0, 1, 20)
    ys = jnp.stack([jnp.cos(ts), jnp.sin(ts)], axis=1)  # (T, 2)
    ax = plotting.plot_trajectories(ts, ys)
    assert _has_labels(ax) and "phase" in ax.get_title() and ax.get_xlabel() == "$y_1$"
    ax = plotting.plot_trajectories(ts, jnp.stack([ys, 2 * ys]), phase=False, title="t")
    assert ax.get_title() == "t" and len(ax.lines) == 4
    fig, ax0 = plt.subplots()
    assert plotting.plot_trajectories(ts, jnp.sin(ts), ax=ax0) is ax0
    with pytest.raises(ValueError, match="phase=True needs 2-D states"):
        plotting.plot_trajectories(ts, jnp.ones((20, 3)), phase=True)
    with pytest.raises(ValueError, match="does not match"):
        plotting.plot_trajectories(ts[:5], ys)


def test_plot_vector_field_density_samples_loss():
    params = init_mlp(jax.random.key(0), [3, 8, 2])
    ax = plotting.plot_vector_field(time_mlp, params, (-2, 2), (-1, 1), t=0.5, n=5)
    assert _has_labels(ax) and len(ax.collections) == 1

    def log_normal(x):  # (N, 2) -> (N,)
        return -0.5 * jnp.sum(x**2, axis=1) - jnp.log(2 * jnp.pi)

    ax = plotting.plot_density_2d(log_normal, (-3, 3), (-3, 3), n=30)
    assert _has_labels(ax)
    with pytest.raises(ValueError, match="jax.vmap"):
        plotting.plot_density_2d(lambda x: x, (-3, 3), (-3, 3), n=4)
    with pytest.raises(ValueError, match="low < high"):
        plotting.plot_density_2d(log_normal, (3, -3), (-3, 3))
    assert _has_labels(plotting.plot_samples_2d(np.random.default_rng(0).normal(size=(50, 2))))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        plotting.plot_samples_2d(np.ones((5, 3)))
    ax = plotting.plot_loss(np.array([1.0, 0.5, 0.1]))
    assert _has_labels(ax) and ax.get_yscale() == "log"
    assert plotting.plot_loss(np.array([1.0, -0.5])).get_yscale() == "linear"

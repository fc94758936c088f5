"""Plotting helpers for the chapters: trajectories, vector fields, 2-D densities, losses.

Every function takes an optional matplotlib ``ax`` (a new figure is made when it is ``None``),
sets axis labels and a title (override with ``title=``), and returns the ``ax`` so the caller
can add to it. Inputs may be JAX or NumPy arrays. ``matplotlib.pyplot`` is imported only when
a new figure is needed, so ``import nodelib`` stays light and never picks a backend.
"""
import jax
import jax.numpy as jnp
import numpy as np


def _get_ax(ax):
    """Return ``ax``, or the axes of a new figure when ``ax`` is None."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 4))
    return ax


def _check_lim(lim, name):
    """Check that ``lim`` is a pair ``(low, high)`` with ``low < high``."""
    if len(lim) != 2 or not lim[0] < lim[1]:
        raise ValueError(f"{name} must be a pair (low, high) with low < high; got {lim!r}.")
    return float(lim[0]), float(lim[1])


def _grid(xlim, ylim, n):
    """An ``n x n`` grid: meshes ``X, Y`` of shape ``(n, n)``, ``points`` of shape ``(n*n, 2)``."""
    X, Y = np.meshgrid(np.linspace(*_check_lim(xlim, "xlim"), n),
                       np.linspace(*_check_lim(ylim, "ylim"), n))
    points = jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1))  # (n*n, 2)
    return X, Y, points


def _as_series(ts, ys):
    """Bring ``ys`` to shape ``(batch, T, dim)`` and ``ts`` to ``(batch, T)``."""
    ys = np.asarray(ys)
    if ys.ndim == 1:
        ys = ys[:, None]
    if ys.ndim == 2:
        ys = ys[None]
    if ys.ndim != 3:
        raise ValueError(f"ys must have shape (T,), (T, dim) or (batch, T, dim); got {ys.shape}.")
    ts = np.asarray(ts)
    try:
        ts = np.broadcast_to(ts, ys.shape[:2])
    except ValueError:
        raise ValueError(f"ts of shape {ts.shape} does not match ys of shape {ys.shape}: "
                         "expected (T,) or (batch, T).") from None
    return ts, ys


def plot_trajectories(ts, ys, ax=None, *, phase=None, title=None, alpha=0.8, **plot_kwargs):
    """Plot state trajectories, over time or in the phase plane.

    Args:
        ts: times, shape ``(T,)`` (shared) or ``(batch, T)``.
        ys: states, shape ``(T,)``, ``(T, dim)`` or ``(batch, T, dim)``.
        ax: optional matplotlib axes.
        phase: plot ``y_2`` against ``y_1`` (marking each start with a dot) instead of each
            component against ``t``. Default: True exactly when ``dim == 2``.
        title: optional title.
        alpha: line opacity.
        **plot_kwargs: passed to ``ax.plot``.

    Returns:
        The matplotlib axes.

    Raises:
        ValueError: if the shapes do not match, or ``phase=True`` with ``dim != 2``.
    """
    ts, ys = _as_series(ts, ys)
    dim = ys.shape[2]
    phase = dim == 2 if phase is None else phase
    ax = _get_ax(ax)
    if phase:
        if dim != 2:
            raise ValueError(f"phase=True needs 2-D states; got dim={dim}.")
        for y in ys:
            (line,) = ax.plot(y[:, 0], y[:, 1], alpha=alpha, **plot_kwargs)
            ax.plot(y[0, 0], y[0, 1], "o", ms=3, color=line.get_color())
        ax.set(xlabel="$y_1$", ylabel="$y_2$", title=title or "Trajectories in the phase plane")
        return ax
    for t, y in zip(ts, ys):
        for j in range(dim):  # with several components, one colour per component
            style = {"color": f"C{j}"} if dim > 1 else {}
            ax.plot(t, y[:, j], alpha=alpha, **{**style, **plot_kwargs})
    ax.set(xlabel="time $t$", ylabel="state $y(t)$", title=title or "Trajectories over time")
    return ax


def plot_vector_field(f, args, xlim, ylim, t=0.0, ax=None, n=20, *, title=None):
    """Quiver plot of a 2-D vector field ``f(t, y, args)`` on an ``n x n`` grid.

    Arrows are coloured by speed ``|f|``.

    Args:
        f: vector field in nodelib's convention, mapping a state ``(2,)`` to ``(2,)``.
        args: the ``args`` passed to ``f`` (e.g. MLP parameters).
        xlim, ylim: ``(low, high)`` ranges of ``y_1`` and ``y_2``.
        t: time at which the field is drawn.
        ax: optional matplotlib axes.
        n: number of grid points per axis.
        title: optional title.

    Returns:
        The matplotlib axes.

    Raises:
        ValueError: on bad limits, or if ``f`` does not return 2-D vectors.
    """
    X, Y, points = _grid(xlim, ylim, n)
    vel = np.asarray(jax.vmap(lambda y: f(t, y, args))(points))  # (n*n, 2)
    if vel.shape != (n * n, 2):
        raise ValueError(f"f must map a state of shape (2,) to (2,); got outputs {vel.shape[1:]}.")
    U, V = vel[:, 0].reshape(n, n), vel[:, 1].reshape(n, n)
    ax = _get_ax(ax)
    ax.quiver(X, Y, U, V, np.hypot(U, V), cmap="viridis", angles="xy")
    ax.set(xlabel="$y_1$", ylabel="$y_2$", title=title or f"Vector field at t = {t:g}")
    return ax


def plot_density_2d(log_density_fn, xlim, ylim, n=100, ax=None, *, title=None, cmap="viridis"):
    """Image of the density ``exp(log_density_fn(x))`` on an ``n x n`` grid.

    Args:
        log_density_fn: batched log-density, mapping points ``(N, 2)`` to ``(N,)``; wrap a
            per-point function in ``jax.vmap``.
        xlim, ylim: ``(low, high)`` ranges of ``x_1`` and ``x_2``.
        n: number of grid points per axis.
        ax: optional matplotlib axes.
        title: optional title.
        cmap: matplotlib colour map.

    Returns:
        The matplotlib axes.

    Raises:
        ValueError: on bad limits or if the log-density does not return shape ``(N,)``.
    """
    X, Y, points = _grid(xlim, ylim, n)
    logp = np.asarray(log_density_fn(points))  # (n*n,)
    if logp.shape != (n * n,):
        raise ValueError(f"log_density_fn must map points (N, 2) to (N,); got {logp.shape} for "
                         f"N = {n * n}. Wrap a per-point function in jax.vmap.")
    ax = _get_ax(ax)
    ax.pcolormesh(X, Y, np.exp(logp).reshape(n, n), cmap=cmap, shading="auto")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title or "Density", aspect="equal")
    return ax


def plot_samples_2d(x, ax=None, *, title=None, s=2.0, alpha=0.5, **scatter_kwargs):
    """Scatter plot of 2-D samples.

    Args:
        x: samples of shape ``(N, 2)``.
        ax: optional matplotlib axes.
        title: optional title.
        s: marker size.
        alpha: marker opacity.
        **scatter_kwargs: passed to ``ax.scatter`` (e.g. ``c=labels``).

    Returns:
        The matplotlib axes.

    Raises:
        ValueError: if ``x`` is not of shape ``(N, 2)``.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (N, 2); got {x.shape}.")
    ax = _get_ax(ax)
    ax.scatter(x[:, 0], x[:, 1], s=s, alpha=alpha, **scatter_kwargs)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", title=title or "Samples", aspect="equal")
    return ax


def plot_loss(history, ax=None, *, title=None, **plot_kwargs):
    """Plot a loss history against the step number, on a log scale.

    The y axis is logarithmic when every loss is positive and linear otherwise (negative
    log-likelihoods, for instance, can be negative).

    Args:
        history: losses of shape ``(steps,)``, e.g. from :func:`nodelib.fit`.
        ax: optional matplotlib axes.
        title: optional title.
        **plot_kwargs: passed to ``ax.plot`` (e.g. ``label=``).

    Returns:
        The matplotlib axes.

    Raises:
        ValueError: if ``history`` is not 1-D.
    """
    history = np.asarray(history)
    if history.ndim != 1:
        raise ValueError(f"history must be 1-D (one loss per step); got shape {history.shape}.")
    ax = _get_ax(ax)
    ax.plot(np.arange(len(history)), history, **plot_kwargs)
    ax.set_yscale("log" if np.all(history > 0) else "linear")
    ax.set(xlabel="step", ylabel="loss", title=title or "Training loss")
    return ax

"""Multi-layer perceptrons as plain lists of ``(W, b)`` pairs.

A network is a list of layers; layer ``i`` is a pair ``(W, b)`` with ``W`` of shape
``(m, n)`` and ``b`` of shape ``(n,)``, mapping ``m`` inputs to ``n`` outputs by ``x @ W + b``.
That is all: parameters are an ordinary pytree, so ``jax.grad``, ``jax.tree_util`` and optax
work on them directly, and the reader can print them.

The functions here follow the JAX tutorial that this course grew from (an MLP, a weight-tied
ResNet and the ``nn_dynamics`` vector field that feeds time to the MLP as one more input), with
the vector field in nodelib's ``f(t, y, args)`` order so it can be passed to
``nodelib.odeint(time_mlp, y0, ts, params)`` unchanged.
"""
import functools
import math

import jax
import jax.numpy as jnp

from ._argcheck import check_float_dtype, check_int, check_key, check_number, describe


def _check_sizes(sizes):
    """Check that ``sizes`` is a list or tuple of at least two positive ints."""
    if not isinstance(sizes, (list, tuple)):
        raise TypeError(
            f"sizes must be a list of layer widths such as [2, 64, 2]; got {describe(sizes)}."
        )
    if len(sizes) < 2:
        raise ValueError(
            f"sizes needs at least two entries (input and output width); got {list(sizes)}."
        )
    for i, size in enumerate(sizes):
        check_int(size, f"sizes[{i}]", minimum=1)
    return [int(s) for s in sizes]


def init_mlp(key, sizes, *, scale=None, dtype=jnp.float32):
    """Random parameters for an MLP with layer widths ``sizes``.

    Every weight and bias entry of the layer mapping ``m`` inputs to ``n`` outputs is drawn
    independently from a normal distribution with standard deviation ``scale``; the draws are
    made in float32 and cast to ``dtype``, so one key gives the same network (up to rounding)
    in float32 and float64. By default
    ``scale = 1/sqrt(m)`` (``m`` = fan-in, "LeCun normal" initialisation, LeCun et al. 1998,
    *Efficient BackProp*), which keeps the pre-activations of every layer of order one. Passing
    ``scale=1.0`` reproduces the initialisation of the seed JAX tutorial.

    Args:
        key: a JAX PRNG key, e.g. ``jax.random.key(0)``.
        sizes: list of at least two positive ints, ``[in, hidden..., out]``.
        scale: optional positive float, the same standard deviation for every layer. ``None``
            (default) means ``1/sqrt(fan_in)`` per layer.
        dtype: floating-point dtype of the parameters (default ``jnp.float32``).

    Returns:
        A list of ``len(sizes) - 1`` tuples ``(W, b)`` with ``W`` of shape
        ``(sizes[i], sizes[i+1])`` and ``b`` of shape ``(sizes[i+1],)``.

    Raises:
        TypeError: if ``key`` is not a PRNG key, ``sizes`` is not a list of ints, or ``dtype``
            is not a floating-point dtype.
        ValueError: if ``sizes`` has fewer than two entries, a non-positive width, or
            ``scale`` is not positive.
    """
    check_key(key)
    sizes = _check_sizes(sizes)
    dtype = check_float_dtype(dtype)
    if scale is not None:
        scale = check_number(scale, "scale")
    stds = tuple(scale if scale is not None else 1.0 / math.sqrt(m) for m in sizes[:-1])
    params = _init_float32(key, tuple(sizes), stds)
    return [(W.astype(dtype), b.astype(dtype)) for W, b in params]


@functools.partial(jax.jit, static_argnames=("sizes",))
def _init_float32(key, sizes, stds):
    """Compiled body of :func:`init_mlp`: one float32 normal draw, cut into the layers."""
    size = sum(m * n + n for m, n in zip(sizes, sizes[1:]))
    flat = jax.random.normal(key, (size,), jnp.float32)  # (total number of parameters,)
    params, start = [], 0
    for m, n, std in zip(sizes, sizes[1:], stds):
        W = std * flat[start:start + m * n].reshape(m, n)  # (m, n)
        b = std * flat[start + m * n:start + m * n + n]  # (n,)
        params.append((W, b))
        start += m * n + n
    return params


def _check_params(params):
    """Check that ``params`` is a non-empty list of ``(W, b)`` pairs."""
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise TypeError(
            "params must be a non-empty list of (W, b) pairs as returned by init_mlp; "
            f"got {describe(params)}."
        )
    for i, layer in enumerate(params):
        if not isinstance(layer, (list, tuple)) or len(layer) != 2:
            raise TypeError(f"params[{i}] must be a pair (W, b); got {describe(layer)}.")


def mlp(params, x, activation=jnp.tanh):
    """Apply an MLP: affine layers with ``activation`` between them, none after the last.

    Works on a single input ``(dim,)`` or a batch ``(batch, dim)``, because ``x @ W`` acts on
    the last axis.

    Args:
        params: list of ``(W, b)`` pairs as returned by :func:`init_mlp`.
        x: input array of shape ``(dim,)`` or ``(batch, dim)`` with ``dim == W0.shape[0]``.
        activation: elementwise nonlinearity (default ``jnp.tanh``).

    Returns:
        The output, of shape ``(out,)`` or ``(batch, out)``.

    Raises:
        TypeError: if ``params`` is not a list of ``(W, b)`` pairs.
        ValueError: if the last axis of ``x`` does not match the first layer's input width.
    """
    _check_params(params)
    x = jnp.asarray(x)
    width = params[0][0].shape[0]
    if x.ndim not in (1, 2) or x.shape[-1] != width:
        raise ValueError(
            f"mlp expects x of shape ({width},) or (batch, {width}) for these params; "
            f"got shape {tuple(x.shape)}."
        )
    *hidden, (W_last, b_last) = params
    for W, b in hidden:
        x = activation(x @ W + b)  # (..., hidden width)
    return x @ W_last + b_last  # (..., out)


def time_mlp(t, y, params, activation=jnp.tanh):
    """An MLP vector field ``f(t, y, params)`` that sees the time as one more input feature.

    Computes ``mlp(params, [y, t])``: the scalar ``t`` is appended to the state, as in the
    ``nn_dynamics`` of the seed tutorial and the ODE-Net of Chen et al. (2018). The first layer
    must therefore take ``dim + 1`` inputs and the last must return ``dim`` outputs, e.g.
    ``init_mlp(key, [dim + 1, 64, dim])``.

    The state is unbatched, ``(dim,)``: batch it with ``jax.vmap`` (over ``y``, or over the
    whole ``odeint`` call), which is how the course batches ODE-Nets.

    Args:
        t: scalar time (Python float or 0-d array); cast to ``y``'s dtype.
        y: state of shape ``(dim,)``.
        params: MLP parameters with input width ``dim + 1``.
        activation: elementwise nonlinearity (default ``jnp.tanh``).

    Returns:
        ``dy/dt`` of shape ``(out,)`` (``out == dim`` for an ODE vector field).

    Raises:
        ValueError: if ``y`` is not 1-D, ``t`` is not a scalar, or the widths do not match.
    """
    y = jnp.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"time_mlp expects an unbatched state y of shape (dim,); got shape {tuple(y.shape)}. "
            "For a batch use jax.vmap(time_mlp, in_axes=(None, 0, None))."
        )
    t = jnp.asarray(t, dtype=y.dtype)
    if t.ndim != 0:
        raise ValueError(f"time_mlp expects a scalar time t; got shape {tuple(t.shape)}.")
    y_and_t = jnp.concatenate([y, t[None]])  # (dim + 1,)
    return mlp(params, y_and_t, activation)


def resnet(params, x, depth, activation=jnp.tanh):
    """A weight-tied residual network: ``x <- x + mlp(params, x)``, repeated ``depth`` times.

    Each block is one explicit Euler step of size 1 of ``dx/dt = mlp(params, x)`` (He et al.
    2016; the ResNet/Euler connection of Chen et al. 2018, Sec. 1). The same ``params`` are used
    in every block, as in the seed tutorial, so ``mlp`` must map ``dim`` to ``dim``.

    Args:
        params: MLP parameters with equal input and output width ``dim``.
        x: input of shape ``(dim,)`` or ``(batch, dim)``.
        depth: number of residual blocks, an int >= 1.
        activation: elementwise nonlinearity inside each block (default ``jnp.tanh``).

    Returns:
        The output, same shape as ``x``.

    Raises:
        TypeError: if ``depth`` is not an int.
        ValueError: if ``depth < 1`` or the MLP's output width differs from its input width.
    """
    depth = check_int(depth, "depth", minimum=1)
    _check_params(params)
    d_in, d_out = params[0][0].shape[0], params[-1][0].shape[1]
    if d_in != d_out:
        raise ValueError(
            "resnet needs an MLP whose output width equals its input width (a residual block "
            f"adds its output to its input); got widths {d_in} -> {d_out}."
        )
    for _ in range(depth):
        x = x + mlp(params, x, activation)  # same shape as x
    return x


def count_params(params):
    """The total number of scalar parameters in a pytree of arrays.

    Args:
        params: any pytree of arrays, e.g. the output of :func:`init_mlp`.

    Returns:
        The number of entries summed over all leaves, as a Python ``int``.
    """
    return int(sum(math.prod(jnp.shape(leaf)) for leaf in jax.tree_util.tree_leaves(params)))

"""Checks for the exercises of Chapter 1, ResNets and the gradient problem."""
import jax
import jax.numpy as jnp
import numpy as np

from ._common import assert_array, call, dtypes, fresh_rng, matches, passed

__all__ = ["check_resnet_grad", "check_resnet_forward"]


def _scalar_resnet(ws, x0):
    """Scalar ResNet with ``F_n(x) = w_n x``: ``x_n = x_{n-1} + w_n x_{n-1}``, returns ``y``."""
    x = x0
    for n in range(ws.shape[0]):
        x = x + ws[n] * x
    return x


def check_resnet_grad(fn):
    """Check ``fn(ws, x0)``, the derivative dy/dw_1 of the scalar ResNet of Exercise 1.2.

    The network has layers ``F_n(x) = w_n x`` and skip connections, so
    ``y = (1 + w_L) ... (1 + w_1) x0``; the reference is ``jax.grad`` of that forward pass with
    respect to ``ws[0]``. Tested on several depths (including 1), random weights and inputs.

    Args:
        fn: callable taking ``ws`` of shape ``(L,)`` and a scalar ``x0`` (both of one float
            dtype) and returning a scalar of that dtype.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    name, rng = "your function", fresh_rng()
    for dtype in dtypes():
        for depth in (1, 2, 3, int(rng.integers(4, 9))):
            ws = jnp.asarray(rng.uniform(-0.9, 0.9, depth), dtype)  # (L,)
            x0 = jnp.asarray(rng.uniform(0.5, 2.0), dtype)
            # x0=x0 binds this iteration's input (B023: a closure reads its loop variable late)
            want = jax.grad(lambda w, x0=x0: _scalar_resnet(w, x0))(ws)[0]
            got = call(name, fn, ws, x0)
            hint = "Hint: y = (1 + w_L)...(1 + w_1) x0, so dy/dw_1 keeps every factor but one."
            if depth > 1 and matches(got, jnp.prod(ws[1:]) * x0):
                hint = ("That is the gradient of the network *without* skip connections: "
                        "each layer contributes a factor (1 + w_n), not w_n.")
            assert_array(f"{name} (depth {depth}, {jnp.dtype(dtype).name})", got, want, hint)
    passed("check_resnet_grad passed: your dy/dw_1 matches jax.grad on fresh random ResNets.")


def _resnet_reference(params, x, step):
    """Residual stack ``x <- x + step * tanh(x @ W + b)`` over the layers in ``params``."""
    for W, b in params:
        x = x + step * jnp.tanh(x @ W + b)  # (batch, width)
    return x


def _random_layers(rng, depth, width, dtype):
    """``depth`` random ``(W, b)`` pairs of a width-``width`` network, as a list."""
    scale = 1.0 / np.sqrt(width)
    return [(jnp.asarray(rng.normal(0, scale, (width, width)), dtype),  # (width, width)
             jnp.asarray(rng.normal(0, scale, width), dtype))  # (width,)
            for _ in range(depth)]


def check_resnet_forward(fn):
    """Check ``fn(params, x, step)``, the residual stack with step size of Exercise 1.3.

    The reference applies ``x <- x + step * tanh(x @ W + b)`` for each ``(W, b)`` in ``params``.
    Values and the gradient of ``sum(output)`` with respect to every parameter are compared.

    Args:
        fn: callable taking a list of ``(W, b)`` pairs (``W``: ``(width, width)``, ``b``:
            ``(width,)``), a batch ``x`` of shape ``(batch, width)`` and a Python float ``step``;
            returning an array shaped like ``x``.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    name, rng = "your function", fresh_rng()
    for dtype in dtypes():
        depth, width, batch = int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3
        params = _random_layers(rng, depth, width, dtype)
        x = jnp.asarray(rng.normal(size=(batch, width)), dtype)  # (batch, width)
        step = float(rng.uniform(0.1, 0.9))
        got = call(name, fn, params, x, step)
        hint = "Hint: each block adds step * tanh(x @ W + b) to its own input."
        if matches(got, _resnet_reference(params, x, 1.0)):
            hint = "You return the output for step = 1: multiply each residual by `step`."
        else:
            plain = x
            for W, b in params:
                plain = jnp.tanh(plain @ W + b)
            if matches(got, plain):
                hint = "This is a plain network: the skip connection `x + ...` is missing."
        assert_array(f"{name} ({jnp.dtype(dtype).name})", got, _resnet_reference(params, x, step),
                      hint)
        # x=x, step=step bind this iteration's values (B023: closures read loop variables late)
        loss = lambda p, f, x=x, step=step: jnp.sum(f(p, x, step))  # noqa: E731 - a two-line helper
        got_grad = call(name, jax.grad(loss), params, fn)
        want_grad = jax.grad(loss)(params, _resnet_reference)
        for i, (g, w) in enumerate(zip(got_grad, want_grad)):
            assert_array(f"the gradient for W of layer {i + 1}", g[0], w[0],
                          "Hint: use jax.numpy operations only, so JAX can differentiate them.")
    passed("check_resnet_forward passed: values and gradients match the reference ResNet.")

"""Automatic checks for the coding exercises of the course.

Every ``check_*`` function takes the learner's function, calls it on *fresh* random inputs (a
new draw on every call, so a hard-coded answer cannot pass), and compares shapes, dtypes, values
and, where it matters, gradients with a reference computed here or by nodelib itself. On success
it prints one line; on failure it raises ``AssertionError`` whose message says what went wrong
and gives a hint. A function that still raises ``NotImplementedError`` (the stub of the student
edition) fails with "not implemented yet".

Usage, in a chapter::

    nodelib.checks.check_heun_step(heun_step)

The checks work with and without ``jax_enable_x64``: they test float32 inputs always, and float64
inputs as well when 64-bit mode is on.
"""
import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "check_resnet_grad",
    "check_resnet_forward",
    "check_heun_step",
    "check_euler_integrate",
]


# --------------------------------------------------------------------------- shared helpers


def _rng():
    """A NumPy generator seeded from the operating system: fresh inputs on every call."""
    return np.random.default_rng()


def _dtypes():
    """The floating dtypes to test: float32, and float64 when JAX runs in 64-bit mode."""
    return (jnp.float32, jnp.float64) if jax.config.jax_enable_x64 else (jnp.float32,)


def _tolerance(dtype):
    """Relative/absolute tolerance suited to ``dtype`` (loose enough for reordered sums)."""
    return 1e-4 if dtype == jnp.float32 else 1e-10


def _call(name, fn, *args):
    """Call the learner's ``fn``; turn "not written yet" and crashes into readable failures."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise AssertionError(
            f"{name} is not implemented yet: replace the `raise NotImplementedError(...)` line "
            "with your solution and run the cell again."
        ) from None
    except AssertionError:
        raise
    except Exception as error:  # any crash in the learner's code becomes a failed check
        raise AssertionError(
            f"{name} raised {type(error).__name__}: {error}. Hint: run it on a small input by "
            "hand and read the traceback."
        ) from error


def _assert_array(name, got, want, hint=""):
    """Assert that ``got`` has the shape, dtype and values of ``want`` (an array)."""
    got_shape = tuple(np.shape(got))
    assert got_shape == want.shape, (
        f"{name} returned shape {got_shape}; expected {want.shape}. {hint}".strip()
    )
    got_dtype = jnp.asarray(got).dtype
    assert got_dtype == want.dtype, (
        f"{name} returned dtype {got_dtype}; expected {want.dtype} (the input's dtype). "
        "Hint: build results from the inputs with jax.numpy, without casting."
    )
    tol = _tolerance(want.dtype)
    close = np.allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol)
    assert close, (
        f"{name} returned wrong values: got {_show(got)}, expected {_show(want)}. {hint}".strip()
    )


def _show(x):
    """A short one-line printout of an array (flattened) for failure messages."""
    return np.array2string(np.ravel(np.asarray(x)), precision=4, threshold=8, edgeitems=2)


def _matches(got, other):
    """True when ``got`` equals ``other`` in shape and value (used to diagnose common slips)."""
    try:
        return np.shape(got) == np.shape(other) and np.allclose(got, other, rtol=1e-4, atol=1e-4)
    except TypeError:
        return False


def _passed(message):
    print(f"\u2714 {message}")


# --------------------------------------------------------------------- chapter 1: ResNets


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
    name, rng = "your function", _rng()
    for dtype in _dtypes():
        for depth in (1, 2, 3, int(rng.integers(4, 9))):
            ws = jnp.asarray(rng.uniform(-0.9, 0.9, depth), dtype)  # (L,)
            x0 = jnp.asarray(rng.uniform(0.5, 2.0), dtype)
            want = jax.grad(lambda w: _scalar_resnet(w, x0))(ws)[0]
            got = _call(name, fn, ws, x0)
            hint = "Hint: y = (1 + w_L)...(1 + w_1) x0, so dy/dw_1 keeps every factor but one."
            if depth > 1 and _matches(got, jnp.prod(ws[1:]) * x0):
                hint = ("That is the gradient of the network *without* skip connections: "
                        "each layer contributes a factor (1 + w_n), not w_n.")
            _assert_array(f"{name} (depth {depth}, {jnp.dtype(dtype).name})", got, want, hint)
    _passed("check_resnet_grad passed: your dy/dw_1 matches jax.grad on fresh random ResNets.")


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
    name, rng = "your function", _rng()
    for dtype in _dtypes():
        depth, width, batch = int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3
        params = _random_layers(rng, depth, width, dtype)
        x = jnp.asarray(rng.normal(size=(batch, width)), dtype)  # (batch, width)
        step = float(rng.uniform(0.1, 0.9))
        got = _call(name, fn, params, x, step)
        hint = "Hint: each block adds step * tanh(x @ W + b) to its own input."
        if _matches(got, _resnet_reference(params, x, 1.0)):
            hint = "You return the output for step = 1: multiply each residual by `step`."
        else:
            plain = x
            for W, b in params:
                plain = jnp.tanh(plain @ W + b)
            if _matches(got, plain):
                hint = "This is a plain network: the skip connection `x + ...` is missing."
        _assert_array(f"{name} ({jnp.dtype(dtype).name})", got, _resnet_reference(params, x, step),
                      hint)
        loss = lambda p, f: jnp.sum(f(p, x, step))  # noqa: E731 - a two-line helper
        got_grad = _call(name, jax.grad(loss), params, fn)
        want_grad = jax.grad(loss)(params, _resnet_reference)
        for i, (g, w) in enumerate(zip(got_grad, want_grad)):
            _assert_array(f"the gradient for W of layer {i + 1}", g[0], w[0],
                          "Hint: use jax.numpy operations only, so JAX can differentiate them.")
    _passed("check_resnet_forward passed: values and gradients match the reference ResNet.")


# ----------------------------------------------------------------- chapter 2: ODE solvers


def _test_field(t, y, args):
    """A nonlinear, time-dependent vector field ``f(t, y, (A, c))`` for the solver checks."""
    A, c = args
    return jnp.tanh(A @ y) + c * jnp.cos(t)  # (dim,)


def _random_problem(rng, dtype):
    """Fresh ``(t, y, dt, args)`` for :func:`_test_field` in ``dtype``."""
    dim = int(rng.integers(2, 5))
    A = jnp.asarray(rng.normal(size=(dim, dim)), dtype)  # (dim, dim)
    c = jnp.asarray(rng.normal(size=dim), dtype)  # (dim,)
    y = jnp.asarray(rng.normal(size=dim), dtype)  # (dim,)
    t = jnp.asarray(rng.uniform(0.0, 2.0), dtype)
    dt = jnp.asarray(rng.uniform(0.05, 0.3), dtype)
    return t, y, dt, (A, c)


def _heun_reference(f, t, y, dt, args):
    """One step of Heun's method (explicit trapezoidal rule), Hairer et al. (1993), II.1."""
    k1 = f(t, y, args)
    k2 = f(t + dt, y + dt * k1, args)
    return y + dt / 2 * (k1 + k2)


def _one_step_hint(got, f, t, y, dt, args):
    """Name the method ``got`` came from, when it is a common wrong one."""
    k1 = f(t, y, args)
    if _matches(got, y + dt * k1):
        return "This is an Euler step: Heun's method also evaluates f at the end of the step."
    if _matches(got, y + dt * f(t + dt / 2, y + dt / 2 * k1, args)):
        return "This is the midpoint method: Heun averages the slopes at both ends of the step."
    if _matches(got, y + dt / 2 * (k1 + f(t, y + dt * k1, args))):
        return "The second slope must be evaluated at time t + dt, not t."
    return "Hint: k1 = f(t, y), k2 = f(t + dt, y + dt k1), y_next = y + dt (k1 + k2) / 2."


def check_heun_step(fn):
    """Check ``fn(f, t, y, dt, args)``, one step of Heun's method (Exercise 2.2).

    The test vector field is nonlinear and depends on time, so a slope evaluated at the wrong
    time or state is caught. Values and the Jacobian with respect to ``y`` are compared with
    the reference step.

    Args:
        fn: callable returning the state after one step, same shape and dtype as ``y``; ``f``
            follows nodelib's convention ``f(t, y, args)``.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with the reference.
    """
    name, rng = "your heun_step", _rng()
    for dtype in _dtypes():
        t, y, dt, args = _random_problem(rng, dtype)
        got = _call(name, fn, _test_field, t, y, dt, args)
        want = _heun_reference(_test_field, t, y, dt, args)
        hint = _one_step_hint(got, _test_field, t, y, dt, args)
        _assert_array(f"{name} ({jnp.dtype(dtype).name})", got, want, hint)
        jac = _call(name, jax.jacfwd(lambda y_: fn(_test_field, t, y_, dt, args)), y)
        want_jac = jax.jacfwd(lambda y_: _heun_reference(_test_field, t, y_, dt, args))(y)
        _assert_array(f"the Jacobian of {name} with respect to y", jac, want_jac,
                      "Hint: use jax.numpy operations only, so JAX can differentiate them.")
    _passed("check_heun_step passed: values and Jacobian match Heun's method.")


def check_euler_integrate(fn):
    """Check ``fn(f, y0, t0, t1, num_steps, args)``, a fixed-step Euler solve (Exercise 2.3).

    The reference is ``nodelib.odeint(f, y0, [t0, t1], args, solver="euler",
    dt0=(t1 - t0) / num_steps)``: the learner's loop must take ``num_steps`` equal steps and
    return the state at ``t1``.

    Args:
        fn: callable returning the state at ``t1``, same shape and dtype as ``y0``.

    Raises:
        AssertionError: if ``fn`` is not implemented or disagrees with nodelib.
    """
    from . import odeint  # imported here: the solvers module imports nothing from checks

    name, rng = "your euler_integrate", _rng()
    for dtype in _dtypes():
        t0, y0, _, args = _random_problem(rng, dtype)
        t0 = float(t0)
        t1, num_steps = t0 + float(rng.uniform(0.5, 1.5)), int(rng.integers(5, 40))
        got = _call(name, fn, _test_field, y0, t0, t1, num_steps, args)
        ts = jnp.asarray([t0, t1], dtype)
        sol = odeint(_test_field, y0, ts, args, solver="euler", dt0=(t1 - t0) / num_steps)
        want = sol.ys[-1]
        hint = "Hint: start at (t0, y0) and repeat y <- y + dt f(t, y, args); t <- t + dt."
        if _matches(got, y0 + (t1 - t0) * _test_field(t0, y0, args)):
            hint = "This is a single Euler step over the whole interval: take num_steps steps."
        _assert_array(f"{name} ({jnp.dtype(dtype).name}, {num_steps} steps)", got, want, hint)
    _passed("check_euler_integrate passed: your solver agrees with nodelib.odeint(solver='euler').")

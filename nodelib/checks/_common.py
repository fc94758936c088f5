"""Helpers shared by the exercise checks of every chapter (see ``nodelib.checks``).

Fresh random inputs, the dtypes to test, tolerances, calling the learner's function so that a
stub or a crash becomes a readable failure, and comparing arrays with a hint.
"""
import jax
import jax.numpy as jnp
import numpy as np


def fresh_rng():
    """A NumPy generator seeded from the operating system: fresh inputs on every call."""
    return np.random.default_rng()


def dtypes():
    """The floating dtypes to test: float32, and float64 when JAX runs in 64-bit mode."""
    return (jnp.float32, jnp.float64) if jax.config.jax_enable_x64 else (jnp.float32,)


def tolerance(dtype):
    """Relative/absolute tolerance suited to ``dtype`` (loose enough for reordered sums)."""
    return 1e-4 if dtype == jnp.float32 else 1e-10


def call(name, fn, *args):
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


def assert_array(name, got, want, hint=""):
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
    tol = tolerance(want.dtype)
    close = np.allclose(np.asarray(got), np.asarray(want), rtol=tol, atol=tol)
    assert close, (
        f"{name} returned wrong values: got {show(got)}, expected {show(want)}. {hint}".strip()
    )


def show(x):
    """A short one-line printout of an array (flattened) for failure messages."""
    return np.array2string(np.ravel(np.asarray(x)), precision=4, threshold=8, edgeitems=2)


def matches(got, other):
    """True when ``got`` equals ``other`` in shape and value (used to diagnose common slips)."""
    try:
        return np.shape(got) == np.shape(other) and np.allclose(got, other, rtol=1e-4, atol=1e-4)
    except (TypeError, ValueError):
        return False


def passed(message):
    print(f"\u2714 {message}")

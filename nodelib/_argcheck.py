"""Small argument checks shared by nodelib's helper modules (nn, data, train).

Every public function in nodelib checks its arguments at the call and raises ``TypeError`` or
``ValueError`` with a message that says what was received and what is expected. These helpers
keep those messages uniform. They only look at Python values, shapes and dtypes, so they also
work on traced arrays inside ``jax.jit``.
"""
import numbers

import jax
import jax.numpy as jnp


def describe(value):
    """A short, readable description of ``value`` for error messages.

    Args:
        value: anything.

    Returns:
        A string such as ``"int 0"`` or ``"array of shape (3,) and dtype float32"``.
    """
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"array of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def check_key(key, name="key"):
    """Check that ``key`` is a JAX PRNG key, new style or legacy.

    Args:
        key: the value to check.
        name: the argument name used in the error message.

    Returns:
        ``key`` unchanged.

    Raises:
        TypeError: if ``key`` is neither a typed key (``jax.random.key(seed)``) nor a legacy
            ``uint32`` key of shape ``(2,)`` (``jax.random.PRNGKey(seed)``).
    """
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) and shape == ():
        return key
    if dtype == jnp.uint32 and shape == (2,):
        return key
    raise TypeError(
        f"{name} must be a single JAX PRNG key such as jax.random.key(0) or "
        f"jax.random.PRNGKey(0); got {describe(key)}."
    )


def as_key(seed, name="seed"):
    """Turn an integer seed (or an existing PRNG key) into a PRNG key.

    Args:
        seed: a non-negative Python ``int``, or a PRNG key that is passed through.
        name: the argument name used in the error message.

    Returns:
        A typed PRNG key.

    Raises:
        TypeError: if ``seed`` is neither an integer nor a PRNG key.
        ValueError: if ``seed`` is a negative integer.
    """
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"{name} must be a non-negative integer; got {seed}.")
        return jax.random.key(int(seed))
    if hasattr(seed, "dtype"):
        return check_key(seed, name)
    raise TypeError(
        f"{name} must be a non-negative int or a JAX PRNG key; got {describe(seed)}."
    )


def check_int(value, name, minimum=1):
    """Check that ``value`` is a Python integer (not a bool) with ``value >= minimum``.

    Args:
        value: the value to check.
        name: the argument name used in the error message.
        minimum: the smallest allowed value.

    Returns:
        ``value`` as a Python ``int``.

    Raises:
        TypeError: if ``value`` is not an integer.
        ValueError: if ``value < minimum``.
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= {minimum}; got {describe(value)}.")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value}.")
    return int(value)


def check_float_dtype(dtype, name="dtype"):
    """Check that ``dtype`` names a floating-point dtype such as ``jnp.float32``.

    Args:
        dtype: anything ``jnp.dtype`` accepts.
        name: the argument name used in the error message.

    Returns:
        The ``numpy.dtype``.

    Raises:
        TypeError: if ``dtype`` is not a floating-point dtype.
    """
    try:
        resolved = None if dtype is None else jnp.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or not jnp.issubdtype(resolved, jnp.floating):
        raise TypeError(
            f"{name} must be a floating-point dtype such as jnp.float32 or jnp.float64; "
            f"got {dtype!r}."
        )
    return resolved


def check_number(value, name, allow_zero=False):
    """Check that ``value`` is a real number greater than zero (or at least zero).

    Args:
        value: the value to check.
        name: the argument name used in the error message.
        allow_zero: accept ``value == 0`` as well.

    Returns:
        ``value`` as a Python ``float``.

    Raises:
        TypeError: if ``value`` is not a real number.
        ValueError: if ``value`` is negative, zero (unless ``allow_zero``) or not finite.
    """
    wanted = "a non-negative number" if allow_zero else "a positive number"
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be {wanted}; got {describe(value)}.")
    ok = value >= 0 if allow_zero else value > 0
    if not ok or value == float("inf"):
        raise ValueError(f"{name} must be {wanted}; got {value}.")
    return float(value)

"""Measure memory the way XLA plans it: the compiled peak of temporary buffers.

Timing a gradient tells you little about memory; asking the compiler does. XLA's memory
analysis of a compiled function reports how many bytes of temporaries it allocates, which is
what grows when reverse mode stores solver steps (like the square root of max_steps for
`gradient="checkpoint"`) and stays flat for the continuous adjoint (Chen et al. 2018,
section 2).
"""
import jax


def peak_memory(fn, *args, **kwargs) -> int:
    """Bytes of temporary memory of `jax.jit(fn)(*args, **kwargs)` as compiled by XLA.

    Args:
        fn: a JAX-traceable function (e.g. `jax.grad(loss)`).
        *args: example positional arguments (only their shapes and dtypes matter).
        **kwargs: example keyword arguments (likewise).

    Returns:
        `temp_size_in_bytes` of XLA's memory analysis (arguments and outputs excluded).

    Raises:
        RuntimeError: if this JAX backend offers no memory analysis.
    """
    compiled = jax.jit(fn).lower(*args, **kwargs).compile()
    analysis = compiled.memory_analysis()
    if analysis is None:
        raise RuntimeError("this JAX backend gives no memory analysis of compiled functions")
    return int(analysis.temp_size_in_bytes)

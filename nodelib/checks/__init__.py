"""Automatic checks for the coding exercises of the course, one module per chapter.

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

Layout: ``ch01_resnets``, ``ch02_euler``, ... hold the checks of one chapter each, and
``_common`` the helpers they share; every check is re-exported here, so chapters call
``nodelib.checks.check_...`` whatever module it lives in.
"""
from .ch01_resnets import check_resnet_forward, check_resnet_grad
from .ch02_euler import check_euler_integrate, check_heun_step
from .ch03_ode_nets import check_odenet_forward, check_shared_batch_solve
from .ch04_adaptive import check_bosh3_step
from .ch05_adjoint import check_augmented_dynamics, check_rk4_adjoint
from .ch06_cnf import check_hutchinson_trace, check_planar_layer
from .ch07_augmented import check_augmented_odenet
from .ch08_classification import check_rknet_block
from .ch09_latent import check_sample_and_kl
from .ch10_limitations import check_implicit_euler_step, check_second_derivative_dynamics

__all__ = [
    "check_resnet_grad",
    "check_resnet_forward",
    "check_heun_step",
    "check_euler_integrate",
    "check_odenet_forward",
    "check_shared_batch_solve",
    "check_bosh3_step",
    "check_augmented_dynamics",
    "check_rk4_adjoint",
    "check_planar_layer",
    "check_hutchinson_trace",
    "check_augmented_odenet",
    "check_rknet_block",
    "check_sample_and_kl",
    "check_implicit_euler_step",
    "check_second_derivative_dynamics",
]

"""The test suite runs in float64 (design section 3): exact-solution and gradient checks
need it. Individual tests opt back into float32 where float32 behaviour is the point."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

"""nodelib: the small library behind *Neural ODEs from Scratch*.

Solvers, the adjoint method, model pieces, toy data and exercise checks, in plain JAX.
"""
# Solvers and gradients: tableaus.py, rk.py, rosenbrock.py, control.py, integrate.py,
# adjoint.py, api.py
# Models, data, training, plotting and exercise checks
from . import checks, data, flows, latent, models, nn, plotting, regularisers, train
from .api import AdjointPass, adjoint_pass, odeint
from .memory import peak_memory
from .models import augment, cnf_dynamics, cnf_log_density, ode_block
from .nn import count_params, init_mlp, mlp, resnet, time_mlp
from .rosenbrock import RODAS4, RosenbrockTableau
from .solution import RESULTS, SOLVER_ERRORS, Solution, SolverError
from .tableaus import DOPRI5, EULER, MIDPOINT, RK4, SOLVERS, ButcherTableau
from .train import fit

__all__ = [
    "AdjointPass", "adjoint_pass", "odeint", "RESULTS", "SOLVER_ERRORS", "Solution",
    "SolverError", "DOPRI5", "EULER", "MIDPOINT", "RK4", "SOLVERS", "ButcherTableau",
    "RODAS4", "RosenbrockTableau",
    "peak_memory", "checks", "data", "flows", "latent", "models", "nn", "plotting",
    "regularisers", "train", "augment", "cnf_dynamics", "cnf_log_density", "ode_block",
    "count_params", "init_mlp", "mlp",
    "resnet", "time_mlp", "fit",
]

"""nodelib: the small library behind *Neural ODEs from Scratch*.

Solvers, the adjoint method, model pieces, toy data and exercise checks, in plain JAX.
"""
# --- solvers (nodelib/solution.py, tableaus.py, rk.py, control.py, integrate.py, api.py)
from .api import AdjointPass, adjoint_pass, odeint
from .solution import RESULTS, SOLVER_ERRORS, Solution, SolverError
from .memory import peak_memory
from . import models
from .models import augment, cnf_dynamics, cnf_log_density, ode_block
from .tableaus import DOPRI5, EULER, MIDPOINT, RK4, SOLVERS, ButcherTableau
# --- helpers add their module imports below, one line each
from . import checks
from . import nn, data, train, plotting
from .nn import init_mlp, mlp, time_mlp, resnet, count_params
from .train import fit

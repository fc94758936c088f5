"""Gradients of odeint: the continuous adjoint against finite differences, backprop through
the solver and jax.experimental.ode; time gradients; whole-trajectory losses; closures,
pytrees, jit and vmap; the backward pass's cost; memory flat in the number of steps."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import nodelib
from nodelib import odeint

TOL = dict(rtol=1e-11, atol=1e-11)


def mlp_field(t, y, params):
    """Random tanh MLP dynamics with explicit time dependence."""
    (w1, b1), (w2, b2) = params
    h = jnp.tanh(jnp.concatenate([y, jnp.array([t])]) @ w1 + b1)
    return h @ w2 + b2


def random_params(seed=0, dim=2, hidden=16):
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(seed), 4)
    return [(jax.random.normal(k1, (dim + 1, hidden)) / np.sqrt(dim + 1),
             0.1 * jax.random.normal(k2, (hidden,))),
            (jax.random.normal(k3, (hidden, dim)) / np.sqrt(hidden),
             0.1 * jax.random.normal(k4, (dim,)))]


Y0 = jnp.array([0.5, -0.3])
TS = jnp.array([0.0, 0.4, 1.1, 2.0])
WEIGHTS = jnp.arange(1.0, 5.0)[:, None]          # the loss weighs every output time


def trajectory_loss(y0, params, ts, gradient="adjoint", **kwargs):
    ys = odeint(mlp_field, y0, ts, params, gradient=gradient, **{**TOL, **kwargs}).ys
    return jnp.sum(WEIGHTS * jnp.sin(ys))


def central_differences(fn, x, eps=1e-6):
    flat, unravel = jax.flatten_util.ravel_pytree(x)
    grads = [(fn(unravel(flat.at[i].add(eps))) - fn(unravel(flat.at[i].add(-eps)))) / (2 * eps)
             for i in range(flat.size)]
    return np.array(grads)


def relative_error(a, b):
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.fixture(scope="module")
def params():
    return random_params()


@pytest.fixture(scope="module")
def adjoint_grads(params):
    return jax.grad(trajectory_loss, argnums=(0, 1, 2))(Y0, params, TS)


def test_adjoint_matches_finite_differences(params, adjoint_grads):
    g_y0, g_params, g_ts = adjoint_grads
    fd_y0 = central_differences(lambda y: trajectory_loss(y, params, TS), Y0)
    fd_params = central_differences(lambda p: trajectory_loss(Y0, p, TS), params)
    assert relative_error(g_y0, fd_y0) < 1e-6
    assert relative_error(jax.flatten_util.ravel_pytree(g_params)[0], fd_params) < 1e-6


def test_time_gradients_match_finite_differences(params, adjoint_grads):
    """Every output time, including t0, on a time-dependent vector field."""
    g_ts = adjoint_grads[2]
    fd_ts = central_differences(lambda ts: trajectory_loss(Y0, params, ts), TS)
    assert np.all(np.sign(g_ts) == np.sign(fd_ts))
    np.testing.assert_allclose(g_ts, fd_ts, rtol=1e-6, atol=1e-8)


def test_adjoint_matches_checkpoint(params, adjoint_grads):
    checkpoint = jax.grad(trajectory_loss, argnums=(0, 1, 2))(Y0, params, TS, "checkpoint",
                                                                max_steps=512)
    for a, b in zip(jax.tree_util.tree_leaves(adjoint_grads),
                    jax.tree_util.tree_leaves(checkpoint)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("max_steps,finest", [(128, None), (9, 2), (64, 3)])
def test_checkpoint_and_backprop_give_the_same_gradient(max_steps, finest, monkeypatch):
    # Two implementations of the derivative of the same steps: the reverse pass over
    # recorded checkpoints, and JAX differentiating the checkpointed scans. With the finest
    # buffer shrunk to 2 or 3 states, the 8 steps span several segments of every level
    # (sizes (2, 3, 2) and (3, 3, 3)), so that both lower levels are recomputed.
    if finest is not None:
        monkeypatch.setattr(nodelib.checkpoint, "FINEST", finest)
        assert nodelib.checkpoint.level_sizes(max_steps)[0] > 1
    loss = lambda y0, g: trajectory_loss(y0, random_params(), TS, g, max_steps=max_steps,
                                         solver="rk4", dt0=0.25)
    np.testing.assert_allclose(jax.grad(loss)(Y0, "checkpoint"), jax.grad(loss)(Y0, "backprop"),
                               rtol=1e-12, atol=1e-14)


def _wide_field(t, y, params):
    """A tanh MLP on a batch of 32 states: its activations outweigh its inputs."""
    return jax.vmap(lambda x: mlp_field(t, x, params))(y)


def test_checkpoint_recomputes_wide_fields_in_the_reverse_pass(monkeypatch):
    # The reverse pass keeps each stage's input and evaluates f again (recompute_in_reverse)
    # when f's intermediate values outweigh its inputs: less memory, the same gradient.
    params = random_params(3, hidden=64)
    y0 = jax.random.normal(jax.random.PRNGKey(4), (32, 2))
    check = nodelib.remat.worth_recomputing
    assert check(lambda t, y, p: _wide_field(t, y.reshape(32, 2), p).ravel(), 0.0,
                 y0.ravel(), params)
    assert not check(mlp_field, 0.0, Y0, params)

    def grad(gradient):
        f = lambda t, y, p: _wide_field(t, y, p)    # a new function: traced anew
        loss = lambda p: jnp.sum(odeint(f, y0, TS[::3], p, gradient=gradient, **TOL).ys ** 2)
        return jax.grad(loss)(params), nodelib.peak_memory(jax.grad(loss), params)

    (g, recomputing), (g_backprop, _) = grad("checkpoint"), grad("backprop")
    for a, b in zip(jax.tree_util.tree_leaves(g), jax.tree_util.tree_leaves(g_backprop)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    monkeypatch.setattr(nodelib.integrate, "worth_recomputing", lambda *a: False)
    # measured: 0.63x the memory of keeping every stage's activations (the 55 saved states
    # stay)
    keeping = grad("checkpoint")[1]
    assert recomputing < 0.75 * keeping, (recomputing, keeping)


def test_checkpoint_gradient_of_a_nan_cotangent_is_nan():
    # The recomputation's cond has a branch for a NaN cotangent: it must give NaN, not a
    # finite number.
    params = random_params(3, hidden=64)
    y0 = jax.random.normal(jax.random.PRNGKey(4), (32, 2))
    loss = lambda p: jnp.nan * jnp.sum(odeint(_wide_field, y0, TS, p, gradient="checkpoint").ys)
    assert all(np.all(np.isnan(g)) for g in jax.tree_util.tree_leaves(jax.grad(loss)(params)))


def test_checkpoint_packs_a_loop_state_into_one_vector_per_dtype_and_back():
    # The recorded states are packed (`checkpoint._Packed`): every leaf must come back with
    # its shape, dtype and value, booleans and int32 counters sharing one vector.
    from nodelib.checkpoint import _Packed
    state = {"y": jnp.arange(6.0).reshape(2, 3), "t": jnp.asarray(0.5),
             "flag": jnp.asarray(True), "mask": jnp.array([True, False, True]),
             "steps": jnp.asarray(2**30 + 7, jnp.int32), "k": jnp.array([3, -4], jnp.int32)}
    packing = _Packed(state)
    vectors = packing.pack(state)
    assert [v.shape for v in vectors] == [(7,), (7,)]           # float64 (7,); int32 (1+3+1+2,)
    back = packing.unpack(vectors)
    for key, x in state.items():
        assert back[key].dtype == x.dtype and back[key].shape == x.shape, key
        np.testing.assert_array_equal(back[key], x)
    buffer = packing.empty(4)
    assert [b.shape for b in buffer] == [(4, 7), (4, 7)]


@pytest.mark.parametrize("solver", ["euler", "midpoint", "rk4", "dopri5"])
def test_checkpoint_is_the_exact_discrete_gradient_of_every_solver(params, solver):
    """With fixed steps the discrete map is smooth: its derivative is checked by finite
    differences, to the y0, the parameters and the output times."""
    # dt0 = 0.065 divides no interval of TS: finite differences keep the number of steps.
    kwargs = dict(solver=solver, dt0=0.065, max_steps=100) if solver != "dopri5" else {}
    loss = lambda y0, p, ts: trajectory_loss(y0, p, ts, "checkpoint", **kwargs)
    g_y0, g_p, g_ts = jax.grad(loss, argnums=(0, 1, 2))(Y0, params, TS)
    rtol = 1e-7 if solver != "dopri5" else 1e-4      # dopri5: the steps change with y0
    np.testing.assert_allclose(g_y0, central_differences(lambda y: loss(y, params, TS), Y0),
                               rtol=rtol)
    np.testing.assert_allclose(ravel_pytree(g_p)[0],
                               central_differences(lambda p: loss(Y0, p, TS), params), rtol=rtol)
    if solver != "dopri5":
        np.testing.assert_allclose(g_ts, central_differences(lambda t: loss(Y0, params, t), TS),
                                   rtol=1e-6, atol=1e-8)


def test_adjoint_matches_jax_experimental_ode(params, adjoint_grads):
    ode = pytest.importorskip("jax.experimental.ode")

    def loss(y0, params, ts):
        ys = ode.odeint(lambda y, t, p: mlp_field(t, y, p), y0, ts, params, **TOL)
        return jnp.sum(WEIGHTS * jnp.sin(ys))

    reference = jax.grad(loss, argnums=(0, 1, 2))(Y0, params, TS)
    for a, b in zip(jax.tree_util.tree_leaves(adjoint_grads), jax.tree_util.tree_leaves(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("gradient", ["adjoint", "checkpoint"])
def test_closed_over_parameters_and_pytree_args(params, gradient):
    def loss_closure(params):
        f = lambda t, y, args: args["scale"] * mlp_field(t, y, params)
        return jnp.sum(odeint(f, Y0, TS, {"scale": 1.0, "n": 3}, gradient=gradient,
                              **TOL).ys[-1] ** 2)

    def loss_args(params):
        f = lambda t, y, args: args["scale"] * mlp_field(t, y, args["p"])
        return jnp.sum(odeint(f, Y0, TS, {"scale": 1.0, "p": params}, gradient=gradient,
                              **TOL).ys[-1] ** 2)

    g1, g2 = jax.grad(loss_closure)(params), jax.grad(loss_args)(params)
    for a, b in zip(jax.tree_util.tree_leaves(g1), jax.tree_util.tree_leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-9)


@pytest.mark.parametrize("gradient", ["adjoint", "checkpoint"])
def test_gradients_under_jit_and_vmap(params, gradient):
    y0s = jnp.array([[0.5, -0.3], [0.1, 0.2], [-0.4, 0.0]])
    grad = jax.grad(trajectory_loss)
    grad_fn = jax.jit(jax.vmap(grad, in_axes=(0, None, None, None)), static_argnums=3)
    batched = grad_fn(y0s, params, TS, gradient)
    for y0, g in zip(y0s, batched):
        np.testing.assert_allclose(g, grad(y0, params, TS, gradient), rtol=1e-10)


def test_adjoint_pass_reports_backward_cost(params, adjoint_grads):
    ys = odeint(mlp_field, Y0, TS, params, **TOL).ys
    cotangent = WEIGHTS * jnp.cos(ys)                                 # dL/dys of the loss above
    result = nodelib.adjoint_pass(mlp_field, Y0, TS, params, cotangent, **TOL)
    np.testing.assert_allclose(result.grads["y0"], adjoint_grads[0], rtol=1e-12)
    np.testing.assert_allclose(result.grads["ts"], adjoint_grads[2], rtol=1e-12)
    assert int(result.backward_stats["nfe"]) > 0 and int(result.forward.stats["nfe"]) > 0


def test_separate_backward_tolerances(params):
    loose = nodelib.adjoint_pass(mlp_field, Y0, TS, params, **TOL, adjoint_rtol=1e-4,
                                 adjoint_atol=1e-4)
    tight = nodelib.adjoint_pass(mlp_field, Y0, TS, params, **TOL)
    assert int(loose.backward_stats["nfe"]) < int(tight.backward_stats["nfe"])
    assert int(loose.forward.stats["nfe"]) == int(tight.forward.stats["nfe"])


def _grad_memory(gradient, n_steps):
    params = random_params(1, hidden=64)

    def loss(params):
        sol = odeint(mlp_field, Y0, jnp.array([0.0, 1.0]), params, solver="rk4",
                     dt0=1.0 / n_steps, max_steps=n_steps, gradient=gradient)
        return jnp.sum(sol.ys[-1])

    return nodelib.peak_memory(jax.grad(loss), params)


def test_adjoint_memory_is_flat_in_the_number_of_steps():
    small, large = _grad_memory("adjoint", 100), _grad_memory("adjoint", 10_000)
    assert large <= 1.2 * small, (small, large)


@pytest.mark.parametrize("gradient", ["checkpoint", "backprop"])
def test_checkpoint_memory_grows_far_below_linearly_in_the_number_of_steps(gradient):
    # 100x the steps, where storing every step grew 100x. "checkpoint": its three levels
    # keep 36 states at max_steps = 100 and 68 at 10,000 (`level_sizes`), the intermediates
    # of one step stay: at most 2x (measured 1.13x). "backprop": sqrt(max_steps) states
    # (20 to 200): at most 10x (measured 7.7x).
    small, large = _grad_memory(gradient, 100), _grad_memory(gradient, 10_000)
    assert large <= (2 if gradient == "checkpoint" else 10) * small, (small, large)


@pytest.mark.parametrize("gradient", ["adjoint", "checkpoint", "backprop"])
def test_gradient_cost_follows_the_steps_taken_not_max_steps(gradient):
    # A solve of a few dozen steps: raising max_steps from 500 to 20,000 (40x) must not cost
    # memory in proportion (backprop through a scan of max_steps steps cost 38x). The
    # checkpoints of "checkpoint" grow from 40 to 82 states (at most 2.05x; measured 1.22x),
    # those of "backprop" from 45 to 283 (sqrt: at most 6.3x; measured 5.5x here, where a
    # state is 2 numbers and the saved states dominate). The adjoint's is flat.
    params = random_params(2, hidden=64)

    def memory(max_steps):
        loss = lambda p: jnp.sum(odeint(mlp_field, Y0, jnp.array([0.0, 3.0]), p,
                                        max_steps=max_steps, gradient=gradient).ys[-1] ** 2)
        return nodelib.peak_memory(jax.grad(loss), params)

    small, large = memory(500), memory(20_000)
    bound = {"adjoint": 1.1, "checkpoint": 2.05, "backprop": 40 ** 0.5}[gradient]
    assert large <= bound * small, (small, large)


@pytest.mark.parametrize("gradient", ["adjoint", "checkpoint"])
def test_gradient_where_the_vector_field_starts_at_zero(gradient):
    # y' = theta * y: dy(T)/dtheta = T y0 exp(theta T) = T y0 at theta = 0, where f = 0 and
    # the error estimate is exactly zero (its square root must not leak into the gradient).
    loss = lambda theta: nodelib.odeint(lambda t, y, th: th * y, jnp.array([2.0]),
                                        jnp.array([0.0, 1.5]), theta, gradient=gradient).ys[-1, 0]
    np.testing.assert_allclose(float(jax.grad(loss)(0.0)), 1.5 * 2.0, rtol=1e-6)


def test_backward_failure_names_the_time_reached():
    f = lambda t, y, args: -y
    loss = lambda y0: nodelib.odeint(f, y0, jnp.array([0.0, 2.0]), rtol=1e-3, atol=1e-3,
                                     max_steps=60, adjoint_rtol=1e-13, adjoint_atol=1e-13).ys[-1, 0]
    with pytest.raises(nodelib.SOLVER_ERRORS, match=r"backward solve.*short of t=0\b"):
        jax.grad(loss)(jnp.array([1.0]))
    with pytest.raises(nodelib.SolverError,
                       match=r"stopped at t=(1\.\d+|0\.\d*[1-9]), short of t=0"):
        nodelib.adjoint_pass(f, jnp.array([1.0]), jnp.array([0.0, 2.0]), rtol=1e-3, atol=1e-3,
                             max_steps=60, adjoint_rtol=1e-13, adjoint_atol=1e-13)


@pytest.mark.parametrize("solver,kwargs", [("rk4", {"dt0": 0.25}), ("dopri5", {}), ("rodas4", {})])
@pytest.mark.parametrize("n_times", [2, 4])
@pytest.mark.parametrize("gradient", ["checkpoint", "backprop"])
def test_checkpoint_gradient_of_nested_vmaps(solver, kwargs, n_times, gradient):
    """grad of vmap(vmap(odeint)) with checkpoints: the loops' conds must keep unbatched
    predicates at every level of vmap (a batched cond becomes a select that reverse mode
    cannot transpose), with dense output (n_times > 2) as well; and the zero-length steps of
    the solves that finished first must not turn into NaN gradients."""
    f = lambda t, y, a: jnp.tanh(a * y)  # noqa: E731
    ts = jnp.linspace(0.0, 1.0, n_times)

    def one(a, x):
        return odeint(f, x, ts, a, solver=solver, gradient=gradient, **kwargs).ys.sum()

    xs = jnp.array([[[1.0, 0.5], [0.2, -1.0], [2.0, 0.0]]] * 2)             # (2, 3, 2)
    batched = lambda A: jax.vmap(lambda a, X: jax.vmap(lambda x: one(a, x))(X).sum())(A, xs).sum()  # noqa: E731
    looped = lambda A: sum(one(A[i], x) for i in range(2) for x in xs[i])  # noqa: E731
    A = jnp.array([1.0, -0.5])
    np.testing.assert_allclose(jax.grad(batched)(A), jax.grad(looped)(A), rtol=1e-6)

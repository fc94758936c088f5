"""Tests for nodelib.train.fit: the loss goes down, the conventions for keys and batch
functions hold, and bad losses fail loudly."""
import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import pytest  # noqa: E402

from nodelib.data import cubic_1d  # noqa: E402
from nodelib.nn import init_mlp, mlp  # noqa: E402
from nodelib.train import fit  # noqa: E402


def mse(params, batch):
    x, y = batch
    return jnp.mean((mlp(params, x) - y) ** 2)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_fit_decreases_loss_on_tiny_regression(dtype, capsys):
    batch = cubic_1d(dtype=dtype)
    params = init_mlp(jax.random.key(0), [1, 16, 1], dtype=dtype)
    new_params, history = fit(mse, params, batch, optax.adam(3e-2), steps=300, progress=False)
    assert capsys.readouterr().err == ""  # progress=False prints nothing
    assert isinstance(history, np.ndarray) and history.shape == (300,)
    assert history[-1] < 0.1 * history[0]
    assert new_params[0][0].dtype == dtype
    assert float(mse(new_params, batch)) < 0.1 * history[0]


def test_fit_shows_a_progress_bar_with_the_loss(capsys):
    params = init_mlp(jax.random.key(0), [1, 8, 1])
    _, history = fit(mse, params, cubic_1d(), optax.adam(1e-2), steps=20, log_every=5)
    err = capsys.readouterr().err  # tqdm writes to stderr outside notebooks
    assert "training" in err and "20/20" in err and "loss=" in err
    assert history.shape == (20,)


def test_fit_prints_one_summary_line_for_a_static_page(capsys, monkeypatch):
    monkeypatch.setenv("NODELIB_PROGRESS", "summary")       # what `make book` sets
    params = init_mlp(jax.random.key(0), [1, 8, 1])
    _, history = fit(mse, params, cubic_1d(), optax.adam(1e-2), steps=20)
    out = capsys.readouterr()
    assert out.err == ""                                    # no bar
    assert out.out.startswith("training: 20 steps in ") and out.out.count("\n") == 1
    assert f"-> {history[-1]:.4g}" in out.out


def test_fit_with_key_and_batch_function():
    x, y = cubic_1d(40)
    seen = []
    sample = jax.jit(lambda key: jax.tree_util.tree_map(
        lambda a: a[jax.random.randint(key, (8,), 0, 40)], (x, y)))

    def batch_fn(step, key):  # a random minibatch of 8 points per step
        seen.append(step)
        return sample(key)

    def noisy_loss(params, batch, key):  # a stochastic loss receives its own key
        xb, yb = batch
        jitter = 1e-3 * jax.random.normal(key, xb.shape, xb.dtype)
        return jnp.mean((mlp(params, xb + jitter) - yb) ** 2)

    params = init_mlp(jax.random.key(1), [1, 16, 1])
    opt = optax.adam(3e-2)
    _, h1 = fit(noisy_loss, params, batch_fn, opt, steps=200, key=jax.random.key(5),
                progress=False)
    _, h2 = fit(noisy_loss, params, batch_fn, opt, steps=200, key=jax.random.key(5),
                progress=False)
    assert seen[:3] == [0, 1, 2] and len(seen) == 400
    np.testing.assert_array_equal(h1, h2)
    assert np.mean(h1[-20:]) < 0.1 * np.mean(h1[:20])


def test_fit_batch_function_without_key_gets_none():
    batch = cubic_1d()
    keys = []

    def batch_fn(step, key):
        keys.append(key)
        return batch

    fit(mse, init_mlp(jax.random.key(0), [1, 4, 1]), batch_fn, optax.sgd(1e-3), steps=3,
        progress=False)
    assert keys == [None, None, None]


def test_fit_rejects_non_scalar_loss():
    params = init_mlp(jax.random.key(0), [1, 4, 1])

    def vector_loss(params, batch):
        return (mlp(params, batch[0]) - batch[1]) ** 2

    with pytest.raises(TypeError, match=r"scalar.*jnp.mean.*got shape \(10, 1\)"):
        fit(vector_loss, params, cubic_1d(), optax.adam(1e-2), steps=5, progress=False)


def test_fit_raises_on_non_finite_loss_with_step_and_advice():
    params = {"w": jnp.array(1.0)}

    def blows_up(params, batch):  # finite for w < 2; gradient descent pushes w past 2
        return jnp.log(2.0 - params["w"])

    # w: 1 -> 1.5 -> 2.5, so the loss of step 2 is log(-0.5) = nan.
    with pytest.raises(FloatingPointError, match=r"step 2 of 50: the loss became nan.*smaller"):
        fit(blows_up, params, None, optax.sgd(0.5), steps=50, progress=False)


def test_fit_raises_on_non_finite_gradient():
    params = {"w": jnp.array(0.0)}

    def sqrt_loss(params, batch):  # finite value, infinite gradient at 0
        return jnp.sqrt(params["w"])

    with pytest.raises(FloatingPointError, match="step 0 of 3.*gradient was not"):
        fit(sqrt_loss, params, None, optax.sgd(0.1), steps=3, progress=False)


def test_fit_explains_the_loss_signature_convention():
    params = init_mlp(jax.random.key(0), [1, 4, 1])
    with pytest.raises(TypeError, match=r"loss_fn\(params, batch, key\) \(a key was given"):
        fit(mse, params, cubic_1d(), optax.sgd(0.1), steps=2, key=jax.random.key(0),
            progress=False)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"optimizer": "adam"}, TypeError, "optax GradientTransformation"),
    ({"steps": 0}, ValueError, "steps must be an int >= 1; got 0"),
    ({"key": 3}, TypeError, "PRNG key"),
    ({"log_every": 0}, ValueError, "log_every"),
])
def test_fit_rejects_bad_arguments(kwargs, err, match):
    args = {"optimizer": optax.sgd(0.1), "steps": 2, **kwargs}
    optimizer = args.pop("optimizer")
    with pytest.raises(err, match=match):
        fit(mse, init_mlp(jax.random.key(0), [1, 1]), cubic_1d(), optimizer, progress=False,
            **args)

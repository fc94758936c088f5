"""Tests for nodelib.nn: MLP initialisation, evaluation, the time-dependent vector field,
the weight-tied ResNet and parameter counting."""
import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nodelib.nn import count_params, init_mlp, mlp, resnet, time_mlp  # noqa: E402

KEY = jax.random.key(0)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_init_mlp_shapes_and_dtypes(dtype):
    params = init_mlp(KEY, [3, 16, 8, 2], dtype=dtype)
    assert [(W.shape, b.shape) for W, b in params] == [
        ((3, 16), (16,)), ((16, 8), (8,)), ((8, 2), (2,))]
    assert all(leaf.dtype == dtype for leaf in jax.tree_util.tree_leaves(params))


def test_init_mlp_is_deterministic_and_key_dependent():
    a, b = init_mlp(KEY, [3, 8, 2]), init_mlp(KEY, [3, 8, 2])
    c = init_mlp(jax.random.key(1), [3, 8, 2])
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree_util.tree_leaves(a),
                                                    jax.tree_util.tree_leaves(b)))
    assert not np.array_equal(a[0][0], c[0][0])


def test_init_mlp_default_scale_is_one_over_sqrt_fan_in():
    (W, b), = init_mlp(KEY, [200, 100], dtype=jnp.float64)
    assert np.std(W) == pytest.approx(1 / np.sqrt(200), rel=0.03)
    assert np.std(b) == pytest.approx(1 / np.sqrt(200), rel=0.3)
    (W1, _), = init_mlp(KEY, [200, 100], scale=1.0, dtype=jnp.float64)
    np.testing.assert_allclose(W1, W * np.sqrt(200), rtol=1e-6)  # same draws, other scale


def test_init_mlp_same_key_same_network_in_float32_and_float64():
    p32, p64 = init_mlp(KEY, [3, 8, 2]), init_mlp(KEY, [3, 8, 2], dtype=jnp.float64)
    for a, b in zip(jax.tree_util.tree_leaves(p32), jax.tree_util.tree_leaves(p64)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_init_mlp_accepts_legacy_key():
    params = init_mlp(jax.random.PRNGKey(0), [2, 3])
    assert params[0][0].shape == (2, 3)


@pytest.mark.parametrize(
    "key, sizes, kwargs, err, match",
    [
        (0, [2, 3], {}, TypeError, "PRNG key.*got int 0"),
        (KEY, [2], {}, ValueError, "at least two entries"),
        (KEY, 3, {}, TypeError, "list of layer widths"),
        (KEY, [2, 0, 1], {}, ValueError, r"sizes\[1\] must be an int >= 1; got 0"),
        (KEY, [2, 2.5], {}, TypeError, r"sizes\[1\]"),
        (KEY, [2, 3], {"scale": -1.0}, ValueError, "scale must be a positive number"),
        (KEY, [2, 3], {"dtype": jnp.int32}, TypeError, "floating-point dtype"),
    ],
)
def test_init_mlp_rejects_bad_input(key, sizes, kwargs, err, match):
    with pytest.raises(err, match=match):
        init_mlp(key, sizes, **kwargs)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_mlp_matches_manual_computation_single_and_batch(dtype):
    params = init_mlp(KEY, [3, 4, 2], dtype=dtype)
    x = np.arange(6.0).reshape(2, 3) / 6  # (batch, dim)
    (W0, b0), (W1, b1) = [tuple(map(np.float64, layer)) for layer in params]
    expected = np.tanh(x @ W0 + b0) @ W1 + b1  # no activation after the last layer
    out = mlp(params, jnp.asarray(x, dtype))
    assert out.shape == (2, 2) and out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    np.testing.assert_allclose(mlp(params, jnp.asarray(x[1], dtype)), expected[1], rtol=1e-5)
    relu_out = mlp(params, jnp.asarray(x, dtype), activation=jax.nn.relu)
    np.testing.assert_allclose(relu_out, np.maximum(x @ W0 + b0, 0) @ W1 + b1, rtol=1e-5)


def test_mlp_rejects_wrong_width_and_bad_params():
    params = init_mlp(KEY, [3, 4, 2])
    with pytest.raises(ValueError, match=r"shape \(3,\) or \(batch, 3\).*got shape \(2, 5\)"):
        mlp(params, jnp.ones((2, 5)))
    with pytest.raises(TypeError, match="non-empty list of"):
        mlp([], jnp.ones(3))
    with pytest.raises(TypeError, match=r"params\[0\] must be a pair"):
        mlp([jnp.ones((3, 2))], jnp.ones(3))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_time_mlp_appends_time_as_last_feature(dtype):
    params = init_mlp(KEY, [3, 8, 2], dtype=dtype)
    y = jnp.array([0.3, -0.2], dtype=dtype)
    out = jax.jit(time_mlp)(0.7, y, params)
    assert out.shape == (2,) and out.dtype == dtype
    np.testing.assert_allclose(out, mlp(params, jnp.array([0.3, -0.2, 0.7], dtype)), rtol=1e-5)
    ys = jnp.array([[0.3, -0.2], [0.6, -0.4]], dtype)  # (batch, dim)
    batched = jax.jit(jax.vmap(time_mlp, in_axes=(None, 0, None)))(0.7, ys, params)
    assert batched.shape == (2, 2)
    np.testing.assert_allclose(batched[0], out, rtol=1e-5)


def test_time_mlp_rejects_batched_state_and_vector_time():
    params = init_mlp(KEY, [3, 8, 2])
    with pytest.raises(ValueError, match=r"unbatched state.*\(4, 2\).*jax.vmap"):
        time_mlp(0.0, jnp.ones((4, 2)), params)
    with pytest.raises(ValueError, match="scalar time"):
        time_mlp(jnp.ones(2), jnp.ones(2), params)


def test_resnet_is_repeated_residual_blocks():
    params = init_mlp(KEY, [2, 8, 2], dtype=jnp.float64)
    (W0, b0), (W1, b1) = [tuple(map(np.asarray, layer)) for layer in params]
    x = np.array([[0.5, -1.0], [1.0, 2.0]])  # (batch, dim)
    expected = x
    for _ in range(3):
        expected = expected + np.tanh(expected @ W0 + b0) @ W1 + b1
    out = jax.jit(resnet, static_argnums=2)(params, jnp.asarray(x), 3)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_allclose(jax.jit(resnet, static_argnums=2)(params, jnp.asarray(x[0]), 3),
                               expected[0], rtol=1e-12)


def test_resnet_rejects_bad_depth_and_widths():
    square = init_mlp(KEY, [2, 8, 2])
    with pytest.raises(ValueError, match="depth must be an int >= 1; got 0"):
        resnet(square, jnp.ones(2), 0)
    with pytest.raises(TypeError, match="depth"):
        resnet(square, jnp.ones(2), 2.0)
    with pytest.raises(ValueError, match="widths 2 -> 3"):
        resnet(init_mlp(KEY, [2, 3]), jnp.ones(2), 1)


def test_count_params():
    assert count_params(init_mlp(KEY, [3, 8, 2])) == 3 * 8 + 8 + 8 * 2 + 2
    assert count_params({"a": jnp.ones((2, 3)), "b": [jnp.ones(4)]}) == 10
    assert count_params([]) == 0

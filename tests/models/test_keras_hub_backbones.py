"""keras-hub backbones by name ("keras_hub:<BackboneClass>"), an optional extra.

The tests that build a backbone skip when keras-hub is not installed
(`pip install 'keras_tna[hub]'`); the one that checks the error message when
it is missing skips when it is installed.
"""

import importlib.util

import keras
import numpy as np
import pytest

from keras_tna import TwinModel, models

HUB_RESNET = dict(
    input_conv_filters=[64],
    input_conv_kernel_sizes=[3],
    stackwise_num_filters=[64, 128],
    stackwise_num_blocks=[1, 1],
    stackwise_num_strides=[1, 2],
    block_type="basic_block",
)
HUB_VIT = dict(patch_size=8, num_layers=2, num_heads=2, hidden_dim=64, mlp_dim=128)
CIFAR = (32, 32, 3)


@pytest.fixture
def keras_hub():
    return pytest.importorskip("keras_hub")


def _images(batch=4, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, *CIFAR)).astype("float32")


def _counts(model):
    return sum(int(np.prod(w.shape)) for w in model.weights)


def test_missing_keras_hub_names_the_extra():
    if importlib.util.find_spec("keras_hub") is not None:
        pytest.skip("keras-hub is installed")
    with pytest.raises(ImportError, match=r"keras_tna\[hub\].*Received"):
        models.build("keras_hub:ResNetBackbone", 10, CIFAR, **HUB_RESNET)


@pytest.mark.parametrize(
    "class_name,kwargs,blocks",
    [
        # Blocks: the stage outputs (pyramid levels P2, P3).
        ("ResNetBackbone", HUB_RESNET, [(8, 8, 64), (4, 4, 128)]),
        # No pyramid outputs: the transformer layers are inside one layer.
        ("ViTBackbone", HUB_VIT, []),
    ],
)
def test_builds_like_the_backbone_plus_a_head(keras_hub, class_name, kwargs, blocks):
    model = models.build(f"keras_hub:{class_name}", 10, CIFAR, seed=0, **kwargs)
    # Independent count: the keras-hub class built directly, plus the linear
    # layer on its 128 (ResNet) or 64 (ViT) features.
    backbone = getattr(keras_hub.models, class_name)(image_shape=CIFAR, **kwargs)
    features = backbone.output.shape[-1]
    assert _counts(model) == _counts(backbone) + features * 10 + 10
    assert model.output.dtype == "float32"
    assert tuple(model(_images()).shape) == (4, 10)
    if blocks:
        names = models.block_names(model)
        assert [tuple(model.get_layer(n).output.shape[1:]) for n in names] == blocks
    else:
        with pytest.raises(ValueError, match="no layers named block_1"):
            models.block_names(model)


def test_seeds(keras_hub):
    a = models.build("keras_hub:ResNetBackbone", 10, CIFAR, seed=1, **HUB_RESNET)
    b = models.build("keras_hub:ResNetBackbone", 10, CIFAR, seed=1, **HUB_RESNET)
    c = models.build("keras_hub:ResNetBackbone", 10, CIFAR, seed=2, **HUB_RESNET)
    for wa, wb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy(), err_msg=wa.path)
    kernels = [(wa, wc) for wa, wc in zip(a.weights, c.weights, strict=True)
               if wa.path.endswith("kernel")]
    assert kernels
    for wa, wc in kernels:
        assert not np.array_equal(wa.numpy(), wc.numpy()), wa.path


def test_twin_model_trains_a_step(keras_hub):
    base = models.build(
        "keras_hub:ResNetBackbone", 10, CIFAR, seed=0, weight_decay=5e-4, **HUB_RESNET
    )
    twin = models.build(
        "keras_hub:ResNetBackbone", 10, CIFAR, seed=1, weight_decay=5e-4, **HUB_RESNET
    )
    kernels = [w for w in base.trainable_weights if w.path.endswith("kernel")]
    expected = 5e-4 / 2 * sum(np.sum(k.numpy() ** 2) for k in kernels)
    assert float(sum(base.losses)) == pytest.approx(expected, rel=1e-5)
    model = TwinModel(base, twin, alpha=5e-3)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01), twin_optimizer=keras.optimizers.SGD(0.01)
    )
    before = [w.numpy() for w in base.trainable_weights]
    x, y = _images(8), np.arange(8) % 10
    logs = model.train_on_batch(x, y, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values()), logs
    changed = [
        not np.array_equal(b, w.numpy())
        for b, w in zip(before, base.trainable_weights, strict=True)
    ]
    assert all(changed)


def test_vit_weight_decay_reaches_nested_kernels(keras_hub):
    model = models.build(
        "keras_hub:ViTBackbone", 10, CIFAR, weight_decay=1e-3, **HUB_VIT
    )
    kernels = [w for w in model.trainable_weights if w.name == "kernel"]
    # Patch conv, per layer 4 attention and 2 MLP kernels, the head.
    assert len(kernels) == 1 + 2 * 6 + 1
    expected = 1e-3 / 2 * sum(np.sum(k.numpy() ** 2) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "name,kwargs,error,match",
    [
        ("keras_hub:BertBackbone", {}, ValueError, "not an image backbone"),
        ("keras_hub:Nope", {}, ValueError, r"not a keras-hub backbone.*ResNetBackbone"),
        ("keras_hub:ResNetBackbone", {"preset": "resnet_50_imagenet"}, ValueError,
         "offline"),
        ("keras_hub:ResNetBackbone", {**HUB_RESNET, "image_shape": CIFAR}, ValueError,
         "third argument"),
        ("keras_hub:ResNetBackbone", {"block_type": "basic_block"}, TypeError,
         "could not be built.*explicitly"),
    ],
)
def test_bad_input_raises_clear_errors(keras_hub, name, kwargs, error, match):
    with pytest.raises(error, match=match):
        models.build(name, 10, CIFAR, **kwargs)


@pytest.mark.large
def test_app_trains_a_keras_hub_backbone_from_network_args(keras_hub, tmp_path):
    import json

    from keras_tna import training

    config = training.TrainConfig(
        dataset="digits", image_size=32, model="keras_hub:ResNetBackbone",
        network_args=json.dumps(HUB_RESNET), method="tna", smoke=True, verbose=0,
        output_dir=str(tmp_path),
    )
    results = training.train(config)
    assert results["status"] == "completed"
    # Both networks are the backbone built from the JSON arguments + a 10-way head.
    expected = _counts(models.build("keras_hub:ResNetBackbone", 10, (32, 32, 1), **HUB_RESNET))
    assert results["params_base"] == results["params_twin"] == expected

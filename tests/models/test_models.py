"""Tests for keras_tna.models: parameter counts, shapes, blocks, seeds, training,
saving, the custom layers, and the errors on bad input."""

import math
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_tna import make_twin, models
from keras_tna.models import layers as tna_layers

REPO = pathlib.Path(__file__).resolve().parents[2]

# A small keras-cv backbone that builds in well under a second. keras-cv's
# basic-block ResNet has no projection shortcut in its first stack, so that
# stack must keep the stem's 64 channels.
# The ViT builder at a size that traces and trains quickly; vit_s16 is the
# same code with patch 16, width 384, depth 12, 6 heads, MLP 1536.
VIT_SMALL = dict(patch_size=8, dim=64, depth=2, num_heads=2, mlp_dim=128)
KERAS_CV_SMALL = dict(
    stackwise_filters=[64, 128],
    stackwise_blocks=[1, 1],
    stackwise_strides=[1, 2],
    block_type="basic_block",
)


def _counts(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable, non_trainable


def _images(shape, batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, *shape)).astype("float32")


def _kernels(model):
    return [w for w in model.trainable_weights if w.path.endswith("kernel")]


def test_available_is_the_registry():
    from keras_tna import network_names  # the Keras-free copy the flags read

    assert network_names.available() == models.available()
    assert models.available() == sorted(
        [
            "convnet",
            "imagenet_resnet50",
            "mobilenetv2",
            "resnet18",
            "resnet34",
            "resnet50",
            "vit",
            "vit_s16",
            "wide_resnet18",
            "wide_resnet18_2x",
            "wide_resnet18_4x",
        ]
    )


# (name, num_classes, input_shape, kwargs, trainable, non-trainable, block
# output shapes). The non-trainable weights are BatchNorm's moving mean and
# variance: 2 per BatchNorm channel.
NETWORKS = [
    # Table 10: convs 3*3*3*16+16 = 448, 3*3*16*32+32 = 4,640,
    # 3*3*32*64+64 = 18,496, 3*3*64*64+64 = 36,928; linear 1600*10+10 = 16,010.
    ("convnet", 10, (32, 32, 3), {}, 76_522, 0,
     [(30, 30, 16), (28, 28, 32), (14, 14, 32), (12, 12, 64), (10, 10, 64),
      (5, 5, 64)]),
    # TinyImageNet: the same convs (60,512) and a 1600 x 200 linear (320,200):
    # the adaptive pool keeps the 1600 inputs of the paper's linear layer.
    ("convnet", 200, (64, 64, 3), {}, 380_712, 0,
     [(62, 62, 16), (60, 60, 32), (30, 30, 32), (28, 28, 64), (26, 26, 64),
      (5, 5, 64)]),
    # One input channel: conv1 has 3*3*1*16+16 = 160 weights, the rest as above.
    ("convnet", 10, (28, 28, 1), {}, 76_234, 0,
     [(26, 26, 16), (24, 24, 32), (12, 12, 32), (10, 10, 64), (8, 8, 64),
      (5, 5, 64)]),
    # width=1.45 (issue 23's compute-matched "Wide"): convs 23, 46, 93, 93:
    # 3*3*3*23+23 = 644, 3*3*23*46+46 = 9,568, 3*3*46*93+93 = 38,595,
    # 3*3*93*93+93 = 77,934; linear 25*93*10+10 = 23,260: 150,001 (1.96x).
    ("convnet", 10, (32, 32, 3), {"width": 1.45}, 150_001, 0,
     [(30, 30, 23), (28, 28, 46), (14, 14, 46), (12, 12, 93), (10, 10, 93),
      (5, 5, 93)]),
    # width=1.0 is exactly the paper's ConvNet.
    ("convnet", 10, (32, 32, 3), {"width": 1.0}, 76_522, 0,
     [(30, 30, 16), (28, 28, 32), (14, 14, 32), (12, 12, 64), (10, 10, 64),
      (5, 5, 64)]),
    # kuangliu/pytorch-cifar ResNet18 for 10 classes: 11,173,962 parameters
    # (the figure of the issue; by hand: 11,168,832 conv/BN + 5,130 linear);
    # 4,800 BatchNorm channels -> 9,600 statistics.
    ("resnet18", 10, (32, 32, 3), {}, 11_173_962, 9_600,
     [(32, 32, 64)] * 2 + [(16, 16, 128)] * 2 + [(8, 8, 256)] * 2
     + [(4, 4, 512)] * 2),
    # The same with a 512 x 100 linear: 11,168,832 + 51,300.
    ("resnet18", 100, (32, 32, 3), {}, 11_220_132, 9_600,
     [(32, 32, 64)] * 2 + [(16, 16, 128)] * 2 + [(8, 8, 256)] * 2
     + [(4, 4, 512)] * 2),
    # kuangliu ResNet34, 10 classes: 21,282,122 (8,512 BN channels); with 200
    # classes the linear has 512*200+200 instead of 5,130.
    ("resnet34", 10, (32, 32, 3), {}, 21_282_122, 17_024,
     [(32, 32, 64)] * 3 + [(16, 16, 128)] * 4 + [(8, 8, 256)] * 6
     + [(4, 4, 512)] * 3),
    ("resnet34", 200, (64, 64, 3), {}, 21_379_592, 17_024,
     [(64, 64, 64)] * 3 + [(32, 32, 128)] * 4 + [(16, 16, 256)] * 6
     + [(8, 8, 512)] * 3),
    # kuangliu ResNet50 (bottleneck), 10 classes: 23,520,842; 26,560 BN
    # channels (torchvision's ImageNet ResNet-50 has the same BatchNorms).
    ("resnet50", 10, (32, 32, 3), {}, 23_520_842, 53_120,
     [(32, 32, 256)] * 3 + [(16, 16, 512)] * 4 + [(8, 8, 1024)] * 6
     + [(4, 4, 2048)] * 3),
    # width=1 is exactly ResNet-18.
    ("wide_resnet18", 10, (32, 32, 3), {"width": 1}, 11_173_962, 9_600,
     [(32, 32, 64)] * 2 + [(16, 16, 128)] * 2 + [(8, 8, 256)] * 2
     + [(4, 4, 512)] * 2),
    # Width 2 by hand: ResNet-18's 11,159,232 conv weights x4, except the
    # stem's 1,728 which only double (3 input channels): 44,633,472; BN
    # channels x2 (19,200 affine + 19,200 statistics); linear 1024*10+10 =
    # 10,250 (_cifar_resnet_count below computes every ResNet row).
    ("wide_resnet18_2x", 10, (32, 32, 3), {}, 44_662_922, 19_200,
     [(32, 32, 128)] * 2 + [(16, 16, 256)] * 2 + [(8, 8, 512)] * 2
     + [(4, 4, 1024)] * 2),
    # kuangliu MobileNetV2, 10 classes: 2,296,922 (the figure of the issue;
    # by hand in _mobilenetv2_count); 17,544 BN channels.
    ("mobilenetv2", 10, (32, 32, 3), {}, 2_296_922, 35_088,
     [(32, 32, 16)] + [(32, 32, 24)] * 2 + [(16, 16, 32)] * 3
     + [(8, 8, 64)] * 4 + [(8, 8, 96)] * 3 + [(4, 4, 160)] * 3
     + [(4, 4, 320), (4, 4, 1280)]),
    # keras.applications.ResNet50(include_top=False): 23,587,712 parameters
    # (Keras' published figure; its convs have biases, unlike torchvision's
    # 25,557,032-parameter resnet50), of which 53,120 are the statistics of
    # 26,560 BN channels; plus the 2048 x 1000 linear layer (2,049,000).
    ("imagenet_resnet50", 1000, (224, 224, 3), {},
     23_587_712 - 53_120 + 2_049_000, 53_120,
     [(56, 56, 256)] * 3 + [(28, 28, 512)] * 4 + [(14, 14, 1024)] * 6
     + [(7, 7, 2048)] * 3),
    # ViT-S/16: timm's vit_small_patch16_224 has 22,050,664 parameters with a
    # class token (384) and a learned position embedding (197 * 384 = 75,648);
    # the plain ViT has neither (GAP, fixed sin-cos) but a 384 x 384 tanh
    # pre-logits layer (147,840): 22,050,664 - 384 - 75,648 + 147,840.
    ("vit_s16", 1000, (224, 224, 3), {}, 22_122_472, 0, [(196, 384)] * 12),
    # VIT_SMALL by hand: patch conv 8*8*3*64+64 = 12,352; per block 2 LN
    # (256), attention 4*(64*64+64) = 16,640, MLP 64*128+128 + 128*64+64 =
    # 16,576; final LN 128; pre-logits 64*64+64; head 64*10+10.
    ("vit", 10, (32, 32, 3), VIT_SMALL, 84_234, 0, [(16, 64)] * 2),
    # keras-cv ResNetBackbone with KERAS_CV_SMALL, by hand: stem 7*7*3*64 +
    # BN 128; stack 0: two 3x3x64x64 convs + 2 BN = 73,984; stack 1: 3x3x64x128,
    # 3x3x128x128, 1x1x64x128 shortcut + 3 BN = 230,144; linear 128*10+10.
    # Blocks: its stage outputs (pyramid levels P2, P3).
    ("keras_cv:ResNetBackbone", 10, (32, 32, 3), KERAS_CV_SMALL, 314_954, 1_152,
     [(8, 8, 64), (4, 4, 128)]),
]


@pytest.mark.parametrize(
    "name,num_classes,input_shape,kwargs,trainable,non_trainable,shapes",
    NETWORKS,
    ids=[
        f"{c[0]}-{c[1]}-{c[2][0]}x{c[2][2]}" + "".join(f"-{k}{v}" for k, v in c[3].items())
        for c in NETWORKS
    ],
)
def test_counts_blocks_and_logits(
    name, num_classes, input_shape, kwargs, trainable, non_trainable, shapes
):
    model = models.build(name, num_classes, input_shape, **kwargs)
    assert _counts(model) == (trainable, non_trainable)
    names = models.block_names(model)
    assert names == [f"block_{i}" for i in range(1, len(shapes) + 1)]
    assert [tuple(model.get_layer(n).output.shape[1:]) for n in names] == shapes
    assert model.outputs[0] is model.get_layer("logits").output
    assert tuple(model.output.shape) == (None, num_classes)
    assert model.output.dtype == "float32"


@pytest.mark.large
def test_wide_resnet18_4x_count():
    # Width 4: 16x the conv weights of ResNet-18, 4x its BN channels.
    model = models.build("wide_resnet18", 100, (32, 32, 3), width=4)
    assert _counts(model) == _cifar_resnet_count((2, 2, 2, 2), "basic", 100, 4)
    assert _counts(model) == (178_770_276, 38_400)


def _cifar_resnet_count(stage_blocks, block_type, num_classes, width=1):
    """kuangliu/pytorch-cifar's ResNet parameter arithmetic, independent of Keras."""
    def conv(k, cin, cout):
        return k * k * cin * cout

    params, bn = conv(3, 3, 64 * width), 64 * width
    channels = 64 * width
    filters_per_stage = (64 * width, 128 * width, 256 * width, 512 * width)
    for filters, blocks, stride in zip(
        filters_per_stage, stage_blocks, (1, 2, 2, 2), strict=True
    ):
        for s in [stride] + [1] * (blocks - 1):
            if block_type == "basic":
                out = filters
                params += conv(3, channels, filters) + conv(3, filters, filters)
                bn += 2 * filters
            else:
                out = 4 * filters
                params += (conv(1, channels, filters) + conv(3, filters, filters)
                           + conv(1, filters, out))
                bn += 2 * filters + out
            if s != 1 or channels != out:
                params += conv(1, channels, out)
                bn += out
            channels = out
    params += 2 * bn + channels * num_classes + num_classes
    return params, 2 * bn


def _mobilenetv2_count(num_classes):
    """kuangliu's CIFAR MobileNetV2 parameter arithmetic, independent of Keras."""
    stages = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    params, bn, channels = 3 * 3 * 3 * 32, 32, 32
    for expansion, out, blocks, stride in stages:
        for s in [stride] + [1] * (blocks - 1):
            hidden = expansion * channels
            params += channels * hidden + 9 * hidden + hidden * out
            bn += 2 * hidden + out
            if s == 1 and channels != out:
                params += channels * out
                bn += out
            channels = out
    params += 320 * 1280
    bn += 1280
    params += 2 * bn + 1280 * num_classes + num_classes
    return params, 2 * bn


@pytest.mark.parametrize(
    "stage_blocks,block_type,num_classes,width,pinned",
    [
        ((2, 2, 2, 2), "basic", 10, 1, (11_173_962, 9_600)),
        ((2, 2, 2, 2), "basic", 100, 1, (11_220_132, 9_600)),
        ((3, 4, 6, 3), "basic", 10, 1, (21_282_122, 17_024)),
        ((3, 4, 6, 3), "bottleneck", 10, 1, (23_520_842, 53_120)),
        ((3, 4, 6, 3), "basic", 200, 1, (21_379_592, 17_024)),
        ((2, 2, 2, 2), "basic", 10, 2, (44_662_922, 19_200)),
    ],
)
def test_pinned_resnet_counts_match_the_arithmetic(
    stage_blocks, block_type, num_classes, width, pinned
):
    assert _cifar_resnet_count(stage_blocks, block_type, num_classes, width) == pinned


def test_pinned_mobilenetv2_count_matches_the_arithmetic():
    assert _mobilenetv2_count(10) == (2_296_922, 35_088)
    model = models.build("mobilenetv2", 100, (32, 32, 3))
    assert _counts(model) == _mobilenetv2_count(100)


def test_pinned_vit_count_matches_the_arithmetic():
    dim, mlp, depth = 384, 1536, 12
    block = 2 * 2 * dim + 4 * (dim * dim + dim) + 2 * dim * mlp + mlp + dim
    total = 16 * 16 * 3 * dim + dim + depth * block + 2 * dim
    total += dim * dim + dim + dim * 1000 + 1000
    assert total == 22_122_472


@pytest.mark.parametrize(
    "name,input_shape,kwargs",
    [
        ("convnet", (64, 64, 3), {}),
        ("resnet18", (32, 32, 3), {}),
        ("vit", (32, 32, 3), VIT_SMALL),
        ("imagenet_resnet50", (32, 32, 3), {}),
        ("keras_cv:ResNetBackbone", (32, 32, 3), KERAS_CV_SMALL),
    ],
)
def test_feature_model_runs(name, input_shape, kwargs):
    # The analysis code reads the blocks this way (docs/DESIGN.md).
    model = models.build(name, 10, input_shape, seed=0, **kwargs)
    names = models.block_names(model) + ["logits"]
    features = keras.Model(model.input, [model.get_layer(n).output for n in names])
    outputs = features(_images(input_shape, batch=3), training=False)
    for name_, out in zip(names, outputs, strict=True):
        assert out.shape[1:] == model.get_layer(name_).output.shape[1:]
        assert np.isfinite(np.asarray(out)).all()
    np.testing.assert_allclose(
        np.asarray(outputs[-1]),
        np.asarray(model(_images(input_shape, batch=3), training=False)),
        rtol=1e-5, atol=1e-5,
    )


def test_convnet_picks_the_pool_from_the_input_size():
    cifar = models.build("convnet", 10, (32, 32, 3))
    tiny = models.build("convnet", 200, (64, 64, 3))
    assert type(cifar.get_layer("block_6")) is keras.layers.AveragePooling2D
    assert type(tiny.get_layer("block_6")) is tna_layers.AdaptiveAveragePooling2D
    for model in (cifar, tiny):
        assert model.get_layer("logits").kernel.shape == (1600, model.output.shape[1])


@pytest.mark.parametrize(
    "name,input_shape,kwargs",
    [
        ("convnet", (32, 32, 3), {}),
        ("resnet18", (32, 32, 3), {}),
        ("mobilenetv2", (32, 32, 3), {}),
        ("vit", (32, 32, 3), VIT_SMALL),
        ("imagenet_resnet50", (32, 32, 3), {}),
        ("keras_cv:ResNetBackbone", (32, 32, 3), KERAS_CV_SMALL),
    ],
)
def test_seeds(name, input_shape, kwargs):
    a = models.build(name, 10, input_shape, seed=1, **kwargs)
    b = models.build(name, 10, input_shape, seed=1, **kwargs)
    c = models.build(name, 10, input_shape, seed=2, **kwargs)
    for wa, wb in zip(a.weights, b.weights, strict=True):
        np.testing.assert_array_equal(wa.numpy(), wb.numpy(), err_msg=wa.path)
    # Every randomly initialised kernel differs between seeds (ViT's head
    # starts at zero in both, as in big_vision).
    random_kernels = [
        (ka, kc)
        for ka, kc in zip(_kernels(a), _kernels(c), strict=True)
        if np.any(ka.numpy())
    ]
    assert len(random_kernels) >= len(_kernels(a)) - 1
    for ka, kc in random_kernels:
        assert not np.array_equal(ka.numpy(), kc.numpy()), ka.path


def test_seed_none_differs_and_same_shape_layers_differ():
    a = models.build("resnet18", 10, (32, 32, 3), seed=5)
    b = models.build("resnet18", 10, (32, 32, 3))
    assert not np.array_equal(
        a.get_layer("block_1_conv1").kernel.numpy(),
        b.get_layer("block_1_conv1").kernel.numpy(),
    )
    # Two 3x3x64x64 convs of one network get different initial values.
    assert not np.array_equal(
        a.get_layer("block_1_conv1").kernel.numpy(),
        a.get_layer("block_1_conv2").kernel.numpy(),
    )


def test_kernel_initializer():
    model = models.build(
        "convnet", 10, (32, 32, 3), kernel_initializer=keras.initializers.Constant(0.5)
    )
    for kernel in _kernels(model):
        assert np.all(kernel.numpy() == 0.5)
    # A seeded initializer instance still follows `seed`.
    init = keras.initializers.HeNormal(seed=7)
    a = models.build("convnet", 10, (32, 32, 3), kernel_initializer=init, seed=1)
    b = models.build("convnet", 10, (32, 32, 3), kernel_initializer=init, seed=2)
    assert not np.array_equal(
        a.get_layer("block_1").kernel.numpy(), b.get_layer("block_1").kernel.numpy()
    )


def test_convnet_step_loss_matches_numpy():
    # No BatchNorm: the loss of a train step is the cross-entropy of the
    # logits before the step plus weight_decay/2 * sum of squared kernels and
    # biases (the ConvNet decays every parameter, as torch's SGD does).
    weight_decay = 5e-4
    model = models.build("convnet", 10, (32, 32, 3), seed=0, weight_decay=weight_decay)
    x, y = _images((32, 32, 3), batch=4), np.array([0, 3, 7, 9])
    logits = np.asarray(model(x), dtype="float64")
    log_softmax = logits - logits.max(1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(1, keepdims=True))
    cross_entropy = -log_softmax[np.arange(4), y].mean()
    parameters = model.trainable_weights
    assert len(parameters) == 10  # 5 kernels, 5 biases
    penalty = weight_decay / 2 * sum(np.sum(w.numpy() ** 2) for w in parameters)
    model.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    loss = model.train_on_batch(x, y)
    assert loss == pytest.approx(cross_entropy + penalty, rel=1e-5)


@pytest.mark.parametrize(
    "name,input_shape,kwargs",
    [
        ("convnet", (32, 32, 3), {}),
        ("convnet", (64, 64, 3), {}),
        ("resnet18", (32, 32, 3), {"weight_decay": 5e-4}),
        ("mobilenetv2", (32, 32, 3), {}),
        ("vit", (32, 32, 3), VIT_SMALL),
        ("keras_cv:ResNetBackbone", (32, 32, 3), KERAS_CV_SMALL),
    ],
)
def test_trains_a_step(name, input_shape, kwargs):
    model = models.build(name, 10, input_shape, seed=0, **kwargs)
    x, y = _images(input_shape, batch=4), np.array([1, 2, 3, 4])
    before = [w.numpy() for w in model.trainable_weights]
    model.compile(
        optimizer=keras.optimizers.SGD(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    first = model.train_on_batch(x, y)
    changed = [
        w.path for b, w in zip(before, model.trainable_weights, strict=True)
        if not np.array_equal(b, w.numpy())
    ]
    if name == "vit":
        # big_vision's zero-initialised head: uniform probabilities at first,
        # and no gradient reaches the layers below it in the first step.
        assert first == pytest.approx(math.log(10), rel=1e-6)
        assert changed == ["logits/kernel", "logits/bias"]
        patch_kernel = model.get_layer("patch_embedding").kernel.numpy()
    else:
        assert len(changed) == len(before)
    second = model.train_on_batch(x, y)
    assert np.isfinite(first) and second < first
    if name == "vit":
        assert not np.array_equal(
            patch_kernel, model.get_layer("patch_embedding").kernel.numpy()
        )


@pytest.mark.parametrize(
    "name,kwargs", [("convnet", {}), ("mobilenetv2", {}), ("vit", VIT_SMALL)]
)
def test_mixed_precision_logits_stay_float32(name, kwargs):
    try:
        keras.mixed_precision.set_dtype_policy("mixed_float16")
        model = models.build(name, 10, (32, 32, 3), seed=0, **kwargs)
        assert model.get_layer("block_1").output.dtype == "float16"
        assert model.output.dtype == "float32"
        assert model(_images((32, 32, 3))).dtype == "float32"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


@pytest.mark.parametrize(
    "name,input_shape,kwargs",
    [
        ("convnet", (64, 64, 3), {}),  # AdaptiveAveragePooling2D
        ("resnet18", (32, 32, 3), {}),
        ("mobilenetv2", (32, 32, 3), {}),
        ("vit", (32, 32, 3), VIT_SMALL),  # SinCos2DPositionEmbedding, gelu_tanh
        ("keras_cv:ResNetBackbone", (32, 32, 3), KERAS_CV_SMALL),
    ],
)
def test_keras_save_load_round_trip(tmp_path, name, input_shape, kwargs):
    model = models.build(name, 10, input_shape, seed=0, weight_decay=1e-4, **kwargs)
    x = _images(input_shape)
    expected = np.asarray(model(x, training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(x, training=False)), expected)
    assert models.block_names(loaded) == models.block_names(model)
    # The weight decay survives the round trip (the ConvNet decays its
    # biases too, as torch's SGD does; the others only their kernels).
    decayed = (
        model.trainable_weights if name == "convnet" else _kernels(model)
    )
    assert len(loaded.losses) == len(model.losses) == len(decayed)
    assert float(sum(loaded.losses)) == pytest.approx(float(sum(model.losses)))


@pytest.mark.large
def test_imagenet_resnet50_does_not_import_keras_cv():
    # In a fresh interpreter: this one may have imported keras_cv already.
    code = (
        "import sys; from keras_tna import models; "
        "m = models.build('imagenet_resnet50', 10, (32, 32, 3), seed=0); "
        "print(m.count_params(), 'keras_cv' in sys.modules, "
        "'keras_hub' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        timeout=300, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Keras' published no-top count plus the 2048 x 10 linear layer.
    assert result.stdout.split()[-3:] == [str(23_587_712 + 20_490), "False", "False"]


def test_imagenet_resnet50_initializer_and_weight_decay():
    weight_decay = 1e-3
    model = models.build(
        "imagenet_resnet50", 10, (32, 32, 3), seed=0, weight_decay=weight_decay,
        kernel_initializer=keras.initializers.Constant(0.01),
    )
    kernels = _kernels(model)
    assert len(kernels) == 54  # 53 convs of keras.applications and the head
    for kernel in kernels:
        assert np.all(kernel.numpy() == 0.01), kernel.path
    expected = weight_decay / 2 * sum(np.sum(k.numpy() ** 2) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    # The initializer is in the layers' config, for make_twin and saving.
    config = model.get_layer("conv1_conv").get_config()
    assert config["kernel_initializer"]["class_name"] == "Constant"
    # Blocks: the 16 residual-block outputs, each after the block's ReLU.
    assert models.block_names(model) == [f"block_{i}" for i in range(1, 17)]
    assert model.get_layer("block_16").output.shape[1:] == (1, 1, 2048)
    # make_twin re-initialises from the layers' configs: the twin's kernels
    # follow the same initializer, and its blocks keep their names.
    twin = make_twin(model, seed=1)
    assert models.block_names(twin) == models.block_names(model)
    for kernel in _kernels(twin):
        assert np.all(kernel.numpy() == 0.01), kernel.path


def test_weight_decay_on_keras_cv_backbone():
    weight_decay = 1e-3
    model = models.build(
        "keras_cv:ResNetBackbone", 10, (32, 32, 3), weight_decay=weight_decay,
        **KERAS_CV_SMALL,
    )
    kernels = _kernels(model)
    assert len(kernels) == 7  # stem, 2 + 2 convs and a shortcut, the linear layer
    expected = weight_decay / 2 * sum(np.sum(k.numpy() ** 2) for k in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    assert models.build("convnet", 10, (32, 32, 3)).losses == []


def _adaptive_pool_reference(x, out_h, out_w):
    """PyTorch's AdaptiveAvgPool2d bins, as nested loops (NHWC)."""
    n, h, w, c = x.shape
    y = np.zeros((n, out_h, out_w, c))
    for i in range(out_h):
        h0, h1 = math.floor(i * h / out_h), math.ceil((i + 1) * h / out_h)
        for j in range(out_w):
            w0, w1 = math.floor(j * w / out_w), math.ceil((j + 1) * w / out_w)
            y[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
    return y


@pytest.mark.parametrize(
    "in_hw,out_hw", [((26, 26), (5, 5)), ((7, 9), (3, 4)), ((3, 3), (5, 5)),
                     ((10, 10), (5, 5))]
)
def test_adaptive_average_pooling_matches_pytorch_bins(in_hw, out_hw):
    x = _images((*in_hw, 3))
    y = tna_layers.AdaptiveAveragePooling2D(out_hw)(x)
    np.testing.assert_allclose(
        np.asarray(y), _adaptive_pool_reference(x, *out_hw), rtol=1e-5, atol=1e-6
    )


def test_adaptive_pooling_equals_average_pooling_when_it_divides():
    x = _images((10, 10, 4))
    np.testing.assert_allclose(
        np.asarray(tna_layers.AdaptiveAveragePooling2D(5)(x)),
        np.asarray(keras.layers.AveragePooling2D(2)(x)),
        rtol=1e-6, atol=1e-6,
    )


def test_sincos_position_embedding_formula():
    height, width, dim = 3, 4, 16
    quarter = dim // 4
    expected = np.zeros((height * width, dim))
    for y in range(height):
        for x in range(width):
            for k in range(quarter):
                freq = 10_000.0 ** (-k / (quarter - 1))
                row = y * width + x
                expected[row, k] = math.sin(x * freq)
                expected[row, quarter + k] = math.cos(x * freq)
                expected[row, 2 * quarter + k] = math.sin(y * freq)
                expected[row, 3 * quarter + k] = math.cos(y * freq)
    patches = np.zeros((2, height, width, dim), dtype="float32")
    tokens = tna_layers.SinCos2DPositionEmbedding()(patches)
    assert tokens.shape == (2, height * width, dim)
    np.testing.assert_allclose(np.asarray(tokens[1]), expected, atol=1e-6)


def test_block_names_of_other_models():
    inputs = keras.Input((4,))
    x = keras.layers.Dense(3, name="block_1")(inputs)
    x = keras.layers.Dense(3, name="block_2")(x)
    x = keras.layers.Dense(3, name="block_10")(x)
    with pytest.raises(ValueError, match=r"numbered \[1, 2, 10\]"):
        models.block_names(keras.Model(inputs, x))
    x = keras.layers.Dense(3, name="block_1")(inputs)
    x = keras.layers.Dense(3, name="block_2")(x)
    ok = keras.Model(inputs, keras.layers.Dense(2, name="logits")(x))
    assert models.block_names(ok) == ["block_1", "block_2"]
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no layers named block_1"):
        models.block_names(plain)
    with pytest.raises(TypeError, match="keras.Model"):
        models.block_names("resnet18")


CIFAR = (32, 32, 3)
CV = "keras_cv:ResNetBackbone"


@pytest.mark.parametrize(
    "args,kwargs,error,match",
    [
        (("resnet19", 10, CIFAR), {}, ValueError,
         r"Unknown network 'resnet19'.*'resnet18'"),
        ((None, 10, CIFAR), {}, TypeError, "must be a str"),
        (("resnet18", 1, CIFAR), {}, ValueError,
         r"num_classes.*Received: num_classes=1"),
        (("resnet18", 10.0, CIFAR), {}, ValueError, "num_classes"),
        (("resnet18", True, CIFAR), {}, ValueError, "num_classes"),
        (("resnet18", 10, (32, 32)), {}, ValueError, r"input_shape.*\(32, 32\)"),
        (("resnet18", 10, (None, 32, 3)), {}, ValueError, "input_shape"),
        (("resnet18", 10, (0, 32, 3)), {}, ValueError, "input_shape"),
        (("resnet18", 10, 32), {}, ValueError, "input_shape"),
        (("convnet", 10, (16, 16, 3)), {}, ValueError,
         r"at least 22x22.*\(16, 16, 3\)"),
        (("convnet", 10, (8, 8, 1)), {}, ValueError, "image_size"),
        (("resnet18", 10, (4, 4, 3)), {}, ValueError, "at least 8x8"),
        (("mobilenetv2", 10, (4, 32, 3)), {}, ValueError, "at least 8x8"),
        (("vit_s16", 10, (8, 8, 3)), {}, ValueError, "at least 16x16"),
        (("vit", 10, CIFAR), {"dim": 100, "num_heads": 6}, ValueError,
         "multiple of `num_heads`"),
        (("vit", 10, CIFAR), {"depth": 0}, ValueError, "depth=0"),
        (("imagenet_resnet50", 10, (16, 16, 3)), {}, ValueError,
         "at least 32x32"),
        (("wide_resnet18", 10, CIFAR), {"width": 0}, ValueError, "width=0"),
        (("wide_resnet18", 10, CIFAR), {"width": 1.5}, ValueError, "width=1.5"),
        (("wide_resnet18", 10, CIFAR), {"width": "2"}, ValueError, "width='2'"),
        (("wide_resnet18", 10, CIFAR), {}, TypeError, r"needs.*\['width'\]"),
        (("resnet18", 10, CIFAR), {"width": 2}, TypeError,
         r"does not take \['width'\]"),
        (("resnet18", 10, CIFAR), {"seed": "0"}, TypeError, "seed"),
        (("resnet18", 10, CIFAR), {"weight_decay": -1}, ValueError,
         "weight_decay=-1"),
        (("convnet", 10, CIFAR), {"kernel_initializer": "nope"}, ValueError,
         "kernel_initializer='nope'"),
        (("keras_cv:ResNet18Backbone", 10, CIFAR), {}, ValueError,
         "preset alias"),
        (("keras_cv:Nope", 10, CIFAR), {}, ValueError,
         r"not a keras-cv backbone.*ResNetBackbone"),
        ((CV, 10, CIFAR), {"preset": "resnet50"}, ValueError, "offline"),
        ((CV, 10, CIFAR), {"stackwise_filters": [64]}, TypeError,
         "could not be built"),
        ((CV, 10, CIFAR), {**KERAS_CV_SMALL, "kernel_initializer": "zeros"},
         ValueError, "kernel_initializer"),
    ],
)
def test_bad_input_raises_clear_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        models.build(*args, **kwargs)


def test_convnet_default_init_is_pytorchs():
    """Kernels ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's Conv2d/Linear default."""
    model = models.build("convnet", 10, (32, 32, 3), seed=0)
    for name, fan_in in (("block_1", 27), ("block_5", 576), ("logits", 1600)):
        kernel = model.get_layer(name).kernel.numpy()
        bound = 1.0 / np.sqrt(fan_in)
        assert np.abs(kernel).max() <= bound
        assert np.abs(kernel).max() > 0.95 * bound  # uniform up to the bound
        assert np.std(kernel) == pytest.approx(bound / np.sqrt(3), rel=0.1)


@pytest.mark.parametrize("width", [0, -1.0, 65, "2", True])
def test_convnet_width_is_checked(width):
    with pytest.raises(ValueError, match=r"`width` must be a number in \(0, 64\]"):
        models.build("convnet", 10, (32, 32, 3), width=width)


def test_count_macs_matches_the_hand_count():
    # Per image: conv1 30*30*16 outputs x 27 reads = 388,800; conv2 28*28*32 x
    # 144 = 3,612,672; conv3 12*12*64 x 288 = 2,654,208; conv4 10*10*64 x 576
    # = 3,686,400; linear 10 x 1600 = 16,000. Pools are not counted.
    assert models.count_macs(models.build("convnet", 10, (32, 32, 3))) == 10_358_080
    # width 1.45 (23, 46, 93, 93): 30*30*23*27 + 28*28*46*207 + 12*12*93*414
    # + 10*10*93*837 + 10*2325.
    wide = 558_900 + 7_465_248 + 5_544_288 + 7_784_100 + 23_250
    assert models.count_macs(models.build("convnet", 10, (32, 32, 3), width=1.45)) == wide
    assert round(wide / 10_358_080, 2) == 2.06


def test_count_macs_walks_nested_models_and_depthwise():
    inner = keras.Sequential([keras.Input((8, 8, 4)), keras.layers.DepthwiseConv2D(3)])
    outer = keras.Sequential([keras.Input((8, 8, 4)), inner, keras.layers.Flatten(),
                              keras.layers.Dense(5)])
    # depthwise: 6*6*4 outputs x 9 reads; dense: 5 outputs x 144 inputs.
    assert models.count_macs(outer) == 6 * 6 * 4 * 9 + 5 * 144

"""The names of the networks `keras_tna.models.build` builds, without Keras.

A leaf: checking a run's settings (`keras_tna.runs.config`) and the flags of
`apps/train.py` read the names here, so that neither imports Keras or
TensorFlow. `keras_tna.models.REGISTRY` maps the same names to builders
(tests/models/test_models.py checks that the two agree).
"""

# Names that build a backbone of another library from explicit arguments.
KERAS_HUB_PREFIX = "keras_hub:"
KERAS_CV_PREFIX = "keras_cv:"

NETWORKS = (
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
)


def available():
    """The registry's network names (`keras_tna.models.available()`), sorted.

    Returns:
        list of str.
    """
    return sorted(NETWORKS)

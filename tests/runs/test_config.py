"""`TrainConfig` settings that are plain strings on the command line: network_args."""

import json

import pytest

from keras_tna import models as tna_models
from keras_tna import training
from keras_tna.runs import validation


@pytest.mark.parametrize(
    "value, expected",
    [(None, {}), ('{"width": 2}', {"width": 2}),
     (json.dumps({"block_type": "basic_block", "stackwise_num_blocks": [1, 1]}),
      {"block_type": "basic_block", "stackwise_num_blocks": [1, 1]})],
)
def test_network_args_parse(value, expected):
    assert validation.parse_network_args(value) == expected
    assert training.TrainConfig(network_args=value).network_kwargs() == expected


@pytest.mark.parametrize(
    "value, phrase",
    [("{width: 2}", "must be a JSON object of the network's keyword arguments"),
     ("[2]", "must be a JSON object (a {...}"),
     ('"width"', "must be a JSON object (a {...}"),
     ('{"weight_decay": 0.1}', "must not set ['weight_decay']: the run passes them"),
     ('{"seed": 3, "width": 2}', "must not set ['seed']: the run passes them")],
)
def test_bad_network_args_name_the_setting(value, phrase):
    with pytest.raises(ValueError) as error:
        training.TrainConfig(network_args=value).validate()
    message = str(error.value)
    assert phrase in message and f"Received: network_args={value!r}" in message
    assert "\n" not in message


def test_network_args_reach_the_builder():
    """The JSON's arguments build the same network as the keyword arguments."""
    config = training.TrainConfig(model="wide_resnet18", network_args='{"width": 2}')
    built = tna_models.build("wide_resnet18", 10, (32, 32, 3), **config.network_kwargs())
    wide = tna_models.build("wide_resnet18", 10, (32, 32, 3), width=2)
    assert built.count_params() == wide.count_params()
    assert built.count_params() > tna_models.build("resnet18", 10, (32, 32, 3)).count_params()

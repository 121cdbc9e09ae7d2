"""The ONNX model strategy draws checked models whose graph mirrors the drawn DAG."""

import onnx
from hypothesis import given, settings

from tests.strategies.onnx_models import BATCH, onnx_dags


@settings(max_examples=20, deadline=None)
@given(onnx_dags())
def test_onnx_dags_are_valid_models_with_batch_first(model: onnx.ModelProto) -> None:
    onnx.checker.check_model(model, full_check=True)
    assert model.graph.node and model.graph.output
    for value in (*model.graph.input, *model.graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_value == BATCH

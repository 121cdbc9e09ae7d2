"""The graph strategies draw DAG specs that build, with the shapes the strategy intended."""

from hypothesis import given

from fpgasim.nn import Graph, Op
from tests.strategies.graphs import broadcastable, dag_specs


@given(dag_specs())
def test_dag_specs_build(specs) -> None:
    graph = Graph.build(name="g", batch=1, specs=specs)
    assert len(graph.nodes) == len(specs)
    assert {n.name for n in graph.inputs} <= {"in0", "in1"} and graph.inputs


@given(dag_specs(shuffle=False))
def test_unshuffled_specs_are_declared_producers_first(specs) -> None:
    seen = set()
    for spec in specs:
        assert set(spec.inputs) <= seen
        seen.add(spec.name)
    assert all(spec.op is Op.INPUT for spec in specs[:1])


def test_broadcastable() -> None:
    assert broadcastable((8, 4, 4), (8, 1, 1)) and broadcastable((1, 4, 4), (8, 1, 1))
    assert not broadcastable((8, 4, 4), (4, 4, 4))

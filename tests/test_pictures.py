"""Pictures of the computation graph (gradcli.pictures): DOT, Mermaid and SVG."""

import math
import os
import re
import shutil
import stat
from collections import Counter

import numpy as np
import pytest
from support import shallow_stack

from gradcli.api import Function, parse
from gradcli.errors import UsageError
from gradcli.graph import Graph
from gradcli.ops.core import variable
from gradcli.pictures import dot_string, format_value, mermaid_text, picture
from gradcli.trace import trace

# pydot's parser calls pyparsing names that pyparsing 3.3 deprecates
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pydot")

TEXT = "log(x1) + x1*x2 - sin(x2)"
POINT = {"x1": 2.0, "x2": 5.0}
EDGE = re.compile(r'^  (\w+) (-->|-\.->)\|"([^"]*)"\| (\w+)$')


def unquote(text: str) -> str:
    """A quoted DOT string as the text it stands for."""
    assert text[0] == text[-1] == '"'
    out, characters = [], iter(text[1:-1])
    for character in characters:
        if character == "\\":
            following = next(characters)
            out.append("\n" if following == "n" else following)
        else:
            out.append(character)
    return "".join(out)


def read_dot(text: str):
    """(the pydot graph, label lines by node id, [(tail, head, label, attributes)]) of DOT text.
    Only the tests that read DOT back need pydot (a test-only dependency)."""
    pydot = pytest.importorskip("pydot")
    graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None and len(graphs) == 1
    graph = graphs[0]
    nodes = {node.get_name(): unquote(node.get_label()).split("\n")
             for node in graph.get_nodes() if node.get_name() not in ("node", "edge", "graph")}
    edges = [(e.get_source(), e.get_destination(), unquote(e.get_label()), e.get_attributes())
             for e in graph.get_edges()]
    return graph, nodes, edges


def number_after(line: str, prefix: str) -> float:
    assert line.startswith(prefix), (line, prefix)
    return float(line[len(prefix):])




# DOT


def test_dot_has_a_node_per_trace_node_with_definition_value_and_adjoint():
    text = picture(parse(TEXT), POINT, "dot")
    assert text.startswith("digraph gradcli {\n  rankdir=BT;")
    graph, nodes, _ = read_dot(text)
    assert list(nodes) == ["v_m1", "v0", "v1", "v2", "v3", "v4", "v5"]
    definitions = [lines[0] for lines in nodes.values()]
    assert definitions == ["v₋₁ = x1", "v₀ = x2", "v₁ = log(v₋₁)", "v₂ = v₋₁*v₀", "v₃ = v₁ + v₂",
                           "v₄ = sin(v₀)", "v₅ = v₃ - v₄"]
    x1, x2 = POINT["x1"], POINT["x2"]
    expected = [x1, x2, math.log(x1), x1 * x2, math.log(x1) + x1 * x2, math.sin(x2),
                math.log(x1) + x1 * x2 - math.sin(x2)]
    values = [number_after(lines[1], "= ") for lines in nodes.values()]
    assert values == pytest.approx(expected, rel=1e-5)
    assert values[2] == pytest.approx(0.693147, abs=1e-6) and values[6] == pytest.approx(11.6521)
    # adjoints: ∂f/∂x1 = 1/x1 + x2, ∂f/∂x2 = x1 - cos(x2); the output's is 1
    assert number_after(nodes["v_m1"][2], "v̄₋₁ = ") == 5.5
    assert number_after(nodes["v0"][2], "v̄₀ = ") == pytest.approx(x1 - math.cos(x2), rel=1e-5)
    assert nodes["v0"][2] == "v̄₀ = 1.71634"
    assert nodes["v5"][2] == "v̄₅ = 1"
    assert [n.get_name() for n in graph.get_nodes() if n.get("peripheries") == "2"] == ["v5"]


def test_dot_has_an_edge_per_argument_labelled_with_the_local_partial():
    _, _, edges = read_dot(picture(parse(TEXT), POINT, "dot"))
    assert len(edges) == 8
    assert Counter((tail, head) for tail, head, _, _ in edges) == Counter([
        ("v_m1", "v1"), ("v_m1", "v2"), ("v0", "v2"), ("v0", "v4"),  # log, mul, mul, sin
        ("v1", "v3"), ("v2", "v3"), ("v3", "v5"), ("v4", "v5")])  # add, add, sub, sub
    labels = {(tail, head): label for tail, head, label, _ in edges}
    assert labels[("v0", "v4")] == "cos(v₀) = 0.283662"  # ∂ sin(v₀)/∂v₀
    assert labels[("v_m1", "v1")] == "1/v₋₁ = 0.5"
    assert labels[("v_m1", "v2")] == "v₀ = 5" and labels[("v0", "v2")] == "v₋₁ = 2"
    assert labels[("v4", "v5")] == "-1" and labels[("v3", "v5")] == "1"
    assert all("style" not in attributes for *_, attributes in edges)


def test_adjoints_are_the_final_ones_of_the_reverse_trace():
    f = parse("(x*y)*x + sin(x*y)")
    point = {"x": 0.7, "y": -1.3}
    _, nodes, _ = read_dot(picture(f, point, "dot"))
    final = {}
    for step in trace(f, point).adjoint:
        final[step.adjoint] = step.running  # the last step for a node is its final adjoint
    *inner, output = nodes.values()
    assert output[2] == "v̄₄ = 1"  # the seed of the reverse pass
    shown = {lines[2].split(" = ")[0]: float(lines[2].split(" = ")[1]) for lines in inner}
    assert len(shown) == len(nodes) - 1 == 5
    assert shown == pytest.approx(final, rel=1e-5)


def test_without_a_point_there_are_formulas_and_no_numbers():
    f = parse(TEXT)
    _, nodes, edges = read_dot(picture(f, None, "dot"))
    assert all(len(lines) == 1 for lines in nodes.values())
    assert sorted(label for *_, label, _ in edges) == sorted(
        ["1/v₋₁", "v₀", "v₋₁", "cos(v₀)", "1", "1", "1", "-1"])
    mermaid = picture(f, None, "mermaid")
    assert "v̄" not in mermaid and "<br/>" not in mermaid and "0.5" not in mermaid
    # nothing is evaluated: a function whose variables have no value draws all the same
    assert picture(parse("a*b + c"), None, "dot").count("->") == 4


def test_arguments_without_a_gradient_are_dashed_and_unreached_inputs_greyed():
    f = parse("floor(x)*y + (x < y)")
    _, nodes, edges = read_dot(picture(f, {"x": 1.5, "y": 2.0}, "dot"))
    dashed = [(tail, head) for tail, head, label, attributes in edges
              if label == "no gradient" and attributes.get("style") == "dashed"]
    assert dashed == [("v_m1", "v1"), ("v_m1", "v3"), ("v0", "v3")]
    assert [label for tail, head, label, _ in edges if (tail, head) == ("v1", "v2")] == ["v₀ = 2"]
    assert nodes["v_m1"] == ["v₋₁ = x", "= 1.5", "v̄₋₁ unconnected"]
    graph, _, _ = read_dot(picture(f, None, "dot"))
    grey = {n.get_name(): n.get("style") for n in graph.get_nodes() if n.get("color") == "gray50"}
    assert grey == {"v_m1": '"rounded,dashed"'}
    mermaid = picture(f, None, "mermaid").splitlines()
    assert "  class v_m1 unconnected" in mermaid
    assert sum(1 for line in mermaid if "-.->" in line) == 3
    # no input carries a gradient: the output's adjoint is still the seed 1
    _, nodes, _ = read_dot(picture(parse("floor(x)"), {"x": 1.5}, "dot"))
    assert nodes == {"v0": ["v₀ = x", "= 1.5", "v̄₀ unconnected"], "v1": ["v₁ = floor(v₀)", "= 1", "v̄₁ = 1"]}


# Mermaid


def test_mermaid_is_a_flowchart_with_a_line_per_node_and_per_edge():
    lines = picture(parse(TEXT), POINT, "mermaid").splitlines()
    assert lines[0] == "flowchart BT"
    nodes = [line for line in lines if re.fullmatch(r'  v(_m\d+|\d+)\[".*"\]', line)]
    assert [line.split("[")[0].strip() for line in nodes] == ["v_m1", "v0", "v1", "v2", "v3", "v4",
                                                                "v5"]
    assert nodes[0] == '  v_m1["v₋₁ = x1<br/>= 2<br/>v̄₋₁ = 5.5"]'
    edges = [EDGE.match(line) for line in lines if "->" in line]
    assert len(edges) == 8 and all(edges)
    assert ("v0", "-->", "cos(v₀) = 0.283662", "v4") in [m.groups() for m in edges]
    assert "  class v5 output" in lines


def test_mermaid_escapes_quotes_and_markup():
    assert mermaid_text('a "b" #1 <c> & d|e') == "a #quot;b#quot; #35;1 #lt;c#gt; #amp; d#124;e"
    lines = picture(parse("x < y"), None, "mermaid").splitlines()
    assert '  v1["v₁ = v₋₁ #lt; v₀"]' in lines


# escaping, formats, numbers


def test_labels_with_quotes_backslashes_and_newlines_are_escaped():
    assert dot_string('a "b" \\n\nc') == '"a \\"b\\" \\\\n\\nc"'
    graph = Graph()
    name = 'say "hi" \\ #1\nagain'
    x = variable(graph, name)
    f = Function("a name with quotes", graph, x * x, {name: (1, 1)})
    _, nodes, edges = read_dot(picture(f, {name: 3.0}, "dot"))
    assert nodes["v0"] == ["v₀ = say \"hi\" \\ #1", "again", "= 3", "v̄₀ = 6"]
    assert len(edges) == 2
    mermaid = picture(f, None, "mermaid").splitlines()
    assert mermaid[1] == '  v0["v₀ = say #quot;hi#quot; \\ #35;1<br/>again"]'
    assert all(line.count('"') in (0, 2) for line in mermaid)


def test_tensors_show_shapes_and_norms():
    f = parse("sum(softmax(v)*log(v))", shapes={"v": (3,)})
    v = np.array([0.2, 0.3, 0.5])
    _, nodes, edges = read_dot(picture(f, {"v": v.tolist()}, "dot"))
    assert nodes["v0"][:2] == ["v₀ = v", f"= array (3,), norm {np.linalg.norm(v):.6g}"]
    assert nodes["v1"][0] == "v₁ = softmax(v₀, axis=0)"
    softmax = np.exp(v) / np.exp(v).sum()
    assert nodes["v4"][1] == f"= {float(np.sum(softmax * np.log(v))):.6g}"
    assert nodes["v4"][2] == "v̄₄ = 1"
    labels = {(tail, head): label for tail, head, label, _ in edges}
    assert labels[("v0", "v1")].startswith("v̄₁ ↦ v₁*(v̄₁ - ")  # a Jacobian: the VJP instead
    assert labels[("v0", "v2")] == f"1/v₀ = array (3,), norm {np.linalg.norm(1 / v):.6g}"
    # a point with arrays builds the function for its shapes (parsed, v is a number: sum(v) is v)
    _, nodes, edges = read_dot(picture(parse("sum(v)"), {"v": [[1.0, 2.0], [3.0, 4.0]]}, "dot"))
    assert nodes == {"v0": ["v₀ = v", "= array (2, 2), norm 5.47723", "v̄₀ = array (2, 2), norm 2"],
                     "v1": ["v₁ = sum(v₀)", "= 10", "v̄₁ = 1"]}
    assert len(edges) == 1


def test_numbers_have_six_significant_digits():
    assert format_value(math.pi) == "3.14159"
    assert format_value(12345678.0) == "1.23457e+07"
    assert format_value(np.float64(-0.0)) == "-0" and format_value(float("nan")) == "nan"
    assert format_value(np.ones((2, 3))) == "array (2, 3), norm 2.44949"


def test_an_unknown_format_is_a_usage_error():
    with pytest.raises(UsageError, match="dot, mermaid, svg"):
        picture(parse("x"), None, "png")


def test_the_output_is_deterministic():
    f = parse(TEXT)
    assert len({picture(f, POINT, "dot"), picture(f, POINT, "dot"), picture(parse(TEXT), POINT, "dot")}) == 1
    f = parse("(x*y)*x + sin(x*y)")
    assert picture(f, None, "mermaid") == picture(f, None, "mermaid") == \
        picture(parse("(x*y)*x + sin(x*y)"), None, "mermaid")


# svg


def test_svg_is_drawn_by_graphviz_when_it_is_installed():
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    svg = picture(parse(TEXT), POINT, "svg")
    assert svg.startswith("<?xml") and "<svg" in svg
    assert "cos(v₀) = 0.283662" in svg and "v̄₋₁ = 5.5" in svg


def test_svg_without_graphviz_names_the_package(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(UsageError, match="install the graphviz package") as caught:
        picture(parse(TEXT), POINT, "svg")
    assert "--format dot" in str(caught.value)


def fake_dot(tmp_path, script: str) -> str:
    path = tmp_path / "dot"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for dot")
def test_svg_runs_dot_on_the_dot_text(tmp_path, monkeypatch):
    program = fake_dot(tmp_path, 'test "$1" = -Tsvg || exit 3\ncat')
    monkeypatch.setattr(shutil, "which", lambda name: program if name == "dot" else None)
    assert picture(parse(TEXT), POINT, "svg") == picture(parse(TEXT), POINT, "dot")


@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for dot")
def test_a_failed_dot_run_is_a_usage_error_with_its_message(tmp_path, monkeypatch):
    program = fake_dot(tmp_path, 'echo "Error: syntax error in line 3" >&2\nexit 1')
    monkeypatch.setattr(shutil, "which", lambda name: program)
    with pytest.raises(UsageError, match="syntax error in line 3"):
        picture(parse(TEXT), None, "svg")


# no recursion


@pytest.mark.parametrize("text, nodes, edges", [
    ("sin(" * 2000 + "x" + ")" * 2000, 2001, 2000),
    # x*1.5 is one node (1.5 inline, one edge), used by each of the 2000 additions (two edges)
    ("x" + "+x*1.5" * 2000, 2002, 4001),
])
def test_a_2000_node_chain_draws_without_recursion(text, nodes, edges):
    f = parse(text)
    with shallow_stack():
        dot = picture(f, {"x": 0.5}, "dot")
        mermaid = picture(f, None, "mermaid")
    assert dot.count(" -> ") == edges
    assert sum(1 for line in mermaid.splitlines() if " -->|" in line) == edges
    assert dot.count("[label=") == nodes + edges

"""The fast reader (gradcli.fastread) against Lark: over its subset it must build the very graph
Lark builds, with the very reductions; outside it, it must step aside, so that every other text
reads as before and every invalid text fails with exactly Lark's error."""

from __future__ import annotations

import math
import random
from contextlib import contextmanager

import pytest
from lark import Lark, Token
from support import bench_expressions, shallow_stack

from gradcli import fastread, grammar, parsing
from gradcli.errors import NameResolutionError
from gradcli.graph import Graph
from gradcli.parsing import Binding, Scope, parse_expression, parse_point

# ---------------------------------------------------------------- reading both ways


class _CountingParser:
    """Lark's parser, counting its parses (and refusing them when `forbid` is set)."""

    def __init__(self, parser: Lark):
        self.parser, self.calls, self.forbid = parser, 0, False

    def parse(self, text, start):
        self.calls += 1
        if self.forbid:
            raise AssertionError(f"Lark was asked to read {text!r}")
        return self.parser.parse(text, start=start)


@pytest.fixture
def lark_parses(monkeypatch):
    """Lark's parser, counting what it reads."""
    counting = _CountingParser(grammar.parser(parsing._get_builder()))
    monkeypatch.setattr(grammar, "_parser", counting)
    return counting


@contextmanager
def reader(fast: bool):
    old = parsing.FAST_READER
    parsing.FAST_READER = fast
    try:
        yield
    finally:
        parsing.FAST_READER = old


def graph_rows(graph: Graph) -> list[tuple]:
    """Every node as (op, input indices, attrs, shape): equal rows, equal graphs."""
    return [(node.index, node.op.name, tuple(i.index for i in node.inputs), repr(node.attrs),
             node.shape) for node in graph.nodes]


def error_summary(error: Exception) -> tuple:
    return (type(error), getattr(error, "message", None), getattr(error, "line", None),
            getattr(error, "column", None), getattr(error, "source", None), str(error),
            error.__cause__ is None, error.__suppress_context__ or error.__context__ is None)


def outcome(text: str, start: str = "expression", fast: bool = True):
    """What reading the text gives, in a form to compare: the graph's rows, the output, the
    positions of the variables; or the error."""
    with reader(fast):
        try:
            if start == "point":
                bindings, positions = parse_point(text)
            else:
                parsed = parse_expression(text)
        except Exception as error:  # noqa: BLE001 - the error is the outcome to compare
            return ("error", error_summary(error))
    if start == "point":
        graphs = {b.value.graph for b in bindings if b.value is not None}
        assert len(graphs) <= 1  # a point's values are nodes of one graph
        rows = graph_rows(graphs.pop()) if graphs else []
        output = [(b.name, b.value.index if b.value is not None else None, b.line, b.column,
                   b.path) for b in bindings]
    else:
        rows, output, positions = graph_rows(parsed.graph), parsed.output.index, parsed.positions
    return ("graph", rows, output, list(positions.items()))


def assert_same(text: str, start: str = "expression", counter: _CountingParser | None = None,
                fast_path: bool | None = None):
    """Read with the fast reader on and off: the same outcome. With `fast_path`, check that
    Lark was (False) or was not (True) asked to read the text with the switch on."""
    before = counter.calls if counter is not None else 0
    fast = outcome(text, start, fast=True)
    if counter is not None and fast_path is not None:
        assert (counter.calls == before) == fast_path, \
            f"{text!r}: the fast path was {'not ' if fast_path else ''}expected"
    slow = outcome(text, start, fast=False)
    assert fast == slow, text
    return fast


# ---------------------------------------------------------------- the subset

CORNERS = [
    # leaves
    "x", "2", "2.5", "2.", ".5", "1e3", "1E-3", "1.5e+3", "007", "0.0", "x1", "_y", "x_1", "xy",
    "pi", "e", "inf", "nan", "e**2", "2*e", "param*grad", "def + check", "vjp/domain",
    # unary signs, wherever the grammar allows them
    "-x", "--x", "+x", "+-+x", "-+-x", "-2", "-(x)", "-(-(-x))", "- x", "-x*y", "-x/y", "-x + y",
    "x + -y", "x - -y", "x--y", "x+-y", "x*-y", "x*+y", "x/-y", "x/+y", "x/--y", "x/-y*z",
    "2*-x", "x**-2", "x**--2", "x**+2", "x**-+-2", "-x**2", "-2**2", "+x**2", "(-x)**2",
    "2**-x**2", "2**-x*y", "x*-y**2", "-x**-y**-z", "1/-x**2", "sin(-x)", "log(-x, -2)",
    # powers
    "2**3**2", "2^3^2", "2**3^2", "2^3**2", "(2**3)**2", "x**y**z", "x^-y^-z", "2*3**2",
    "x**2*y**3", "x**(y+1)", "sin(x)**2", "(x)**2", "2**x/3", "x**2/y**2",
    # chains of / and -
    "1 - 2 - 3", "x - y - z - w", "2/4/2", "x/y/z/w", "x/y*z/w", "x - y + z - w", "x*y/z*w",
    "x - y*z - w/v", "1/x/y - 1/x - y",
    # sums and products
    "2*3 + 4", "2 + 3*4", "x*y + z", "x + y*z", "x*y*z + x*y", "(x + y)*(x - y)",
    "((x))", "(((x + y)))", "-(x+y)*z", "(x+y)/(x-y)", "x*(y + z*(w - v))",
    # calls, constants, arguments of every count
    "sin(x)", "sin( x )", "sin (x)", "sin(cos(tan(x)))", "exp(-x**2/2)/sqrt(2*pi)",
    "log(x, 2)", "log(8,2)", "log( x , 2 )", "atan2(y, x)", "hypot(x, y)", "pow(x, y)",
    "logaddexp(x, -y)", "max(x, y)", "min(x, 2)", "clip(x, 0, 1)", "clip(x, -1, y**2)",
    "where(x, y, z)", "polygamma(1, x)", "sum(x)", "sum(x, 0)", "concat(x, y)", "stack(x, y)",
    "max(sin(x), cos(x)) - min(x, y)", "ln(e)", "sqrt(1 + x**2)", "x**2*sin(x)",
    "log(1 + exp(x))", "tanh(x)*x/(1 + x**2)", "sigmoid(-x)*softplus(x)",
    # repeated subexpressions, variables in order of first appearance
    "sin(x)*sin(x)", "x*x + x", "y + x + y*x", "z*y*x - x*y*z", "x + y - (x + y)",
    # spacing
    "  x  +  y  ", "\tx\t*\ty\t", "x+y", "x +y", "x+ y", "sin(x)  ", "  -  x  ** 2",
    "log ( x , 2 )",
]


@pytest.mark.parametrize("text", CORNERS)
def test_the_subset_reads_as_lark_reads_it(text, lark_parses):
    assert_same(text, counter=lark_parses, fast_path=outcome(text, fast=False)[0] == "graph")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_ops", [1, 5, 30, 300])
def test_benchmark_expressions(n_ops, seed, lark_parses):
    text = bench_expressions().random_expression(n_ops, 10, seed=seed).text
    assert assert_same(text, counter=lark_parses, fast_path=True)[0] == "graph"


def test_the_benchmark_expression_of_ten_thousand_operations(lark_parses):
    text = bench_expressions().random_expression(10**4, 10, seed=0).text
    assert assert_same(text, counter=lark_parses, fast_path=True)[0] == "graph"


# a generator of the subset: the tokens of the grammar in random arrangements

_FUNCTIONS = {"sin": 1, "exp": 1, "sqrt": 1, "tanh": 1, "log": 2, "atan2": 2, "hypot": 2,
              "max": 2, "clip": 3, "where": 3}


def random_text(rng: random.Random, depth: int = 5) -> str:
    """A random expression of the subset, `depth` levels of nesting at most."""
    blank = (lambda: rng.choice(["", "", "", " ", "  ", "\t"]))  # noqa: E731
    signs = "".join(rng.choice("-+") for _ in range(rng.choice([0, 0, 0, 1, 1, 2])))
    choice = rng.randrange(9) if depth > 0 else rng.randrange(3)
    if choice == 0:
        digits = str(rng.randrange(0, 1000))
        atom = rng.choice([digits, digits + ".", "." + digits, digits + "." + digits,
                           digits + rng.choice("eE") + rng.choice(["", "+", "-"])
                           + str(rng.randrange(5))])
    elif choice in (1, 2):
        atom = rng.choice(["x", "y", "z", "x1", "x_2", "pi", "e", "inf"])
    elif choice in (3, 4):
        name = rng.choice(sorted(_FUNCTIONS))
        arguments = [random_text(rng, depth - 1) for _ in range(_FUNCTIONS[name])]
        atom = name + blank() + "(" + ("," + blank()).join(arguments) + ")"
    elif choice == 5:
        atom = "(" + random_text(rng, depth - 1) + ")"
    else:
        operator = rng.choice(["+", "-", "*", "/", "**", "^", "+", "-", "*", "/"])
        atom = random_text(rng, depth - 1) + blank() + operator + blank() \
            + random_text(rng, depth - 1)
    return blank() + signs + blank() + atom + blank()


@pytest.mark.parametrize("seed", range(40))
def test_random_texts_of_the_subset(seed, lark_parses):
    rng = random.Random(seed)
    for _ in range(10):
        text = random_text(rng)
        assert_same(text, counter=lark_parses,
                    fast_path=outcome(text, fast=False)[0] == "graph")


@pytest.mark.parametrize("seed", range(20))
def test_random_texts_with_a_character_changed(seed):
    """Insert, delete or replace one character: valid or not, both ways read the same."""
    rng = random.Random(1000 + seed)
    for _ in range(15):
        text = random_text(rng, 3)
        at = rng.randrange(len(text) + 1)
        piece = rng.choice(["", "(", ")", ",", "x", "2", "*", "-", "**", " ", ".", "=", "e", "2x"])
        text = text[:at] + piece + text[at + rng.choice([0, 1]):]
        assert_same(text)


# ---------------------------------------------------------------- the very same reductions

NAMES = ["number", "name", "add", "sub", "mul", "div", "pow", "neg", "call", "arguments",
         "binding", "point"]


def _described(value):
    if isinstance(value, (Token, fastread.Token)):
        return ("token", value.type, str(value), value.start_pos, value.line, value.column,
                value.end_line, value.end_column, value.end_pos)
    if isinstance(value, list):
        return [_described(v) for v in value]
    if isinstance(value, Binding):
        return ("binding", value.name, value.value.index, value.line, value.column)
    return ("node", value.index) if value is not None else None


def _recording_builder():
    """A builder that logs each reduction (its name and arguments) before making it."""
    log: list = []

    def recording(name):
        def reduction(self, *args):
            log.append((name, [_described(a) for a in args]))
            return getattr(parsing._Builder, name)(self, *args)
        return reduction

    cls = type("Recording", (parsing._Builder,), {name: recording(name) for name in NAMES})
    return cls(), log


@pytest.fixture(scope="module")
def recording():
    """A Lark parser of gradcli's grammar whose inline transformer logs its reductions."""
    builder, log = _recording_builder()
    parser = Lark(grammar.grammar_text(), parser="lalr",
                  start=["expression", "point", "statement", "rule_body"],
                  transformer=grammar._Reductions(builder),
                  maybe_placeholders=True, cache=grammar.cache_file())
    return parser, builder, log


def reductions(text: str, start: str, recording, fast: bool):
    """The reductions made while reading the text, by the fast reader or by Lark; and the
    name of the error that stopped it, if one did."""
    parser, builder, log = recording
    log.clear()
    builder.reset(text, Graph(), start, Scope())
    try:
        if fast:
            fastread.read(text, start, builder)
        else:
            parser.parse(text, start=start)
    except Exception as error:  # noqa: BLE001 - the error is part of what is compared
        return log[:], type(error).__name__
    return log[:], None


@pytest.mark.parametrize("text, start", [(t, "expression") for t in CORNERS]
                         + [("x=2, y = -pi/4", "point"), ("a=sin(1)^2,b=log(2, 3)", "point"),
                            ("max()", "expression"), ("foo(x) + 1", "expression"),
                            ("sin(x, y)", "expression")])
def test_the_reductions_are_lark_s(text, start, recording):
    """Same callbacks, same order, same arguments: tokens of the same type, value and place."""
    lark = reductions(text, start, recording, fast=False)
    fast = reductions(text, start, recording, fast=True)
    assert fast[0] == lark[0]
    assert (fast[1] is None) == (lark[1] is None)
    assert fast[1] in (None, "NotFast")  # the builder's errors are Lark's to raise


@pytest.mark.parametrize("seed", range(10))
def test_the_reductions_of_random_texts_are_lark_s(seed, recording):
    rng = random.Random(2000 + seed)
    for _ in range(10):
        text = random_text(rng)
        fast = reductions(text, "expression", recording, fast=True)
        assert fast == reductions(text, "expression", recording, fast=False), text


def test_the_benchmark_reductions_are_lark_s(recording):
    text = bench_expressions().random_expression(500, 10, seed=3).text
    lark = reductions(text, "expression", recording, fast=False)
    assert reductions(text, "expression", recording, fast=True) == lark
    assert lark[1] is None and len(lark[0]) > 1000


# ---------------------------------------------------------------- outside the subset

OUTSIDE = [
    "2x", "2(x+1)", "(x+1)(x-1)", "2 sin(x)", "2x**2", "-2x", "2x/3", "3x y", ".5x", "1e3x",
    "2pi", "2e", "1e", "2e+x", "x > 0", "x + 1 > 2*x", "x == 2", "x != 2", "x <= 2",
    "where(x > 0, x, 0)", "[1, 2]", "sum([x, 2*x])", "x*[1, 2]", "log(x, base=10)",
    "elu(x, alpha=2)", "x # a comment", "x\n + 1", "θ**2", "x @ y", "x.T", "x[0]",
    "x\r+1", "x\x0b+1", "x +\u00a0y",
]


@pytest.mark.parametrize("text", OUTSIDE)
def test_texts_outside_the_subset_go_to_lark(text, lark_parses):
    assert_same(text, counter=lark_parses, fast_path=False)


INVALID = [
    "x+", "x -", "x**", "x**2y", "1/2x", "sin(", "sin(x", "sin((x+1)*2", "a < b < c", "2..3",
    "1.2.3", "foo(x)", "foo(x) + 1", "sin(x, y)", "sin()", "max()", "sin", "sin + 1", "pi(2)",
    ")", "(", "()", "x)", "(x", "((x)", "sin(x))", "x ** * 2", "x $ 2", "x !", "f(,)",
    "sin(x,)", "sin(,x)", "x y", "2 3", "(x+1)2", "x 2", "x = 2", "x==", "x,y", "sin x", "*x",
    "/x", "x//y", "-", "x++", "x+*y", "1/2(x)", "e(x)", "x**2 y", "x^^2", "x ^ * 2", "2 .5",
    "x.5", "log(x, 2, 3)", "clip(x, 1)", "softmax(x, 3)", "'x'", "sin('x')", "x'", "1e+", "=",
    "x**-", "-(", "(-)", "(,)", ",x",
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_texts_give_lark_s_error(text):
    result = assert_same(text)
    assert result[0] == "error", result


POINTS = [
    "x=2,y=pi/4", "x=-1e-3", "x = 2 , y = 3", "x=sin(1), y=log(2, 3)", "x=+1", "x=2**-1",
    "param=2", "check=1,x=2", "x=1, x=2", "pi=3", "sin=1", "x=y", "x=y+z, w=y",
]
POINTS_OUTSIDE = ["v=[1,2]", "X=@data.npy", "X=@'data.npy'", "x=2x", "x=1 # one", "x=2,\ny=3"]
POINTS_INVALID = [
    "x=2,", "x=", "=2", "x=2 y=3", "x=2,,y=3", "x=(1,2)", "x=1;y=2", "x y=2", "f(x)=2",
    "x=2=3", "x", "2=x", "x=(2", "x=2)", "x=foo(2)", "x=sin(1, 2)", ",x=1", "x==2", "x-1",
    "x*2", "x,y=1", "x=1,y", "x=1)", "(x=1)", "x=1,(y=2)", "x=sin(1,y=2)",
]


@pytest.mark.parametrize("text", POINTS)
def test_points(text, lark_parses):
    assert_same(text, "point", counter=lark_parses, fast_path=True)


@pytest.mark.parametrize("text", POINTS_OUTSIDE + POINTS_INVALID)
def test_points_outside_the_subset_or_invalid(text, lark_parses):
    assert_same(text, "point", counter=lark_parses, fast_path=False)


def test_a_point_through_the_command_line_helpers():
    from gradcli.points import parse_point as read_point

    for text in ("x=2,y=pi/4", "x=-1e-3", "v=[1,2]"):
        with reader(True):
            fast = read_point(text)
        with reader(False):
            slow = read_point(text)
        assert repr(fast) == repr(slow)


# ---------------------------------------------------------------- depth, and the switch


@pytest.mark.parametrize("text", [
    "(" * 50_000 + "x" + ")" * 50_000,
    "-" * 50_000 + "x",
    "sin(" * 20_000 + "x" + ")" * 20_000,
    "x**" * 20_000 + "2",
    "-(" * 20_000 + "x" + ")" * 20_000,
    "1/(" * 20_000 + "x" + ")" * 20_000,
])
def test_deep_nesting_needs_no_recursion(text, lark_parses):
    lark_parses.forbid = True
    with shallow_stack(200), reader(True):
        parsed = parse_expression(text)
    assert parsed.variables == ("x",)


def test_deep_nesting_reads_as_lark_reads_it(lark_parses):
    assert_same("-(" * 2000 + "x" + ")" * 2000 + "**2", counter=lark_parses, fast_path=True)
    assert_same("sin(" * 2000 + "x" + ")" * 2000, counter=lark_parses, fast_path=True)


def test_gradcli_parse_takes_the_fast_path(lark_parses):
    import gradcli

    lark_parses.forbid = True
    assert gradcli.parse("x**2*sin(x)")({"x": 2.0}) == pytest.approx(4 * math.sin(2.0))


def test_the_switch_turns_the_fast_reader_off(lark_parses):
    with reader(False):
        parse_expression("x + 1")
    assert lark_parses.calls == 1
    with reader(True):
        parse_expression("x + 1")
    assert lark_parses.calls == 1


def test_rule_bodies_and_statements_are_lark_s(lark_parses):
    """Only a fresh expression or point is read fast: a text read into a graph given is not."""
    graph = Graph()
    parsing.parse_rule_body("x + 1", graph, Scope())
    parsing.parse_statement("y = x + 1", graph, Scope(), "spec")
    assert lark_parses.calls == 2


def test_after_a_refusal_the_builder_starts_again():
    """The fast reader's partial graph is dropped: Lark's graph has only its own nodes."""
    with reader(True):
        parsed = parse_expression("sin(x)*cos(y) + 2x")
    with reader(False):
        expected = parse_expression("sin(x)*cos(y) + 2x")
    assert graph_rows(parsed.graph) == graph_rows(expected.graph)
    assert parsed.positions == expected.positions == {"x": (1, 5), "y": (1, 12)}


def test_a_refused_text_reports_lark_s_error_without_a_context():
    """The builder's error, raised again by Lark's reading, not inside the refusal."""
    with reader(True), pytest.raises(NameResolutionError, match="unknown function 'foo'") as caught:
        parse_expression("foo(x)")
    assert caught.value.__context__ is None and caught.value.column == 1


"""The grammar (grammars/expression.lark and spec.lark) and Lark's LALR parser of it.

The parser is built on first use, from Lark's analysis of the grammar cached between runs in a
private folder; its reductions are made by gradcli.parsing's builder, an inline transformer.
Importing this module does not import Lark: a text gradcli.fastread reads never needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lark import Lark

STARTS = ("expression", "point", "statement", "rule_body")
_parser: Lark | None = None


def grammar_text() -> str:
    """expression.lark and spec.lark, read as one grammar."""
    return "\n".join(path.read_text(encoding="utf-8")
                     for path in (grammar_path(), grammar_path().with_name("spec.lark")))


def grammar_path() -> Path:
    """grammars/expression.lark: inside the installed package, or at the top of a source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammars", here.parent.parent / "grammars"):
        path = candidate / "expression.lark"
        if path.is_file():
            return path
    raise FileNotFoundError("grammars/expression.lark is missing from this installation")


class _Reductions:
    """The builder as Lark's inline transformer: Lark calls a rule's reduction with the list of
    the rule's children, the builder takes them as arguments (what lark.v_args(inline=True)
    does), and a rule the builder has no reduction for is left to Lark."""

    def __init__(self, builder):
        self._builder = builder

    def __getattr__(self, rule: str):
        if rule.startswith("_"):
            raise AttributeError(rule)
        reduce = getattr(self._builder, rule)
        return lambda children: reduce(*children)


def parser(builder) -> Lark:
    """Lark's parser of the grammar, its reductions made by `builder` (gradcli.parsing's one
    builder: the parser is built once, on first use, for the first builder it is given)."""
    global _parser
    if _parser is None:
        from lark import Lark

        _parser = Lark(grammar_text(), parser="lalr", start=list(STARTS),
                       transformer=_Reductions(builder), maybe_placeholders=True,
                       cache=cache_file())
    return _parser


def read(text: str, start: str, source: str, builder):
    """What the parser reduces the text to; a grammar error as a ParseError with a caret
    (gradcli.parse_errors)."""
    from lark.exceptions import UnexpectedInput

    from gradcli.parse_errors import describe

    try:
        return parser(builder).parse(text, start=start)
    except UnexpectedInput as error:
        raise describe(error, text, source) from None


def cache_file() -> str | bool:
    """Where Lark keeps its analysis of the grammar between runs (two thirds of a cold start
    otherwise): a file in the user's own cache folder, GRADCLI_CACHE_DIR or
    $XDG_CACHE_HOME/gradcli or ~/.cache/gradcli. Lark checks the grammar's hash in it before use.
    The file is a pickle, so a folder that is not the user's own and private is not used, nor
    one that cannot be written: False then, and the grammar is analysed at every start.
    GRADCLI_CACHE_DIR= (empty) turns the cache off."""
    import os
    import sys

    import lark

    folder = os.environ.get("GRADCLI_CACHE_DIR")
    if folder == "":
        return False
    if folder is None:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "gradcli")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        status = os.stat(folder)
        if hasattr(os, "getuid") and (status.st_uid != os.getuid() or status.st_mode & 0o022):
            return False
        if not os.access(folder, os.W_OK | os.X_OK):
            return False
    except OSError:
        return False
    version = f"lark{lark.__version__}-py{sys.version_info[0]}{sys.version_info[1]}"
    return os.path.join(folder, f"grammar-{version}.lark-cache")

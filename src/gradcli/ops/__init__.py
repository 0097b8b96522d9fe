"""The primitive table, one module per family of operations.

`PRIMITIVES` lists every row; `gradcli.functions` maps the names a user types onto these rows
and onto compositions of them.
"""

from gradcli.ops import arithmetic, elementary, piecewise, reduction, shape, special
from gradcli.ops.arithmetic import (
    COMPARISONS,
    add,
    div,
    eq,
    ge,
    gt,
    le,
    lt,
    mul,
    ne,
    neg,
    pow,
    sub,
    where,
)
from gradcli.ops.core import (
    ATOM,
    COMPARISON,
    CONSTANT,
    POWER,
    PRODUCT,
    SIGN,
    SUM,
    VARIABLE,
    Call,
    Frozen,
    Infix,
    Postfix,
    Prefix,
    Primitive,
    broadcast,
    constant_value,
    is_constant,
    is_literal,
    literal,
    named_constant,
    variable,
)
from gradcli.ops.elementary import (
    acos,
    acosh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    cbrt,
    cos,
    cosh,
    exp,
    exp2,
    expm1,
    hypot,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    sin,
    sinh,
    sqrt,
    tan,
    tanh,
)
from gradcli.ops.piecewise import (
    abs,
    ceil,
    elu,
    floor,
    maximum,
    minimum,
    relu,
    round,
    sigmoid,
    sign,
    softplus,
)
from gradcli.ops.reduction import (
    amax,
    amin,
    cumsum,
    logsumexp,
    matmul,
    norm,
    prod,
    prod_except,
    softmax,
    sum_,
)
from gradcli.ops.shape import (
    broadcast_to,
    concat,
    expand,
    index,
    key_text,
    normalize_axis,
    python_key,
    reshape,
    resolve_shape,
    scatter,
    squeeze,
    sum_to,
    swap_last,
    transpose,
)
from gradcli.ops.special import digamma, erf, erfc, gamma, lgamma, polygamma


def _rows() -> tuple[Primitive, ...]:
    """Every primitive defined by the family modules, once each, in the order defined."""
    rows: dict[int, Primitive] = {}
    for module in (arithmetic, elementary, piecewise, special, shape, reduction):
        for value in vars(module).values():
            if isinstance(value, Primitive):
                rows.setdefault(id(value), value)
    return tuple(rows.values())


PRIMITIVES: tuple[Primitive, ...] = _rows()

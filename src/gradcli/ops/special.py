"""Special functions, evaluated by scipy.special (imported on first use, not at start-up)."""

from __future__ import annotations

import math

from gradcli.ops.core import Primitive, constant_like
from gradcli.ops.elementary import exp, sqrt


def _scipy(name: str):
    """A forward that calls scipy.special.<name>, importing scipy only when first evaluated."""

    def forward(*args):
        import scipy.special

        return getattr(scipy.special, name)(*args)

    forward.__name__ = name
    return forward


def _two_over_sqrt_pi(g):
    return 2 / sqrt(constant_like(g, math.pi, "pi"))


erf = Primitive("erf", _scipy("erf"), (lambda g, ans, x: g * _two_over_sqrt_pi(g) * exp(-x**2),),
                doc="d/dx erf(x) = 2/sqrt(pi)*exp(-x**2)")
erfc = Primitive("erfc", _scipy("erfc"), (lambda g, ans, x: -g * _two_over_sqrt_pi(g) * exp(-x**2),),
                 doc="1 - erf(x), accurate for large x; d/dx erfc(x) = -2/sqrt(pi)*exp(-x**2)")
gamma = Primitive("gamma", _scipy("gamma"), (lambda g, ans, x: g * ans * digamma(x),),
                  doc="d/dx gamma(x) = gamma(x)*digamma(x)")
lgamma = Primitive("lgamma", _scipy("gammaln"), (lambda g, ans, x: g * digamma(x),),
                   analytic=False, doc="log|gamma(x)|; d/dx lgamma(x) = digamma(x)")
digamma = Primitive("digamma", _scipy("psi"), (lambda g, ans, x: g * polygamma(1.0, x),),
                    doc="d/dx log(gamma(x)); d/dx digamma(x) = polygamma(1, x)")
polygamma = Primitive(
    "polygamma", _scipy("polygamma"),
    (None, lambda g, ans, n, x: g * polygamma(n + 1, x)),
    analytic=False,
    doc="the n-th derivative of digamma, n a whole number >= 0; d/dx = polygamma(n + 1, x)",
)

"""gradcli: differentiate expressions and check gradients, from the shell or from Python.

    >>> import gradcli
    >>> gradcli.grad("log(x1) + x1*x2 - sin(x2)", at={"x1": 2, "x2": 5}).gradient
    {'x1': 5.5, 'x2': 1.7163378145367738}

The API is imported on first use, so `import gradcli` (and the command line) starts fast.
"""

__version__ = "0.1.0"

__all__ = ["Function", "parse", "grad", "evaluate", "check", "custom_vjp", "GradcliError",
           "__version__"]


def __getattr__(name: str):
    if name in ("Function", "parse", "grad"):
        from gradcli import api

        return getattr(api, name)
    if name == "check":
        from gradcli.checking import check

        return check
    if name == "custom_vjp":
        from gradcli.python_rules import custom_vjp

        return custom_vjp
    if name == "evaluate":
        from gradcli.api import evaluate_at

        return evaluate_at
    if name == "GradcliError":
        from gradcli.errors import GradcliError

        return GradcliError
    raise AttributeError(f"module 'gradcli' has no attribute {name!r}")

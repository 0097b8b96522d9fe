"""The `gradcli` command's entry point (and `python -m gradcli`'s): a process that runs one
command and ends.

Importing numpy, Lark, Typer and gradcli makes hundreds of thousands of objects, none of them
garbage, and Python's cyclic collector would walk them again and again while they are made: a
tenth of a cold start. So the command line is imported with the collector paused, and what the
imports made is then frozen (left out of every later collection), before gradcli.cli.run runs
the command with the collector on.
"""

from __future__ import annotations

import gc


def run() -> None:
    gc.disable()
    try:
        from gradcli.cli import run as command
    except KeyboardInterrupt:  # Ctrl-C while starting: one line, no traceback
        import os
        import sys

        print("gradcli: interrupted", file=sys.stderr)
        os._exit(130)
    finally:
        gc.enable()
    gc.freeze()
    command()

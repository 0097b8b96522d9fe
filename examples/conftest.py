"""pytest settings for `pytest examples/`.

gradcli's pytest plugin (installed with gradcli) collects every .grad file that has derivative
rules or check statements: one test item per rule and per check statement, so

    pytest examples/                 the items of rules.grad; they all pass
    pytest examples/ -n auto         the same, spread over pytest-xdist workers

The model specs here (mlp.grad, classifier.grad, ...) have neither, and give no items.

The files below fail on purpose, to show what gradcli reports; they are left out of directory
collection. A file named on the command line is collected all the same
(`pytest examples/broken_rules.grad` runs its items, and they fail).
"""

collect_ignore = [
    "broken_rules.grad",  # every rule in it is wrong
    "broken_ops.py",  # pytest would not collect it (not test_*.py); ignored to be explicit
    "ci",  # the CI examples: YAML and Markdown, nothing to test
]

"""`python -m gradcli`: the same command line as `gradcli`."""

from gradcli.cli import run

if __name__ == "__main__":
    run()

"""`python -m gradcli`: the same command line as `gradcli`."""

from gradcli.main import run

if __name__ == "__main__":
    run()

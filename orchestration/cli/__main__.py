"""``python -m orchestration.cli``: the same command line as ``caselake``. Guarded: the document workers start
by spawn, which imports this module again in each worker, and a worker must not run the command."""

from orchestration.cli import app

if __name__ == "__main__":
    app()

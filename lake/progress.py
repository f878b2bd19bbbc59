"""The one progress callback shape: ``progress(stage, done, total)``, called as work advances.

The CLI draws one bar per stage, the assets log counts (never names or text: the data is about children),
the tests and benchmarks pass :func:`no_progress`.
"""

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The default: report nothing."""

"""Progress of a long loop: a caller's callback, a rich bar on a terminal, or nothing.

The library never prints by itself (STYLE.md): a bar appears only when stderr is a terminal,
where it is transient, and a caller can pass its own ``callback(done, total)`` or False.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

Progress = bool | Callable[[int, int], None] | None


def progress_reporter(progress: Progress, total: int, description: str
                      ) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """(callback, closer) for a loop of ``total`` steps.

    Parameters
    ----------
    progress : bool or callable, optional
        A ``callback(done, total)`` is returned as is; False gives a no-op; True or None a rich
        bar on stderr when it is a terminal, a no-op otherwise.
    total : int
        Steps in the loop.
    description : str
        The bar's label.

    Returns
    -------
    tuple of callable
        ``report(done, total)`` to call after each step and ``close()`` to call once at the end.
    """
    if callable(progress):
        return progress, lambda: None
    if progress is False or not sys.stderr.isatty():
        return (lambda done, total: None), lambda: None
    from rich.progress import Progress as Bar  # only when a bar is drawn: rich is slow to import

    bar = Bar(transient=True)
    task = bar.add_task(description, total=total)
    bar.start()
    return (lambda done, total: bar.update(task, completed=done)), bar.stop

"""What the command line shows: progress bars while it works (on stderr, gone when
done), then a summary table (stdout) and the errors in the service's own words.

Results go to stdout and everything transient to stderr, so `... > report.txt` keeps
the table. Without a terminal (CI logs, pipes) rich draws no bar and no colour.
"""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

#: how a row's result is shown
STYLES = {
    "created": "green",
    "updated": "cyan",
    "unchanged": "dim",
    "released": "green",
    "scheduled": "cyan",
    "exported": "green",
    "ok": "green",
    "failed": "bold red",
    "skipped": "yellow",
}


@contextmanager
def progress_bar():
    """A progress display; add tasks with ``progress.add_task(description, total=n)``."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        yield progress


def table(title: str, *columns: str) -> Table:
    summary = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        summary.add_column(column, overflow="fold")
    return summary


def result(text: str) -> str:
    """A result word in its colour."""
    style = STYLES.get(text)
    return f"[{style}]{escape(text)}[/]" if style else escape(text)


def error(text: str) -> None:
    err.print(f"[bold red]error:[/] {escape(text)}", soft_wrap=True)


def warning(text: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(text)}", soft_wrap=True)


def note(text: str) -> None:
    out.print(escape(text), soft_wrap=True)


def counts(counter: dict) -> str:
    """ "3 created, 1 failed" from {"created": 3, "failed": 1} (zeros left out)."""
    return ", ".join(f"{n} {word}" for word, n in counter.items() if n) or "nothing to do"

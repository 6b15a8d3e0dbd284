"""`valossa-ingest search`: the search API as a table in the terminal (a client of the API)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from service.remote import RemoteSettings, raise_for_problem, remote_client
from service.search.schemas import SearchItem, SearchPage

#: Matches shown per media in the table (the API gives up to 50).
SHOWN_MATCHES = 4


async def fetch_search(
    query: str, *, types: list[str], limit: int, settings: RemoteSettings | None = None
) -> SearchPage:
    """GET /v1/search from the service at VALOSSA_INGEST_URL (RemoteError on failure)."""
    params: list[tuple[str, str | int | float | bool | None]] = [("q", query), ("limit", limit)]
    params += [("type", t) for t in types]
    async with remote_client(settings) as client:
        response = await client.get("/v1/search", params=params)
    raise_for_problem(response)
    return SearchPage.model_validate(response.json())


def print_results(page: SearchPage, query: str, console: Console | None = None) -> None:
    """One row per media: id, title, score and where it matched."""
    console = console or Console()
    if not page.items:
        console.print(f"no media match {query!r}")
        return
    table = Table(title=f"media matching {query!r}", show_lines=True)
    table.add_column("media")
    table.add_column("title")
    table.add_column("score", justify="right")
    table.add_column("matches")
    for item in page.items:
        table.add_row(item.customer_media_id, item.title or "", f"{item.score:.3f}", _matches(item))
    console.print(table)
    if page.next_cursor:
        console.print("more results: raise --limit to see them")


def _matches(item: SearchItem) -> str:
    lines = []
    for match in item.matches[:SHOWN_MATCHES]:
        when = "whole video"
        if match.start is not None and match.end is not None:
            when = f"{_clock(match.start)}-{_clock(match.end)}"
        lines.append(f"{when}  {match.type}: {match.label}")
    if len(item.matches) > SHOWN_MATCHES:
        lines.append(f"... {len(item.matches) - SHOWN_MATCHES} more")
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"

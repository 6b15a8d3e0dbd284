"""`valossa-ingest faces list` and `faces add-image`: the CLI as a client of the running API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from service.faces.images import CheckedImage, ImageRefused, check_image
from service.remote import ExitCode, RemoteError, raise_for_problem, remote_client

#: Failures after which uploading the remaining files is pointless.
_FATAL = frozenset({ExitCode.UNAUTHORIZED, ExitCode.UNREACHABLE, ExitCode.USAGE})


async def _get(client: httpx.AsyncClient, path: str) -> Any:
    response = await client.get(path)
    raise_for_problem(response)
    return response.json()


async def list_faces(console: Console) -> None:
    """Print every gallery and its faces as a table."""
    async with remote_client() as client:
        galleries = (await _get(client, "/v1/face-galleries"))["items"]
        faces = await asyncio.gather(
            *(_get(client, f"/v1/face-galleries/{g['id']}/faces") for g in galleries)
        )
    table = Table(title=f"{len(galleries)} face galler{'y' if len(galleries) == 1 else 'ies'}")
    for column in ("gallery", "gallery id", "face", "face id", "gender", "images"):
        table.add_column(column, overflow="fold")
    for gallery, listed in zip(galleries, faces, strict=True):
        name = gallery["name"] or "(default)"
        if gallery["is_default"]:
            name += " [default]"
        if not listed["items"]:
            table.add_row(name, gallery["id"], "—", "", "", "")
        for face in listed["items"]:
            table.add_row(
                name,
                gallery["id"],
                face["name"] or "(no name)",
                face["id"],
                face["gender"] or "",
                str(len(face["image_ids"])),
            )
    console.print(table)


@dataclass
class Outcome:
    """What happened to one file."""

    path: Path
    image_id: str | None = None
    error: str | None = None


def check_files(paths: list[Path]) -> tuple[list[CheckedImage], list[Outcome]]:
    """Read and check every file before anything is sent; the good ones and the refusals."""
    good: list[CheckedImage] = []
    refused: list[Outcome] = []
    for path in paths:
        try:
            good.append(check_image(path.read_bytes(), filename=path.name))
        except OSError as exc:
            refused.append(Outcome(path, error=f"cannot read it: {exc.strerror or exc}"))
        except ImageRefused as exc:
            refused.append(Outcome(path, error=str(exc)))
    return good, refused


async def add_images(console: Console, face_id: str, paths: list[Path]) -> ExitCode:
    """Upload each image to the face with a progress bar; one line per file; the exit code."""
    images, outcomes = check_files(paths)
    for outcome in outcomes:
        console.print(f"[red]✗[/red] {outcome.path}: {outcome.error}")
    worst = ExitCode.USAGE if outcomes else ExitCode.OK
    if not images:
        return worst
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    async with remote_client(timeout_s=120.0) as client:
        with progress:
            task = progress.add_task("uploading", total=sum(len(i.data) for i in images))
            for number, image in enumerate(images, 1):
                progress.update(task, description=f"{number}/{len(images)} {image.filename}")
                try:
                    image_id = await _upload(client, face_id, image)
                except RemoteError as exc:
                    progress.console.print(f"[red]✗[/red] {image.filename}: {exc}")
                    worst = max(worst, exc.exit_code)
                    if exc.exit_code in _FATAL:
                        raise
                else:
                    progress.console.print(f"[green]✓[/green] {image.filename} → {image_id}")
                progress.advance(task, len(image.data))
    return worst


async def _upload(client: httpx.AsyncClient, face_id: str, image: CheckedImage) -> str:
    files = {"image": (image.filename, image.data, image.content_type)}
    # One path segment whatever the id holds: "a?b" or "x/../y" must not reach another URL.
    response = await client.post(f"/v1/faces/{quote(face_id, safe='')}/images", files=files)
    raise_for_problem(response)
    image_id: str = response.json()["id"]
    return image_id

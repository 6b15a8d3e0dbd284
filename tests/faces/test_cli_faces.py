"""`valossa-ingest faces list` and `faces add-image` as a CMS user runs them, over HTTP."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx

from service.remote import ExitCode
from tests.faces.conftest import run_cli
from tests.support.emulator import EmulatorHandle
from tests.support.images import face_jpeg, face_png, png


def _cli(url: str, *args: str, token: str = "test-token") -> subprocess.CompletedProcess[str]:
    env = {"VALOSSA_INGEST_URL": url, "VALOSSA_INGEST_TOKEN": token, "COLUMNS": "200"}
    return run_cli("faces", *args, env=env)


async def test_list_prints_galleries_and_faces(api: httpx.AsyncClient, served_api: str) -> None:
    gallery = (await api.post("/v1/face-galleries", json={"name": "Cast"})).json()
    await api.post(
        f"/v1/face-galleries/{gallery['id']}/faces", json={"name": "Ada", "gender": "female"}
    )
    await api.post("/v1/face-galleries", json={"name": "Empty"})

    result = await asyncio.to_thread(_cli, served_api, "list")

    assert result.returncode == 0, result.stderr
    assert "2 face galleries" in result.stdout
    ada_row = next(line for line in result.stdout.splitlines() if "Ada" in line)
    assert "Cast" in ada_row
    assert "female" in ada_row
    assert gallery["id"] in ada_row
    assert any("Empty" in line and "—" in line for line in result.stdout.splitlines())


async def test_add_image_uploads_each_file_and_reports_each_refusal(
    api: httpx.AsyncClient, emulator: EmulatorHandle, served_api: str, tmp_path: Path
) -> None:
    gallery = (await api.post("/v1/face-galleries", json={"name": "G"})).json()
    face = (await api.post(f"/v1/face-galleries/{gallery['id']}/faces", json={"name": "Bo"})).json()
    good_png = tmp_path / "bo-1.png"
    good_png.write_bytes(face_png())
    good_jpg = tmp_path / "bo-2.jpg"
    good_jpg.write_bytes(face_jpeg())
    too_big = tmp_path / "bo-3.png"
    too_big.write_bytes(png(5000, 10))
    missing = tmp_path / "nowhere.jpg"

    result = await asyncio.to_thread(
        _cli,
        served_api,
        "add-image",
        face["id"],
        str(good_png),
        str(too_big),
        str(good_jpg),
        str(missing),
    )

    assert result.returncode == ExitCode.USAGE, result.stdout + result.stderr
    assert "bo-3.png: the image is 5000x10 pixels" in result.stdout
    assert "nowhere.jpg: cannot read it" in result.stdout
    at_valossa = (await emulator.valossa.list_face_images(face_id=face["id"])).face_images
    listed = (await api.get(f"/v1/faces/{face['id']}/images")).json()["items"]
    assert [i["id"] for i in listed] == [i.id for i in at_valossa]
    assert [i["filename"] for i in listed] == ["bo-1.png", "bo-2.jpg"]
    for image in listed:
        assert f"{image['filename']} → {image['id']}" in result.stdout


async def test_add_image_to_an_unknown_face_is_refused(served_api: str, tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(png(8, 8))

    result = await asyncio.to_thread(_cli, served_api, "add-image", "no-such-face", str(image))

    assert result.returncode == ExitCode.REFUSED
    assert "refused (404): no face with id 'no-such-face'" in result.stdout


async def test_a_wrong_token_is_exit_code_4(served_api: str, tmp_path: Path) -> None:
    result = await asyncio.to_thread(_cli, served_api, "list", token="wrong")

    assert result.returncode == ExitCode.UNAUTHORIZED
    assert "refused the token" in result.stderr


async def test_a_face_id_is_one_path_segment_whatever_it_holds(
    api: httpx.AsyncClient, served_api: str, tmp_path: Path
) -> None:
    gallery = (await api.post("/v1/face-galleries", json={"name": "G"})).json()
    face = (await api.post(f"/v1/face-galleries/{gallery['id']}/faces", json={"name": "Bo"})).json()
    image = tmp_path / "bo.png"
    image.write_bytes(face_png())

    # Unquoted, this id made the URL of the real face's images: the image went to a face
    # the user did not name.
    result = await asyncio.to_thread(
        _cli, served_api, "add-image", f"{face['id']}/images?x=", str(image)
    )

    assert result.returncode == ExitCode.REFUSED, result.stdout + result.stderr
    assert (await api.get(f"/v1/faces/{face['id']}/images")).json()["items"] == []

"""The seed's curl examples as httpx calls (same fields, same content types), answers by shape."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from emulator_support import API_KEY, new_job, wait_for_job

from tests.support.images import face_png

KEY = {"api_key": API_KEY}


def is_uuid(value: object) -> bool:
    """True for a UUID string such as the documented ids."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


async def test_new_job_full_and_minimal_bodies(client: httpx.AsyncClient, peer_url: str) -> None:
    gallery = await client.post(
        "/training/1.0/create_face_gallery", json={**KEY, "gallery": {"name": "My Special Faces"}}
    )
    full = {
        **KEY,
        "media": {
            "title": "The Action Movie",
            "description": "Armed with a knife, Jack Jackson faces countless dangers in the "
            "jungle.",
            "video": {"url": f"{peer_url}/files/clip.mp4"},
            "transcript": {"url": f"{peer_url}/files/clip.srt"},
            "customer_media_info": {"id": "m_0717286314-A"},
            "language": "en-US",
        },
        "analysis_parameters": {
            "face_galleries": {"custom_gallery": {"id": gallery.json()["gallery_id"]}}
        },
        "email_notification": {"to_group": "users_with_access_to_api_key_results"},
        "callback": {"url": f"{peer_url}/callback"},
    }
    for body in (full, {**KEY, "media": {"video": {"url": f"{peer_url}/files/clip.mp4"}}}):
        answer = await client.post(
            "/core/1.0/new_job", json=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 200
        assert list(answer.json()) == ["job_id"]
        assert is_uuid(answer.json()["job_id"])


async def test_job_status_results_and_list_jobs(client: httpx.AsyncClient, peer_url: str) -> None:
    job_id = await new_job(client, f"{peer_url}/files/clip.mp4")
    status = await client.get(f"/core/1.0/job_status?api_key={API_KEY}&job_id={job_id}")
    assert status.status_code == 200
    assert {"status", "media_transfer_status", "details", "poll_again_after_seconds"} <= set(
        status.json()
    )
    assert isinstance(status.json()["poll_again_after_seconds"], int)
    await wait_for_job(client, job_id, {"finished"})
    results = await client.get(f"/core/1.0/job_results?api_key={API_KEY}&job_id={job_id}")
    assert results.status_code == 200
    assert results.json()["version_info"]["metadata_format"]
    listed = await client.get(f"/core/1.0/list_jobs?api_key={API_KEY}&show_status=true")
    assert listed.json() == {
        "jobs": [
            {
                "job_id": job_id,
                "job_status": {
                    "status": "finished",
                    "media_transfer_status": "finished",
                    "details": None,
                    "poll_again_after_seconds": None,
                },
            }
        ]
    }


async def test_cancel_and_delete_job(client: httpx.AsyncClient, peer_url: str) -> None:
    first = await new_job(client, f"{peer_url}/files/clip.mp4")
    await client.post(f"/_emulator/jobs/{first}/force", json={"status": "queued"})
    cancel = await client.post(
        "/core/1.0/cancel_job",
        json={"api_key": API_KEY, "job_id": first},
        headers={"Content-Type": "application/json"},
    )
    assert cancel.status_code == 200
    assert cancel.json() == {"job_status": "canceled"}
    delete = await client.post(
        "/core/1.0/delete_job",
        json={"api_key": API_KEY, "job_id": first},
        headers={"Content-Type": "application/json"},
    )
    assert delete.status_code == 200
    assert delete.json() == {}


async def test_chunked_upload_as_documented(client: httpx.AsyncClient, media_dir: Path) -> None:
    video = (media_dir / "clip.mp4").read_bytes()
    init = await client.post(
        "/core/1.0/initialize_file_upload",
        files={"api_key": (None, API_KEY), "file_size_bytes": (None, str(len(video)))},
    )
    assert init.status_code == 200
    assert set(init.json()) == {"upload_id", "file_chunk_size_bytes"}
    assert init.json()["file_chunk_size_bytes"] == 4194304
    upload_id = init.json()["upload_id"]
    chunk = await client.post(
        "/core/1.0/send_file_chunk",
        data={"api_key": API_KEY, "upload_id": upload_id, "chunk_index": "0"},
        files={"file_data": ("clip.mp4.chunk00", video)},
    )
    assert chunk.status_code == 200
    assert chunk.json() == {}
    final = await client.post(
        "/core/1.0/finalize_file_upload",
        files={"api_key": (None, API_KEY), "upload_id": (None, upload_id)},
    )
    assert final.json() == {"uploaded_file_url": f"valossaupload://{upload_id}"}


async def test_training_api_examples(client: httpx.AsyncClient) -> None:
    image = await client.post(
        "/training/1.0/upload_image",
        data={"api_key": API_KEY},
        files={"image_data": ("ricky_1.png", face_png())},
    )
    assert image.status_code == 200
    image_url = image.json()["uploaded_file_url"]
    assert image_url.startswith("valossaupload://")
    post: dict[str, Any] = {"headers": {"Content-Type": "application/json"}}
    gallery = await client.post(
        "/training/1.0/create_face_gallery",
        json={**KEY, "gallery": {"name": "My Special Faces"}},
        **post,
    )
    gallery_id = gallery.json()["gallery_id"]
    assert is_uuid(gallery_id)
    renamed = await client.post(
        "/training/1.0/update_face_gallery",
        json={**KEY, "gallery": {"id": gallery_id, "updates": {"name": "My Extra-Special Faces"}}},
        **post,
    )
    assert renamed.json() == {}
    default_face = await client.post(
        "/training/1.0/create_face_identity",
        json={**KEY, "face": {"name": "Ricky Rickson", "gender": "male"}},
        **post,
    )
    face = await client.post(
        "/training/1.0/create_face_identity",
        json={
            **KEY,
            "gallery": {"id": gallery_id},
            "face": {"name": "Ricky Rickson", "gender": "male"},
        },
        **post,
    )
    face_id = face.json()["face_id"]
    assert is_uuid(default_face.json()["face_id"])
    assert is_uuid(face_id)
    galleries = await client.get(
        f"/training/1.0/list_face_galleries?api_key={API_KEY}&show_details=true"
    )
    assert len(galleries.json()["face_galleries"]) == 2
    assert all(is_uuid(g["id"]) for g in galleries.json()["face_galleries"])
    added = await client.post(
        "/training/1.0/add_face_image",
        json={**KEY, "face": {"id": face_id}, "image": {"url": image_url}},
        **post,
    )
    image_id = added.json()["image_id"]
    assert is_uuid(image_id)
    identities = await client.get(
        f"/training/1.0/list_face_identities?api_key={API_KEY}&gallery_id={gallery_id}"
        "&show_details=true"
    )
    assert [f["id"] for f in identities.json()["face_identities"]] == [face_id]
    defaults = await client.get(
        f"/training/1.0/list_face_identities?api_key={API_KEY}&show_details=true"
    )
    assert [f["id"] for f in defaults.json()["face_identities"]] == [default_face.json()["face_id"]]
    images = await client.get(f"/training/1.0/list_face_images?api_key={API_KEY}&face_id={face_id}")
    assert images.json() == {"face_images": [{"id": image_id}]}
    updated = await client.post(
        "/training/1.0/update_face_identity",
        json={**KEY, "face": {"id": face_id, "updates": {"name": "Ricky Rixon-Borgmann"}}},
        **post,
    )
    assert updated.json() == {}
    removed_image = await client.post(
        "/training/1.0/remove_face_image", json={**KEY, "image": {"id": image_id}}, **post
    )
    assert removed_image.json() == {}
    removed_face = await client.post(
        "/training/1.0/remove_face_identity", json={**KEY, "face": {"id": face_id}}, **post
    )
    assert removed_face.json() == {}

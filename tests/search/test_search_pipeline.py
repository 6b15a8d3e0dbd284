"""End to end: a face trained at the emulator's Training API, an analysis through our pipeline,
and the search finding the identity, a label and a spoken word at the right times; a
re-analysis and a DELETE keep the index right."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

import pytest

from tests.pipeline.conftest import Stack
from tests.support.api import wait_for_status
from tests.support.emulator import EmulatorHandle
from tests.support.images import face_png
from tests.support.waiting import eventually

NAME = "Emilia Example"


async def train_face(stack: Stack) -> tuple[str, str]:
    """A gallery with one trained identity, made through our API; (gallery id, face id)."""
    gallery = await stack.api.post("/v1/face-galleries", json={"name": "Cast"})
    assert gallery.status_code == 201, gallery.text
    gallery_id = gallery.json()["id"]
    face = await stack.api.post(
        f"/v1/face-galleries/{gallery_id}/faces", json={"name": NAME, "gender": "female"}
    )
    assert face.status_code == 201, face.text
    face_id = face.json()["id"]
    image = await stack.api.post(
        f"/v1/faces/{face_id}/images",
        files={"image": ("emilia.png", face_png(), "image/png")},
    )
    assert image.status_code == 201, image.text
    return gallery_id, face_id


async def analyse(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    created = await stack.api.post("/v1/analyses", json=body)
    assert created.status_code == 202, created.text
    done = await wait_for_status(stack.api, created.json()["id"], {"finished", "failed"})
    assert done["status"] == "finished", done
    return done


async def search(stack: Stack, **params: Any) -> dict[str, Any]:
    response = await stack.api.get("/v1/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def indexed(stack: Stack, media: str, analysis_id: str) -> bool:
    response = await stack.api.get(f"/v1/media/{media}/summary")
    return response.status_code == 200 and response.json()["analysis_id"] == analysis_id


def spans(detection: dict[str, Any]) -> list[tuple[float, float]]:
    return [(round(o["ss"], 3), round(o["se"], 3)) for o in detection["occs"]]


@pytest.mark.usefixtures("emulator")
async def test_trained_face_label_and_speech_are_found_then_replaced_and_deleted(
    stack: Stack, emulator: EmulatorHandle, media_url: str
) -> None:
    gallery_id, face_id = await train_face(stack)
    async with contextlib.AsyncExitStack() as workers:
        await stack.start_worker(workers, "w1")
        first = await analyse(
            stack,
            {
                "customer_media_id": "film-1",
                "video_url": f"{media_url}/clip.mp4",
                "title": "Harbour film",
                "face_gallery_id": gallery_id,
            },
        )
        # The worker indexes right after storing the results.
        await eventually(lambda: indexed(stack, "film-1", first["id"]), within=30)
        core = json.loads(
            (await stack.api.get("/v1/media/film-1/metadata", params={"type": "core"})).content
        )
        detections = core["detections"].values()

        # The trained identity, by name, at the times Valossa gave for that face.
        face = next(d for d in detections if d["t"] == "human.face" and d["a"].get("similar_to"))
        assert face["a"]["similar_to"][0]["gallery_face"]["id"] == face_id
        page = await search(stack, q=NAME)
        assert [i["customer_media_id"] for i in page["items"]] == ["film-1"]
        assert page["items"][0]["analysis_id"] == first["id"]
        found = [(m["start"], m["end"]) for m in page["items"][0]["matches"]]
        assert found == spans(face)
        by_id = await search(stack, face=face_id)
        assert [i["customer_media_id"] for i in by_id["items"]] == ["film-1"]

        # A label.
        label = next(d for d in detections if d["t"] == "visual.context")
        page = await search(stack, q=label["label"], type="visual.context")
        matches = page["items"][0]["matches"]
        assert [(m["start"], m["end"]) for m in matches if m["label"] == label["label"]] == spans(
            label
        )

        # A spoken word, at the segment that says it.
        segment = next(d for d in detections if d["t"] == "audio.speech")
        word = max(re.findall(r"[A-Za-z]{4,}", segment["label"]), key=len)
        page = await search(stack, q=word, type="audio.speech")
        assert [i["customer_media_id"] for i in page["items"]] == ["film-1"]
        assert (segment["label"], *spans(segment)[0]) in [
            (m["label"], m["start"], m["end"]) for m in page["items"][0]["matches"]
        ]

        # A re-analysis without the gallery replaces the index: the identity is gone.
        second = await analyse(
            stack, {"customer_media_id": "film-1", "video_url": f"{media_url}/clip.mp4"}
        )
        await eventually(lambda: indexed(stack, "film-1", second["id"]), within=30)
        assert (await search(stack, q=NAME))["items"] == []
        page = await search(stack, q=label["label"])
        assert [i["analysis_id"] for i in page["items"]] == [second["id"]]

    # DELETE of the media removes its index.
    assert (await stack.api.delete("/v1/media/film-1")).status_code == 204
    assert (await search(stack, q=label["label"]))["items"] == []
    gone = await stack.api.get("/v1/media/film-1/summary")
    assert gone.status_code == 404

"""Error answers: always `{"errors": [{"message": ...}]}` with a specific message and code."""

from __future__ import annotations

import httpx
import pytest
from emulator_support import API_KEY, OTHER_KEY, error_message, new_job

from service.emulator.app import create_emulator_app
from service.emulator.settings import EmulatorSettings
from service.process.serving import serve_in_background


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/core/1.0/new_job", {"json": {"api_key": "nope", "media": {}}}),
        ("POST", "/core/1.0/new_job", {"json": {"media": {}}}),
        ("GET", "/core/1.0/job_status", {"params": {"job_id": "x"}}),
        ("GET", "/core/1.0/list_jobs", {"params": {"api_key": "wrong"}}),
        ("POST", "/core/1.0/initialize_file_upload", {"files": {"file_size_bytes": (None, "5")}}),
        ("GET", "/training/1.0/list_face_galleries", {"params": {"api_key": ""}}),
    ],
)
async def test_unknown_or_missing_key_is_401(
    client: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, object]
) -> None:
    answer = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code == 401
    assert error_message(answer) == "Invalid API key"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"media": {}}, "Missing required field: media.video"),
        ({"media": {"video": {}}}, "Missing required field: media.video.url"),
        ({}, "Missing required field: media"),
        ({"media": {"video": {"url": 5}}}, "Invalid value for field: media.video.url"),
        (
            {"media": {"video": {"url": "ftp://x/y.mp4"}}},
            "Invalid value for field: media.video.url",
        ),
        (
            {
                "media": {"video": {"url": "http://x/v.mp4"}},
                "email_notification": {"to_group": "all"},
            },
            "Invalid value for field: email_notification.to_group",
        ),
        (
            {"media": {"video": {"url": "valossaupload://nothing"}}},
            "Invalid value for field: media.video.url (no finalized upload with this id)",
        ),
        (
            {
                "media": {"video": {"url": "http://x/v.mp4"}},
                "analysis_parameters": {"face_galleries": {"custom_gallery": {"id": "nope"}}},
            },
            "Invalid value for field: analysis_parameters.face_galleries.custom_gallery.id",
        ),
        (
            {
                "media": {
                    "video": {"url": "http://x/v.mp4"},
                    "transcript": {"url": "valossaupload://x"},
                }
            },
            "Invalid value for field: media.transcript.url (the URL must start with http://, "
            "https://, s3://)",
        ),
        (
            {"media": {"video": {"url": "http://x/v.mp4"}, "language": "xx-XX"}},
            "Invalid value for field: media.language (unsupported language 'xx-XX'; "
            "supported: en-US, en-GB, de-DE,",
        ),
        (
            {"media": {"video": {"url": "http://x/v.mp4"}, "language": "en"}},
            "Invalid value for field: media.language (unsupported language 'en';",
        ),
    ],
)
async def test_new_job_names_the_bad_field(
    client: httpx.AsyncClient, body: dict[str, object], message: str
) -> None:
    answer = await client.post("/core/1.0/new_job", json={"api_key": API_KEY, **body})
    assert answer.status_code == 400
    assert error_message(answer).startswith(message)


async def test_s3_is_refused_unless_configured(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/core/1.0/new_job",
        json={"api_key": API_KEY, "media": {"video": {"url": "s3://bucket/v.mp4"}}},
    )
    assert answer.status_code == 400
    assert "VALOSSA_EMULATOR_S3_ROOT" in error_message(answer)


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"{not json", {"Content-Type": "application/json"}),
        (b"[1, 2]", {"Content-Type": "application/json"}),
        (b'{"api_key": "test-key"}', {"Content-Type": "application/x-www-form-urlencoded"}),
    ],
)
async def test_malformed_body(
    client: httpx.AsyncClient, content: bytes, headers: dict[str, str]
) -> None:
    answer = await client.post("/core/1.0/new_job", content=content, headers=headers)
    assert answer.status_code == 400
    assert error_message(answer) == "Malformed request body"


async def test_job_not_found_and_other_keys_jobs_are_invisible(
    client: httpx.AsyncClient, peer_url: str
) -> None:
    job_id = await new_job(client, f"{peer_url}/files/clip.mp4")
    for key, job in ((API_KEY, "00000000-0000-4000-8000-000000000000"), (OTHER_KEY, job_id)):
        answer = await client.get("/core/1.0/job_status", params={"api_key": key, "job_id": job})
        assert answer.status_code == 404
        assert error_message(answer) == "Job not found"
    missing = await client.get("/core/1.0/job_status", params={"api_key": API_KEY})
    assert missing.status_code == 400
    assert error_message(missing) == "Missing required field: job_id"


async def test_unknown_function_and_bad_query_values(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/core/1.0/no_such_function")
    assert unknown.status_code == 404
    assert error_message(unknown) == "Unknown API function"
    for params, name in (({"n_jobs": "0"}, "n_jobs"), ({"show_status": "yes"}, "show_status")):
        answer = await client.get("/core/1.0/list_jobs", params={"api_key": API_KEY, **params})
        assert answer.status_code == 400
        assert error_message(answer).startswith(f"Invalid value for parameter: {name}")


async def test_results_of_unfinished_job_and_unknown_type(
    client: httpx.AsyncClient, peer_url: str
) -> None:
    job_id = await new_job(client, f"{peer_url}/files/clip.mp4")
    await client.post(f"/_emulator/jobs/{job_id}/force", json={"status": "processing"})
    params = {"api_key": API_KEY, "job_id": job_id}
    unfinished = await client.get("/core/1.0/job_results", params=params)
    assert unfinished.status_code == 400
    assert (
        error_message(unfinished) == "Job results are not available: the job status is processing"
    )
    unknown = await client.get("/core/1.0/job_results", params={**params, "type": "everything"})
    assert unknown.status_code == 400
    assert error_message(unknown).startswith("Invalid value for parameter: type")


async def test_languages_of_the_list_are_accepted(client: httpx.AsyncClient) -> None:
    for language in ("en-US", "fi-FI", "de-DE", "sv-SE", "en-GB"):
        job_id = await new_job(client, "http://127.0.0.1:9/v.mp4", media={"language": language})
        assert job_id


async def test_extra_languages_are_accepted(settings: EmulatorSettings) -> None:
    more = settings.model_copy(update={"extra_languages": "et-EE, lv-LV"})
    async with (
        serve_in_background(create_emulator_app(more)) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        for language, code in (("et-EE", 200), ("lv-LV", 200), ("lt-LT", 400)):
            answer = await http.post(
                "/core/1.0/new_job",
                json={
                    "api_key": API_KEY,
                    "media": {"video": {"url": "http://x/v.mp4"}, "language": language},
                },
            )
            assert answer.status_code == code, answer.text

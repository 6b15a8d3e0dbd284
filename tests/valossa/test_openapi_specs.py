"""The OpenAPI files are valid and describe every documented function with its encoding."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate
from valossa_support import OPENAPI_DIR, SPEC_FILES, load_spec

from service.valossa import ResultType
from service.valossa.client import ValossaClient
from service.valossa.models import TRANSCRIPT_URL_PATTERN

CORE = {
    "new_job": ("post", "application/json"),
    "job_status": ("get", None),
    "job_results": ("get", None),
    "list_jobs": ("get", None),
    "cancel_job": ("post", "application/json"),
    "delete_job": ("post", "application/json"),
    "initialize_file_upload": ("post", "multipart/form-data"),
    "send_file_chunk": ("post", "multipart/form-data"),
    "finalize_file_upload": ("post", "multipart/form-data"),
}
TRAINING = {
    "upload_image": ("post", "multipart/form-data"),
    "create_face_gallery": ("post", "application/json"),
    "update_face_gallery": ("post", "application/json"),
    "list_face_galleries": ("get", None),
    "create_face_identity": ("post", "application/json"),
    "add_face_image": ("post", "application/json"),
    "list_face_identities": ("get", None),
    "list_face_images": ("get", None),
    "update_face_identity": ("post", "application/json"),
    "remove_face_image": ("post", "application/json"),
    "remove_face_identity": ("post", "application/json"),
}


@pytest.mark.parametrize("api", sorted(SPEC_FILES))
def test_spec_is_valid_openapi_3_1(api: str) -> None:
    document = load_spec(api)
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert (OPENAPI_DIR / SPEC_FILES[api]).exists()


@pytest.mark.parametrize(("api", "functions"), [("core", CORE), ("training", TRAINING)])
def test_every_function_has_its_method_encoding_and_errors(
    api: str, functions: dict[str, tuple[str, str | None]]
) -> None:
    paths = load_spec(api)["paths"]
    assert set(paths) == {f"/{name}" for name in functions}
    for name, (method, content_type) in functions.items():
        operation = paths[f"/{name}"][method]
        assert operation["operationId"] == name
        assert {"200", "400", "401", "500"} <= set(operation["responses"]), name
        if content_type is None:
            assert "requestBody" not in operation
            refs = [p.get("$ref", "") for p in operation["parameters"]]
            assert "#/components/parameters/ApiKey" in refs, name
        else:
            body = operation["requestBody"]["content"]
            assert list(body) == [content_type], name
            schema = body[content_type]["schema"]
            assert "api_key" in schema.get("required", []) or "$ref" in schema, name
        # The client has one method per documented function.
        assert callable(getattr(ValossaClient, name))


def schema(api: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = load_spec(api)["components"]["schemas"][name]
    return found


def test_documented_constraints_are_in_the_core_spec() -> None:
    assert schema("core", "ResultType")["enum"] == [t.value for t in ResultType]
    assert schema("core", "KnownJobStatusValue")["enum"] == [
        "queued", "on_hold", "preparing_analysis", "processing", "finished", "error",
    ]  # fmt: skip
    assert schema("core", "MediaTransferStatus")["enum"] == [
        "queued", "downloading", "finished", "error",
    ]  # fmt: skip
    assert schema("core", "MediaUrl")["properties"]["url"]["pattern"].startswith(
        "^(https?|s3|valossaupload)://"
    )
    transcript = schema("core", "NewJobMedia")["properties"]["transcript"]
    assert transcript["$ref"] == "#/components/schemas/TranscriptUrl"
    assert schema("core", "TranscriptUrl")["properties"]["url"]["pattern"] == TRANSCRIPT_URL_PATTERN
    n_jobs = next(
        p
        for p in load_spec("core")["paths"]["/list_jobs"]["get"]["parameters"]
        if "name" in p and p["name"] == "n_jobs"
    )
    assert n_jobs["schema"] == {"type": "integer", "minimum": 1, "maximum": 10000, "default": 200}


def test_documented_constraints_are_in_the_training_spec() -> None:
    assert schema("training", "Name")["maxLength"] == 1024
    assert schema("training", "Gender")["enum"] == ["male", "female"]
    upload = load_spec("training")["paths"]["/upload_image"]["post"]["requestBody"]
    image = upload["content"]["multipart/form-data"]["schema"]["properties"]["image_data"]
    assert "8 MB" in image["description"]
    assert "4096x4096" in image["description"]

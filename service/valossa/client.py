"""The typed async client of the Valossa Core and Training APIs: one method per function."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import Final

import httpx
import pydantic

from service.valossa.caller import Call, Caller, JsonValue
from service.valossa.models import (
    AnalysisParameters,
    CancelJobResponse,
    EmptyResponse,
    FinalizeUploadResponse,
    InitializeUploadResponse,
    JobStatus,
    ListJobsResponse,
    NewJobMedia,
    NewJobResponse,
)
from service.valossa.multipart import StreamedPart
from service.valossa.redact import install_log_redaction
from service.valossa.results import ResultStream, ResultType
from service.valossa.retry import RetryPolicy
from service.valossa.training import TrainingFunctions

DEFAULT_BASE_URL: Final = "https://api.valossa.com"
#: The only documented email notification group.
EMAIL_GROUP: Final = "users_with_access_to_api_key_results"
#: list_jobs' documented maximum for n_jobs.
MAX_N_JOBS: Final = 10000


class ValossaClient(TrainingFunctions):
    """Valossa's documented API over an injected AsyncClient; the key never leaves in a repr.

    Retries (see `retry.py`) apply to calls that cannot create a second object: GETs,
    cancel/delete, uploads of chunks and images, updates and removals. new_job and the
    create_*/add_* training calls are sent once: a lost reply there is the caller's decision.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str | pydantic.SecretStr,
        base_url: str = DEFAULT_BASE_URL,
        retry: RetryPolicy | None = None,
    ) -> None:
        secret = api_key if isinstance(api_key, pydantic.SecretStr) else pydantic.SecretStr(api_key)
        self._caller = Caller(http, api_key=secret, base_url=base_url, retry=retry or RetryPolicy())
        # httpx logs each request URL at INFO level; GET URLs carry the key.
        install_log_redaction("httpx", "service.valossa")

    @property
    def base_url(self) -> str:
        """The root URL; functions live under /core/1.0 and /training/1.0."""
        return self._caller.base_url

    def __repr__(self) -> str:
        return f"ValossaClient(base_url={self.base_url!r}, api_key='**********')"

    # --- jobs -------------------------------------------------------------------------------

    async def new_job(
        self,
        *,
        media: NewJobMedia,
        analysis_parameters: AnalysisParameters | None = None,
        callback_url: str | None = None,
        email_notification: bool = False,
    ) -> NewJobResponse:
        """Create an analysis job. Never retried: on doubt, look for the job with list_jobs."""
        fields: dict[str, JsonValue] = {"media": media.model_dump(mode="json", exclude_none=True)}
        if analysis_parameters is not None:
            fields["analysis_parameters"] = analysis_parameters.model_dump(
                mode="json", exclude_none=True
            )
        if email_notification:
            fields["email_notification"] = {"to_group": EMAIL_GROUP}
        if callback_url is not None:
            fields["callback"] = {"url": callback_url}
        call = Call("core", "new_job", "json", idempotent=False, fields=fields)
        return await self._caller.model(call, NewJobResponse)

    async def job_status(
        self, *, job_id: str | None = None, customer_media_id: str | None = None
    ) -> JobStatus:
        """Poll one job; an unknown future status value is kept as a plain string."""
        call = Call("core", "job_status", "query", True, _job_ref(job_id, customer_media_id))
        return await self._caller.model(call, JobStatus)

    @contextlib.asynccontextmanager
    async def job_results(
        self,
        *,
        job_id: str | None = None,
        customer_media_id: str | None = None,
        type: ResultType | str = ResultType.CORE,
    ) -> AsyncIterator[ResultStream]:
        """Open a finished job's results of one type as a byte stream (not read into memory)."""
        fields = {**_job_ref(job_id, customer_media_id), "type": str(type)}
        call = Call("core", "job_results", "query", True, fields)
        async with self._caller.stream(call) as response:
            yield ResultStream(response, result_type=type)

    async def list_jobs(
        self, *, show_status: bool = False, show_media_info: bool = False, n_jobs: int | None = None
    ) -> ListJobsResponse:
        """List this key's latest jobs (Valossa's default is 200, its maximum 10000)."""
        fields: dict[str, JsonValue] = {}
        if show_status:
            fields["show_status"] = True
        if show_media_info:
            fields["show_media_info"] = True
        if n_jobs is not None:
            if not 1 <= n_jobs <= MAX_N_JOBS:
                raise ValueError(f"n_jobs must be between 1 and {MAX_N_JOBS}, got {n_jobs}")
            fields["n_jobs"] = n_jobs
        call = Call("core", "list_jobs", "query", True, fields)
        return await self._caller.model(call, ListJobsResponse)

    async def cancel_job(
        self, *, job_id: str | None = None, customer_media_id: str | None = None
    ) -> CancelJobResponse:
        """Cancel a job that has not started; retried (a repeat cancel cannot do harm)."""
        call = Call("core", "cancel_job", "json", True, _job_ref(job_id, customer_media_id))
        return await self._caller.model(call, CancelJobResponse)

    async def delete_job(
        self, *, job_id: str | None = None, customer_media_id: str | None = None
    ) -> None:
        """Delete a job and its assets; retried, so a repeat may end in ValossaNotFound."""
        call = Call("core", "delete_job", "json", True, _job_ref(job_id, customer_media_id))
        await self._caller.model(call, EmptyResponse)

    # --- uploads ----------------------------------------------------------------------------

    async def initialize_file_upload(self, *, file_size_bytes: int) -> InitializeUploadResponse:
        """Start a chunked upload; the reply fixes the chunk size (a retry only orphans an id)."""
        if file_size_bytes <= 0:
            raise ValueError("file_size_bytes must be positive")
        fields: dict[str, JsonValue] = {"file_size_bytes": file_size_bytes}
        call = Call("core", "initialize_file_upload", "form", True, fields)
        return await self._caller.model(call, InitializeUploadResponse)

    async def send_file_chunk(self, *, upload_id: str, chunk_index: int, data: bytes) -> None:
        """Send chunk number `chunk_index` (from 0); chunks may be sent in any order, and again."""
        if chunk_index < 0:
            raise ValueError("chunk_index starts at 0")
        fields: dict[str, JsonValue] = {"upload_id": upload_id, "chunk_index": chunk_index}
        files = {"file_data": (f"chunk{chunk_index:05d}", data, "application/octet-stream")}
        call = Call("core", "send_file_chunk", "form", True, fields, files)
        await self._caller.model(call, EmptyResponse)

    async def send_file_chunk_stream(
        self, *, upload_id: str, chunk_index: int, data: AsyncIterable[bytes], size: int
    ) -> None:
        """Send chunk `chunk_index` read from a one-shot stream of exactly `size` bytes, never
        held in memory whole. Not retried (the stream cannot be read twice): on failure the
        caller sends the chunk again from its source."""
        if chunk_index < 0:
            raise ValueError("chunk_index starts at 0")
        if size <= 0:
            raise ValueError("a chunk has at least one byte")
        fields: dict[str, JsonValue] = {"upload_id": upload_id, "chunk_index": chunk_index}
        part = StreamedPart(
            "file_data", f"chunk{chunk_index:05d}", "application/octet-stream", data, size
        )
        call = Call("core", "send_file_chunk", "form", False, fields, streamed=part)
        await self._caller.model(call, EmptyResponse)

    async def finalize_file_upload(self, *, upload_id: str) -> FinalizeUploadResponse:
        """Assemble the sent chunks; the reply's `uploaded_file_url` goes into new_job."""
        fields: dict[str, JsonValue] = {"upload_id": upload_id}
        call = Call("core", "finalize_file_upload", "form", True, fields)
        return await self._caller.model(call, FinalizeUploadResponse)


def _job_ref(job_id: str | None, customer_media_id: str | None) -> dict[str, JsonValue]:
    if (job_id is None) == (customer_media_id is None):
        raise ValueError("give exactly one of job_id and customer_media_id")
    return {"job_id": job_id} if job_id is not None else {"customer_media_id": customer_media_id}

"""A typed async client of the Valossa Video Recognition API (httpx + pydantic only)."""

from service.valossa.client import DEFAULT_BASE_URL, ValossaClient
from service.valossa.errors import (
    ValossaApiError,
    ValossaAuthError,
    ValossaBadRequest,
    ValossaError,
    ValossaNotFound,
    ValossaProtocolError,
    ValossaRateLimited,
    ValossaServerError,
    ValossaTransportError,
)
from service.valossa.http import make_http_client
from service.valossa.models import (
    AnalysisParameters,
    CancelJobResponse,
    CustomerMediaInfo,
    FaceGalleries,
    FinalizeUploadResponse,
    GalleryRef,
    InitializeUploadResponse,
    JobStatus,
    KnownJobStatus,
    ListedJob,
    ListJobsResponse,
    MediaTransferStatus,
    MediaUrl,
    NewJobMedia,
    NewJobResponse,
)
from service.valossa.results import ResultStream, ResultType
from service.valossa.retry import NO_RETRY, RetryPolicy, delay, should_retry
from service.valossa.training_models import KEEP, Gender
from service.valossa.upload import AsyncByteSource, upload_file

__all__ = [
    "DEFAULT_BASE_URL",
    "KEEP",
    "NO_RETRY",
    "AnalysisParameters",
    "AsyncByteSource",
    "CancelJobResponse",
    "CustomerMediaInfo",
    "FaceGalleries",
    "FinalizeUploadResponse",
    "GalleryRef",
    "Gender",
    "InitializeUploadResponse",
    "JobStatus",
    "KnownJobStatus",
    "ListJobsResponse",
    "ListedJob",
    "MediaTransferStatus",
    "MediaUrl",
    "NewJobMedia",
    "NewJobResponse",
    "ResultStream",
    "ResultType",
    "RetryPolicy",
    "ValossaApiError",
    "ValossaAuthError",
    "ValossaBadRequest",
    "ValossaClient",
    "ValossaError",
    "ValossaNotFound",
    "ValossaProtocolError",
    "ValossaRateLimited",
    "ValossaServerError",
    "ValossaTransportError",
    "delay",
    "make_http_client",
    "should_retry",
    "upload_file",
]

"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from service.analyses.models import Analysis, AnalysisEvent, ResultChunk, StoredResult
from service.db import Base
from service.faces.models import Face, FaceGallery, FaceImage
from service.search.models import (
    SearchBacklog,
    SearchDetection,
    SearchFace,
    SearchLabel,
    SearchMedia,
    SearchOccurrence,
    SearchSpeech,
    SearchSpeechTerm,
)
from service.uploads.models import Upload, UploadChunk
from service.webhooks.models import Webhook, WebhookAttempt, WebhookEndpoint

__all__ = [
    "Analysis",
    "AnalysisEvent",
    "Base",
    "Face",
    "FaceGallery",
    "FaceImage",
    "ResultChunk",
    "SearchBacklog",
    "SearchDetection",
    "SearchFace",
    "SearchLabel",
    "SearchMedia",
    "SearchOccurrence",
    "SearchSpeech",
    "SearchSpeechTerm",
    "StoredResult",
    "Upload",
    "UploadChunk",
    "Webhook",
    "WebhookAttempt",
    "WebhookEndpoint",
]

"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from service.analyses.models import Analysis, AnalysisEvent, ResultChunk, StoredResult, Webhook
from service.db import Base

__all__ = ["Analysis", "AnalysisEvent", "Base", "ResultChunk", "StoredResult", "Webhook"]

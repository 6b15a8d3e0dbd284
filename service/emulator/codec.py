"""How each thing the emulator keeps is written to its state store, and read back.

Records are JSON objects; paths are stored relative to the data dir, so a data dir can move.
A record that does not decode raises KeyError, TypeError or ValueError (the state is then broken).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

from service.emulator.entities import (
    CallbackAttempt,
    CallbackRecord,
    EmailRecord,
    Job,
    Upload,
    iso,
)
from service.emulator.media import SrtCue, TechnicalInfo
from service.emulator.status import JobStatus, TransferStatus
from service.emulator.training import FaceIdentity, FaceImage, Gallery, ImageUpload

Stored = (
    Job | Upload | CallbackRecord | EmailRecord | Gallery | FaceIdentity | FaceImage | ImageUpload
)

_KINDS: dict[type[Any], str] = {
    Job: "job",
    Upload: "upload",
    CallbackRecord: "callback",
    EmailRecord: "email",
    Gallery: "gallery",
    FaceIdentity: "face",
    FaceImage: "face_image",
    ImageUpload: "image_upload",
}


def record_key(item: Stored) -> tuple[str, str]:
    """The (kind, key) an item is stored under."""
    kind = _KINDS[type(item)]
    if isinstance(item, Job):
        return kind, item.job_id
    if isinstance(item, Upload):
        return kind, item.upload_id
    if isinstance(item, CallbackRecord | EmailRecord):
        return kind, item.record_id
    return kind, item.id


def encode(item: Stored, data_dir: Path) -> dict[str, Any]:
    """The JSON record of an item."""
    if isinstance(item, Job):
        return _encode_job(item, data_dir)
    data = dataclasses.asdict(item)
    if isinstance(item, Upload | ImageUpload):
        data["path"] = str(item.path.relative_to(data_dir))
    if isinstance(item, Upload):
        data["received"] = sorted(item.received)
    if isinstance(item, CallbackRecord):
        data["created_at"] = iso(item.created_at)
        data["attempts"] = [[iso(a.at), a.status_code, a.error] for a in item.attempts]
    if isinstance(item, EmailRecord):
        data["sent_at"] = iso(item.sent_at)
    return data


def decode(kind: str, data: dict[str, Any], data_dir: Path) -> Stored:
    """The item a record describes."""
    if kind == "job":
        return _decode_job(data, data_dir)
    if kind == "upload":
        return Upload(
            **{**data, "path": data_dir / data["path"], "received": set(data["received"])}
        )
    if kind == "image_upload":
        return ImageUpload(**{**data, "path": data_dir / data["path"]})
    if kind == "callback":
        attempts = [CallbackAttempt(_time(at), code, error) for at, code, error in data["attempts"]]
        return CallbackRecord(
            **{**data, "created_at": _time(data["created_at"]), "attempts": attempts}
        )
    if kind == "email":
        return EmailRecord(**{**data, "sent_at": _time(data["sent_at"])})
    simple: dict[str, type[Gallery | FaceIdentity | FaceImage]] = {
        "gallery": Gallery,
        "face": FaceIdentity,
        "face_image": FaceImage,
    }
    if kind not in simple:
        raise ValueError(f"unknown record kind {kind!r}")
    return simple[kind](**data)


def _encode_job(job: Job, data_dir: Path) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "owner": job.owner,
        "request": job.request,
        "created_at": iso(job.created_at),
        "video_url": job.video_url,
        "transcript_url": job.transcript_url,
        "customer_media_id": job.customer_media_id,
        "gallery_id": job.gallery_id,
        "callback_url": job.callback_url,
        "email_to_group": job.email_to_group,
        "status": str(job.status),
        "transfer": str(job.transfer),
        "details": job.details,
        "phase_elapsed": job.phase_elapsed,
        "pinned": job.pinned,
        "technical": dataclasses.asdict(job.technical) if job.technical else None,
        "transcript": (
            [dataclasses.astuple(cue) for cue in job.transcript] if job.transcript else None
        ),
        "results": {t: str(p.relative_to(data_dir)) for t, p in job.results.items()},
        "ended_at": iso(job.ended_at) if job.ended_at else None,
        "canceled_at_clock": job.canceled_at_clock,
    }


def _decode_job(data: dict[str, Any], data_dir: Path) -> Job:
    technical = data["technical"]
    transcript = data["transcript"]
    return Job(
        job_id=data["job_id"],
        owner=data["owner"],
        request=data["request"],
        created_at=_time(data["created_at"]),
        video_url=data["video_url"],
        transcript_url=data["transcript_url"],
        customer_media_id=data["customer_media_id"],
        gallery_id=data["gallery_id"],
        callback_url=data["callback_url"],
        email_to_group=data["email_to_group"],
        directory=data_dir / "jobs" / data["job_id"],
        status=JobStatus(data["status"]),
        transfer=TransferStatus(data["transfer"]),
        details=data["details"],
        phase_elapsed=float(data["phase_elapsed"]),
        pinned=bool(data["pinned"]),
        technical=TechnicalInfo(**technical) if technical is not None else None,
        transcript=[SrtCue(*cue) for cue in transcript] if transcript is not None else None,
        results={t: data_dir / p for t, p in data["results"].items()},
        ended_at=_time(data["ended_at"]) if data["ended_at"] else None,
        canceled_at_clock=data["canceled_at_clock"],
    )


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"a stored time without a timezone: {text!r}")
    return moment

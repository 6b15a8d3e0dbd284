"""How our jobs look at Valossa: the customer media id each new_job attempt gives Valossa.

Valossa documents few fields of a listed job (job_id, status, customer_media_id, title), and no
order. Every attempt therefore submits `<CMS id>#vi:<analysis>.<attempt>` as its customer media
id: the job of an attempt whose answer was lost is then found by exact match, and a job that
this service created is told apart from one made some other way for the same media.
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum

from service.valossa import (
    ListedJob,
    ValossaApiError,
    ValossaAuthError,
    ValossaBadRequest,
    ValossaClient,
    ValossaNotFound,
    ValossaRateLimited,
    ValossaServerError,
    ValossaTransportError,
)

#: Joins the CMS's id and our marker.
MARKER = "#vi:"
#: list_jobs sizes tried in turn when the whole list must be searched (10000 is Valossa's most).
LISTINGS = (1000, 10000)


def valossa_media_id(customer_media_id: str, analysis_id: uuid.UUID, attempt: int) -> str:
    """The customer media id of one new_job attempt of one analysis."""
    return f"{customer_media_id}{MARKER}{analysis_id.hex[:16]}.{attempt}"


def is_ours(valossa_customer_media_id: str | None, customer_media_id: str) -> bool:
    """True if a Valossa job with this customer media id was created by this service for the
    CMS's media `customer_media_id` (by any analysis, in any attempt)."""
    if not valossa_customer_media_id:
        return False
    head, marker, tail = valossa_customer_media_id.rpartition(MARKER)
    analysis, dot, attempt = tail.partition(".")
    return (
        bool(marker)
        and head == customer_media_id
        and bool(dot)
        and len(analysis) == 16
        and attempt.isdigit()
    )


async def list_every_job(valossa: ValossaClient) -> tuple[list[ListedJob], bool]:
    """As many of the key's jobs as list_jobs shows, and whether that is all of them."""
    jobs: list[ListedJob] = []
    for n_jobs in LISTINGS:
        jobs = (await valossa.list_jobs(n_jobs=n_jobs)).jobs
        if len(jobs) < n_jobs:
            return jobs, True
    return jobs, False


#: A refusal that names the job's state as canceled (e.g. "... in its current state: canceled").
_ALREADY_CANCELED = re.compile(r"state\W{0,3}canceled\b", re.IGNORECASE)


class CancelAnswer(StrEnum):
    """What Valossa's answer to cancel_job means."""

    CANCELED = "canceled"  #: the job is canceled
    REQUESTED = "requested"  #: Valossa may have accepted; follow the job to its end
    REFUSED = "refused"  #: the job is not cancellable (it is being analysed or ended)
    GONE = "gone"  #: Valossa has no such job any more


async def cancel_at_valossa(valossa: ValossaClient, job_id: str) -> tuple[CancelAnswer, str]:
    """Ask Valossa to cancel a job: what its answer means, and Valossa's words."""
    try:
        reply = await valossa.cancel_job(job_id=job_id)
    except ValossaBadRequest as exc:
        message = "; ".join(exc.messages) or str(exc)
        if _ALREADY_CANCELED.search(message):
            # A retry after a lost answer: "... current state: canceled" means it worked.
            return CancelAnswer.CANCELED, message
        return CancelAnswer.REFUSED, message
    except ValossaNotFound:
        return CancelAnswer.GONE, "Valossa no longer has the job"
    except ValossaAuthError:
        raise
    except (ValossaApiError, ValossaServerError, ValossaRateLimited) as exc:
        # A code Valossa does not document for cancel_job, or a failure that outlasted the
        # client's retries: the cancel may have taken effect all the same.
        return CancelAnswer.REQUESTED, f"Valossa answered {exc.status_code}"
    except ValossaTransportError as exc:
        if not exc.timed_out:
            raise  # never reached Valossa: nothing happened there
        return CancelAnswer.REQUESTED, "Valossa did not answer in time"
    if reply.job_status == "canceled":
        return CancelAnswer.CANCELED, "canceled"
    return CancelAnswer.REQUESTED, f"Valossa answered job_status {reply.job_status!r}"

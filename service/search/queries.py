"""The SQL of search: resolve the query to labels, names and words, rank media, list matches.

Ranking reads one small row per matching detection, face or (media, word); matches are read
only for the media of the page. Scores are rounded in SQL so the keyset cursor compares the
exact value it was given.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: Labels a query may resolve to (the vocabulary is small; more would be noise).
MAX_LABELS = 50
#: Trigram similarity a misspelt label needs: "airplain" ~ "airplane" is 0.5; "cat" ~ "car"
#: (0.33) and "zeppelin harbour" ~ "harbour" (0.47, one word of two) are not typos.
LABEL_SIMILARITY = 0.5
#: Word similarity a misspelt name needs (for the rest of the transaction, like the above):
#: "hepbrn" in "Audrey Hepburn" is 0.57, "clark" in "Emilia Clarke" 0.83.
NAME_WORD_SIMILARITY = 0.5
#: Matches listed per media.
MATCHES_PER_MEDIA = 50


@dataclass(frozen=True)
class Filters:
    """A search, resolved: what matches, and the filters every match must pass."""

    label_ids: list[int]
    label_weights: list[float]
    lexemes: list[str]
    query: str | None
    type_patterns: list[str] | None
    faces_allowed: bool
    speech_allowed: bool
    min_confidence: float | None
    start: float | None
    end: float | None
    face: str | None

    def bind(self) -> dict[str, Any]:
        return {
            "label_ids": self.label_ids,
            "label_weights": self.label_weights,
            "lexemes": self.lexemes,
            "n_lexemes": len(self.lexemes),
            "q": self.query or "",
            "patterns": self.type_patterns or [],
            "min_c": self.min_confidence,
            "t_from": self.start if self.start is not None else 0.0,
            "t_to": self.end if self.end is not None else 1e12,
            "face": self.face or "",
            "face_pattern": _like_literal(self.face or ""),
        }


def _like_literal(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def resolve_labels(session: AsyncSession, query: str) -> list[tuple[int, str, float]]:
    """Vocabulary labels the query means: full-text (stems, any case) or trigram (typos)."""
    await session.execute(
        text(
            "SELECT set_config('pg_trgm.similarity_threshold', :label, true),"
            " set_config('pg_trgm.word_similarity_threshold', :name, true)"
        ),
        # The operators' thresholds are strict (>), so the index prefilters a little below.
        {"label": str(LABEL_SIMILARITY - 0.05), "name": str(NAME_WORD_SIMILARITY)},
    )
    rows = await session.execute(
        text(
            """
            SELECT id, label,
                   CASE WHEN tsv @@ websearch_to_tsquery('english', :q) THEN 1.0
                        ELSE similarity(label, :q) END AS weight
            FROM search_labels
            WHERE tsv @@ websearch_to_tsquery('english', :q)
               OR (label % :q AND similarity(label, :q) >= :min_similarity)
            ORDER BY weight DESC, id LIMIT :n
            """
        ),
        {"q": query, "n": MAX_LABELS, "min_similarity": LABEL_SIMILARITY},
    )
    return [(int(r.id), str(r.label), float(r.weight)) for r in rows]


async def query_lexemes(session: AsyncSession, query: str) -> list[str]:
    """The query's words as the speech index stores them (English stems, no stop words)."""
    rows = await session.scalars(
        text("SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', :q)) ORDER BY lexeme"),
        {"q": query},
    )
    return list(rows)


_TIME = "o.start_s <= :t_to AND o.end_s >= :t_from"
_CONFIDENCE = "(CAST(:min_c AS real) IS NULL OR {c} IS NULL OR {c} >= :min_c)"
_TYPES = "(cardinality(CAST(:patterns AS text[])) = 0 OR {t} LIKE ANY(CAST(:patterns AS text[])))"
# The same parser and dictionary as query_lexemes: a segment matches when it has every lexeme.
_SPEECH_QUERY = "plainto_tsquery('english', :q)"
_FACE_FILTER = "(f.face_id = :face OR f.name ILIKE :face_pattern)"
_FACE_QUERY = (
    "f.name IS NOT NULL AND (f.name_tsv @@ websearch_to_tsquery('simple', :q) OR :q <% f.name)"
)


def _label_hits(filters: Filters) -> str:
    time_filter = ""
    if filters.start is not None or filters.end is not None:
        time_filter = (
            "AND EXISTS (SELECT 1 FROM search_occurrences o WHERE o.analysis_id = d.analysis_id"
            f" AND o.detection_seq = d.seq AND {_TIME}"
            f" AND {_CONFIDENCE.format(c='o.confidence')})"
        )
    return f"""
        SELECT d.analysis_id, sum(l.weight * coalesce(d.confidence, 0.7)
               * (0.5 + 0.5 * (1 - exp(-coalesce(d.screen_time_s, 0) / 120.0)))) AS score
        FROM unnest(CAST(:label_ids AS int[]), CAST(:label_weights AS float8[])) AS l(id, weight)
        JOIN search_detections d ON d.label_id = l.id
        WHERE {_TYPES.format(t="d.type")} AND {_CONFIDENCE.format(c="d.confidence")} {time_filter}
        GROUP BY d.analysis_id
    """


def _face_hits(filters: Filters, condition: str) -> str:
    time_filter = ""
    if filters.start is not None or filters.end is not None:
        time_filter = (
            "AND EXISTS (SELECT 1 FROM search_occurrences o WHERE o.analysis_id = f.analysis_id"
            f" AND o.detection_seq = f.detection_seq AND {_TIME})"
        )
    return f"""
        SELECT f.analysis_id, sum(1.2 * coalesce(f.similarity, 0.7)
               * (0.5 + 0.5 * (1 - exp(-coalesce(f.visible_s, 0) / 120.0)))) AS score
        FROM search_faces f
        WHERE {condition} AND {_CONFIDENCE.format(c="f.similarity")} {time_filter}
        GROUP BY f.analysis_id
    """


def ranking_sql(filters: Filters, *, after: tuple[Decimal, uuid.UUID] | None) -> str:
    """One page of matching media, best first, strictly after the keyset position `after`."""
    parts = []
    if filters.query:
        if filters.label_ids:
            parts.append(_label_hits(filters))
        if filters.faces_allowed:
            parts.append(_face_hits(filters, _FACE_QUERY))
        if filters.speech_allowed and filters.lexemes:
            parts.append(_speech_hits_sql(filters))
    elif filters.face:
        parts.append(_face_hits(filters, _FACE_FILTER))
    if not parts:
        return ""
    union = " UNION ALL ".join(f"({part})" for part in parts)
    conditions = []
    if filters.face and filters.query:
        conditions.append(
            "EXISTS (SELECT 1 FROM search_faces f WHERE f.analysis_id = s.analysis_id"
            f" AND {_FACE_FILTER})"
        )
    if after is not None:
        conditions.append("(s.score, s.analysis_id) < (CAST(:after_score AS numeric), :after_id)")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"""
        WITH scored AS (
            SELECT analysis_id, round(CAST(sum(score) AS numeric), 6) AS score
            FROM ({union}) AS hits GROUP BY analysis_id
        )
        SELECT s.analysis_id, s.score, m.customer_media_id, m.title
        FROM scored s JOIN search_media m ON m.analysis_id = s.analysis_id
        {where}
        ORDER BY s.score DESC, s.analysis_id DESC
        LIMIT :limit
    """


def _speech_hits_sql(filters: Filters) -> str:
    having = "HAVING count(*) = :n_lexemes"
    time_filter = ""
    if filters.start is not None or filters.end is not None:
        time_filter = (
            "WHERE EXISTS (SELECT 1 FROM search_speech o WHERE o.analysis_id = t.analysis_id"
            f" AND o.tsv @@ {_SPEECH_QUERY} AND {_TIME})"
        )
    return f"""
        SELECT t.analysis_id, t.score FROM (
            SELECT analysis_id, 0.6 * (1 - exp(-sum(hits) / 3.0)) AS score
            FROM search_speech_terms WHERE lexeme = ANY(CAST(:lexemes AS text[]))
            GROUP BY analysis_id {having}
        ) AS t {time_filter}
    """


@dataclass(frozen=True)
class RankedMedia:
    analysis_id: uuid.UUID
    score: Decimal
    customer_media_id: str
    title: str | None


async def rank_media(
    session: AsyncSession,
    filters: Filters,
    *,
    after: tuple[Decimal, uuid.UUID] | None,
    limit: int,
) -> list[RankedMedia]:
    """Up to `limit` matching media, best first."""
    sql = ranking_sql(filters, after=after)
    if not sql:
        return []
    params = {**filters.bind(), "limit": limit}
    if after is not None:
        params.update(after_score=after[0], after_id=after[1])
    rows = await session.execute(text(sql), params)
    return [
        RankedMedia(r.analysis_id, Decimal(r.score), r.customer_media_id, r.title) for r in rows
    ]


def matches_sql(filters: Filters) -> str:
    """Where each media of a page matched: occurrences, video-level detections, segments."""
    parts = []
    time_or_untimed = f"(o.start_s IS NULL OR ({_TIME}))"
    timed = filters.start is not None or filters.end is not None
    if filters.query and filters.label_ids:
        parts.append(f"""
            SELECT d.analysis_id, d.type, d.label, o.start_s, o.end_s,
                   coalesce(o.confidence, d.confidence) AS confidence
            FROM search_detections d
            LEFT JOIN search_occurrences o
                   ON o.analysis_id = d.analysis_id AND o.detection_seq = d.seq
            WHERE d.analysis_id = ANY(CAST(:page AS uuid[]))
              AND d.label_id = ANY(CAST(:label_ids AS int[]))
              AND {_TYPES.format(t="d.type")}
              AND {_CONFIDENCE.format(c="coalesce(o.confidence, d.confidence)")}
              AND {"o.start_s IS NOT NULL AND " + _TIME if timed else time_or_untimed}
        """)
    face_conditions = []
    if filters.query and filters.faces_allowed:
        face_conditions.append(f"({_FACE_QUERY})")
    if filters.face:
        face_conditions.append(_FACE_FILTER)
    if face_conditions:
        parts.append(f"""
            SELECT f.analysis_id, 'human.face' AS type, coalesce(f.name, f.face_id) AS label,
                   o.start_s, o.end_s, f.similarity AS confidence
            FROM search_faces f
            JOIN search_occurrences o
              ON o.analysis_id = f.analysis_id AND o.detection_seq = f.detection_seq
            WHERE f.analysis_id = ANY(CAST(:page AS uuid[]))
              AND ({" OR ".join(face_conditions)}) AND {_TIME}
              AND {_CONFIDENCE.format(c="f.similarity")}
        """)
    if filters.query and filters.speech_allowed and filters.lexemes:
        parts.append(f"""
            SELECT o.analysis_id, 'audio.speech' AS type, o.text AS label,
                   o.start_s, o.end_s, CAST(NULL AS real) AS confidence
            FROM search_speech o
            WHERE o.analysis_id = ANY(CAST(:page AS uuid[]))
              AND o.tsv @@ {_SPEECH_QUERY} AND {_TIME}
        """)
    if not parts:
        return ""
    union = " UNION ALL ".join(f"({part})" for part in parts)
    return f"""
        SELECT analysis_id, type, label, start_s, end_s, confidence FROM (
            SELECT *, row_number() OVER (
                PARTITION BY analysis_id ORDER BY start_s NULLS FIRST, type, label
            ) AS n
            FROM ({union}) AS matched
        ) AS numbered
        WHERE n <= {MATCHES_PER_MEDIA}
        ORDER BY analysis_id, start_s NULLS FIRST, type, label
    """


async def page_matches(
    session: AsyncSession, filters: Filters, page: list[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """The matches of each media in `page`, in time order."""
    sql = matches_sql(filters)
    found: dict[uuid.UUID, list[dict[str, Any]]] = {analysis_id: [] for analysis_id in page}
    if not sql or not page:
        return found
    rows = await session.execute(text(sql), {**filters.bind(), "page": page})
    for r in rows:
        found[r.analysis_id].append(
            {
                "type": r.type,
                "label": r.label,
                "start": _rounded(r.start_s),
                "end": _rounded(r.end_s),
                "confidence": _rounded(r.confidence),
            }
        )
    return found


def _rounded(value: float | None) -> float | None:
    return round(float(value), 3) if value is not None else None

"""human.face and human.face_group detections, with gallery identities as similar_to matches."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence

from service.emulator.metadata.concepts import confidence
from service.emulator.metadata.document import CoreBuilder, Occ
from service.emulator.metadata.inputs import GalleryFace


def add_faces(builder: CoreBuilder, gallery_faces: Sequence[GalleryFace]) -> list[str]:
    """Add faces, most prominent first (ids in that order, as in real files); return their ids."""
    rng, shots = builder.rng, builder.shots.items
    n_faces = max(len(gallery_faces), min(60, round(3 + builder.duration_s / 110)))
    weights = [1 / (rank + 1) ** 1.2 for rank in range(n_faces)]
    appearances: dict[int, list[Occ]] = defaultdict(list)
    for index, shot in enumerate(shots):
        # Every face shows up at least once, even in a clip with fewer shots than faces.
        present = set(range(index, n_faces, len(shots)))
        # About one face on screen at a time, prominent faces far more often.
        present.update(
            rng.choices(range(n_faces), weights)[0] for _ in range(rng.choice((0, 1, 1, 2)))
        )
        for face in sorted(present):
            appearances[face].append(_within(shot["ss"], shot["se"], builder))
    ranked = sorted(appearances, key=lambda f: -sum(o.se - o.ss for o in appearances[f]))
    det_ids = []
    for rank, face in enumerate(ranked):
        occs = appearances[face]
        total = sum(o.se - o.ss for o in occs)
        attributes: dict[str, object] = {
            "gender": {"value": rng.choice(("female", "male")), "c": confidence(rng)},
            "s_visible": round(total * rng.uniform(0.85, 1.0), 3),
        }
        if rank < len(gallery_faces):
            attributes.update(_similar_to(gallery_faces[rank], confidence(rng, low=0.75)))
        det_ids.append(builder.add("human.face", "face", occs, prominence=total, a=attributes))
    return det_ids


def _within(ss: float, se: float, builder: CoreBuilder) -> Occ:
    # A face shows up a little after the cut and leaves a little before the next one.
    rng = builder.rng
    length = se - ss
    start = ss + length * rng.uniform(0, 0.15)
    end = se - length * rng.uniform(0, 0.15)
    return Occ(round(start, 3), round(min(max(end, start), builder.duration_s), 3))


def _similar_to(face: GalleryFace, c: float) -> dict[str, object]:
    # "name" is always a string, "" for a nameless identity: Valossa's reference parser reads
    # similar_to[0]["name"] in most of its commands and matches names as strings.
    match: dict[str, object] = {
        "c": c,
        "name": face.name or "",
        "gallery": {"id": face.gallery_id},
        "gallery_face": {"id": face.face_id, "name": face.name},
    }
    attributes: dict[str, object] = {"similar_to": [match]}
    if face.gender is not None:
        attributes["gender"] = {"value": face.gender, "c": c}
    return attributes


def add_face_groups(builder: CoreBuilder, face_ids: Sequence[str]) -> None:
    """Groups of faces seen together, with the unrounded times real face groups have."""
    together: dict[tuple[str, str], list[Occ]] = defaultdict(list)
    by_shot: dict[int, list[tuple[str, float, float]]] = defaultdict(list)
    for det_id in face_ids:
        for occ in builder.detections[det_id]["occs"]:
            by_shot[occ["shs"]].append((det_id, occ["ss"], occ["se"]))
    for shot_faces in by_shot.values():
        for (a, a_ss, a_se), (b, b_ss, b_se) in itertools.combinations(shot_faces, 2):
            ss, se = max(a_ss, b_ss), min(a_se, b_se)
            if se - ss > 0.5:
                together[(a, b)].append(
                    Occ(ss + builder.rng.random() / 997, se - builder.rng.random() / 991)
                )
    ranked = sorted(together.items(), key=lambda item: -len(item[1]))
    for pair, occs in ranked[: max(1, len(face_ids) // 4)]:
        duration = sum(o.se - o.ss for o in occs)
        builder.add(
            "human.face_group",
            "face group",
            occs,
            prominence=duration,
            a={"face_det_ids": list(pair)},
        )

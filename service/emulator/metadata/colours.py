"""visual.color: the dominant colours of each second, read from the picture.

Valossa documents one visual.color detection with a single occurrence and the colours in
by_second as RGB hex strings; the key names are not public. Ours: each by_second entry of the
detection carries `"a": {"colors": [{"rgb": "rrggbb", "f": share}, ...]}`, largest share first.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.emulator.content import Colour
from service.emulator.metadata.document import CoreBuilder, Occ

LABEL = "dominant colors"


def add_colours(builder: CoreBuilder, colours: Sequence[Sequence[Colour]]) -> None:
    """One visual.color detection over the whole video, its colours per second."""
    if not any(colours):
        return
    det_id = builder.add("visual.color", LABEL, [Occ(0.0, builder.duration_s)])
    builder.second_attributes[det_id] = [
        {"colors": [{"rgb": rgb, "f": share} for rgb, share in second]} if second else {}
        for second in colours
    ]

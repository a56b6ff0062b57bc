from __future__ import annotations

import base64
import hashlib
import re

from fpvsync.ids import record_id


def test_record_id_is_stable_documented_and_fits_pocketbase_pattern() -> None:
    guid = "3f1a2b4c-0000-4000-8000-00000000abcd"
    assert record_id(guid) == record_id(guid, "fpvtrackside")
    assert re.fullmatch(r"[a-z0-9]{15}", record_id(guid))
    # Pinned: front ends and existing databases rely on this exact value never changing.
    assert record_id("00000001-0000-0000-0000-000000000000") == "l7pt2haw7wj3ekv"


def test_record_id_depends_on_source_and_id() -> None:
    assert record_id("a") != record_id("b")
    assert record_id("a", "fpvtrackside") != record_id("a", "other")


def test_record_id_follows_the_documented_formula() -> None:
    # The formula front ends are told to use, computed from the whole digest, for many kinds of source ids.
    for source_id in ["", "a", "ü-ñ", *(f"{n:08x}-0000-4000-8000-{n * 7919:012x}" for n in range(2000))]:
        digest = hashlib.sha256(f"fpvtrackside\x00{source_id}".encode()).digest()
        assert record_id(source_id) == base64.b32encode(digest).decode("ascii").lower()[:15]

"""Record identity: every PocketBase id is computed from ``(source, sourceId)``.

Computing ids instead of looking them up makes every upsert, and every relation to a parent, known before anything
is written: a batch can hold a parent and its children, and rerunning a sync can never create a duplicate.

The function is part of fpvsync's contract (front ends may compute ids themselves)::

    id = base32(sha256(source + "\\x00" + sourceId)).lower()[:15]

15 characters of ``[a-z2-7]``, which fits PocketBase's default id pattern ``^[a-z0-9]{15}$``.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

SOURCE = "fpvtrackside"


@lru_cache(maxsize=65536)
def record_id(source_id: str, source: str = SOURCE) -> str:
    """The PocketBase record id of the record with this ``(source, sourceId)``."""
    digest = hashlib.sha256(f"{source}\x00{source_id}".encode()).digest()
    # Base32 turns each 5 bytes into 8 characters on their own: the first 10 bytes give the first 16 characters of
    # the whole digest's encoding, at a third of the cost (ids are computed for every record of every run).
    return base64.b32encode(digest[:10]).decode("ascii")[:15].lower()

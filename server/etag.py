"""Entity tags of bodies, and conditional GET (RFC 9110 §8.8.3, §13.1.2)."""

from __future__ import annotations

import hashlib


def etag(body: bytes) -> str:
    """A strong tag: the same bytes give the same tag in every process and after restarts."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether an If-None-Match header matches `tag` (weak comparison, as the RFC asks)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(candidate.strip().removeprefix("W/") == tag for candidate in if_none_match.split(","))

"""Group specs as the cluster stores them, and group keys as text.

A spec (``backend/hub/specs.py``, ``backend/tracker/groups.py``) is a small frozen dataclass with a
``kind``; :class:`SpecCodec` writes it as JSON with that kind (``{"kind": "live", "sport_id": "1"}``)
and reads it back, for the service whose spec classes it was given -- the edge admits a group with
its spec, the leader builds the real group from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable
from typing import Any

import msgspec


def key_text(key: Hashable) -> str:
    """``("competition", "live:538")`` -> ``"competition:live:538"`` (a Redis key part)."""
    return ":".join(str(part) for part in key) if isinstance(key, tuple) else str(key)


class SpecCodec:
    def __init__(self, classes: Iterable[type]) -> None:
        self._classes = {cls.kind: cls for cls in classes}  # type: ignore[attr-defined]

    def encode(self, spec: Any) -> bytes:
        return msgspec.json.encode({"kind": type(spec).kind, **dataclasses.asdict(spec)})

    def decode(self, data: bytes) -> Any:
        fields = msgspec.json.decode(data)
        cls = self._classes[fields.pop("kind")]
        return cls(**fields)

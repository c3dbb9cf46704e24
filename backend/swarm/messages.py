"""Typed Swarm frames at the edge (docs/design.md principle 4).

The Swarm protocol is JSON over WebSocket. Outgoing requests are ``{"command", "params", "rid"}``;
every incoming frame is ``{"code", "rid", "data", "msg"?}``. A frame whose ``rid`` is ``0`` (or
``"0"``) is a subscription push: ``data`` maps subid to a delta. Anything else is the reply to the
request with that rid.

Result codes are shared by the hub and the embedded simulator so both sides agree on meaning.
"""

from __future__ import annotations

from typing import Any

import msgspec

# Result codes. 0 is success; the rest are errors the hub tells apart.
CODE_OK = 0
CODE_BAD_REQUEST = 2  # malformed command, params, ``what`` or ``where``
CODE_UNKNOWN_COMMAND = 3
CODE_NO_SUCH_SUBSCRIPTION = 4  # unsubscribe of a subid this session does not hold
CODE_SESSION_LOST = 5  # no session on this connection (never requested, or expired): request a new one
CODE_TOO_MANY_SUBSCRIPTIONS = 6
CODE_INTERNAL = 99


class Request(msgspec.Struct, omit_defaults=True):
    command: str
    params: dict[str, Any]
    rid: str


class Frame(msgspec.Struct):
    """One incoming frame; ``rid`` 0 marks a subscription push."""

    data: Any = None
    rid: str | int | None = None
    code: int | None = None
    msg: str | None = None

    @property
    def is_push(self) -> bool:
        return self.rid == 0 or self.rid == "0"


FRAME_DECODER = msgspec.json.Decoder(Frame)
REQUEST_ENCODER = msgspec.json.Encoder()

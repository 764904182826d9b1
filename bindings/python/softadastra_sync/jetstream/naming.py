"""Where a node's frames live in JetStream: the stream's subjects, one subject per origin, and
each node's durable consumer name.

A node id may hold characters that NATS gives a meaning to in a subject or a consumer name
(``.`` separates tokens, ``*`` and ``>`` are wildcards) or that some clients refuse (anything
outside printable ASCII). Such bytes are written ``~XX`` (hex), and ``~`` itself too, so the
mapping is one-to-one: two node ids never share a subject or a consumer.
"""

from __future__ import annotations

#: Bytes kept as they are in a subject token or a consumer name.
_PLAIN = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


def escape_token(node_id: str) -> str:
    """``node_id`` as one subject token (and a valid consumer name): plain letters, digits,
    ``-`` and ``_`` kept, every other byte of its UTF-8 written ``~XX``."""
    return "".join(
        chr(byte) if byte in _PLAIN else f"~{byte:02X}" for byte in node_id.encode("utf-8")
    )


def origin_subject(prefix: str, node_id: str) -> str:
    """The subject ``node_id`` publishes its operations frames to."""
    return f"{prefix}.ops.{escape_token(node_id)}"


def all_origins_subject(prefix: str) -> str:
    """The subject filter matching every origin's frames (the stream's subjects)."""
    return f"{prefix}.ops.>"


def consumer_name(node_id: str) -> str:
    """The durable consumer through which ``node_id`` reads the other origins' frames."""
    return f"sync-{escape_token(node_id)}"

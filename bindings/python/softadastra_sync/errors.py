"""Exceptions: :class:`SyncError` and one subclass per ``sa_status`` error code.

Every failing C call raises the subclass of its status, carrying the message the library gave
(``sa_last_error_message()``, read right after the call, on the same thread). Checks the
bindings make before calling C (a closed handle, a NUL inside a string, an integer that does
not fit its C type) raise the same classes with the status the library uses for that kind of
bad input. Wrong Python types raise :class:`TypeError` instead.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Dict, Type

__all__ = [
    "Status",
    "SyncError",
    "InvalidArgumentError",
    "InvalidContextError",
    "InvalidNodeIdError",
    "InvalidOperationError",
    "InvalidRemoteOperationError",
    "NotFoundError",
    "QueueFailedError",
    "RetryFailedError",
    "ConflictError",
    "StoreApplyError",
    "AckTrackingError",
    "CapacityExceededError",
    "SyncIOError",
    "CorruptError",
    "InternalError",
    "InUseError",
    "MalformedFrameError",
]


class Status(IntEnum):
    """``sa_status`` codes (``SA_OK``, ``SA_ERR_*``)."""

    OK = 0
    INVALID_ARGUMENT = 1
    INVALID_CONTEXT = 2
    INVALID_NODE_ID = 3
    INVALID_OPERATION = 4
    INVALID_REMOTE_OPERATION = 5
    NOT_FOUND = 6
    QUEUE_FAILED = 7
    RETRY_FAILED = 8
    CONFLICT = 9
    STORE_APPLY = 10
    ACK_TRACKING = 11
    CAPACITY_EXCEEDED = 12
    IO = 13
    CORRUPT = 14
    INTERNAL = 15
    IN_USE = 16
    MALFORMED_FRAME = 17

    @property
    def c_name(self) -> str:
        """The C name of the code, as ``sa_status_str`` gives it (``"SA_ERR_NOT_FOUND"``)."""
        return "SA_OK" if self is Status.OK else f"SA_ERR_{self.name}"


class SyncError(Exception):
    """Base of every error the library reports.

    Attributes:
        status: the :class:`Status` code (an ``int``; a code unknown to these bindings stays a
            plain ``int``).
        message: the library's message, e.g. ``"sync operation not found: node-a-42"``.
    """

    #: The status of this class (the base class has none of its own).
    STATUS: int = -1

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        try:
            self.status: int = Status(status)
        except ValueError:
            self.status = status
        self.message: str = message

    @property
    def code(self) -> int:
        """The status code as a plain ``int``."""
        return int(self.status)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        name = self.status.c_name if isinstance(self.status, Status) else str(self.status)
        return f"{type(self).__name__}({name}, {self.message!r})"


class InvalidArgumentError(SyncError):
    """``SA_ERR_INVALID_ARGUMENT``: a NULL (closed) handle, or an argument out of range."""

    STATUS = Status.INVALID_ARGUMENT


class InvalidContextError(SyncError):
    """``SA_ERR_INVALID_CONTEXT``: no engine from this store and config (field named)."""

    STATUS = Status.INVALID_CONTEXT


class InvalidNodeIdError(SyncError):
    """``SA_ERR_INVALID_NODE_ID``: empty, too long, not UTF-8, whitespace or control chars."""

    STATUS = Status.INVALID_NODE_ID


class InvalidOperationError(SyncError):
    """``SA_ERR_INVALID_OPERATION``: a local operation was refused; nothing changed."""

    STATUS = Status.INVALID_OPERATION


class InvalidRemoteOperationError(SyncError):
    """``SA_ERR_INVALID_REMOTE_OPERATION``: a remote operation was refused; store untouched."""

    STATUS = Status.INVALID_REMOTE_OPERATION


class NotFoundError(SyncError):
    """``SA_ERR_NOT_FOUND``: no such sync operation."""

    STATUS = Status.NOT_FOUND


class QueueFailedError(SyncError):
    """``SA_ERR_QUEUE_FAILED``: the operation cannot be queued in its current status."""

    STATUS = Status.QUEUE_FAILED


class RetryFailedError(SyncError):
    """``SA_ERR_RETRY_FAILED``: the operation cannot be retried in its current status."""

    STATUS = Status.RETRY_FAILED


class ConflictError(SyncError):
    """``SA_ERR_CONFLICT``: conflict resolution could not decide safely."""

    STATUS = Status.CONFLICT


class StoreApplyError(SyncError):
    """``SA_ERR_STORE_APPLY``: the store rejected a write."""

    STATUS = Status.STORE_APPLY


class AckTrackingError(SyncError):
    """``SA_ERR_ACK_TRACKING``: ACK tracking refused the request (e.g. an empty sync id)."""

    STATUS = Status.ACK_TRACKING


class CapacityExceededError(SyncError):
    """``SA_ERR_CAPACITY_EXCEEDED``: the outbox is full; nothing was written."""

    STATUS = Status.CAPACITY_EXCEEDED


class SyncIOError(SyncError):
    """``SA_ERR_IO``: a WAL read, write or sync failed."""

    STATUS = Status.IO


class CorruptError(SyncError):
    """``SA_ERR_CORRUPT``: the WAL holds damaged data that is not a torn tail."""

    STATUS = Status.CORRUPT


class InUseError(SyncError):
    """``SA_ERR_IN_USE``: another store handle (this process or another) has the WAL open."""

    STATUS = Status.IN_USE


class InternalError(SyncError):
    """``SA_ERR_INTERNAL``: a bug in the library (a caught panic); the handle stays usable."""

    STATUS = Status.INTERNAL


class MalformedFrameError(SyncError):
    """``SA_ERR_MALFORMED_FRAME``: received bytes are not a valid frame (truncated, bad magic,
    unknown format version, bad tag or length, trailing bytes, ...); nothing was applied."""

    STATUS = Status.MALFORMED_FRAME


_BY_STATUS: Dict[int, Type[SyncError]] = {
    int(cls.STATUS): cls
    for cls in (
        InvalidArgumentError,
        InvalidContextError,
        InvalidNodeIdError,
        InvalidOperationError,
        InvalidRemoteOperationError,
        NotFoundError,
        QueueFailedError,
        RetryFailedError,
        ConflictError,
        StoreApplyError,
        AckTrackingError,
        CapacityExceededError,
        SyncIOError,
        CorruptError,
        InternalError,
        InUseError,
        MalformedFrameError,
    )
}


def error_for(status: int, message: str) -> SyncError:
    """The exception for ``status`` (:class:`SyncError` itself for an unknown code)."""
    return _BY_STATUS.get(status, SyncError)(status, message)


def make(cls: Type[SyncError], message: str) -> SyncError:
    """An exception of class ``cls`` raised by the bindings themselves (no C call made)."""
    return cls(cls.STATUS, message)

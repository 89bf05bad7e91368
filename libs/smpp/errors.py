"""The errors raised by the SMPP layer.

Callers decide what to do by one attribute, ``retryable``, and only look at
the subclass when they need the details::

    SmppError (retryable: bool)
    ├── SmppStatusError (command_status)     the peer answered with a non-OK status
    │   └── SmppBindError                    the bind was refused
    ├── SmppConnectionError                  no connection, or it dropped (retryable)
    │   └── SmppTimeoutError                 no response within the configured time
    └── SmppPduError (command_status)        a malformed PDU (not retryable)
        └── SmppFramingError                 bad command_length: the stream is lost

A submit that fails with ``SmppConnectionError`` may still have reached the
SMSC (the response, not the request, was lost): resending it is the
at-least-once window, and the caller owns that decision.
"""

from __future__ import annotations

from libs.smpp.status import CREDENTIAL_STATUSES, RETRYABLE_STATUSES, status_name


class SmppError(Exception):
    """Base of every SMPP error; ``retryable`` says whether trying again can help."""

    retryable: bool = False


class SmppStatusError(SmppError):
    """The peer answered a request with ``command_status`` other than ESME_ROK."""

    def __init__(self, command_status: int, message: str = "") -> None:
        self.command_status = command_status
        self.retryable = command_status in RETRYABLE_STATUSES
        text = f"{status_name(command_status)} (0x{command_status:02X})"
        super().__init__(f"{message}: {text}" if message else text)


class SmppBindError(SmppStatusError):
    """The SMSC refused the bind; wrong credentials are not retryable."""

    def __init__(self, command_status: int, message: str = "bind refused") -> None:
        super().__init__(command_status, message)
        # Anything but a credentials problem (e.g. too many binds, SMSC busy)
        # may clear up on its own.
        self.retryable = command_status not in CREDENTIAL_STATUSES


class SmppConnectionError(SmppError):
    """The connection is down, could not be made, or dropped mid-request."""

    retryable = True


class SmppTimeoutError(SmppConnectionError):
    """The peer did not answer in time; the request may or may not have been applied."""


class SmppPduError(SmppError):
    """A PDU could not be decoded; ``command_status`` is what to answer in a generic_nack."""

    def __init__(self, message: str, command_status: int, sequence_number: int = 0) -> None:
        super().__init__(message)
        self.command_status = command_status
        self.sequence_number = sequence_number


class SmppFramingError(SmppPduError):
    """The length prefix is impossible; the byte stream cannot be resynchronised."""

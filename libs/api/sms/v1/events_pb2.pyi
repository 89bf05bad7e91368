from libs.api.events.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_ACCEPTED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_SCHEDULED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_QUEUED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_SENDING: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_SENT: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_DELIVERED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_UNDELIVERED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_FAILED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_CANCELED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_PARTIALLY_DELIVERED: _ClassVar[EventType]
    EVENT_TYPE_MESSAGE_RECEIVED: _ClassVar[EventType]
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_MESSAGE_ACCEPTED: EventType
EVENT_TYPE_MESSAGE_SCHEDULED: EventType
EVENT_TYPE_MESSAGE_QUEUED: EventType
EVENT_TYPE_MESSAGE_SENDING: EventType
EVENT_TYPE_MESSAGE_SENT: EventType
EVENT_TYPE_MESSAGE_DELIVERED: EventType
EVENT_TYPE_MESSAGE_UNDELIVERED: EventType
EVENT_TYPE_MESSAGE_FAILED: EventType
EVENT_TYPE_MESSAGE_CANCELED: EventType
EVENT_TYPE_MESSAGE_PARTIALLY_DELIVERED: EventType
EVENT_TYPE_MESSAGE_RECEIVED: EventType

class SubmitMessage(_message.Message):
    __slots__ = ("message_id", "tenant_id", "sender", "recipient", "body", "trace_context")
    class TraceContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    tenant_id: str
    sender: str
    recipient: str
    body: str
    trace_context: _containers.ScalarMap[str, str]
    def __init__(self, message_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., sender: _Optional[str] = ..., recipient: _Optional[str] = ..., body: _Optional[str] = ..., trace_context: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SubmitMessages(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[SubmitMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[SubmitMessage, _Mapping]]] = ...) -> None: ...

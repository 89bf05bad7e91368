import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from libs.api.sms.v1 import sms_pb2 as _sms_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageStatusChanged(_message.Message):
    __slots__ = ("message", "transition")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRANSITION_FIELD_NUMBER: _ClassVar[int]
    message: _sms_pb2.Message
    transition: _sms_pb2.StatusTransition
    def __init__(self, message: _Optional[_Union[_sms_pb2.Message, _Mapping]] = ..., transition: _Optional[_Union[_sms_pb2.StatusTransition, _Mapping]] = ...) -> None: ...

class MessageReceived(_message.Message):
    __slots__ = ("message", "received_at")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    message: _sms_pb2.Message
    received_at: _timestamp_pb2.Timestamp
    def __init__(self, message: _Optional[_Union[_sms_pb2.Message, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

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

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from libs.api.events.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NumberType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NUMBER_TYPE_UNSPECIFIED: _ClassVar[NumberType]
    NUMBER_TYPE_PHONE_NUMBER: _ClassVar[NumberType]
    NUMBER_TYPE_ALPHANUMERIC_SENDER_ID: _ClassVar[NumberType]

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_NUMBER_ASSIGNED: _ClassVar[EventType]
    EVENT_TYPE_NUMBER_UPDATED: _ClassVar[EventType]
    EVENT_TYPE_NUMBER_RELEASED: _ClassVar[EventType]
NUMBER_TYPE_UNSPECIFIED: NumberType
NUMBER_TYPE_PHONE_NUMBER: NumberType
NUMBER_TYPE_ALPHANUMERIC_SENDER_ID: NumberType
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_NUMBER_ASSIGNED: EventType
EVENT_TYPE_NUMBER_UPDATED: EventType
EVENT_TYPE_NUMBER_RELEASED: EventType

class Number(_message.Message):
    __slots__ = ("id", "tenant_id", "address", "type", "sms_url", "voice_url", "voice_fallback_url", "status_callback", "sequence", "assigned_at_unix_ms", "released", "public_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    SMS_URL_FIELD_NUMBER: _ClassVar[int]
    VOICE_URL_FIELD_NUMBER: _ClassVar[int]
    VOICE_FALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    STATUS_CALLBACK_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    tenant_id: str
    address: str
    type: NumberType
    sms_url: str
    voice_url: str
    voice_fallback_url: str
    status_callback: str
    sequence: int
    assigned_at_unix_ms: int
    released: bool
    public_json: bytes
    def __init__(self, id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., address: _Optional[str] = ..., type: _Optional[_Union[NumberType, str]] = ..., sms_url: _Optional[str] = ..., voice_url: _Optional[str] = ..., voice_fallback_url: _Optional[str] = ..., status_callback: _Optional[str] = ..., sequence: _Optional[int] = ..., assigned_at_unix_ms: _Optional[int] = ..., released: _Optional[bool] = ..., public_json: _Optional[bytes] = ...) -> None: ...

class AssignNumberRequest(_message.Message):
    __slots__ = ("tenant_id", "address")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    address: str
    def __init__(self, tenant_id: _Optional[str] = ..., address: _Optional[str] = ...) -> None: ...

class NumberRequest(_message.Message):
    __slots__ = ("tenant_id", "id")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    id: str
    def __init__(self, tenant_id: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class ListNumbersRequest(_message.Message):
    __slots__ = ("tenant_id", "page_size", "page_token")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    page_size: int
    page_token: str
    def __init__(self, tenant_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNumbersResponse(_message.Message):
    __slots__ = ("numbers", "next_page_token")
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    numbers: _containers.RepeatedCompositeFieldContainer[Number]
    next_page_token: str
    def __init__(self, numbers: _Optional[_Iterable[_Union[Number, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class NumberFields(_message.Message):
    __slots__ = ("sms_url", "voice_url", "voice_fallback_url", "status_callback")
    SMS_URL_FIELD_NUMBER: _ClassVar[int]
    VOICE_URL_FIELD_NUMBER: _ClassVar[int]
    VOICE_FALLBACK_URL_FIELD_NUMBER: _ClassVar[int]
    STATUS_CALLBACK_FIELD_NUMBER: _ClassVar[int]
    sms_url: str
    voice_url: str
    voice_fallback_url: str
    status_callback: str
    def __init__(self, sms_url: _Optional[str] = ..., voice_url: _Optional[str] = ..., voice_fallback_url: _Optional[str] = ..., status_callback: _Optional[str] = ...) -> None: ...

class UpdateNumberRequest(_message.Message):
    __slots__ = ("tenant_id", "id", "number", "update_mask")
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    tenant_id: str
    id: str
    number: NumberFields
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, tenant_id: _Optional[str] = ..., id: _Optional[str] = ..., number: _Optional[_Union[NumberFields, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class ResolveNumbersRequest(_message.Message):
    __slots__ = ("addresses",)
    ADDRESSES_FIELD_NUMBER: _ClassVar[int]
    addresses: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, addresses: _Optional[_Iterable[str]] = ...) -> None: ...

class ResolveNumbersResponse(_message.Message):
    __slots__ = ("numbers",)
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    numbers: _containers.RepeatedCompositeFieldContainer[Number]
    def __init__(self, numbers: _Optional[_Iterable[_Union[Number, _Mapping]]] = ...) -> None: ...

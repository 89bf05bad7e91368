"""Every domain error crosses gRPC and comes back as itself, with its details."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from libs import errors
from libs.api.sms.v1 import sms_pb2, sms_pb2_grpc
from libs.grpc.client import open_channel
from libs.grpc.config import GrpcClientConfig, GrpcServerConfig
from libs.grpc.errors import CODES, from_rpc_error
from libs.grpc.server import RunningServer, start_server
from tests.helpers.infra import free_port


def _all_domain_errors() -> list[type[errors.OmnigateError]]:
    found: list[type[errors.OmnigateError]] = []
    todo = [errors.OmnigateError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__ == errors.__name__:
                found.append(sub)
                todo.append(sub)
    return found


def test_every_domain_error_has_a_grpc_code() -> None:
    assert set(_all_domain_errors()) <= set(CODES)


class _Raising(sms_pb2_grpc.SmsServiceServicer):
    def __init__(self) -> None:
        self.error: Exception = errors.Internal("unset")

    async def GetMessage(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802
        raise self.error


@pytest.fixture
async def server() -> AsyncIterator[tuple[RunningServer, _Raising]]:
    servicer = _Raising()
    running = await start_server(
        GrpcServerConfig(port=0),
        lambda s: sms_pb2_grpc.add_SmsServiceServicer_to_server(servicer, s),
    )
    yield running, servicer
    await running.stop(0)


def _example(cls: type[errors.OmnigateError]) -> errors.OmnigateError:
    if cls is errors.InvalidArgument:
        return errors.InvalidArgument("to: bad", (errors.FieldViolation("to", "bad"),))
    if cls is errors.ResourceExhausted:
        return errors.ResourceExhausted("slow down", retry_after_s=2.5)
    return cls(f"{cls.__name__} happened")


@pytest.mark.parametrize("cls", _all_domain_errors(), ids=lambda c: c.__name__)
async def test_domain_error_round_trips_through_grpc(
    server: tuple[RunningServer, _Raising], cls: type[errors.OmnigateError]
) -> None:
    running, servicer = server
    servicer.error = _example(cls)
    channel = open_channel(GrpcClientConfig(target=f"127.0.0.1:{running.port}", timeout_s=5))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await sms_pb2_grpc.SmsServiceStub(channel).GetMessage(sms_pb2.GetMessageRequest())
    finally:
        await channel.close()
    back = from_rpc_error(caught.value)
    assert type(back) is cls
    assert back.detail == servicer.error.args[0]
    if isinstance(back, errors.InvalidArgument):
        assert back.violations == (errors.FieldViolation("to", "bad"),)
    if isinstance(back, errors.ResourceExhausted):
        assert back.retry_after_s == 2.5


async def test_an_unexpected_exception_is_an_internal_error_without_its_text(
    server: tuple[RunningServer, _Raising],
) -> None:
    running, servicer = server
    servicer.error = RuntimeError("secret database password in here")
    channel = open_channel(GrpcClientConfig(target=f"127.0.0.1:{running.port}"))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await sms_pb2_grpc.SmsServiceStub(channel).GetMessage(sms_pb2.GetMessageRequest())
    finally:
        await channel.close()
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (caught.value.details() or "")


@pytest.mark.parametrize("cls", _all_domain_errors(), ids=lambda c: c.__name__)
def test_domain_error_round_trips_through_a_per_item_status(
    cls: type[errors.OmnigateError],
) -> None:
    from libs.grpc.errors import from_status_proto, to_status_proto

    original = _example(cls)
    back = from_status_proto(to_status_proto(original))
    assert type(back) is cls
    assert back.detail == original.detail
    if isinstance(back, errors.InvalidArgument):
        assert back.violations == (errors.FieldViolation("to", "bad"),)
    if isinstance(back, errors.ResourceExhausted):
        assert back.retry_after_s == 2.5


async def test_a_service_that_cannot_be_reached_is_an_outage() -> None:
    """UNAVAILABLE that no service said (nothing answered) is an Outage, to be waited out;
    one a service answered stays the domain's Unavailable (the round trip above)."""
    channel = open_channel(GrpcClientConfig(target=f"127.0.0.1:{free_port()}", timeout_s=2))
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await sms_pb2_grpc.SmsServiceStub(channel).GetMessage(sms_pb2.GetMessageRequest())
    finally:
        await channel.close()
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert isinstance(from_rpc_error(caught.value), errors.Outage)

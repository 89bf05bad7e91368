"""Build a service's gRPC server: health checking, reflection, interceptors, graceful stop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from libs.grpc.config import GrpcServerConfig
from libs.grpc.interceptors import ServerInterceptor


@dataclass(slots=True)
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    service_names: tuple[str, ...]

    async def stop(self, grace_s: float) -> None:
        """Report NOT_SERVING first (so balancers move away), then drain in-flight calls.

        Every status the servicer holds turns NOT_SERVING and stays so: a late
        ``set`` (e.g. a health check still running) cannot report SERVING again.
        """
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace_s)


Register = Callable[[grpc.aio.Server], None]


@dataclass(slots=True)
class _Registrar:
    """The server as ``register`` sees it: what it adds is added, and its services named.

    Health and reflection then list exactly the services registered, with no
    second list of names to keep in step with the servicers.
    """

    server: grpc.aio.Server
    names: list[str] = field(default_factory=list)

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        for handler in handlers:
            if isinstance(handler, grpc.ServiceRpcHandler) and handler.service_name():
                name = handler.service_name()
                if name not in self.names:
                    self.names.append(name)
        self.server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: object) -> None:
        self.server.add_registered_method_handlers(service, handlers)


async def start_server(config: GrpcServerConfig, register: Register | None = None) -> RunningServer:
    """Start a server with ``register`` adding the servicers (none: health and reflection only).

    Binds port 0 in tests (``RunningServer.port`` says which it got).
    """
    server = grpc.aio.server(
        interceptors=[ServerInterceptor()],
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.max_receive_message_length", 4 * 1024 * 1024),
            ("grpc.max_connection_age_ms", int(config.max_connection_age_s * 1000)),
            # Calls in flight when the age is reached finish on the old connection
            # (30 s: longer than any caller's deadline, 5 s by default).
            ("grpc.max_connection_age_grace_ms", int(max(config.grace_s, 30.0) * 1000)),
        ],
    )
    registrar = _Registrar(server)
    if register is not None:
        register(registrar)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = tuple(registrar.names)
    reflection.enable_server_reflection(
        (
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    port = server.add_insecure_port(f"{config.host}:{config.port}")
    if port == 0:
        raise OSError(f"cannot bind gRPC on {config.host}:{config.port}")
    await server.start()
    for name in (*names, ""):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return RunningServer(server, port, health_servicer, names)

"""One runtime for every service process (see ``service`` and ``parts``)."""

from libs.runtime.parts import Runtime
from libs.runtime.process import GC_THRESHOLDS, tune_gc
from libs.runtime.service import Service, StartFailed
from libs.runtime.settings import (
    ProcessSettings,
    bus,
    database,
    grpc_client,
    grpc_server,
    health_server,
    numbers_client,
)

__all__ = [
    "GC_THRESHOLDS",
    "ProcessSettings",
    "Runtime",
    "Service",
    "StartFailed",
    "bus",
    "database",
    "grpc_client",
    "grpc_server",
    "health_server",
    "numbers_client",
    "tune_gc",
]

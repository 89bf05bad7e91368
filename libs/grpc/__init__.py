"""gRPC bootstrap shared by every service: server, client channel, error mapping, tracing."""

"""Krake's API server: storage, the registry of kinds, gRPC services and the HTTP gateway."""

"""gRPC services: one generic handler per proto service, built from its descriptor."""

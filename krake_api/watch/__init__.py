"""The watch cache (one store watch per kind) and the client streams fed by it."""

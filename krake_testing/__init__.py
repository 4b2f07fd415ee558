"""Helpers for tests and benchmarks: real etcd servers on loopback ports."""

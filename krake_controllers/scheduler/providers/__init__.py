"""Metrics providers: one fetch function per `MetricsProvider.Spec` type (table.py),
and a per-(provider, metric) TTL cache in front of them (cache.py)."""

"""The Prometheus provider against a real Prometheus (Debian's `prometheus`
package) scraping a tiny exporter this test serves. Skipped when no `prometheus`
binary is on PATH (CI only pip-installs; the HTTP fake in krake_testing.metrics
stands in there, see test_providers.py)."""

from __future__ import annotations

import asyncio
import pathlib
import shutil
import subprocess
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from krake.core.v1 import core_pb2
from krake_controllers.scheduler.providers.base import MetricFailure
from krake_controllers.scheduler.providers.cache import Fetcher
from krake_testing.api import free_port

BINARY = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(BINARY is None, reason="no prometheus binary on PATH")
DEADLINE = 60.0


@pytest.fixture
async def exporter() -> AsyncIterator[str]:
    """HOST:PORT of a text-format exporter of `krake_heat_demand 0.25`."""

    async def metrics(request: web.Request) -> web.Response:
        text = "# TYPE krake_heat_demand gauge\nkrake_heat_demand 0.25\n"
        return web.Response(text=text, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"{host}:{port}"
    await runner.cleanup()


@pytest.fixture
async def prometheus(tmp_path: pathlib.Path, exporter: str) -> AsyncIterator[str]:
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n  - job_name: krake\n    static_configs:\n"
        f"      - targets: ['{exporter}']\n"
    )
    address = f"127.0.0.1:{free_port()}"
    assert BINARY is not None
    process = subprocess.Popen(
        [
            BINARY,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={address}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://{address}"
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)


async def test_a_scraped_value_is_read_through_the_query_api(prometheus: str) -> None:
    source = core_pb2.MetricsProvider(kind="MetricsProvider")
    source.metadata.name = "real"
    source.spec.prometheus.url = prometheus
    fetcher = Fetcher(ttl=0.0, timeout=2.0)
    try:
        async with asyncio.timeout(DEADLINE):
            while True:  # until Prometheus listens and has scraped once
                try:
                    value = await fetcher.value(source, "krake_heat_demand")
                except MetricFailure:
                    await asyncio.sleep(0.2)
                    continue
                break
        assert value == 0.25
        with pytest.raises(MetricFailure, match="no series"):
            await fetcher.value(source, "krake_absent_metric")
    finally:
        await fetcher.close()

"""Time what one request costs, endpoint by endpoint, one client, in process.

Fills the store of ``benchmarks.api_load`` (100 satellites, 300 stations, 60 products),
warms each endpoint once, then times ``--requests`` sequential requests of each as a
partner's viewer through Starlette's TestClient: "same" repeats one query (what a
cache serves), "varied" changes the query every time (what each computation costs).

    python -m benchmarks.api_costs [--requests 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from benchmarks.api_load import DAY, fill
from jointsat.service.app import create_app
from jointsat.settings import Settings


def _varied(kind: str) -> Callable[[int], str]:
    at = datetime(2024, 5, 10, tzinfo=UTC)
    return {
        "positions": lambda i: (
            "/api/v1/satellites/positions?at="
            + (at + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        ),
        "stac search": lambda i: f"/stac/search?limit={10 + i % 40}",
        "products list": lambda i: f"/api/v1/products?limit={1 + i}",
        "passes": lambda i: f"/api/v1/passes?{DAY}&satellite_id={1 + i % 100}",
    }[kind]


SAME = {
    "me": "/api/v1/me",
    "positions": "/api/v1/satellites/positions?at=2024-05-10T00:00:00Z",
    "stac search": "/stac/search?limit=10",
    "products list": "/api/v1/products?limit=50",
    "passes": f"/api/v1/passes?{DAY}&satellite_id=1",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'store.sqlite'}"
        store = fill(url, Path(folder) / "archive")
        app = create_app(Settings(database_url=url, new_pass_predictions_per_hour=10_000))
        headers = {"Authorization": f"Bearer {store.viewers[0]}"}
        with TestClient(app) as client:
            client.get(f"/api/v1/passes?{DAY}", headers=headers)  # predict the day once
            for kind, path in SAME.items():
                rows = [("same", lambda i, p=path: p)]
                if kind != "me":
                    rows.append(("varied", _varied(kind)))
                for how, make in rows:
                    assert client.get(make(0), headers=headers).status_code == 200
                    times = []
                    for i in range(args.requests):
                        begin = time.perf_counter()
                        response = client.get(make(i + 1), headers=headers)
                        times.append(time.perf_counter() - begin)
                        assert response.status_code == 200, response.text
                    ms = sorted(t * 1000 for t in times)
                    print(
                        f"{kind:14} {how:6} median {statistics.median(ms):7.1f} ms"
                        f"  p90 {ms[int(0.9 * len(ms))]:7.1f} ms  max {ms[-1]:7.1f} ms"
                    )


if __name__ == "__main__":
    main()

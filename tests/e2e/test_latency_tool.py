"""`make latency` works: sequential signed posts against a real stack, their percentiles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from careline_testing.processes import Cluster

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # started first (tests/conftest.py)
@pytest.mark.timeout(150)
def test_the_latency_tool_posts_every_message_and_reports_its_percentiles(tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "webhook_latency.py"), "--count", "40", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=140,
        cwd=ROOT,
        env={**os.environ, "CARELINE_ZYGOTE": "1"},  # its services forked warm, as the suite's are
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["posts"] == 40
    assert 0 < result["median_ms"] <= result["p95_ms"] <= result["p99_ms"] <= result["max_ms"]
    # 20 warm-up posts, then numbers 20-49 text for the first time and 0-9 again
    assert (result["first_contacts"]["posts"], result["known_callers"]["posts"]) == (30, 10)


def test_a_cluster_refuses_a_log_level_that_would_hide_its_start(tmp_path: Path) -> None:
    cluster = Cluster("nats://127.0.0.1:1", "mongodb://127.0.0.1:1", tmp_path, env={"LOG_LEVEL": "WARNING"})
    with pytest.raises(ValueError, match="INFO or DEBUG"):
        cluster.start()
    assert not cluster.processes

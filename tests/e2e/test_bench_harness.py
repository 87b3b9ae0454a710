"""`make bench` works: the harness, in its tiny configuration, measures everything and reports it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # started first (tests/conftest.py)
@pytest.mark.timeout(180)
def test_tiny_bench_writes_every_figure_the_readme_quotes(tmp_path: Path) -> None:
    """A few dozen requests per phase: the JSON has every phase, ratio and target, and a chart."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "bench.py"), "--tiny", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=170,
        cwd=ROOT,
        env={**os.environ, "CARELINE_ZYGOTE": "1"},  # its services forked warm, as the suite's are
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    result = json.loads((tmp_path / "result.json").read_text())
    for target in ("bare", "nats", "ingress", "ingress_live"):
        for pattern in ("fixed_rate", "closed_loop"):
            phase = result["phases"][target][pattern]
            assert phase["requests"] > 0 and phase["errors"] == 0
            assert {"throughput_rps", "p50_ms", "p95_ms", "p99_ms", "max_ms"} <= phase.keys()
    assert result["webhook_to_reply"]["replied"] == result["webhook_to_reply"]["messages"] > 0
    storm = result["storm"]
    assert storm["posts"] == storm["messages"] * 5 and storm["non_200"] == 0
    assert storm["duplicates"] == 0 and storm["missing"] == 0
    assert set(result["ratios"]) >= {
        "ingress_vs_bare_throughput",
        "ingress_vs_nats_throughput",
        "ingress_vs_serial_bound_throughput",
    }
    bare, broker = (result["phases"][t]["closed_loop"]["throughput_rps"] for t in ("bare", "nats"))
    assert result["serial_bound_rps"] < min(bare, broker)  # a request needing both costs both
    assert "serial bound" in run.stdout
    assert {t["name"] for t in result["targets"]} == {
        "ingress_throughput_vs_bare",
        "ingress_p99_at_rate_ms",
        "webhook_to_reply_p95_ms",
        "duplicates",
    }
    assert result["machine"]["cpus"] and result["machine"]["cpu_model"]
    assert (tmp_path / "latency.png").read_bytes()[:4] == b"\x89PNG"
    assert "PASS" in run.stdout or "FAIL" in run.stdout

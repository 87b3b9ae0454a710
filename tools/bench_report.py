"""The benchmark's result: the JSON document, the terminal table, the targets and the chart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench_load import Sample

TARGETS_DOC = {
    "ingress_throughput_vs_bare": "ingress >= 50% of the bare endpoint's closed-loop throughput",
    "ingress_p99_at_rate_ms": "ingress p99 <= 15 ms at the fixed rate",
    "webhook_to_reply_p95_ms": "webhook-to-reply p95 <= 100 ms (rules agent)",
    "duplicates": "0 duplicate replies in the replay storm",
}


def _ratio(ours: float, ceiling: float) -> float | None:
    return round(ours / ceiling, 3) if ceiling else None


def serial_bound_rps(phases: dict[str, dict[str, dict[str, Any]]]) -> float:
    """The most an endpoint that answers HTTP *and* waits for a JetStream ack can do here.

    Both ceilings keep the same cores busy, one with HTTP work (client and server), the other
    with JetStream work (client and broker); a request that needs both costs at least the sum
    of their per-request times, even if the endpoint's own code were free.
    """
    bare = phases["bare"]["closed_loop"]["throughput_rps"]
    broker = phases["nats"]["closed_loop"]["throughput_rps"]
    return round(1 / (1 / bare + 1 / broker), 1) if bare and broker else 0.0


def ratios(phases: dict[str, dict[str, dict[str, Any]]]) -> dict[str, float | None]:
    ing, bare, broker = phases["ingress"], phases["bare"], phases["nats"]
    tput = "throughput_rps"
    bound = serial_bound_rps(phases)
    return {
        "ingress_vs_bare_throughput": _ratio(ing["closed_loop"][tput], bare["closed_loop"][tput]),
        "ingress_vs_nats_throughput": _ratio(ing["closed_loop"][tput], broker["closed_loop"][tput]),
        "serial_bound_vs_bare_throughput": _ratio(bound, bare["closed_loop"][tput]),
        "ingress_vs_serial_bound_throughput": _ratio(ing["closed_loop"][tput], bound),
        "ingress_vs_bare_p50_at_rate": _ratio(ing["fixed_rate"]["p50_ms"], bare["fixed_rate"]["p50_ms"]),
        "ingress_vs_bare_p99_at_rate": _ratio(ing["fixed_rate"]["p99_ms"], bare["fixed_rate"]["p99_ms"]),
        "ingress_vs_nats_p50_at_rate": _ratio(ing["fixed_rate"]["p50_ms"], broker["fixed_rate"]["p50_ms"]),
        "ingress_vs_nats_p99_at_rate": _ratio(ing["fixed_rate"]["p99_ms"], broker["fixed_rate"]["p99_ms"]),
        "ingress_colocated_vs_bare_throughput": _ratio(
            phases["ingress_live"]["closed_loop"][tput], bare["closed_loop"][tput]
        ),
    }


def targets(phases: dict[str, Any], e2e: dict[str, Any], storm: dict[str, Any]) -> list[dict[str, Any]]:
    share = ratios(phases)["ingress_vs_bare_throughput"] or 0.0
    p99 = phases["ingress"]["fixed_rate"]["p99_ms"]
    all_replied = e2e["replied"] == e2e["messages"]
    checks = [
        ("ingress_throughput_vs_bare", share, ">=", 0.5, share >= 0.5),
        ("ingress_p99_at_rate_ms", p99, "<=", 15.0, p99 <= 15.0),
        ("webhook_to_reply_p95_ms", e2e["p95_ms"], "<=", 100.0, all_replied and e2e["p95_ms"] <= 100.0),
        ("duplicates", storm["duplicates"], "==", 0, storm["duplicates"] == 0 and storm["missing"] == 0),
    ]
    return [
        {"name": n, "what": TARGETS_DOC[n], "value": v, "op": op, "limit": lim, "pass": bool(ok)}
        for n, v, op, lim, ok in checks
    ]


def result(
    preset: str,
    config: dict[str, Any],
    host: dict[str, Any],
    measured: dict[str, Any],
    started: float,
    e2e_latencies: list[float],
) -> dict[str, Any]:
    samples: dict[str, dict[str, Sample]] = measured["samples"]
    phases = {target: {p: s.summary() for p, s in by.items()} for target, by in samples.items()}
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "preset": preset,
        "config": config,
        "machine": host,
        "phases": phases,
        "webhook_to_reply": measured["e2e"],
        "storm": measured["storm"],
        "serial_bound_rps": serial_bound_rps(phases),
        "ratios": ratios(phases),
        "targets": targets(phases, measured["e2e"], measured["storm"]),
    }


def _row(name: str, pattern: str, s: dict[str, Any]) -> str:
    return (
        f"{name:<18}{pattern:<13}{s['requests']:>8}{s['errors']:>7}{s['throughput_rps']:>10.0f}"
        f"{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}{s['p99_ms']:>9.2f}{s['max_ms']:>9.1f}"
    )


def table(res: dict[str, Any]) -> str:
    cfg, host = res["config"], res["machine"]
    lines = [
        f"\nCareline bench ({res['preset']}): {host['cpus']} CPUs, {host['cpu_model']}, "
        f"load average {host['load_average_1m_at_start']} -> {host['load_average_1m_at_end']}",
        f"fixed rate {cfg['rate']:.0f}/s, closed loop {cfg['clients']} clients, "
        f"{cfg['duration_s']:.0f} s each, {cfg['users']} caregivers\n",
        f"{'target':<18}{'pattern':<13}{'requests':>8}{'errors':>7}{'req/s':>10}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}",
    ]
    names = {
        "bare": "bare ASGI 200",
        "nats": "raw JetStream pub",
        "ingress": "ingress (edge)",
        "ingress_live": "ingress+pipeline",
    }
    for target, by in res["phases"].items():
        for pattern, s in by.items():
            lines.append(_row(names[target], pattern.replace("_", " "), s))
    e2e = res["webhook_to_reply"]
    lines.append(
        f"{'webhook -> reply':<18}{'fixed rate':<13}{e2e['messages']:>8}{e2e['messages'] - e2e['replied']:>7}"
        f"{'':>10}{e2e['p50_ms']:>9.2f}{e2e['p95_ms']:>9.2f}{e2e['p99_ms']:>9.2f}{e2e['max_ms']:>9.1f}"
    )
    storm = res["storm"]
    lines.append(
        f"\nreplay storm: {storm['messages']} messages, {storm['posts']} posts ({storm['non_200']} not 200), "
        f"{storm['replies']} replies for {storm['replies_expected']} expected: "
        f"{storm['duplicates']} duplicates, {storm['missing']} missing"
    )
    lines.append(
        f"\nHTTP + JetStream ack, serial bound (1 / (1/bare + 1/raw JetStream), closed loop): "
        f"{res['serial_bound_rps']:.0f} req/s, {res['ratios']['serial_bound_vs_bare_throughput']} of bare"
    )
    lines.append("ratios (ours / ceiling): " + ", ".join(f"{k} {v}" for k, v in res["ratios"].items()))
    lines.append("")
    for t in res["targets"]:
        lines.append(f"{'PASS' if t['pass'] else 'FAIL'}  {t['what']}: {t['value']} ({t['op']} {t['limit']})")
    return "\n".join(lines)


def chart(measured: dict[str, Any], path: Path) -> None:
    """Latency distributions (CDF, log scale) of every phase, and webhook-to-reply."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples: dict[str, dict[str, Sample]] = measured["samples"]
    names = {
        "bare": "bare ASGI 200",
        "nats": "raw JetStream publish",
        "ingress": "ingress webhook (edge: pipeline paused)",
        "ingress_live": "ingress webhook (pipeline live, same cores)",
    }
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, pattern, title in (
        (axes[0], "fixed_rate", "fixed rate"),
        (axes[1], "closed_loop", "closed loop"),
    ):
        for target, by in samples.items():
            _cdf(ax, by[pattern].latencies_ms, names[target])
        if pattern == "fixed_rate":
            _cdf(ax, measured["e2e_latencies"], "webhook -> reply (rules agent)")
        ax.set_xscale("log")
        ax.set_xlabel("latency (ms, log scale)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    axes[0].set_ylabel("fraction of requests")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cdf(ax: Any, values: list[float], label: str) -> None:
    if not values:
        return
    ordered = sorted(values)
    n = len(ordered)
    ax.plot(ordered, [(i + 1) / n for i in range(n)], label=f"{label} (n={n})")

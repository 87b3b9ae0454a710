"""NATS_URL names one server or a cluster's servers (comma-separated), as nats-py wants them: a list."""

from __future__ import annotations

from careline_platform.settings import Settings


def settings(url: str) -> Settings:
    return Settings(_env_file=None, nats_url=url)  # type: ignore[call-arg]


def test_one_server_is_a_list_of_one() -> None:
    assert settings("nats://127.0.0.1:4222").nats_servers == ["nats://127.0.0.1:4222"]


def test_a_clusters_servers_are_split_and_trimmed() -> None:
    url = "tls://nats-0:4222, tls://nats-1:4222,tls://nats-2:4222,"
    assert settings(url).nats_servers == ["tls://nats-0:4222", "tls://nats-1:4222", "tls://nats-2:4222"]

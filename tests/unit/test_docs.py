"""docs/asyncapi.json and docs/openapi.json are current, and the AsyncAPI document, FastStream's
own, covers every subject of the contracts with the contract model's schema as its payload."""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

import pytest
from pydantic import BaseModel

from careline_contracts import admin as ops
from careline_contracts import subjects
from careline_contracts.deadletter import DeadLetter
from careline_platform.services import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[2]
CONVERSATION_OPERATIONS = (
    ops.CRISIS_ALERTS, ops.ALERT_GET, ops.ALERT_ACKNOWLEDGE, ops.ALERT_RESOLVE, ops.ALERT_MESSAGE,
    ops.ONCALL_GET, ops.ONCALL_PUT,
)  # fmt: skip
"""Conversation's own operations, besides the common ones every service answers."""


@cache
def load_docs_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("careline_docs_tool", ROOT / "tools" / "docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
    return loaded


def resolve(ref: dict[str, Any]) -> dict[str, Any]:
    """Follow one local ``$ref`` (``#/components/...``) in the document."""
    node: Any = document()
    for part in unquote(ref["$ref"]).removeprefix("#/").split("/"):
        node = node[part]
    assert isinstance(node, dict)
    return node


def channels_at(address: str, action: str) -> list[dict[str, Any]]:
    """The channels at ``address`` that an operation with ``action`` (send, receive) uses."""
    used = {
        unquote(op["channel"]["$ref"]).removeprefix("#/channels/")  # a URI fragment: ">" is %3E
        for op in document()["operations"].values()
        if op["action"] == action
    }
    return [ch for name, ch in document()["channels"].items() if name in used and ch["address"] == address]


def payload_of(channel: dict[str, Any]) -> dict[str, Any]:
    (message,) = channel["messages"].values()
    return resolve(resolve(message)["payload"])


def same_schema(documented: dict[str, Any], model: type[BaseModel]) -> None:
    """The documented schema is the model's: its properties, required fields and nested models."""
    expected = json.loads(json.dumps(model.model_json_schema()).replace("#/$defs/", "#/components/schemas/"))
    assert documented.get("properties") == expected.get("properties"), model.__name__
    assert documented.get("required") == expected.get("required"), model.__name__
    schemas = document()["components"]["schemas"]
    for name, nested in expected.get("$defs", {}).items():
        assert schemas[name].get("properties") == nested.get("properties"), f"{model.__name__}.{name}"


def test_the_checked_in_documents_are_current() -> None:
    """Regenerating docs/ changes nothing; run `make docs` after changing contracts or routes."""
    for name, text in load_docs_tool().rendered().items():
        assert (ROOT / "docs" / name).read_text() == text, f"docs/{name} is out of date: run make docs"


def test_every_subject_of_the_contracts_has_an_event_model() -> None:
    models = {m.subject for m in load_docs_tool().event_models()}
    declared = {
        value
        for name, value in vars(subjects).items()
        if name.isupper() and isinstance(value, str) and name != "DEAD_LETTER_PREFIX"
    }
    assert declared == models


def test_every_event_is_published_on_its_subject_with_its_model() -> None:
    for model in load_docs_tool().event_models():
        whole = any(model.subject in stream.subjects for stream in subjects.ALL_STREAMS)
        address = model.subject if whole else f"{model.subject}.*"  # else: the partition's token
        (channel,) = channels_at(address, "send")
        same_schema(payload_of(channel), model)


def test_every_consumer_receives_its_model_on_every_partition() -> None:
    tool = load_docs_tool()
    consumed = 0
    for service in tool.service_docs():
        for spec in service.consumers:
            for subject, durable in spec.consumers():
                channel = document()["channels"][durable]  # FastStream's channel of the subscriber
                assert channel in channels_at(subject, "receive")
                same_schema(payload_of(channel), spec.model)
                consumed += 1
    assert consumed >= 100  # 17 partitioned consumers of 8 partitions, and the backfills


def test_every_consumer_and_every_service_s_jobs_have_a_dead_letter_channel() -> None:
    tool = load_docs_tool()
    for service in tool.service_docs():
        dead = [subjects.dead_letter_subject(service.name, s.base_subject) for s in service.consumers]
        for address in [*dead, subjects.dead_letter_subject(service.name, "job.>")]:
            assert address.startswith(subjects.DEAD_LETTERS.subjects[0].rstrip(">"))
            (channel,) = channels_at(address, "send")
            same_schema(payload_of(channel), DeadLetter)
    assert {s.name for s in tool.service_docs()} == set(SERVICE_NAMES)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_every_admin_request_is_received_with_its_model_and_answered(service: str) -> None:
    own = CONVERSATION_OPERATIONS if service == "conversation" else ()
    for operation in (*ops.COMMON_OPERATIONS, *own):
        address = ops.admin_subject(service, operation.name)
        (channel,) = channels_at(address, "receive")
        same_schema(payload_of(channel), operation.request)
        reply = document()["channels"][f"{address}:reply"]
        assert reply in channels_at("_INBOX.>", "send")
        refs = {r["$ref"].rsplit("/", 1)[1] for r in payload_of(reply)["anyOf"]}
        assert {operation.reply.__name__, "Rejected", "AdminError"} <= refs


def test_the_openapi_document_has_the_webhooks_of_the_design() -> None:
    paths = json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"]
    assert {
        "/webhooks/twilio/sms",
        "/webhooks/twilio/status",
        "/webhooks/stripe",
        "/healthz",
        "/readyz",
    } <= set(paths)

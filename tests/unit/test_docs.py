"""The AsyncAPI and OpenAPI documents in docs/ are current and describe every event."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_docs_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("careline_docs_tool", ROOT / "tools" / "docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_checked_in_documents_are_current() -> None:
    """Regenerating docs/ changes nothing; run `make docs` after changing contracts or routes."""
    for name, text in load_docs_tool().rendered().items():
        assert (ROOT / "docs" / name).read_text() == text, f"docs/{name} is out of date: run make docs"


def test_every_event_has_a_channel_a_message_and_a_schema() -> None:
    tool = load_docs_tool()
    document = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
    models = tool.event_models()
    assert len(models) >= 17
    for model in models:
        channel = document["channels"][model.subject]
        assert channel["address"].startswith(model.subject)
        assert model.__name__ in document["components"]["schemas"]
        payload = document["components"]["schemas"][model.__name__]
        assert set(model.model_fields) <= set(payload["properties"])


def test_the_openapi_document_has_the_webhooks_of_the_design() -> None:
    paths = json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"]
    assert {
        "/webhooks/twilio/sms",
        "/webhooks/twilio/status",
        "/webhooks/stripe",
        "/healthz",
        "/readyz",
    } <= set(paths)

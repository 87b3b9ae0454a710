"""`make docs`: the AsyncAPI document of every event and the ingress OpenAPI document.

Both are generated from the code (the contracts' pydantic models, the FastAPI app) into
`docs/`; a test regenerates them and fails when the checked-in files are out of date.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from careline_contracts import subjects
from careline_contracts.base import Event
from careline_ingress.app import create_app
from careline_platform.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"
CONTRACT_MODULES = ("ingress", "conversation", "billing", "profile", "migration")


def event_models() -> list[type[Event]]:
    """Every event class of the contracts, in a stable order."""
    found: dict[str, type[Event]] = {}
    for name in CONTRACT_MODULES:
        module = importlib.import_module(f"careline_contracts.{name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Event) and cls is not Event and cls.__module__ == module.__name__:
                found[cls.__name__] = cls
    return [found[k] for k in sorted(found)]


def stream_of(subject: str) -> subjects.Stream:
    for stream in subjects.ALL_STREAMS:
        for pattern in stream.subjects:
            prefix = pattern.rstrip(">*").rstrip(".")
            if subject == prefix or subject.startswith(prefix + "."):
                return stream
    raise LookupError(f"no stream captures {subject}")


def asyncapi() -> dict[str, Any]:
    models = event_models()
    _, schema = models_json_schema(
        [(m, "serialization") for m in models], ref_template="#/components/schemas/{model}"
    )
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for model in models:
        stream = stream_of(model.subject)
        partitioned = model.subject not in stream.subjects  # only the sandbox subject is whole
        address = f"{model.subject}.{{partition}}" if partitioned else model.subject
        channel: dict[str, Any] = {
            "address": address,
            "description": f"JetStream stream {stream.name}, published by {stream.owner}",
            "messages": {model.__name__: {"$ref": f"#/components/messages/{model.__name__}"}},
        }
        if partitioned:
            channel["parameters"] = {
                "partition": {
                    "description": f"crc32(key) mod {subjects.PARTITIONS}: one caregiver, one partition"
                }
            }
        channels[model.subject] = channel
        messages[model.__name__] = {
            "name": model.__name__,
            "title": model.__name__,
            "summary": (model.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "description": "deterministic: names the fact"},
                    "Correlation-Id": {"type": "string"},
                },
                "required": ["Nats-Msg-Id"],
            },
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        }
        operations[f"publish{model.__name__}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{model.subject}"},
            "messages": [{"$ref": f"#/channels/{model.subject}/messages/{model.__name__}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Careline events",
            "version": "1",
            "description": "Every event the Careline services exchange over NATS JetStream.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schema.get("$defs", {})},
    }


def openapi() -> dict[str, Any]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # defaults only: no local .env
    return create_app(settings).openapi()


def rendered() -> dict[str, str]:
    return {
        "asyncapi.json": json.dumps(asyncapi(), indent=2, sort_keys=True) + "\n",
        "openapi.json": json.dumps(openapi(), indent=2, sort_keys=True) + "\n",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/ is not current")
    args = parser.parse_args()
    stale = []
    for name, text in rendered().items():
        path = DOCS / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            DOCS.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote docs/{name}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where legacy documents come from: a JSON-lines export or a MongoDB collection, in a stable order."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from careline_cli.common import CliError, safe_uri
from careline_cli.migrate.mapping import Rejected
from careline_platform.mongo import connect

CHECKPOINT_DIR = Path(".data") / "backfill"


@dataclass(frozen=True)
class Source:
    """A legacy export: its printable name, where its checkpoint lives, and how to read it."""

    label: str
    checkpoint: Path
    path: Path | None = None
    uri: str | None = None
    database: str = ""
    collection: str = ""

    async def records(self, timeout_s: float) -> AsyncIterator[Any]:
        """Every record in a stable order: a document, or a Rejected for a line that is not JSON."""
        if self.path is not None:
            with self.path.open("rb") as lines:
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        yield json.loads(line)
                    except ValueError:
                        yield Rejected("invalid", "not a JSON document")
            return
        assert self.uri is not None
        client = connect(self.uri, timeout_ms=int(timeout_s * 1000))
        try:
            cursor = client[self.database][self.collection].find({}).sort("_id", 1).batch_size(1000)
            async for doc in cursor:
                yield doc
        finally:
            await client.close()


def parse_source(text: str, checkpoint: str | None) -> Source:
    """``FILE.jsonl`` or ``mongodb://host[:port]/database.collection``; a clear error otherwise."""
    if text.startswith(("mongodb://", "mongodb+srv://")):
        parts = urlsplit(text)
        database, _, collection = parts.path.lstrip("/").partition(".")
        if not database or not collection:
            raise CliError(f"source {safe_uri(text)}: the path must name database.collection")
        uri = urlunsplit((parts.scheme, parts.netloc, "/", parts.query, ""))
        if not parts.hostname:
            raise CliError(f"source {safe_uri(text)}: no host")
        digest = hashlib.sha1(safe_uri(text).encode()).hexdigest()[:10]
        default = CHECKPOINT_DIR / f"{database}.{collection}.{digest}.checkpoint.json"
        label = f"{safe_uri(urlunsplit((parts.scheme, parts.netloc, '', '', '')))}/{database}.{collection}"
        return Source(
            label,
            Path(checkpoint) if checkpoint else default,
            uri=uri,
            database=database,
            collection=collection,
        )
    if "://" in text:
        raise CliError(
            f"source {safe_uri(text)}: expected a .jsonl file or mongodb://host/database.collection"
        )
    path = Path(text)
    if not path.is_file():
        raise CliError(f"source {text}: no such file")
    default = path.with_name(path.name + ".checkpoint.json")
    return Source(str(path), Path(checkpoint) if checkpoint else default, path=path)

"""The API documents in docs/ are valid by their official tools: docs/asyncapi.json by the
AsyncAPI parser (``@asyncapi/parser``, run by ``tools/asyncapi/validate.mjs``), docs/openapi.json by
``openapi-spec-validator``. A broken copy of each must fail, so a validator that accepts anything
cannot pass unnoticed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

ROOT = Path(__file__).resolve().parents[2]
ASYNCAPI = ROOT / "docs" / "asyncapi.json"
OPENAPI = ROOT / "docs" / "openapi.json"
VALIDATOR = ROOT / "tools" / "asyncapi" / "validate.mjs"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="no node here: the AsyncAPI parser runs on node")


def parse_asyncapi(path: Path) -> subprocess.CompletedProcess[str]:
    if not (ROOT / "tools" / "asyncapi" / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail("no AsyncAPI parser in tools/asyncapi/node_modules: run `make install` (npm ci)")
    assert NODE is not None
    return subprocess.run(
        [NODE, str(VALIDATOR), str(path)], capture_output=True, text=True, timeout=120, check=False
    )


@needs_node
def test_the_asyncapi_document_is_valid() -> None:
    parsed = parse_asyncapi(ASYNCAPI)
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    assert "valid AsyncAPI 3.0.0" in parsed.stdout


@needs_node
def test_a_broken_asyncapi_document_fails(tmp_path: Path) -> None:
    document: dict[str, Any] = json.loads(ASYNCAPI.read_text())
    operation = next(iter(document["operations"].values()))
    operation["channel"] = {"$ref": "#/channels/no-such-channel"}
    broken = tmp_path / "asyncapi.json"
    broken.write_text(json.dumps(document))
    parsed = parse_asyncapi(broken)
    assert parsed.returncode == 1, parsed.stdout + parsed.stderr
    assert "error invalid-ref" in parsed.stdout


def test_the_openapi_document_is_valid() -> None:
    validate_openapi(json.loads(OPENAPI.read_text()))


def test_a_broken_openapi_document_fails() -> None:
    document: dict[str, Any] = json.loads(OPENAPI.read_text())
    path = next(iter(document["paths"].values()))
    next(iter(path.values()))["responses"] = {"200": {"content": {}}}  # a response needs a description
    with pytest.raises(OpenAPIValidationError):
        validate_openapi(document)

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


def broken_asyncapi() -> str:
    """The document with one operation pointing at a channel that does not exist."""
    document: dict[str, Any] = json.loads(ASYNCAPI.read_text())
    operation = next(iter(document["operations"].values()))
    operation["channel"] = {"$ref": "#/channels/no-such-channel"}
    return json.dumps(document)


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """The parser's verdict on the document and on a broken copy, both parsed at once."""
    if NODE is None:
        pytest.skip("no node here: the AsyncAPI parser runs on node")
    if not (ROOT / "tools" / "asyncapi" / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail("no AsyncAPI parser in tools/asyncapi/node_modules: run `make install` (npm ci)")
    broken = tmp_path_factory.mktemp("asyncapi") / "broken.json"
    broken.write_text(broken_asyncapi())
    paths = {"valid": ASYNCAPI, "broken": broken}
    running = {
        name: subprocess.Popen([NODE, str(VALIDATOR), str(path)], stdout=subprocess.PIPE, text=True)
        for name, path in paths.items()
    }
    done = {}
    for name, process in running.items():
        out, _ = process.communicate(timeout=120)
        done[name] = subprocess.CompletedProcess(process.args, process.returncode, out)
    return done


@needs_node
def test_the_asyncapi_document_is_valid(parsed: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert parsed["valid"].returncode == 0, parsed["valid"].stdout
    assert "valid AsyncAPI 3.0.0" in parsed["valid"].stdout


@needs_node
def test_a_broken_asyncapi_document_fails(parsed: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert parsed["broken"].returncode == 1, parsed["broken"].stdout
    assert "error invalid-ref" in parsed["broken"].stdout


def test_the_openapi_document_is_valid() -> None:
    validate_openapi(json.loads(OPENAPI.read_text()))


def test_a_broken_openapi_document_fails() -> None:
    document: dict[str, Any] = json.loads(OPENAPI.read_text())
    path = next(iter(document["paths"].values()))
    next(iter(path.values()))["responses"] = {"200": {"content": {}}}  # a response needs a description
    with pytest.raises(OpenAPIValidationError):
        validate_openapi(document)

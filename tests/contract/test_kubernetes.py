"""The Kubernetes manifests (issue 16, item 3) are valid for the pinned Kubernetes version
(kubernetes-validate, strict: no unknown field), secrets are only referenced, every workload
has requests and limits, the HTTP ones have readiness and liveness probes on /readyz and
/healthz, and the kustomization lists every file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

BASE = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "base"
KUBERNETES = "1.31.0"  # the version the manifests are checked against (pinned)


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(BASE.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found.append((f"{path.name}:{document['kind']}/{document['metadata']['name']}",
                              document))
    return found


DOCUMENTS = documents()


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=[n for n, _ in DOCUMENTS])
def test_each_manifest_is_valid_for_the_pinned_kubernetes(name: str,
                                                          document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text(encoding="utf-8"))
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document["spec"]["template"]["spec"]
    return list(spec["containers"])


def test_workloads_have_limits_probes_and_only_secret_references() -> None:
    kinds = {d["kind"] for _, d in DOCUMENTS}
    assert {"Deployment", "Job", "HorizontalPodAutoscaler", "PodDisruptionBudget",
            "NetworkPolicy", "Service", "ConfigMap"} <= kinds
    assert "Secret" not in kinds  # referenced, never inlined
    deployments = {d["metadata"]["name"]: d for _, d in DOCUMENTS if d["kind"] == "Deployment"}
    assert set(deployments) == {"conex-api", "conex-staff", "conex-worker", "conex-bot",
                                "conex-webchat"}
    for name, deployment in deployments.items():
        for container in containers(deployment):
            resources = container["resources"]
            assert resources["requests"] and resources["limits"], name
            secrets = "conex-webchat-secrets" if name == "conex-webchat" else "conex-secrets"
            assert {"secretRef": {"name": secrets}} in container["envFrom"], name
            assert not any("value" in e and e["name"] in ("SERVICE_TOKEN", "DATA_KEY",
                                                            "BOT_TOKEN", "DATABASE_URL")
                           for e in container.get("env", [])), name
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
    surfaces = {name: {e["name"]: e.get("value") for e in containers(d)[0].get("env", [])}
                .get("API_SURFACE") for name, d in deployments.items()}
    assert surfaces["conex-api"] == "bot" and surfaces["conex-staff"] == "staff"

"""The alert rules docs/operations.md gives operators: valid Prometheus rule groups whose
expressions parse as PromQL and name only metrics our processes export (a renamed metric
would otherwise leave an alert that can never fire)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client.metrics_core import Metric

from ops.metrics import registry

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"
# Metrics that come from Prometheus itself or the blackbox exporter probing /readyz.
EXTERNAL = {"up", "probe_success"}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
            "gauge": ("",), "summary": ("_sum", "_count", "")}


def exported() -> set[str]:
    names: set[str] = set()
    for process in ("bot", "worker", "api", "webchat"):
        family: Metric
        for family in registry(process).collect():
            names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def rules() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", OPERATIONS.read_text(), re.S)
    groups = [g for block in blocks for g in (yaml.safe_load(block) or {}).get("groups", [])]
    return [rule for group in groups for rule in group["rules"]]


def test_the_documented_alerts_cover_what_operators_must_watch() -> None:
    names = {rule["alert"] for rule in rules()}
    watched = " ".join(rule["expr"] for rule in rules())
    for metric in ("conex_outbox_oldest_seconds", "conex_inbox_oldest_seconds",
                   "conex_telegram_429_total", "probe_success"):
        assert metric in watched, f"no alert on {metric}"
    assert len(names) == len(rules()), "two alerts with the same name"


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: str(rule["alert"]))
def test_each_alert_is_valid_promql_on_exported_metrics(rule: dict[str, Any]) -> None:
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
    assert rule["labels"]["severity"] in ("page", "ticket")
    assert rule["annotations"]["summary"]
    if "for" in rule:
        assert re.fullmatch(r"\d+[smh]", rule["for"])
    promql_parser.parse(rule["expr"])  # raises ValueError on a syntax error
    used = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*(?:\{|\[|\)|\s[<>=!]|$)", rule["expr"]))
    metrics = {name for name in used if name.startswith("conex_") or name in EXTERNAL}
    assert metrics, f"{rule['alert']} names no metric"
    unknown = {m for m in metrics if m.startswith("conex_")} - exported()
    assert not unknown, f"{rule['alert']} uses metrics nobody exports: {sorted(unknown)}"

"""python -m bot.engine check | facts-report [--flows DIR] [--domain DIR].

``check`` validates every flow (and warns about fact reviews that are getting old);
``facts-report`` lists every fact and country rule to re-check before launch."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from bot.actions import create_action_registry
from bot.engine.check import DomainIndex, check_flows, fact_warnings, facts_report, reachable
from bot.engine.flows import FlowError, load_flows
from bot.settings import DEFAULT_DOMAIN_DIR, DEFAULT_FLOWS_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.engine")
    parser.add_argument("command", choices=["check", "facts-report"])
    parser.add_argument("--flows", type=Path, default=DEFAULT_FLOWS_DIR)
    parser.add_argument("--domain", type=Path, default=DEFAULT_DOMAIN_DIR)
    args = parser.parse_args(argv)
    try:
        flows = load_flows(args.flows)
        domain = DomainIndex.load(args.domain)
    except (FlowError, OSError) as exc:
        print(f"flow check failed: {exc}", file=sys.stderr)
        return 1
    if args.command == "facts-report":
        rows = facts_report(flows, date.today())
        print(f"{len(rows)} of {len(flows.facts.facts) + len(flows.facts.countries)} facts "
              "and country rules to re-check on their live page before launch:")
        for row in rows:
            print("  " + row)
        return 0
    problems = check_flows(flows, domain, create_action_registry())
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"flow check failed: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    for warning in fact_warnings(flows, date.today()):
        print(f"warning: {warning}", file=sys.stderr)
    nodes = sum(len(f.nodes) for f in flows.flows.values())
    print(
        f"flows ok: {len(flows.flows)} flows, {nodes} nodes, "
        f"{len(reachable(flows))} reachable, oldest fact review {flows.facts.oldest_review}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m bot.i18n_check: fail when the catalogue is stale or a language misses a string.

* ``locales/messages.pot`` must hold exactly the msgids a fresh extraction finds;
* every shipped language must translate every msgid (not empty, not fuzzy), keep every
  ``{placeholder}``, and say in its header how it was made (``X-Translation-Source``).

``--domain staff`` checks (and ``--update`` updates) the staff web app's catalogue instead:
``locales/staff.pot`` (from ``babel-staff.cfg``), translated in nl and fr, ``%(name)s`` values.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.catalogue_rules import (
    ALLOWLIST,
    GLOSSARY,
    MAX_LABEL,
    REVIEWED,
    Glossary,
    entry_problems,
    glossary_problems,
    read_allowlist,
    read_glossary,
    translation_source,
    write_catalogue,
)
from bot.engine.schema import PLACEHOLDER
from bot.settings import DEFAULT_LOCALES_DIR, PROJECT_DIR

KEYWORDS = ("_", "__", "N_")


@dataclass(frozen=True)
class Domain:
    """A gettext domain: its template, extraction mapping and keywords, placeholder style."""

    name: str
    mapping: str
    keywords: tuple[str, ...]
    placeholder: re.Pattern[str]
    allowlist: str


DOMAINS = {
    "messages": Domain("messages", "babel.cfg", KEYWORDS, PLACEHOLDER, ALLOWLIST),
    "staff": Domain("staff", "babel-staff.cfg", ("_", "N_", "pgettext:1c,2"),
                    re.compile(r"%\((\w+)\)[sd]"), "staff_allowlist.txt"),
}
MESSAGES = DOMAINS["messages"]


def is_label(message: object) -> bool:
    """A button label: a flow button, or a Telegram command description."""
    comments = " ".join(getattr(message, "auto_comments", []) or [])
    return "button on" in comments


def extract(project_dir: Path = PROJECT_DIR, domain: Domain = MESSAGES) -> Catalog:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fresh.pot"
        cmd = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", domain.mapping,
               *[arg for k in domain.keywords for arg in ("-k", k)], "--no-location", "-o",
               str(out), "."]
        subprocess.run(cmd, cwd=project_dir, check=True, capture_output=True)  # noqa: S603
        with out.open("rb") as fh:
            return read_po(fh)


def update(locales_dir: Path = DEFAULT_LOCALES_DIR, domain: Domain = MESSAGES) -> None:
    """``pybabel update`` that keeps our X-Translation-Source header (Babel would drop it)."""
    template = read(locales_dir / f"{domain.name}.pot")
    for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{domain.name}.po")):
        source = translation_source(po_path) or "machine"
        catalog = read(po_path, po_path.parent.parent.name)
        catalog.update(template, no_fuzzy_matching=True)
        write_catalogue(po_path, catalog, source)


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def msgids(catalog: Catalog) -> set[str]:
    return {m.id for m in catalog if m.id and isinstance(m.id, str)}


def keys(catalog: Catalog) -> set[tuple[str, Any]]:
    """(msgid, msgctxt) of every message: the same English text may have several contexts."""
    return {(m.id, m.context) for m in catalog if m.id and isinstance(m.id, str)}


@dataclass
class Coverage:
    locale: str
    translated: int
    total: int
    source: str
    reviewed: int = 0  # entries a native speaker approved in context (staff app)

    @property
    def percent(self) -> float:
        return 100.0 * self.translated / self.total if self.total else 100.0

    @property
    def reviewed_percent(self) -> float:
        return 100.0 * self.reviewed / self.total if self.total else 0.0


def check_language(template: Catalog, po_path: Path,
                   allowed: set[tuple[str, str]] | None = None,
                   placeholder: re.Pattern[str] = PLACEHOLDER,
                   glossary: Glossary | None = None) -> tuple[Coverage, list[str]]:
    locale = po_path.parent.parent.name
    catalog = read(po_path, locale)
    allowed = allowed or set()
    problems: list[str] = []
    source = translation_source(po_path)
    if source not in ("machine", "reviewed"):
        problems.append(f"{locale}: header X-Translation-Source must be 'machine' or 'reviewed'")
    translated = reviewed = 0
    if glossary is not None and locale not in glossary.words:
        problems.append(f"{locale}: no entry in {GLOSSARY} (the approved word for each term)")
    for msgid, context in sorted(keys(template), key=lambda key: (key[0], key[1] or "")):
        message = catalog.get(msgid, context)
        if message is None or not message.string:
            problems.append(f"{locale}: missing translation for {msgid[:60]!r}")
            continue
        if message.fuzzy:
            problems.append(f"{locale}: fuzzy translation for {msgid[:60]!r}")
            continue
        text = message.string if isinstance(message.string, str) else message.string[0]
        template_message = template.get(msgid, context)
        label = template_message is not None and is_label(template_message)
        found = entry_problems(locale, msgid, text, label=label, allowed=allowed,
                               placeholder=placeholder)
        if found:
            problems.append(f"{locale}: " + {
                "placeholders_differ": f"placeholders differ in {msgid[:60]!r}",
                "left_in_english": f"left in English: {msgid[:60]!r} (allow it in the "
                                   "locales allowlist if that is right)",
                "label_too_long": f"button label longer than {MAX_LABEL} or on two lines: "
                                  f"{text!r}"}[found[0]])
            continue
        if glossary is not None:
            problems += glossary_problems(glossary, locale, msgid, text)
        translated += 1
        reviewed += any(REVIEWED.match(c) for c in message.user_comments)
    return Coverage(locale, translated, len(keys(template)), source, reviewed), problems


def check(locales_dir: Path = DEFAULT_LOCALES_DIR,
          domain: Domain = MESSAGES) -> tuple[list[Coverage], list[str]]:
    problems: list[str] = []
    template_path = locales_dir / f"{domain.name}.pot"
    template = read(template_path)
    fresh = extract(domain=domain)
    added, removed = keys(fresh) - keys(template), keys(template) - keys(fresh)
    if added or removed:
        problems.append(f"{domain.name}.pot is stale ({len(added)} new, {len(removed)} gone): "
                        "run `make i18n`")
        template = fresh
    coverage = []
    allowed = read_allowlist(locales_dir, domain.allowlist)
    glossary = read_glossary(locales_dir) if domain is MESSAGES else None
    for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{domain.name}.po")):
        cov, found = check_language(template, po_path, allowed, domain.placeholder, glossary)
        coverage.append(cov)
        problems.extend(found)
    return coverage, problems


REPORT_START = "<!-- i18n-report:start -->"
REPORT_END = "<!-- i18n-report:end -->"


def report(coverage: list[Coverage]) -> str:
    """The README's table of languages (make i18n-report)."""
    from bot.i18n import LANGUAGE_ORDER, is_rtl, native_name

    rank = {code: i for i, code in enumerate(LANGUAGE_ORDER)}
    rows = ["| language | code | coverage | reviewed in context | review state | direction |",
            "|---|---|---|---|---|---|",
            "| English | `en` | source | source | written by the team from the programme facts "
            "| ltr |"]
    for cov in sorted(coverage, key=lambda c: rank.get(c.locale, 99)):
        state = {"machine": "machine translation, not yet reviewed by a native speaker",
                 "reviewed": "reviewed by a native speaker"}.get(cov.source, "unknown")
        rows.append(f"| {native_name(cov.locale)} | `{cov.locale}` | "
                    f"{cov.percent:.0f} % ({cov.translated}/{cov.total}) | "
                    f"{cov.reviewed_percent:.0f} % ({cov.reviewed}) | {state} | "
                    f"{'rtl' if is_rtl(cov.locale) else 'ltr'} |")
    return "\n".join(rows)


def write_report(readme: Path, table: str) -> None:
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(REPORT_START), text.index(REPORT_END)
    readme.write_text(text[:start] + REPORT_START + "\n" + table + "\n" + text[end:],
                      encoding="utf-8")


def main() -> int:
    args = sys.argv[1:]
    domain = MESSAGES
    if "--domain" in args:
        name = args[args.index("--domain") + 1] if args.index("--domain") + 1 < len(args) else ""
        if name not in DOMAINS:
            print(f"unknown domain {name!r}: one of {', '.join(DOMAINS)}", file=sys.stderr)
            return 2
        domain = DOMAINS[name]
    if "--report" in sys.argv[1:]:
        coverage, problems = check()
        table = report(coverage)
        write_report(PROJECT_DIR / "README.md", table)
        print(table)
        return 0
    if "--update" in sys.argv[1:]:
        update(domain=domain)
        print(f"{domain.name} catalogues updated")
        return 0
    coverage, problems = check(domain=domain)
    for problem in problems:
        print(problem, file=sys.stderr)
    for cov in coverage:
        print(f"{cov.locale}: {cov.translated}/{cov.total} ({cov.percent:.0f}%), {cov.source}")
    if domain.name == "staff" and {cov.locale for cov in coverage} != {"nl", "fr"}:
        problems.append("the staff catalogue must exist in nl and fr (locales/*/LC_MESSAGES/"
                        "staff.po)")
        print(problems[-1], file=sys.stderr)
    if problems:
        print(f"i18n check failed ({domain.name}): {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"i18n ok ({domain.name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The rules a translation must keep, shared by the catalogue check (``bot.i18n_check``) and
the staff app's review pages (through ``bot.gallery``): button length, what may stay in
English (the allowlist), and the glossary of the programme's terms (issue 18)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot.engine.schema import PLACEHOLDER

MAX_LABEL = 30  # characters a button label may have in any language (a small phone's width)
ALLOWLIST = "allowlist.txt"  # msgids that may stay identical to English: "<lang|*>\t<msgid>"
LETTER = re.compile(r"[^\W\d_]")


def read_allowlist(locales_dir: Path, name: str = ALLOWLIST) -> set[tuple[str, str]]:
    path = locales_dir / name
    if not path.exists():
        return set()
    allowed = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#") and "\t" in line:
            lang, msgid = line.split("\t", 1)
            allowed.add((lang.strip(), msgid.replace("\\n", "\n")))
    return allowed


GLOSSARY = "glossary.yaml"  # the programme's terms and their approved word per language
REVIEWED = re.compile(r"^reviewed: (?P<who>.+?) (?P<date>\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Glossary:
    """The programme's terms (issue 18): for each, where the English uses it (a pattern) and
    the approved word(s) in each language; a translation of a string that uses the term must
    contain one of them. ``exceptions``: (language, term, msgid) a reviewer accepted."""

    terms: dict[str, re.Pattern[str]]
    words: dict[str, dict[str, list[str]]]  # language -> term -> accepted forms
    exceptions: frozenset[tuple[str, str, str]]


def read_glossary(locales_dir: Path) -> Glossary | None:
    path = locales_dir / GLOSSARY
    if not path.exists():
        return None
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    terms = {term: re.compile(pattern, re.IGNORECASE)
             for term, pattern in (data.get("terms") or {}).items()}
    words = {lang: {term: [forms] if isinstance(forms, str) else list(forms)
                    for term, forms in (entries or {}).items()}
             for lang, entries in (data.get("languages") or {}).items()}
    exceptions = frozenset((str(e["language"]), str(e["term"]), str(e["msgid"]))
                           for e in data.get("exceptions") or [])
    return Glossary(terms, words, exceptions)


def _fold(text: str) -> str:
    """Case-insensitive matching that survives Turkish: "İnsan" folds to "i̇nsan" (with a
    combining dot), which would not contain "insan"."""
    return text.casefold().replace("\u0307", "")


def glossary_problems(glossary: Glossary, locale: str, msgid: str, text: str) -> list[str]:
    words = glossary.words.get(locale)
    if words is None:
        return []
    problems = []
    for term, pattern in glossary.terms.items():
        forms = words.get(term)
        if (not forms or not pattern.search(PLACEHOLDER.sub("", msgid))
                or (locale, term, msgid) in glossary.exceptions):
            continue
        if not any(_fold(form) in _fold(text) for form in forms):
            problems.append(f"{locale}: {term!r} is not said with the glossary's word "
                            f"({' / '.join(forms)}) in {msgid[:60]!r}")
    return problems

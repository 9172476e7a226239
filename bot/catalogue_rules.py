"""The rules a translation must keep, shared by the catalogue check (``bot.i18n_check``) and
the staff app's review pages (through ``bot.gallery``): button length, what may stay in
English (the allowlist), and the glossary of the programme's terms (issue 18)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from bot.engine.schema import PLACEHOLDER

MAX_LABEL = 30  # characters a button label may have in any language (a small phone's width)
ALLOWLIST = "allowlist.txt"  # msgids that may stay identical to English: "<lang|*>\t<msgid>"
LETTER = re.compile(r"[^\W\d_]")
_SOURCE_HEADER = re.compile(r'^"X-Translation-Source: ([a-z]+)\\n"$', re.MULTILINE)


def translation_source(po_path: Path) -> str:
    """``machine`` or ``reviewed``: read from the raw header (Babel drops unknown headers)."""
    found = _SOURCE_HEADER.search(po_path.read_text(encoding="utf-8"))
    return found.group(1) if found else ""


def write_catalogue(po_path: Path, catalog: Catalog, source: str) -> None:
    """Write a catalogue as the project keeps them (100 columns), with its
    X-Translation-Source header, which Babel would drop."""
    buffer = io.BytesIO()
    write_po(buffer, catalog, ignore_obsolete=True, width=100)
    text = re.sub(r'^("Generated-By: [^"]*"\n)', rf'\1"X-Translation-Source: {source}\\n"\n',
                  buffer.getvalue().decode("utf-8"), count=1, flags=re.MULTILINE)
    po_path.write_text(text, encoding="utf-8")


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


def entry_problems(locale: str, msgid: str, text: str, *, label: bool,
                   allowed: set[tuple[str, str]], glossary: Glossary | None = None,
                   placeholder: re.Pattern[str] = PLACEHOLDER) -> list[str]:
    """Why ``text`` cannot translate ``msgid`` in ``locale``, as codes, most basic first: the
    same {placeholders}, not left in English (unless allowed), a button's label at most 30
    characters on one line, the glossary's words. The catalogue check and the staff app's
    review both ask here."""
    found = []
    if set(placeholder.findall(text)) != set(placeholder.findall(msgid)):
        found.append("placeholders_differ")
    if (text == msgid and LETTER.search(placeholder.sub("", msgid))
            and not {(locale, msgid), ("*", msgid)} & allowed):
        found.append("left_in_english")
    if label and (len(text) > MAX_LABEL or "\n" in text):
        found.append("label_too_long")
    if glossary is not None and glossary_problems(glossary, locale, msgid, text):
        found.append("glossary_word")
    return found

"""The follow-up analysis: one pass over the responses (imported and from the bot).

(a) completed surveys by country of return and reintegration partner, with an `n.a.` row
    (cancelled and refused, per partner) and a Total row (everyone approached);
(b) the fewest top countries that cover at least 80 % of completed surveys;
(c) how people came to know the programme, ranked;
(d) the decision factors, as top-1 (most important) and top-3 (named at all);
(e) the reintegration dimensions: the answers to each question.

Coordinators see exact counts. `publication=True` applies the small-cell rules of
referral_api.suppression to every count shown (a count below 5 reads "<5"), and orders the
entries so that their order tells nothing about a hidden count: shown entries by their count,
hidden ones after them in a fixed order (catalogue order; countries by ISO code).

What is counted: (a) and (e) count surveys (one per answered wave, plus pilot rows; `n.a.`
counts the surveys of people approached who did not answer: refused, cancelled); (c) and (d)
count people, because the bot asks the info source and the reasons in the first wave a person
answers only (the service keeps them from that wave only).
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from babel import Locale
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from referral_api.followup.models import FollowupResponse
from referral_api.followup.questionnaire import (
    DECISION_FACTORS,
    DIMENSION_QUESTIONS,
    DIMENSIONS,
    INFO_SOURCES,
    DimensionQuestion,
)
from referral_api.suppression import Count, suppress_list, suppress_table

T = TypeVar("T")
PARTNERS = ("caritas", "iom")
PARETO_SHARE = 0.8

INFO_LABELS = {
    "word_of_mouth": "Word of mouth", "reception_social_worker": "Social worker in reception",
    "return_desk": "Return desk", "ngo_or_city_partner": "NGO or city partner",
    "immigration_office": "Immigration Office", "website": "Website",
    "freephone": "Freephone", "other": "Other",
}
DECISION_LABELS = {
    "negative_asylum_decision": "Negative asylum decision",
    "no_prospect_of_legal_stay": "No prospect of legal stay",
    "cannot_work_in_belgium": "Cannot work in Belgium",
    "living_conditions_in_belgium": "Living conditions in Belgium",
    "family_reasons_at_home": "Family reasons at home", "homesickness": "Homesickness",
    "health": "Health", "debts_or_money": "Debts or money",
    "safety_improved_at_home": "Safety improved at home", "other": "Other",
}
ANSWER_LABELS = {
    "yes": "Yes", "no": "No", "irregular": "Irregular", "fully": "Fully", "partly": "Partly",
    "not": "Not", "good": "Good", "acceptable": "Acceptable", "poor": "Poor",
    "no_stable": "No stable housing", "with_difficulty": "With difficulty", "all": "All",
    "some": "Some", "none": "None", "no_children": "No school-age children",
    "not_sure": "Not sure", "very_satisfied": "Very satisfied", "satisfied": "Satisfied",
    "neutral": "Neutral", "dissatisfied": "Dissatisfied",
    "very_dissatisfied": "Very dissatisfied", "skip": "Prefer not to say",
}
DIMENSION_LABELS = {"economic": "Economic", "social": "Social", "psychosocial": "Psychosocial",
                    "support": "Support"}


@dataclass(frozen=True)
class ResponseRow:
    partner: str
    country: str
    status: str
    info_source: str | None = None
    decisions: tuple[str | None, ...] = ()
    answers: dict[str, str] = field(default_factory=dict)


@dataclass
class TableLine:
    label: str  # ISO code, "n.a." or "total"
    caritas: Count
    iom: Count
    total: Count


@dataclass
class DimensionResult:
    question: DimensionQuestion
    counts: list[tuple[str, Count]]
    answered: int


@dataclass
class Report:
    publication: bool
    countries: list[TableLine]
    not_applicable: TableLine
    total: TableLine
    completed: int
    pareto_codes: list[str]
    pareto_percent: int
    info_sources: list[tuple[str, Count]]
    decisions: list[tuple[str, Count, Count]]  # factor, top-1, top-3
    dimensions: list[DimensionResult]

    @property
    def pareto_sentence(self) -> str:
        if not self.completed:
            return "No completed surveys yet."
        n = len(self.pareto_codes)
        return (f"{n} {'country represents' if n == 1 else 'countries represent'} "
                f"{self.pareto_percent}% of completed surveys")


def _exact(value: int) -> Count:
    return Count(value, False)


def country_name(code: str) -> str:
    return str(Locale("en").territories.get(code, code))


def build(rows: Iterable[ResponseRow], *, publication: bool = False) -> Report:
    rows = list(rows)
    completed = [r for r in rows if r.status == "completed"]
    per_country: dict[str, Counter[str]] = {}
    for r in completed:
        per_country.setdefault(r.country, Counter())[r.partner] += 1
    order = sorted(per_country, key=lambda c: (-sum(per_country[c].values()), c))
    na = Counter(r.partner for r in rows if r.status != "completed")
    matrix = [[per_country[c][p] for p in PARTNERS] for c in order] + [[na[p] for p in PARTNERS]]

    if publication:
        table = suppress_table(matrix, row_totals=True, col_totals=True)
        assert table.row_totals is not None and table.col_totals is not None
        assert table.grand_total is not None
        lines = [TableLine(label, cells[0], cells[1], total) for label, cells, total
                 in zip([*order, "n.a."], table.cells, table.row_totals, strict=True)]
        total_line = TableLine("total", table.col_totals[0], table.col_totals[1],
                               table.grand_total)
    else:
        lines = [TableLine(label, _exact(a), _exact(b), _exact(a + b))
                 for label, (a, b) in zip([*order, "n.a."], matrix, strict=True)]
        sums = [sum(col) for col in zip(*matrix, strict=True)]
        total_line = TableLine("total", _exact(sums[0]), _exact(sums[1]), _exact(sum(sums)))

    # (b) Pareto: the fewest top countries covering at least 80 % of completed surveys.
    n_completed = len(completed)
    covered, codes = 0, []
    for code in order:
        if n_completed and covered >= PARETO_SHARE * n_completed:
            break
        codes.append(code)
        covered += sum(per_country[code].values())
    percent = math.floor(100 * covered / n_completed + 0.5) if n_completed else 0

    info = Counter(r.info_source for r in completed if r.info_source)
    info_order = sorted(INFO_SOURCES, key=lambda s: (-info[s], INFO_SOURCES.index(s)))
    top1 = Counter(r.decisions[0] for r in completed if r.decisions and r.decisions[0])
    top3 = Counter(d for r in completed for d in set(r.decisions) if d)
    decision_order = sorted(DECISION_FACTORS,
                            key=lambda d: (-top1[d], -top3[d], DECISION_FACTORS.index(d)))
    info_counts = _line([info[s] for s in info_order], publication, with_total=True)
    top1_counts = _line([top1[d] for d in decision_order], publication, with_total=True)
    top3_counts = _line([top3[d] for d in decision_order], publication, with_total=False)
    info_pairs = list(zip(info_order, info_counts, strict=True))
    decision_rows = list(zip(decision_order, top1_counts, top3_counts, strict=True))
    if publication:  # the order must not tell the hidden counts apart
        lines[:-1] = _published_order(lines[:-1], lambda line: line.total,
                                      lambda line: line.label, sorted(order))
        info_pairs = _published_order(info_pairs, lambda pair: pair[1], lambda pair: pair[0],
                                      INFO_SOURCES)
        decision_rows = _published_order(decision_rows, lambda row: row[1], lambda row: row[0],
                                         DECISION_FACTORS)

    dimensions = []
    for question in DIMENSION_QUESTIONS:
        answers = Counter(r.answers[question.id] for r in completed if question.id in r.answers)
        counts = _line([answers[a] for a in question.answers], publication, with_total=True)
        dimensions.append(DimensionResult(question, list(zip(question.answers, counts,
                                                             strict=True)),
                                          sum(answers.values())))
    return Report(
        publication=publication, countries=lines[:-1], not_applicable=lines[-1],
        total=total_line, completed=n_completed, pareto_codes=codes, pareto_percent=percent,
        info_sources=info_pairs, decisions=decision_rows,
        dimensions=dimensions)


def _published_order(items: Sequence[T], count: Callable[[T], Count],
                     name: Callable[[T], str], fixed: Sequence[str]) -> list[T]:
    """Publication order: the entries shown by their count (ties in the fixed order), the
    hidden ones after them in the fixed order (catalogue order; countries by code), so that
    neither the order of the hidden ones nor their place among the shown tells their value."""
    place = {key: i for i, key in enumerate(fixed)}
    shown = sorted((i for i in items if not count(i).hidden),
                   key=lambda i: (-count(i).value, place[name(i)]))
    hidden = sorted((i for i in items if count(i).hidden), key=lambda i: place[name(i)])
    return [*shown, *hidden]


def _line(values: Sequence[int], publication: bool, *, with_total: bool) -> list[Count]:
    if not publication:
        return [_exact(v) for v in values]
    counts, _total = suppress_list(values, with_total=with_total)
    return counts


async def load_rows(session: AsyncSession) -> list[ResponseRow]:
    result = await session.execute(select(
        FollowupResponse.partner, FollowupResponse.country, FollowupResponse.status,
        FollowupResponse.info_source, FollowupResponse.decision_1, FollowupResponse.decision_2,
        FollowupResponse.decision_3, FollowupResponse.answers))
    return [ResponseRow(partner, country, status, info, (d1, d2, d3), dict(answers or {}))
            for partner, country, status, info, d1, d2, d3, answers in result]


# ---- renderers ---------------------------------------------------------------------------
def render_text(report: Report) -> str:
    out: list[str] = []
    title = "Follow-up after return" + (" (publication: counts below 5 shown as <5)"
                                        if report.publication else " (exact counts)")
    out += [title, "=" * len(title), "",
            "(a) Completed surveys by country of return and reintegration partner", ""]
    out.append(f"{'Country':<28}{'Caritas':>9}{'IOM':>9}{'Total':>9}")
    for line in [*report.countries, report.not_applicable, report.total]:
        if line.label == "n.a.":
            label = "n.a. (cancelled, refused)"
        elif line.label == "total":
            label = "Total"
        else:
            label = f"{line.label} {country_name(line.label)}"[:27]
        out.append(f"{label:<28}{line.caritas!s:>9}{line.iom!s:>9}{line.total!s:>9}")
    out += ["", "(b) " + report.pareto_sentence
            + (": " + ", ".join(report.pareto_codes) if report.pareto_codes else "") + ".", ""]
    out += ["(c) How people came to know the programme (completed surveys)", ""]
    for i, (source, count) in enumerate(report.info_sources, start=1):
        out.append(f"{i:>3}. {INFO_LABELS[source]:<32}{count!s:>6}")
    out += ["", "(d) Decision factors (top-1: most important; top-3: among the three)", "",
            f"     {'Factor':<32}{'Top-1':>6}{'Top-3':>7}"]
    for i, (factor, one, three) in enumerate(report.decisions, start=1):
        out.append(f"{i:>3}. {DECISION_LABELS[factor]:<32}{one!s:>6}{three!s:>7}")
    out += ["", "(e) Reintegration dimensions (answers to the bot's questionnaire)"]
    for dimension in DIMENSIONS:
        results = [d for d in report.dimensions if d.question.dimension == dimension]
        out += ["", f"  {DIMENSION_LABELS[dimension]}"]
        for result in results:
            if not result.answered:
                out.append(f"    {result.question.label}: no answers yet")
                continue
            parts = ", ".join(f"{ANSWER_LABELS[a]} {c}" for a, c in result.counts)
            out.append(f"    {result.question.label} (n={_n(result, report)}): {parts}")
    return "\n".join(out) + "\n"


def _n(result: DimensionResult, report: Report) -> str:
    return "<5" if report.publication and result.answered < 5 else str(result.answered)


def render_csv(report: Report) -> str:
    """The combined results table: header country,caritas,iom,total; ISO alpha-2 codes, then
    the `n.a.` and `total` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["country", "caritas", "iom", "total"])
    for line in [*report.countries, report.not_applicable, report.total]:
        writer.writerow([line.label, line.caritas.json(), line.iom.json(), line.total.json()])
    return buffer.getvalue()


def chart_series(report: Report) -> dict[str, Any]:
    """The data of the three charts: (c) sources, (d) decision factors, (e) each dimension
    question (shares would hide the n; counts are shown)."""
    return {
        "sources": [(INFO_LABELS[s], c) for s, c in report.info_sources],
        "decisions": [(DECISION_LABELS[d], one, three) for d, one, three in report.decisions],
        "dimensions": [(r.question, [(ANSWER_LABELS[a], c) for a, c in r.counts], r.answered)
                       for r in report.dimensions],
    }

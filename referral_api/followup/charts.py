"""Charts of the follow-up report: SVG rendered here (accessible: <title>, <desc>, every value
written as text), PNG drawn by matplotlib (Agg backend, no display) from the same numbers.

A hidden count (publication, "<5") is drawn as an empty bar labelled "<5"; in publication mode
no text of a chart (title, description, labels, tooltips) carries an exact count below 5.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from referral_api.followup.report import DIMENSION_LABELS, Report, chart_series
from referral_api.suppression import Count

COLOURS = ("#1f5f8b", "#e08a1e")  # blue, orange: distinguishable for most colour vision
ROW, LABEL_WIDTH, BAR_WIDTH, PAD = 22, 230, 320, 10
# Text is styled by attributes, not a <style> element: the staff pages' CSP (default-src
# 'self') blocks inline style, and the SVG files read alone the same way.
TEXT = 'font-family="sans-serif" font-size="13" fill="#222"'
TITLE = 'font-family="sans-serif" font-size="15" font-weight="bold" fill="#222"'
CHAR, TITLE_CHAR = 7.6, 9.0  # generous widths of one character at 13 px and 15 px bold


def _text_width(text: str, per_char: float = CHAR) -> int:
    return round(len(text) * per_char)


@dataclass(frozen=True)
class Chart:
    slug: str  # file name without extension
    title: str
    description: str
    categories: list[str]
    series: list[tuple[str, list[Count]]]  # (name, one count per category)


def _n(value: int, publication: bool) -> str:
    """A number in a text: below 5 it reads "<5" in publication mode."""
    return "<5" if publication and value < 5 else str(value)


def charts(report: Report) -> list[Chart]:
    data = chart_series(report)
    out = [
        Chart("sources", "How people came to know the programme",
              "Completed surveys by source of information, ranked.",
              [label for label, _ in data["sources"]],
              [("Completed surveys", [c for _, c in data["sources"]])]),
        Chart("decision_factors", "Decision factors",
              "How often each reason was named as the most important (top-1) and among the "
              "three most important (top-3).",
              [label for label, _, _ in data["decisions"]],
              [("Top-1", [one for _, one, _ in data["decisions"]]),
               ("Top-3", [three for _, _, three in data["decisions"]])]),
    ]
    for question, counts, answered in data["dimensions"]:
        out.append(Chart(
            f"dimension_{question.id}",
            f"{DIMENSION_LABELS[question.dimension]}: {question.label}",
            f"Answers of {_n(answered, report.publication)} completed questionnaire(s) "
            "from the bot.",
            [label for label, _ in counts], [("Answers", [c for _, c in counts])]))
    return out


def svg(chart: Chart) -> str:
    """A horizontal bar chart, one group of bars per category."""
    n_series = len(chart.series)
    group = ROW * n_series + PAD
    top = 40 + (ROW if n_series > 1 else 0)
    height = top + group * len(chart.categories) + PAD
    # Wide enough for the longest category label, the counts after the bars and the title:
    # nothing is clipped.
    label_width = max([LABEL_WIDTH] + [_text_width(c) + 2 * PAD for c in chart.categories])
    width = max(label_width + BAR_WIDTH + 70,
                _text_width(chart.title, TITLE_CHAR) + 2 * PAD)
    peak = max([c.value for _, counts in chart.series for c in counts if not c.hidden] + [1])
    ident = f"chart-{chart.slug}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(chart.title)}</title>',
        f'<desc id="{ident}-desc">{escape(chart.description)}</desc>',
        f'<text {TITLE} x="{PAD}" y="22">{escape(chart.title)}</text>',
    ]
    if n_series > 1:
        x = label_width
        for i, (name, _) in enumerate(chart.series):
            parts.append(f'<rect x="{x}" y="30" width="12" height="12" '
                         f'fill="{COLOURS[i % 2]}"/><text {TEXT} x="{x + 16}" y="41">'
                         f'{escape(name)}</text>')
            x += 90
    for row, category in enumerate(chart.categories):
        y = top + row * group
        parts.append(f'<text {TEXT} x="{label_width - 8}" y="{y + ROW * n_series / 2 + 5}" '
                     f'text-anchor="end">{escape(category)}</text>')
        for i, (name, counts) in enumerate(chart.series):
            count = counts[row]
            bar = 0 if count.hidden else round(BAR_WIDTH * count.value / peak)
            by = y + i * ROW
            parts.append(f'<rect x="{label_width}" y="{by + 3}" width="{bar}" '
                         f'height="{ROW - 6}" fill="{COLOURS[i % 2]}">'
                         f'<title>{escape(f"{category}, {name}: {count}")}</title></rect>')
            parts.append(f'<text {TEXT} x="{label_width + bar + 5}" y="{by + ROW - 7}">'
                         f'{escape(str(count))}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def png(chart: Chart) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    n = len(chart.categories)
    figure = Figure(figsize=(8, 1.2 + 0.35 * n * len(chart.series)), dpi=100)
    axes = figure.subplots()
    height = 0.8 / len(chart.series)
    positions = list(range(n))
    for i, (name, counts) in enumerate(chart.series):
        ys = [p + i * height for p in positions]
        values = [0 if c.hidden else c.value for c in counts]
        bars = axes.barh(ys, values, height=height, color=COLOURS[i % 2], label=name)
        axes.bar_label(bars, labels=[str(c) for c in counts], padding=3)
    axes.set_yticks([p + height * (len(chart.series) - 1) / 2 for p in positions],
                    labels=chart.categories)
    axes.invert_yaxis()
    axes.set_title(chart.title)
    if len(chart.series) > 1:
        axes.legend(loc="lower right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_charts(report: Report, folder: Path, formats: Sequence[str] = ("svg", "png"),
                 ) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in charts(report):
        if "svg" in formats:
            path = folder / f"{chart.slug}.svg"
            path.write_text(svg(chart), encoding="utf-8")
            written.append(path)
        if "png" in formats:
            path = folder / f"{chart.slug}.png"
            path.write_bytes(png(chart))
            written.append(path)
    return written

"""Server-rendered SVG bar charts: readable at a glance, no JavaScript, no CDN.

Accessible: `role="img"` with a <title> and a <desc> listing every value, and each number is
drawn as text beside its bar. A suppressed count ("<5") gets no bar at all (its length would
reveal it), only the text. Colours are attributes (the staff pages' CSP forbids inline style).
"""

from __future__ import annotations

import html
import secrets

from markupsafe import Markup

from referral_api.suppression import Count

BAR = "#0b4f9c"
ROW = 34
LABEL_WIDTH = 190
BAR_WIDTH = 300
WIDTH = LABEL_WIDTH + BAR_WIDTH + 60


def bar_chart(title: str, items: list[tuple[str, Count]]) -> Markup:
    ident = "c" + secrets.token_hex(4)
    shown = [c.value for _, c in items if not c.hidden]
    top = max(shown) if shown else 0
    height = ROW * max(len(items), 1) + 8
    desc = "; ".join(f"{label}: {count}" for label, count in items)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{ident}t {ident}d">',
        f'<title id="{ident}t">{html.escape(title)}</title>',
        f'<desc id="{ident}d">{html.escape(desc)}</desc>',
    ]
    for i, (label, count) in enumerate(items):
        y = 4 + i * ROW
        text_y = y + ROW / 2 + 5
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{text_y}" text-anchor="end" '
                     f'font-size="14" fill="#1a1a1a">{html.escape(label)}</text>')
        length = 0.0
        if not count.hidden and top:
            length = max(2.0, BAR_WIDTH * count.value / top) if count.value else 0.0
        if length:
            parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 5}" width="{length:.1f}" '
                         f'height="{ROW - 10}" fill="{BAR}" rx="3"/>')
        parts.append(f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{text_y}" font-size="14" '
                     f'font-weight="600" fill="#1a1a1a">{html.escape(str(count))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped

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
ROW = 46  # a label line above each bar: long labels never get cut, on a phone too
BAR_WIDTH = 380
WIDTH = BAR_WIDTH + 70


def bar_chart(title: str, items: list[tuple[str, Count]]) -> Markup:
    ident = "c" + secrets.token_hex(4)
    shown = [c.value for _, c in items if not c.hidden]
    top = max(shown) if shown else 0
    height = ROW * max(len(items), 1) + 8
    desc = "; ".join(f"{label}: {count}" for label, count in items)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{ident}t" aria-describedby="{ident}d">',
        f'<title id="{ident}t">{html.escape(title)}</title>',
        f'<desc id="{ident}d">{html.escape(desc)}</desc>',
    ]
    for i, (label, count) in enumerate(items):
        y = 4 + i * ROW
        parts.append(f'<text x="0" y="{y + 15}" font-size="15" fill="#1a1a1a">'
                     f'{html.escape(label)}</text>')
        length = 0.0
        if not count.hidden and top and count.value:
            length = max(2.0, BAR_WIDTH * count.value / top)
        if length:
            parts.append(f'<rect x="0" y="{y + 21}" width="{length:.1f}" height="16" '
                         f'fill="{BAR}" rx="3"/>')
        parts.append(f'<text x="{length + 6:.1f}" y="{y + 35}" font-size="15" '
                     f'font-weight="700" fill="#1a1a1a">{html.escape(str(count))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped

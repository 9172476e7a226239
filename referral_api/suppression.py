"""Small-cell suppression for every published count (signals reports, follow-up exports).

Rule (programme privacy rule, DESIGN.md): a count of fewer than ``THRESHOLD`` (5) people is
never shown; it reads "<5". That is *primary* suppression. Showing the totals would let a
reader recompute a suppressed cell by subtraction (total 12, shown cells 4+? → the hidden one
is 8-…), so *complementary* suppression follows: in every line that adds up to a shown total
(each row with its row total, each column with its column total, and the totals row and
column with the grand total), a line with exactly one hidden cell gets a second one hidden —
the smallest still-shown inner cell of that line, else the line's total. This repeats until
no line has exactly one hidden cell. Zero is a count below 5 and is hidden too: "<5" must not
reveal whether anyone is behind it.

The heuristic is the classic one used by statistical offices for one- and two-way tables
(hide one more cell per exposed line). It does not claim optimality (fewest cells hidden), and
it does not protect against a reader who combines several different tables; reports only
publish one breakdown per table for that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

THRESHOLD = 5
SUPPRESSED = "<5"


@dataclass(frozen=True, slots=True)
class Count:
    value: int
    hidden: bool

    def __str__(self) -> str:
        return SUPPRESSED if self.hidden else str(self.value)

    def json(self) -> int | str:
        """The value for JSON and CSV: an int, or the string "<5"."""
        return SUPPRESSED if self.hidden else self.value


@dataclass(frozen=True, slots=True)
class SuppressedTable:
    """A two-way table after suppression. ``row_totals``/``col_totals``/``grand_total`` are
    None when the table was built without them."""

    cells: list[list[Count]]
    row_totals: list[Count] | None
    col_totals: list[Count] | None
    grand_total: Count | None


def suppress_list(values: Sequence[int], *, with_total: bool) -> tuple[list[Count], Count | None]:
    """One line of counts. ``with_total=True`` when the values add up to a total that is shown
    (categories that exclude each other); False for multi-answer counts, where only primary
    suppression applies because no sum is published."""
    table = suppress_table([list(values)], row_totals=with_total, col_totals=False)
    total = table.row_totals[0] if table.row_totals is not None else None
    return table.cells[0], total


def suppress_table(rows: Sequence[Sequence[int]], *, row_totals: bool = True,
                   col_totals: bool = True) -> SuppressedTable:
    """Primary then complementary suppression of a table of counts and the totals shown."""
    n_rows = len(rows)
    n_cols = len(rows[0]) if rows else 0
    if any(len(row) != n_cols for row in rows):
        raise ValueError("rows of different lengths")
    if any(value < 0 for row in rows for value in row):
        raise ValueError("negative count")
    # The extended grid: inner cells, then a totals column and a totals row when shown.
    grid = [list(row) for row in rows]
    if row_totals:
        for row in grid:
            row.append(sum(row[:n_cols]))
    if col_totals:
        grid.append([sum(grid[r][c] for r in range(n_rows)) for c in range(len(grid[0]))]
                    if n_rows else [0] * (n_cols + (1 if row_totals else 0)))
    width = n_cols + (1 if row_totals else 0)
    height = n_rows + (1 if col_totals else 0)
    hidden = [[grid[r][c] < THRESHOLD for c in range(width)] for r in range(height)]

    # Each line: its inner cells, then the cell holding their total.
    lines: list[tuple[list[tuple[int, int]], tuple[int, int]]] = []
    if row_totals:
        lines += [([(r, c) for c in range(n_cols)], (r, n_cols)) for r in range(height)]
    if col_totals:
        lines += [([(r, c) for r in range(n_rows)], (n_rows, c)) for c in range(width)]

    changed = True
    while changed:
        changed = False
        for inner, total in lines:
            members = [*inner, total]
            if sum(hidden[r][c] for r, c in members) != 1:
                continue
            shown = [(grid[r][c], (r, c)) for r, c in inner if not hidden[r][c]]
            r, c = min(shown)[1] if shown else total
            hidden[r][c] = True
            changed = True

    def count(r: int, c: int) -> Count:
        return Count(grid[r][c], hidden[r][c])

    return SuppressedTable(
        cells=[[count(r, c) for c in range(n_cols)] for r in range(n_rows)],
        row_totals=[count(r, n_cols) for r in range(n_rows)] if row_totals else None,
        col_totals=[count(n_rows, c) for c in range(n_cols)] if col_totals else None,
        grand_total=count(n_rows, n_cols) if row_totals and col_totals else None,
    )

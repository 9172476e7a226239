"""Small-cell suppression: nothing below 5 is shown, and no hidden cell can be recomputed."""

from __future__ import annotations

import itertools

import pytest

from referral_api.suppression import SUPPRESSED, SuppressedTable, suppress_list, suppress_table


def _recoverable(table: SuppressedTable, rows: list[list[int]]) -> list[tuple[int, int]]:
    """Hidden inner cells a reader can recompute from one shown total and the shown cells of
    the same line (the differencing attack complementary suppression must stop)."""
    found = []
    for r, row in enumerate(table.cells):
        hidden = [c for c, cell in enumerate(row) if cell.hidden]
        if table.row_totals and not table.row_totals[r].hidden and len(hidden) == 1:
            found.append((r, hidden[0]))
    for c in range(len(rows[0])):
        hidden = [r for r in range(len(rows)) if table.cells[r][c].hidden]
        if table.col_totals and not table.col_totals[c].hidden and len(hidden) == 1:
            found.append((hidden[0], c))
    return found


def test_counts_below_five_read_less_than_five() -> None:
    cells, total = suppress_list([12, 4, 9, 0], with_total=False)
    assert [str(cell) for cell in cells] == ["12", SUPPRESSED, "9", SUPPRESSED]
    assert total is None
    assert [cell.json() for cell in cells] == [12, "<5", 9, "<5"]


def test_a_single_hidden_cell_beside_a_total_hides_the_next_smallest() -> None:
    # 30 = 20 + 7 + 3: showing 20, 7 and the total would give away the 3.
    cells, total = suppress_list([20, 7, 3], with_total=True)
    assert [str(cell) for cell in cells] == ["20", SUPPRESSED, SUPPRESSED]
    assert total is not None and str(total) == "30"


def test_when_nothing_else_can_hide_the_total_is_hidden() -> None:
    cells, total = suppress_list([9, 2], with_total=True)
    assert [str(cell) for cell in cells] == [SUPPRESSED, SUPPRESSED]
    cells, total = suppress_list([3], with_total=True)
    assert total is not None and total.hidden


def test_complementary_suppression_in_two_ways() -> None:
    rows = [[40, 2, 15], [30, 12, 18], [25, 10, 9]]
    table = suppress_table(rows)
    assert table.cells[0][1].hidden  # primary
    assert _recoverable(table, rows) == []
    # The cascade: the row and the column of the 2 each lose a second cell.
    assert sum(cell.hidden for cell in table.cells[0]) >= 2
    assert sum(table.cells[r][1].hidden for r in range(3)) >= 2
    assert table.grand_total is not None and str(table.grand_total) == "161"


@pytest.mark.parametrize("seed", range(40))
def test_no_hidden_cell_is_ever_recoverable(seed: int) -> None:
    import random
    rng = random.Random(seed)
    rows = [[rng.choice([0, 1, 3, 4, 5, 8, 13, 40]) for _ in range(rng.randint(1, 5))]]
    rows += [[rng.choice([0, 2, 6, 9, 30]) for _ in rows[0]] for _ in range(rng.randint(0, 4))]
    table = suppress_table(rows)
    assert _recoverable(table, rows) == []
    every = [*itertools.chain.from_iterable(table.cells), *(table.row_totals or []),
             *(table.col_totals or []), table.grand_total]
    assert all(cell is not None and (cell.hidden or cell.value >= 5) for cell in every)
    # A hidden totals-row cell is not recoverable from the grand total either.
    assert table.col_totals is not None and table.grand_total is not None
    if not table.grand_total.hidden:
        assert sum(cell.hidden for cell in table.col_totals) != 1


def test_bad_tables_are_refused() -> None:
    with pytest.raises(ValueError):
        suppress_table([[1, 2], [3]])
    with pytest.raises(ValueError):
        suppress_table([[-1]])

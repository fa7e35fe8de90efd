"""Fitting a rich table into the terminal's width without cutting a word.

Cells may wrap between words but never inside one (an id cut in two could not be copied
into the next command); when even that does not fit, each row becomes a block of
``column: value`` lines instead (`as_records`). Used by `render`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = ["as_records", "fit"]


def fit(table: Table, console: Console) -> RenderableType:
    """The table within the console's width. Cells may wrap between words but never inside
    one (an id cut in two could not be copied into the next command); when even that does
    not fit, each row becomes a block of ``column: value`` lines instead."""
    unbounded = console.options.update_width(100_000)
    longest = [
        max([_longest_word(c) for c in col.cells] + [_longest_word(col.header)])
        for col in table.columns
    ]
    whole = [
        max(Measurement.get(console, unbounded, c).maximum for c in [col.header, *col.cells])
        for col in table.columns
    ]
    overhead = Measurement.get(console, unbounded, table).maximum - sum(whole)
    room = console.width - overhead
    if sum(whole) <= room:
        return table
    if sum(longest) > room:
        return as_records(table)
    # every column gets its longest word; what is left goes where the text is longest
    spare, wants = room - sum(longest), [w - m for w, m in zip(whole, longest, strict=True)]
    total = sum(wants) or 1
    for column, least, want in zip(table.columns, longest, wants, strict=True):
        column.width = least + spare * want // total
    return table


def _longest_word(value: Any) -> int:
    text = value.plain if isinstance(value, Text) else str(value)
    return max((len(word) for word in text.split()), default=0)


def as_records(table: Table) -> RenderableType:
    """A table's rows as blocks of ``column: value`` lines, for narrow terminals."""
    parts: list[RenderableType] = []
    if table.title:
        parts.append(Text(str(table.title), style="bold"))
    columns = [(str(c.header), list(c.cells)) for c in table.columns]
    for row in range(table.row_count):
        block = Table.grid(padding=(0, 1))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for header, cells in columns:
            block.add_row(f"{header}:", cells[row])
        parts.append(block if row == 0 else Group(Text(""), block))
    return Group(*parts)

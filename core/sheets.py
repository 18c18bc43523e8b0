"""Reading a spreadsheet's rows: XLSX, XLS, ODS with python-calamine, CSV with the standard library.

No database and no rules here: a sheet is its header and its rows, each row with the line number a
person sees in the spreadsheet (or the CSV file's line it starts on), its cells as plain Python values.
`services/imports.py` gives the rows their meaning.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPREADSHEETS = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
MAX_ROWS = 200_000
"""More rows than this in one file are refused before anything is written (a sheet is read whole into
memory: split a bigger one)."""
DELIMITERS = (",", ";", "\t")
"""A CSV file's delimiter: whichever of these its first line has most of (Excel writes `;` where the
decimal mark is a comma)."""


class SheetError(Exception):
    """The file as a whole cannot be read (missing, not a spreadsheet, no header, no such sheet): nothing
    was imported."""


@dataclass(frozen=True)
class Row:
    line: int                 # 1-based, as the spreadsheet shows it (the header is usually line 1)
    cells: dict[str, Any]     # column name (normalised, see `column_name`) -> value; blank cells are None
    stray: Any = None         # a value right of the last named column (the importer refuses the row)


def column_name(header: Any) -> str:
    """A header cell as a column name: trimmed, lower case, spaces and dashes as underscores
    ("Course code" and "course-code" are `course_code`)."""
    return re.sub(r"[\s\-]+", "_", str(header if header is not None else "").strip().lower())


def cell(value: Any) -> Any:
    """A cell as the importer takes it: text trimmed, blank as None, a whole float as an int (spreadsheets
    store every number as a float)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def read_sheet(path: str | Path, sheet: str | None = None) -> tuple[list[str], list[Row]]:
    """The header (column names) and the non-blank rows of a CSV file (UTF-8, with or without a byte
    order mark) or of one sheet of a workbook (the first, or the one named)."""
    path = Path(path)
    if not path.is_file():
        raise SheetError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        if sheet:
            raise SheetError("--sheet is for workbooks; a CSV file has one table")
        lines = _csv_lines(path)
    elif path.suffix.lower() in SPREADSHEETS:
        lines = _workbook_lines(path, sheet)
    else:
        raise SheetError(f"{path.name}: give a .csv, .xlsx, .xls or .ods file")
    return _table(path.name, lines)


def _csv_lines(path: Path) -> list[tuple[int, list[Any]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            first = handle.readline()
            handle.seek(0)                 # (utf-8-sig skips the byte order mark again)
            delimiter = max(DELIMITERS, key=first.count)
            reader = csv.reader(handle, delimiter=delimiter)
            found = []
            while True:
                line = reader.line_num + 1  # where the next record starts (a quoted cell may span lines)
                try:
                    values = next(reader)
                except StopIteration:
                    return found
                found.append((line, values))
                if len(found) > MAX_ROWS + 1:
                    raise SheetError(f"{path.name}: more than {MAX_ROWS:,} rows; split the file")
    except UnicodeDecodeError as exc:
        raise SheetError(f"{path.name}: not UTF-8 text (byte {exc.start}); save the CSV as UTF-8") from None
    except csv.Error as exc:
        raise SheetError(f"{path.name}: not a readable CSV file: {exc}") from None


def _workbook_lines(path: Path, sheet: str | None) -> list[tuple[int, list[Any]]]:
    from python_calamine import CalamineError, load_workbook

    try:
        book = load_workbook(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise SheetError(f"{path.name}: not a readable workbook: {exc}") from None
    try:
        if sheet is None:
            if not book.sheet_names:
                raise SheetError(f"{path.name}: the workbook has no sheet")
            table = book.get_sheet_by_index(0)
        elif sheet in book.sheet_names:
            table = book.get_sheet_by_name(sheet)
        else:
            raise SheetError(f"{path.name}: no sheet {sheet!r}; it has {', '.join(book.sheet_names)}")
        if table.height > MAX_ROWS + 1:
            raise SheetError(f"{path.name}: more than {MAX_ROWS:,} rows; split the file")
        # The whole grid from A1, so that a row's index is the line number the spreadsheet shows.
        return [(index + 1, values) for index, values in enumerate(table.to_python(skip_empty_area=False))]
    except CalamineError as exc:
        raise SheetError(f"{path.name}: not a readable workbook: {exc}") from None
    finally:
        book.close()


def _table(name: str, lines: list[tuple[int, list[Any]]]) -> tuple[list[str], list[Row]]:
    """The first non-blank line is the header; blank lines after it are skipped."""
    header: list[str] | None = None
    rows: list[Row] = []
    for line, values in lines:
        values = [cell(v) for v in values]
        if all(v is None for v in values):
            continue
        if header is None:
            header = [column_name(v) for v in values]
            while header and not header[-1]:
                header.pop()
            if any(not h for h in header):
                raise SheetError(f"{name}: line {line}: a header cell is blank (column {header.index('') + 1})")
            repeated = sorted({h for h in header if header.count(h) > 1})
            if repeated:
                raise SheetError(f"{name}: line {line}: column {', '.join(repeated)} is named twice")
            continue
        extra = [v for v in values[len(header):] if v is not None]
        rows.append(Row(line, {h: (values[i] if i < len(values) else None) for i, h in enumerate(header)},
                        extra[0] if extra else None))
    if header is None:
        raise SheetError(f"{name}: the sheet is empty (no header line)")
    return header, rows

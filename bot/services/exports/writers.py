"""The file formats: CSV (UTF-8 with a BOM, formula-looking texts neutralised), JSON Lines and
XLSX (openpyxl write-only, rolling over to a new sheet past Excel's row limit; a bold header row
frozen with the first column, column widths set from what the columns hold, times as date
cells).  A table takes a header, then batches of rows (tuples; ``None`` is a blank cell)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, BinaryIO

XLSX_MAX_ROWS = 1_048_576


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


#: The most one ``write(2)`` of an export hands the kernel.  Copying a large buffer into an ext4
#: file's page cache is milliseconds in the kernel, and a kernel built without preemption (most
#: servers' ``PREEMPT_NONE``) runs nothing else on that CPU meanwhile: a vote's thread woken
#: there waited for the export's 3 MB writes to end, whatever the export process's priority
#: (issue 15, item 2).  Each return to user space is a point where it gives way.
WRITE_SLICE = 64 * 1024


class _SlicedFile(io.FileIO):
    """A file whose writes reach the kernel in slices of at most :data:`WRITE_SLICE` bytes."""

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            written = super().write(view[done:done + WRITE_SLICE])
            if not written:  # a regular file takes every byte or raises; never loop on nothing
                break
            done += written
        return done


def open_output(path: Any) -> BinaryIO:
    """``path`` opened for writing an export: buffered, its writes handed to the kernel in
    slices (:data:`WRITE_SLICE`)."""
    return io.BufferedWriter(_SlicedFile(path, "wb"), buffer_size=WRITE_SLICE)


def _safe_csv_text(value: str | None) -> str | None:
    if value and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _identity(value: Any) -> Any:
    return value


class _Table:
    """One table of a file: a header, then rows (tuples; ``None`` is a blank cell)."""

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class _CsvTable(_Table):
    def __init__(self, stream: BinaryIO, header: Sequence[str], separator: str) -> None:
        self.text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=False)
        self.text.write("\ufeff")
        self.writer = csv.writer(self.text, delimiter=separator)
        self.writer.writerow(header)
        self.write = self.writer.writerows  # type: ignore[method-assign]

    def write_text(self, text: str) -> None:
        self.text.write(text)

    def write_bytes(self, data: bytes) -> None:
        """Lines already encoded (UTF-8), after what was written as text."""
        self.text.flush()
        self.text.buffer.write(data)

    def flush(self) -> None:
        self.text.flush()

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # the caller owns the binary stream


class _JsonLinesTable(_Table):
    def __init__(self, stream: BinaryIO, header: Sequence[str]) -> None:
        self.text = io.TextIOWrapper(stream, encoding="utf-8", newline="\n", write_through=False)
        self.header = tuple(header)
        self.encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        header, encode = self.header, self.encode
        self.text.write("".join(encode(dict(zip(header, row, strict=True))) + "\n" for row in rows))

    def flush(self) -> None:
        self.text.flush()

    def close(self) -> None:
        self.text.flush()
        self.text.detach()


class _XlsxBook:
    """A write-only openpyxl workbook (rows go to temporary files, zipped on ``save``)."""

    def __init__(self) -> None:
        from openpyxl import Workbook

        self.workbook = Workbook(write_only=True)

    def table(self, title: str, header: Sequence[str], widths: Sequence[float] | None = None) -> _XlsxTable:
        return _XlsxTable(self, title, header, widths)

    def save(self, stream: BinaryIO) -> None:
        self.workbook.save(stream)


class _XlsxTable(_Table):
    """One table as sheets of the workbook.  Each sheet is laid out before its first row (a
    write-only sheet cannot be changed afterwards): the header row and the first column frozen,
    the columns' widths (``widths``, else the header's length), the header in bold."""

    def __init__(self, book: _XlsxBook, title: str, header: Sequence[str],
                 widths: Sequence[float] | None = None) -> None:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        self.book, self.title, self.header = book, title, list(header)
        self.widths = list(widths) if widths is not None else [header_width(h) for h in self.header]
        self.illegal = ILLEGAL_CHARACTERS_RE
        self.cell_class = WriteOnlyCell
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        from openpyxl.styles import Font
        from openpyxl.utils import get_column_letter

        self.sheets += 1
        name = self.title if self.sheets == 1 else f"{self.title} ({self.sheets})"
        self.sheet = self.book.workbook.create_sheet(name)
        self.sheet.freeze_panes = "B2"  # the header row and the respondent (or code) column
        for index, width in enumerate(self.widths, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = width
        bold = Font(bold=True)
        header = []
        for name in self.header:
            cell = self.cell_class(self.sheet, self.illegal.sub("", name))
            cell.data_type = "s"  # a heading is text, even one starting with "="
            cell.font = bold
            header.append(cell)
        self.sheet.append(header)
        self.rows_in_sheet = 1

    def _cell(self, value: Any) -> Any:
        if isinstance(value, str):
            value = self.illegal.sub("", value)
            if value.startswith("="):  # text, never a formula
                cell = self.cell_class(self.sheet, value)
                cell.data_type = "s"
                return cell
        return value

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        for row in rows:
            if self.rows_in_sheet >= XLSX_MAX_ROWS:
                self._new_sheet()
            self.sheet.append([self._cell(v) for v in row])
            self.rows_in_sheet += 1


#: Column widths, in characters: at least a short code, at most what a screen shows.
MIN_WIDTH, MAX_WIDTH = 8.0, 60.0
DATE_WIDTH = 20.0  # "2026-01-15 10:30:05"


def header_width(name: str, content: int = 0) -> float:
    """A column's width: its header's or its usual content's length (``content`` characters),
    whichever is longer, with a margin, between ``MIN_WIDTH`` and ``MAX_WIDTH``."""
    return max(MIN_WIDTH, min(MAX_WIDTH, max(len(name), content) + 2.0))


def _csv_cell(value: Any, sep: str) -> str:
    """One CSV field as ``csv.writer`` writes it with ``QUOTE_MINIMAL`` and ``\\r\\n`` lines."""
    if value is None:
        return ""
    text = str(value)
    if sep in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def open_table(fmt: str, separator: str, stream: BinaryIO, header: Sequence[str], book: _XlsxBook | None,
               widths: Sequence[float] | None = None) -> Any:
    """The table the rows of one file go to: a sheet of ``book`` (XLSX, its columns ``widths``
    wide), else CSV or JSON Lines written to ``stream``."""
    if book is not None:
        return book.table("answers", header, widths)
    if fmt == "csv":
        return _CsvTable(stream, header, separator)
    return _JsonLinesTable(stream, header)

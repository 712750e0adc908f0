"""Exports of the answers, in the layouts survey tools use — without Discord.

One request (:class:`ExportRequest`) names what to export (one poll, every poll of a
campaign, or the occurrences of a recurring poll — a *series*, one variable per occurrence
and an ``occurrence`` column in the long layout and the codebook), the file format (``csv``, ``xlsx``, ``json``), the layout and the headings::

    exporter = Exporter(sessions, config)
    result = await exporter.export_to_path(
        ExportRequest(campaign="Enquête membres 2026-2027", format="csv", layout="wide"),
        Path("enquete.csv"),
    )   # writes enquete.csv and enquete.codebook.csv

Layouts
  ``long``  one row per chosen option of an answer (a multiple-choice answer with three options
            is three rows sharing respondent, question and time), one row per answer without a
            chosen option (text questions); columns ``LONG_COLUMNS``, plus ``rank`` (the option's
            rank, 1 = first choice) when the export holds a ranking question.  This is the "tidy"
            layout R, pandas and Power BI read directly.
  ``wide``  one row per respondent, one column per question; a multiple-choice question is one
            combined column (space-separated option codes, as KoboToolbox writes ``select_multiple``)
            plus one 0/1 column per option named ``<question>/<option>``.  A question the
            respondent did not answer is blank in all its columns (0 means "answered, not chosen").
            A ranking question: the codes in the respondent's order, then one column per option
            holding its rank (1 = first choice; blank = not ranked); the codebook says so.
            ``member_type`` is the type at the respondent's latest answer in the export.
  Both hold exactly the same answers; the tests rebuild the answer set from each and compare.

Headings (wide only, as LimeSurvey offers): ``codes`` (question and option codes) or ``labels``
(question text, and ``Question text [Option label]`` for the 0/1 columns).  The fixed columns
keep their code names in both.  Values: ``codes`` (option and member type codes) or ``labels``
(their labels; a multiple or ranked answer's labels joined by ``" | "``); 0/1 and rank columns
stay numbers.  Labels are written in one language, ``labels`` (``fr``, ``en``; default the
asking moderator's, else the config's): a question or option without a wording in that language
shows its poll's.

Codebook (KoboToolbox style): written alongside — ``<stem>.codebook.<ext>`` for CSV and JSON,
a second sheet ``codebook`` for XLSX — one row per question, per option and per member type,
with columns ``CODEBOOK_COLUMNS``: ``code`` and ``label`` (in the export's language) first, one
``label::Français (fr)``, ``label::English (en)`` column per catalogue language (blank where no
wording exists), ``column`` (the heading used in the wide layout) and ``postings`` (the channels
a question was posted to, with their language: one question, one variable, however many
channels asked it).  Question codes are unique within one export: a code that two exported questions share
becomes ``<code>_p<poll id>`` (and ``…_q<position>`` within one poll), in the data and in the
codebook alike.

Formats: CSV is UTF-8 with a BOM (Excel then reads accents right), ``,`` or ``;`` (French
Excel) as separator, and a free text starting with ``= + - @`` is prefixed with ``'`` so that a
spreadsheet shows it instead of running it as a formula (OWASP "CSV injection").  XLSX is
written by openpyxl in write-only mode (streamed; such texts become text cells); a sheet holds at
most 1,048,576 rows, further rows go to ``answers (2)``, ``answers (3)``…; every sheet has its
bold header row and first column frozen and its widths set from what its columns hold, and the
answer times are date cells (``answered_at_utc`` in UTC, ``answered_at_local`` in the config's
time zone).  JSON is **JSON Lines**
(one object per line, UTF-8, no BOM): streamed on writing and on reading (``pandas.read_json(…,
lines=True)``, ``jq``), a blank cell is ``null``.  Times are ISO 8601 strings to the second:
``answered_at_utc`` ends in ``Z``, ``answered_at_local`` carries its offset (config timezone).

Respondents are pseudonymised: the first 16 hex characters of HMAC-SHA256(secret, Discord user
id), the secret read from the environment variable named by ``privacy.pseudonym_secret_env``.
The same member gets the same pseudonym in every export made with the same secret, so exports
can be joined; without the secret the id cannot be recovered.  Raw ids only with
``identified=True`` (the CLI's ``--identified``; never from Discord).  An answer unlinked from its
member (forget-me in "unlink" mode) is a respondent of its own, ``anon-<answer id>``.

Memory stays flat: answers come from a server-side cursor in batches, rows are written as they
come, and the wide layout holds one respondent at a time (the stream is ordered by respondent).

The package: :mod:`.model` (request, result, columns, errors), :mod:`.codebook` (questions,
codes, headings, codebook rows), :mod:`.kinds` (the one place a question's kind changes the
export), :mod:`.rows` (long and wide rows), :mod:`.writers` (CSV, JSON Lines, XLSX),
:mod:`.pseudonyms`, :mod:`.clock` and :mod:`.exporter`.
"""

from __future__ import annotations

# ``X as X``: importable from here as before the split, outside __all__ (other constants, and the
# helpers the tests check on their own: the CSV cell quoting, the clock).
from bot.services.exports.clock import _Clock as _Clock
from bot.services.exports.exporter import Exporter
from bot.services.exports.model import (
    CODEBOOK_COLUMNS,
    FORMATS,
    HEADINGS,
    LABEL_JOINER,
    LAYOUTS,
    LONG_COLUMNS,
    VALUES,
    WIDE_FIXED_COLUMNS,
    ExportRequest,
    ExportResult,
    ExportTooLarge,
    MissingSecret,
    codebook_path,
)
from bot.services.exports.model import EXTENSIONS as EXTENSIONS
from bot.services.exports.model import SEPARATORS as SEPARATORS
from bot.services.exports.model import Progress as Progress
from bot.services.exports.pseudonyms import MIN_SECRET_LENGTH as MIN_SECRET_LENGTH
from bot.services.exports.pseudonyms import PSEUDONYM_LENGTH as PSEUDONYM_LENGTH
from bot.services.exports.pseudonyms import pseudonym
from bot.services.exports.writers import XLSX_MAX_ROWS as XLSX_MAX_ROWS
from bot.services.exports.writers import _csv_cell as _csv_cell

__all__ = [
    "CODEBOOK_COLUMNS",
    "FORMATS",
    "HEADINGS",
    "LABEL_JOINER",
    "LAYOUTS",
    "LONG_COLUMNS",
    "VALUES",
    "WIDE_FIXED_COLUMNS",
    "ExportRequest",
    "ExportResult",
    "ExportTooLarge",
    "Exporter",
    "MissingSecret",
    "codebook_path",
    "pseudonym",
]

"""argparse, made to speak the CLI's language and to take an option anywhere.

argparse writes its own words (``usage:``, ``options``, its error messages) through
``gettext``; ``localised`` swaps in the catalogue's ``argparse.*`` entries while the command
line is parsed.  ``accept_option_everywhere`` lets ``--config`` follow the sub-command as well
as precede it.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from bot.cli_base import Text

# argparse's message → our catalogue key (the placeholders are argparse's own, kept as they are).
ARGPARSE_KEYS = {
    "usage: ": "argparse.usage",
    "positional arguments": "argparse.positional",
    "options": "argparse.options",
    "show this help message and exit": "argparse.help",
    "%(prog)s: error: %(message)s\n": "argparse.error",
    "argument %(argument_name)s: %(message)s": "argparse.argument",
    "the following arguments are required: %s": "argparse.required",
    "one of the arguments %s is required": "argparse.one_required",
    "not allowed with argument %s": "argparse.not_allowed",
    "unrecognized arguments: %s": "argparse.unrecognized",
    "invalid choice: %(value)r (choose from %(choices)s)": "argparse.invalid_choice",
    "invalid %(type)s value: %(value)r": "argparse.invalid_value",
    "expected one argument": "argparse.expected_one",
    "ambiguous option: %(option)s could match %(matches)s": "argparse.ambiguous",
}


@contextlib.contextmanager
def localised(t: Text) -> Iterator[None]:
    """While inside, argparse's own sentences come from the catalogue in ``t``'s language."""
    original = argparse._

    def translate(message: str) -> str:
        key = ARGPARSE_KEYS.get(message)
        return t.catalogue.entries[key][t.lang] if key and t.catalogue.has(key) else original(message)

    argparse._ = translate
    try:
        yield
    finally:
        argparse._ = original


def peek_option(argv: list[str], option: str) -> str | None:
    """The value of ``option`` wherever it stands in ``argv`` (the last one wins), else None."""
    value = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == option and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith(option + "="):
            value = arg.split("=", 1)[1]
    return value


def _subparsers(p: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield child
                yield from _subparsers(child)


def accept_option_everywhere(p: argparse.ArgumentParser, option: str) -> None:
    """Copy ``option`` of ``p`` onto every sub-parser, without a default there (so that a
    value given before the sub-command is not reset by the sub-parser)."""
    original = next(a for a in p._actions if option in a.option_strings)
    for child in _subparsers(p):
        child.add_argument(option, dest=original.dest, metavar=original.metavar, help=original.help,
                           default=argparse.SUPPRESS)

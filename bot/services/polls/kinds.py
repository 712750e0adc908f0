"""Poll kinds as data: one registry entry per kind (``single``, ``multi``, ``yesno``, ``likert``,
``text``, ``ranking``), and the service asks the entry instead of branching on the kind's name.

An entry (:class:`PollKind`) declares:

* its **options** (:class:`OptionRules`): typed by the moderator (2 to 25 free labels), fixed
  (yes/no/abstain, Likert 1–5: codes whose labels come from the catalogue), or none (an open
  answer); and whether the member may choose several (``multiple``: 1 to ``max_choices``);
* how an **answer changes** (:class:`AnswerRule`): a click on an option's button
  (:class:`Replace` the answer, :class:`Toggle` the option within the maximum), a select menu
  (the answer becomes the selection), an option placed at a position (:class:`Rank`), a native
  poll's gateway vote (add, withdraw), or a text (:class:`Written`: no options, a modal).
  An answer's choices are a **set** of option ids (no order) or a **tuple** (an order: the first
  is rank 1; the rule's ``ordered``); the vote path and the storage carry either unchanged, and
  store a tuple's ranks (``answer_choices.rank``) — see :func:`is_ordered`;
* how its answers are **tallied** (an async function over the answers repository returning a
  plain :class:`Tally`: counts per option and per member type, who chose what, the texts);
* its **export columns** (:class:`ExportColumns`: what the wide layout holds for a question of
  the kind, and whether each option gets a column of its own, for the exports and their codebook);
* whether a **Discord native poll** can carry it (``native``), and the survey-text **prefixes**
  that name it (``[oui/non]``, ``[multi:2]``…).

A new kind is one :func:`register` call (and its catalogue entries ``poll.kind.<name>`` and
``cmd.poll.kinds.<name>``, and its Discord side in ``cogs/polls/kinds.py``); no other kind's code
changes.  :func:`unregister` exists for tests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot.errors import InvalidInput, Label

if TYPE_CHECKING:
    from bot.i18n import Catalogue
    from storage.repositories import AnswerRepository

__all__ = [
    "CHOICE_EXPORT",
    "MAX_RANKS",
    "RANK_EXPORT",
    "TEXT_EXPORT",
    "AnswerRule",
    "ExportColumns",
    "OptionRules",
    "PollKind",
    "Rank",
    "RankExportColumns",
    "RankingKind",
    "Replace",
    "Tally",
    "Toggle",
    "Written",
    "is_ordered",
    "kind_of",
    "kinds",
    "names",
    "register",
    "tally_choices",
    "tally_ranks",
    "tally_texts",
    "unregister",
]


# ------------------------------------------------------------------------------ options
@dataclass(frozen=True)
class OptionRules:
    """Where a question's options come from.

    ``free``: the moderator types them (:func:`bot.services.polls.drafts.parse_options`: 2 to 25
    labels, codes ``o1``, ``o2``…).  Otherwise ``fixed`` lists the built-in options' codes, whose
    labels are the catalogue's ``label_key.format(code=…)`` in the poll's language; no ``fixed``
    and not ``free``: the kind has no options (an open answer)."""

    free: bool = False
    fixed: tuple[str, ...] = ()
    label_key: str = ""  # e.g. "poll.yesno.{code}"

    def builtin(self, catalogue: Catalogue, lang: str) -> tuple[tuple[str, str], ...]:
        """``(code, label)`` of the fixed options, in ``lang``."""
        return tuple((code, catalogue.t(self.label_key.format(code=code), lang)) for code in self.fixed)


# ------------------------------------------------------------------------------ answers
def is_ordered(choices: Collection[int]) -> bool:
    """An answer's choices carry an order (a tuple, first = rank 1), not a set."""
    return isinstance(choices, tuple)


class AnswerRule:
    """How a member's answer (the chosen option ids) changes.  The default: a select menu makes
    the answer exactly the selection; a native poll's "vote removed" withdraws that option; an
    option placed at a position is a click.  Subclasses say what a click (a button, or a native
    "vote added") does.  A rule returns a new collection and never changes ``current``: a set
    (``ordered`` False) or a tuple in the member's order (``ordered`` True)."""

    by_text = False  # the answer is a text typed in a modal, not options
    ordered = False  # the answer is an order (a tuple), its ranks are stored

    def click(self, current: set[int], option_id: int, max_choices: int) -> set[int]:
        raise NotImplementedError

    def select(self, wanted: Iterable[int], max_choices: int) -> Collection[int]:
        wanted = set(wanted)
        if len(wanted) > max_choices:
            raise InvalidInput("poll.error.too_many_choices", count=max_choices)
        return wanted

    def place(self, current: Collection[int], option_id: int, position: int, max_choices: int) -> Collection[int]:
        """The option chosen at a position (1 = first): without an order, a click."""
        return self.click(current, option_id, max_choices)  # type: ignore[arg-type]

    def gateway_add(self, current: set[int], option_id: int) -> set[int]:
        """A native poll's "vote added" (Discord already enforces its single/multiple rule)."""
        return self.click(current, option_id, len(current) + 1)

    def gateway_remove(self, current: set[int], option_id: int) -> set[int]:
        return current - {option_id}


class Replace(AnswerRule):
    """One option: a click sets the answer to it (clicking it again changes nothing)."""

    def click(self, current: set[int], option_id: int, max_choices: int) -> set[int]:
        return {option_id}


class Toggle(AnswerRule):
    """Several options: a click adds the option, or removes it when chosen, within the maximum."""

    def click(self, current: set[int], option_id: int, max_choices: int) -> set[int]:
        if option_id in current:
            return current - {option_id}
        if len(current) >= max_choices:
            raise InvalidInput("poll.error.too_many_choices", count=max_choices)
        return current | {option_id}

    def gateway_add(self, current: set[int], option_id: int) -> set[int]:
        return current | {option_id}


class Written(AnswerRule):
    """An open answer: a text, no option to click."""

    by_text = True

    def click(self, current: set[int], option_id: int, max_choices: int) -> set[int]:
        raise InvalidInput("poll.error.text_only")

    def select(self, wanted: set[int], max_choices: int) -> set[int]:
        raise InvalidInput("poll.error.text_only")

    def gateway_add(self, current: set[int], option_id: int) -> set[int]:
        raise InvalidInput("poll.error.text_only")


class Rank(AnswerRule):
    """An order of options (a ranking): the answer is a tuple, first = rank 1, at most
    ``max_choices`` ranks, without gaps.  A member may rank only the first few options.

    * :meth:`place` puts an option at a rank: it leaves its former rank (if any), the options
      from that rank on move down one, and a rank past the end is the next one (no gap);
    * :meth:`click` ranks an unranked option next, or unranks a ranked one (the others move up);
    * :meth:`select` takes the selection's order as the ranking."""

    ordered = True

    def click(self, current: Collection[int], option_id: int, max_choices: int) -> tuple[int, ...]:  # type: ignore[override]
        order = tuple(current)
        if option_id in order:
            return tuple(o for o in order if o != option_id)
        if len(order) >= max_choices:
            raise InvalidInput("poll.error.too_many_choices", count=max_choices)
        return (*order, option_id)

    def place(self, current: Collection[int], option_id: int, position: int, max_choices: int) -> tuple[int, ...]:
        if not 1 <= position <= max_choices:
            raise InvalidInput("poll.error.rank", max=max_choices)
        order = [o for o in current if o != option_id]
        order.insert(min(position - 1, len(order)), option_id)
        return tuple(order[:max_choices])

    def select(self, wanted: Iterable[int], max_choices: int) -> tuple[int, ...]:
        order = tuple(dict.fromkeys(wanted))
        if len(order) > max_choices:
            raise InvalidInput("poll.error.too_many_choices", count=max_choices)
        return order

    def gateway_add(self, current: Collection[int], option_id: int) -> tuple[int, ...]:  # type: ignore[override]
        return self.click(current, option_id, len(current) + 1)

    def gateway_remove(self, current: Collection[int], option_id: int) -> tuple[int, ...]:  # type: ignore[override]
        return tuple(o for o in current if o != option_id)


# ------------------------------------------------------------------------------ tallies
@dataclass(frozen=True)
class Tally:
    """One question's answers counted, as plain data (the results module turns it into a
    :class:`~bot.services.polls.views.QuestionResults`)."""

    respondents: int
    counts: Mapping[int, int]  # option id → members who chose it
    by_type: Mapping[tuple[str | None, int], int]  # (member type, option id) → members
    type_respondents: Mapping[str | None, int]  # member type → respondents
    voters: Mapping[int, Sequence[int]] = field(default_factory=dict)  # option id → members (named polls)
    texts: Sequence[tuple[int, str, str | None]] = ()  # (member, text, member type)
    ranks: Mapping[int, tuple[float, int]] = field(default_factory=dict)  # option id → (mean rank, firsts)


TallyFunction = Callable[..., Awaitable[Tally]]


async def tally_choices(
    answers: AnswerRepository, question_id: int, *, named: bool, text_limit: int
) -> Tally:
    """Counts per option (SQL ``GROUP BY``), per member type, and — named polls — who chose what."""
    return Tally(
        respondents=await answers.respondents(question_id),
        counts=await answers.counts(question_id),
        by_type=await answers.counts_by_member_type(question_id),
        type_respondents=await answers.respondents_by_member_type(question_id),
        voters=await answers.voters(question_id) if named else {},
    )


async def tally_texts(answers: AnswerRepository, question_id: int, *, named: bool, text_limit: int) -> Tally:
    """The choice tally (empty counts: no options) and the latest ``text_limit`` texts."""
    tally = await tally_choices(answers, question_id, named=named, text_limit=text_limit)
    texts = await answers.texts(question_id, limit=text_limit)
    return Tally(tally.respondents, tally.counts, tally.by_type, tally.type_respondents, tally.voters, texts)


async def tally_ranks(answers: AnswerRepository, question_id: int, *, named: bool, text_limit: int) -> Tally:
    """The choice tally (``counts``: members who ranked the option at all) and, per option, the
    mean of its ranks among those members and how many put it first."""
    tally = await tally_choices(answers, question_id, named=named, text_limit=text_limit)
    ranks = await answers.rank_stats(question_id)
    return Tally(tally.respondents, tally.counts, tally.by_type, tally.type_respondents, tally.voters, (), ranks)


# ------------------------------------------------------------------------------ exports
@dataclass(frozen=True)
class ExportColumns:
    """What an export holds for a question of the kind.

    ``answer``: the question's own column — ``"codes"`` (the chosen options' codes,
    space-separated, as KoboToolbox writes ``select_multiple``) or ``"text"`` (the answer's text).
    ``per_option``: ``"chosen"`` adds one 0/1 column per option, ``"rank"`` one column holding
    the option's rank (:class:`RankExportColumns`); ``None``: no option column.  The codebook
    lists the question, what its option columns hold (``values_key``, when set), then its options."""

    answer: Literal["codes", "text"] = "codes"
    per_option: str | None = "chosen"
    values_key: str = ""  # catalogue key of a codebook row saying what the option columns hold

    @property
    def option_columns(self) -> bool:
        return self.per_option is not None

    def wide_columns(self, question_column: str, option_columns: Sequence[str]) -> list[str]:
        return [question_column, *(option_columns if self.option_columns else ())]

    def wide_cells(
        self,
        options: Sequence[tuple[int, str]],
        answer: tuple[Iterable[int], str | None] | None,
        safe: Callable[[Any], Any] = lambda value: value,
        joiner: str = " ",
    ) -> list[Any]:
        """One respondent's cells: ``options`` are ``(option id, code)`` in order — or ``(option
        id, label)`` for an export of labels, then joined by ``joiner`` —, ``answer`` is ``(chosen
        option ids, text)`` or ``None`` (no answer: every cell blank)."""
        width = 1 + (len(options) if self.option_columns else 0)
        if answer is None:
            return [None] * width
        if self.answer == "text":
            first: Any = safe(answer[1])
            picked: set[int] = set()
        else:
            picked = set(answer[0])
            first = joiner.join(code for option_id, code in options if option_id in picked)
        if not self.option_columns:
            return [first]
        return [first, *(1 if option_id in picked else 0 for option_id, _ in options)]


@dataclass(frozen=True)
class RankExportColumns(ExportColumns):
    """An ordered answer: the codes in the member's order, then one column per option holding
    its rank (1 = first choice), empty when the member did not rank it.  ``answer[0]`` is the
    member's order (the export streams an answer's choices by rank)."""

    per_option: str | None = "rank"
    values_key: str = "export.codebook.rank_values"

    def wide_cells(
        self,
        options: Sequence[tuple[int, str]],
        answer: tuple[Iterable[int], str | None] | None,
        safe: Callable[[Any], Any] = lambda value: value,
        joiner: str = " ",
    ) -> list[Any]:
        if answer is None:
            return [None] * (1 + len(options))
        rank_of = {option_id: rank for rank, option_id in enumerate(answer[0], start=1)}
        code_of = dict(options)
        first = joiner.join(code_of[o] for o in rank_of if o in code_of)
        return [first, *(rank_of.get(option_id) for option_id, _ in options)]


CHOICE_EXPORT = ExportColumns()
TEXT_EXPORT = ExportColumns(answer="text", per_option=None)
RANK_EXPORT = RankExportColumns()


# ------------------------------------------------------------------------------ the entry
@dataclass(frozen=True)
class PollKind:
    """One kind of question (see the module's docstring)."""

    name: str
    options: OptionRules
    answer: AnswerRule
    multiple: bool = False  # the moderator sets a maximum of choices (1 to the number of options)
    tally: TallyFunction = tally_choices
    export: ExportColumns = CHOICE_EXPORT
    native: bool = True  # a Discord native poll can carry it
    prefixes: tuple[str, ...] = ()  # survey text, folded (lower case, no accents, no spaces)
    label_key: str = ""  # catalogue key of the kind's name; default "poll.kind.<name>"

    @property
    def by_text(self) -> bool:
        return self.answer.by_text

    def label(self, catalogue: Catalogue, lang: str, max_choices: int = 1) -> str:
        return catalogue.t(self.label_key or f"poll.kind.{self.name}", lang,
                           **({"max": max_choices} if self.multiple else {}))

    @property
    def takes_maximum(self) -> bool:
        """A survey's ``[kind:N]`` applies: multiple choice's choices, a ranking's ranks."""
        return self.multiple or type(self).max_choices is not PollKind.max_choices

    def name_label(self, max_choices: int = 1) -> Label:
        """The kind's name as an error's parameter, said in the reader's language (not the poll's)."""
        return Label(self.label_key or f"poll.kind.{self.name}", **({"max": max_choices} if self.multiple else {}))

    def max_choices(self, requested: int | None, options: int) -> int:
        """The maximum of choices a question of this kind allows (raises :class:`InvalidInput`)."""
        if not self.multiple:
            return 1
        chosen = options if requested is None else requested
        if not 1 <= chosen <= options:
            raise InvalidInput("poll.error.max_choices", max=options)
        return chosen


_REGISTRY: dict[str, PollKind] = {}


def register(kind: PollKind) -> PollKind:
    """Add a kind; a name or a survey prefix already taken is refused (``ValueError``)."""
    if kind.name in _REGISTRY:
        raise ValueError(f"poll kind {kind.name!r} is already registered")
    taken = {p for other in _REGISTRY.values() for p in other.prefixes} & set(kind.prefixes)
    if taken:
        raise ValueError(f"survey prefixes already taken: {sorted(taken)}")
    _REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def kind_of(name: str) -> PollKind:
    """The registered kind; :class:`InvalidInput` (``error.invalid_input``) for an unknown name."""
    kind = _REGISTRY.get(name)
    if kind is None:
        raise InvalidInput("error.invalid_input")
    return kind


def names() -> tuple[str, ...]:
    """Registered kinds, in registration order (the built-in ones first)."""
    return tuple(_REGISTRY)


def kinds() -> tuple[PollKind, ...]:
    return tuple(_REGISTRY.values())


# ------------------------------------------------------------------------------ built-in kinds
register(PollKind(
    "single", OptionRules(free=True), Replace(),
    prefixes=("unique", "single", "choix", "choixunique", "un"),
))
register(PollKind(
    "multi", OptionRules(free=True), Toggle(), multiple=True,
    prefixes=("multi", "multiple", "plusieurs"),
))
register(PollKind(
    "yesno", OptionRules(fixed=("yes", "no", "abstain"), label_key="poll.yesno.{code}"), Replace(),
    prefixes=("oui/non", "ouinon", "oui-non", "yesno", "yes/no", "yes-no"),
))
register(PollKind(
    "likert", OptionRules(fixed=("1", "2", "3", "4", "5"), label_key="poll.likert.{code}"), Replace(),
    prefixes=("likert", "echelle", "scale", "1-5"),
))
register(PollKind(
    "text", OptionRules(), Written(), tally=tally_texts, export=TEXT_EXPORT, native=False,
    prefixes=("texte", "text", "libre", "open", "reponselibre"),
))


# ------------------------------------------------------------------------------ ranking
MAX_RANKS = 4  # ranks a member may give (a message holds five rows: one select per rank, then a button)


@dataclass(frozen=True)
class RankingKind(PollKind):
    """Members order the options (2 to 25 typed by the moderator): one select per rank, up to
    ``MAX_RANKS`` ranks (``max_choices``: the moderator may ask for fewer); a member may rank
    them all or only the first few.  Results: mean rank and first choices per option."""

    def max_choices(self, requested: int | None, options: int) -> int:
        ranks = min(options, MAX_RANKS)
        if requested is None:
            return ranks
        if not 1 <= requested <= ranks:
            raise InvalidInput("poll.error.max_ranks", max=ranks)
        return requested


register(RankingKind(
    "ranking", OptionRules(free=True), Rank(), tally=tally_ranks, export=RANK_EXPORT, native=False,
    prefixes=("classement", "ranking", "rang", "rank", "ordre"),
))

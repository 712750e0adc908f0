"""Poll kinds are data (``bot.services.polls.kinds``): the built-in entries say what the service
used to branch on, and a kind registered here — in the test, touching no other kind's code — is
created, voted on, changed, withdrawn, refused where its entry says so and tallied through the
real service on the real database (SQLite, or PostgreSQL with RESEAU_TEST_DATABASE_URL)."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import InvalidInput
from bot.i18n import Catalogue
from bot.services.polls import PollService, kinds
from bot.services.polls.kinds import (
    AnswerRule,
    ExportColumns,
    OptionRules,
    PollKind,
    Replace,
    Tally,
    Toggle,
    kind_of,
    register,
    unregister,
)
from bot.services.surveys import parse_kind_prefix, parse_survey

CATALOGUE = Catalogue.load()


# ----------------------------------------------------------------------------- built-in kinds
def test_the_built_in_kinds_declare_what_the_service_used_to_branch_on():
    assert kinds.names()[:5] == ("single", "multi", "yesno", "likert", "text")
    assert PollService.kinds() == kinds.names()
    single, multi, yesno, likert, text = (kind_of(n) for n in ("single", "multi", "yesno", "likert", "text"))
    assert single.options.free and multi.options.free and not yesno.options.free
    assert yesno.options.fixed == ("yes", "no", "abstain")
    assert likert.options.fixed == ("1", "2", "3", "4", "5")
    assert not text.options.free and text.options.fixed == ()
    assert [k.multiple for k in (single, multi, yesno, likert, text)] == [False, True, False, False, False]
    assert [k.native for k in (single, multi, yesno, likert, text)] == [True, True, True, True, False]
    assert [k.by_text for k in (single, multi, yesno, likert, text)] == [False, False, False, False, True]
    assert isinstance(single.answer, Replace) and isinstance(multi.answer, Toggle)
    assert yesno.options.builtin(CATALOGUE, "en")[0] == ("yes", CATALOGUE.t("poll.yesno.yes", "en"))
    assert multi.label(CATALOGUE, "fr", 2) == CATALOGUE.t("poll.kind.multi", "fr", max=2)
    with pytest.raises(InvalidInput) as caught:
        kind_of("ranking-not-yet")
    assert caught.value.key == "error.invalid_input"


def test_clicks_replace_toggle_and_stop_at_the_maximum():
    assert kind_of("single").answer.click({1}, 2, 1) == {2}
    assert kind_of("single").answer.click({2}, 2, 1) == {2}
    toggle = kind_of("multi").answer
    assert toggle.click({1}, 2, 2) == {1, 2} and toggle.click({1, 2}, 2, 2) == {1}
    with pytest.raises(InvalidInput) as caught:
        toggle.click({1, 2}, 3, 2)
    assert caught.value.key == "poll.error.too_many_choices"
    assert toggle.gateway_add({1, 2}, 3) == {1, 2, 3} and toggle.gateway_remove({1, 2}, 1) == {2}
    assert kind_of("yesno").answer.gateway_add({1}, 2) == {2}
    with pytest.raises(InvalidInput) as caught:
        kind_of("text").answer.click(set(), 1, 1)
    assert caught.value.key == "poll.error.text_only"


def test_export_columns_answer_what_the_exports_need():
    options = [(11, "o1"), (12, "o2"), (13, "o3")]
    choice, text = kind_of("multi").export, kind_of("text").export
    assert choice.option_columns and not text.option_columns
    assert choice.wide_columns("q1", ["q1/o1", "q1/o2", "q1/o3"]) == ["q1", "q1/o1", "q1/o2", "q1/o3"]
    assert text.wide_columns("q2", ["ignored"]) == ["q2"]
    assert choice.wide_cells(options, ([13, 11], None)) == ["o1 o3", 1, 0, 1]
    assert choice.wide_cells(options, None) == [None, None, None, None]
    assert text.wide_cells([], ([], "=1+1"), safe=lambda v: "'" + v) == ["'=1+1"]
    assert text.wide_cells([], None) == [None]
    assert {kind_of(n).export for n in ("single", "yesno", "likert")} == {choice}


def test_a_kind_or_a_survey_prefix_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="already registered"):
        register(PollKind("single", OptionRules(free=True), Replace()))
    with pytest.raises(ValueError, match="prefixes already taken"):
        register(PollKind("other", OptionRules(free=True), Replace(), prefixes=("libre",)))
    assert "other" not in kinds.names()


# ----------------------------------------------------------------------------- a throw-away kind
class ClickAgainWithdraws(AnswerRule):
    """One option; clicking the chosen one again withdraws the answer."""

    def click(self, current: set[int], option_id: int, max_choices: int) -> set[int]:
        return set() if current == {option_id} else {option_id}


TALLIES: list[int] = []


async def tally_in_python(answers, question_id: int, *, named: bool, text_limit: int) -> Tally:
    """This kind's own tally: counted from every member's choices, in Python."""
    TALLIES.append(question_id)
    chosen = await answers.users_with_choices(question_id)
    counts: dict[int, int] = {}
    for options in chosen.values():
        for option_id in options:
            counts[option_id] = counts.get(option_id, 0) + 1
    by_type = {(None, option_id): n for option_id, n in counts.items()}
    return Tally(len(chosen), counts, by_type, {None: len(chosen)} if chosen else {})


VETO = PollKind(
    "veto_test",
    OptionRules(fixed=("yes", "no"), label_key="poll.yesno.{code}"),
    ClickAgainWithdraws(),
    tally=tally_in_python,
    export=ExportColumns(per_option=None),
    native=False,
    prefixes=("veto",),
    label_key="poll.kind.yesno",
)


@pytest.fixture
def veto():
    register(VETO)
    TALLIES.clear()
    try:
        yield VETO
    finally:
        unregister(VETO.name)
    assert VETO.name not in kinds.names()


@pytest.fixture
def service(sessions, config, clock) -> PollService:
    return PollService.from_config(sessions, config, CATALOGUE, clock=clock)


def prepare(service: PollService, **overrides):
    """The draft of a veto_test poll (its other fields those of an ordinary poll)."""
    fields = dict(guild_id=1, channel_id=10, author_id=100, question="Faut-il changer de date ?", kind="veto_test")
    return service.prepare(**{**fields, **overrides})


async def test_a_kind_registered_in_a_test_is_created_voted_and_tallied_by_the_service(veto, service):
    assert service.kinds()[-1] == "veto_test"
    draft = prepare(service, lang="en")
    assert draft.codes == ("yes", "no") and draft.max_choices == 1
    assert list(draft.labels) == [CATALOGUE.t("poll.yesno.yes", "en"), CATALOGUE.t("poll.yesno.no", "en")]
    poll = await service.create(draft)
    assert poll.kind == "veto_test" and not poll.multiple
    yes, no = (o.id for o in poll.options)

    # the kind's own rule: a second click on the chosen option withdraws the answer
    first = await service.vote(poll.id, user_id=1, option_id=yes)
    assert first.option_ids == (yes,) and first.changed
    again = await service.vote(poll.id, user_id=1, option_id=yes)
    assert again.withdrawn and again.option_ids == () and again.changed
    assert await service.my_answer(poll.id, 1) is None
    assert (await service.vote(poll.id, user_id=1, option_id=no)).option_ids == (no,)
    await service.vote(poll.id, user_id=2, option_id=yes)
    await service.vote(poll.id, user_id=3, option_id=yes)
    assert (await service.vote(poll.id, user_id=3, option_id=no)).option_ids == (no,)
    # the generic select path: the answer becomes the selection, within max_choices
    assert (await service.choose(poll.id, user_id=4, option_ids=[yes])).option_ids == (yes,)
    with pytest.raises(InvalidInput) as caught:
        await service.choose(poll.id, user_id=4, option_ids=[yes, no])
    assert caught.value.key == "poll.error.too_many_choices"

    # concurrent clicks of one member go through the same group commit, in arrival order
    outcomes = await asyncio.gather(*(service.vote(poll.id, user_id=5, option_id=no) for _ in range(3)))
    assert [o.option_ids for o in outcomes] == [(no,), (), (no,)]

    # the kind's own tally
    results = await service.results(poll.id)
    assert TALLIES == [poll.question_id]
    assert results.respondents == 5
    assert [(o.option_id, o.count) for o in results.options] == [(yes, 2), (no, 3)]
    assert [o.percent for o in results.options] == [40.0, 60.0]
    assert [(b.code, b.respondents, b.counts) for b in results.by_type] == [(None, 5, (2, 3))]


async def test_a_registered_kind_is_refused_where_its_entry_says_so(veto, service):
    with pytest.raises(InvalidInput) as caught:
        prepare(service, native=True)
    assert caught.value.key == "poll.error.native_kind"
    with pytest.raises(InvalidInput) as caught:
        prepare(service, options="A; B")
    assert caught.value.key == "poll.error.options_not_used"
    with pytest.raises(InvalidInput) as caught:
        await service.answer_text((await service.create(prepare(service))).id,
                                  user_id=1, text="non")
    assert caught.value.key == "poll.error.not_text"


async def test_a_registered_kind_has_its_survey_prefix_and_answers_in_a_survey(veto, service):
    assert parse_kind_prefix("Veto") == ("veto_test", None)
    assert parse_kind_prefix("veto:2") is None  # not a multiple-choice kind
    drafts = parse_survey("[veto] On décale ?\n\n[texte] Pourquoi ?", service, lang="fr")
    assert [d.kind for d in drafts] == ["veto_test", "text"]
    survey = await service.create(
        service.prepare_survey(guild_id=1, channel_id=10, author_id=100, title="Date",
                               questions="[veto] On décale ?\n\n[texte] Pourquoi ?")
    )
    question = survey.questions[0]
    no = question.options[1].id
    progress = await service.answer_survey(survey.id, question.id, user_id=7, option_ids=[no])
    assert progress.labels(question) == [question.options[1].label] and progress.answered == 1
    results = await service.results(survey.id)
    assert TALLIES == [question.id]  # the open question is tallied by the text kind
    assert results.questions[0].respondents == 1


def test_unregistered_kinds_are_unknown_again():
    assert "veto_test" not in kinds.names()
    with pytest.raises(InvalidInput):
        kind_of("veto_test")
    assert parse_kind_prefix("veto") is None

"""The poll renderers alone (``cogs/polls/render.py``): plain views in, embeds and texts out —
no bot, no database, no SimCord.  Expected sentences come from the catalogue, so these tests
check what is shown where (counts or not, which fields, which table), not the wording."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.i18n import Catalogue
from bot.services import charts
from bot.services.polls import (
    OptionCount,
    OptionView,
    PollListing,
    PollResults,
    PollService,
    PollView,
    QuestionResults,
    QuestionView,
    TextAnswer,
    TypeBreakdown,
    VoteResult,
)
from cogs.polls import render
from cogs.polls.kinds import KIND_UI, ui_of

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CATALOGUE = Catalogue.load()
W = render.Wording.of(CATALOGUE.t, PollService(None, catalogue=CATALOGUE))  # type: ignore[arg-type]


def t(key: str, lang: str, **params) -> str:
    return CATALOGUE.t(key, lang, **params)


def options(*labels: str) -> tuple[OptionView, ...]:
    return tuple(OptionView(id=10 + i, position=i, code=str(i + 1), label=label) for i, label in enumerate(labels))


def make_poll(*labels: str, kind: str = "single", lang: str = "fr", **changes) -> PollView:
    fields = dict(
        id=7,
        guild_id=1,
        channel_id=2,
        message_id=3,
        author_id=4,
        question="Quel format ?",
        question_id=70,
        kind=kind,
        max_choices=2 if kind == "multi" else 1,
        options=options(*labels),
        native=False,
        anonymous=False,
        live_results=True,
        allowed_role_ids=(),
        lang=lang,
        status="open",
        deadline_at=None,
        reminder_at=None,
        reminder_sent=False,
        created_at=NOW,
        closed_at=None,
    )
    fields.update(changes)
    return PollView(**fields)


def make_results(poll: PollView, counts: list[int], respondents: int, **changes) -> PollResults:
    option_counts = tuple(
        OptionCount(o.id, o.label, n, 100.0 * n / respondents if respondents else 0.0)
        for o, n in zip(poll.options, counts, strict=True)
    )
    fields = dict(poll=poll, respondents=respondents, options=option_counts)
    fields.update(changes)
    return PollResults(**fields)


def text_of(embed) -> str:
    data = embed.to_dict()
    parts = [data.get("title", ""), data.get("description", "")]
    parts += [f"{f['name']}\n{f['value']}" for f in data.get("fields", [])]
    parts.append(data.get("footer", {}).get("text", ""))
    return "\n".join(parts)


def field(embed, name: str) -> str | None:
    return next((f.value for f in embed.fields if f.name == name), None)


# ----------------------------------------------------------------------------- kinds
def test_every_kind_of_the_service_has_its_discord_side():
    assert set(KIND_UI) == set(PollService.kinds())
    assert not ui_of("text").tallied and ui_of("text").free_text
    assert all(ui_of(kind).tallied for kind in ("single", "multi", "yesno", "likert"))
    assert ui_of("ranking").tallied and not ui_of("ranking").free_text and ui_of("ranking").stays_on_step
    with pytest.raises(LookupError, match="not-a-kind"):
        ui_of("not-a-kind")


# ----------------------------------------------------------------------------- public message
def test_open_poll_with_live_counts_shows_bars_and_counts():
    poll = make_poll("A", "B")
    embed = render.poll_embed(poll, make_results(poll, [0, 2], 2), W)
    assert embed.title == t("poll.message.title", "fr", id=7)
    assert "A\n`░░░░░░░░░░` " + charts.format_count_pct(0, 2, "fr") in embed.description
    assert "B\n`██████████` " + charts.format_count_pct(2, 2, "fr") in embed.description
    assert embed.footer.text.startswith(t("poll.message.respondents_other", "fr", count=charts.format_count(2, "fr")))
    assert t("poll.message.how_to", "fr") in embed.footer.text
    assert field(embed, t("poll.message.deadline", "fr")) == t("poll.message.no_deadline", "fr")
    assert embed.colour.value == 0x2B6CB0


def test_hidden_results_show_the_options_without_counts_until_closing():
    poll = make_poll("A", "B", live_results=False)
    embed = render.poll_embed(poll, make_results(poll, [1, 2], 3), W)
    assert "• A\n• B" in embed.description and "█" not in embed.description and "%" not in embed.description
    assert t("poll.message.hidden", "fr") in embed.footer.text
    closed = make_poll("A", "B", live_results=False, status="closed", closed_at=NOW)
    final = render.poll_embed(closed, make_results(closed, [1, 2], 3), W)
    assert "`███░░░░░░░` " + charts.format_count_pct(1, 3, "fr") in final.description


def test_closing_message_says_final_and_adds_the_table_by_member_type():
    poll = make_poll("Oui", "Non", status="closed", closed_at=NOW, deadline_at=NOW - timedelta(hours=1))
    by_type = (TypeBreakdown("asso", 2, (2, 0)), TypeBreakdown(None, 1, (0, 1)))
    results = make_results(poll, [2, 1], 3, by_type=by_type)
    embed = render.poll_embed(poll, results, W, image="poll-7-results.png")
    assert embed.title == t("poll.message.title_closed", "fr", id=7)
    assert t("poll.message.final", "fr") in embed.footer.text
    assert t("poll.message.how_to", "fr") not in embed.footer.text
    assert field(embed, t("poll.message.closed_at", "fr")) == f"<t:{int(NOW.timestamp())}:f>"
    table = field(embed, t("poll.results.by_type", "fr"))
    # too wide for a phone as a table (issue 11, item 4): one wrapping line per member type
    assert table is not None and not table.startswith("```")
    assert table.splitlines()[0] == f"**{W.member_type_label('asso', 'fr')}** (2)\u202f: Oui 2 (100\u00a0%) · Non 0 (0\u00a0%)"
    assert embed.image.url == "attachment://poll-7-results.png"
    assert embed.colour.value == 0x718096
    # no member type among the answers: no table
    plain = render.poll_embed(poll, make_results(poll, [2, 1], 3, by_type=(TypeBreakdown(None, 3, (2, 1)),)), W)
    assert field(plain, t("poll.results.by_type", "fr")) is None


def test_text_poll_public_message_never_quotes_the_answers():
    poll = make_poll(kind="text")
    results = make_results(poll, [], 1, texts=(TextAnswer(42, "secret idea", None),))
    open_embed = render.poll_embed(poll, results, W)
    assert "secret idea" not in text_of(open_embed)
    assert t("poll.message.how_to_text", "fr") in open_embed.footer.text
    closed = make_poll(kind="text", status="closed", closed_at=NOW)
    final = render.poll_embed(closed, make_results(closed, [], 1, texts=results.texts), W)
    assert t("poll.message.text_answers", "fr") in final.description and "secret idea" not in text_of(final)


def test_poll_in_english_uses_english_words_and_plural_rules():
    poll = make_poll("A", "B", lang="en", allowed_role_ids=(55,))
    embed = render.poll_embed(poll, make_results(poll, [0, 0], 0), W)
    assert embed.footer.text.startswith(t("poll.message.respondents_other", "en", count=charts.format_count(0, "en")))
    assert field(embed, t("poll.message.roles", "en")) == "<@&55>"
    french = render.poll_embed(make_poll("A", "B"), None, W)
    assert french.footer.text.startswith(t("poll.message.respondents_one", "fr", count=charts.format_count(0, "fr")))


# ----------------------------------------------------------------------------- /poll results
def test_results_embed_counts_member_types_and_voters():
    poll = make_poll("A", "B")
    by_type = (TypeBreakdown("asso", 2, (1, 1)), TypeBreakdown(None, 1, (0, 1)))
    results = make_results(poll, [1, 2], 3, by_type=by_type, voters={10: (42,), 11: (43, 44)})
    embed = render.results_embed(results, "fr", W)
    assert f"A — {charts.format_count_pct(1, 3, 'fr')}" in embed.description
    summary = field(embed, t("poll.results.by_type", "fr"))
    assert summary.startswith(f"**{W.member_type_label('asso', 'fr')}** (2)\u202f: A 1 · B 1")
    assert field(embed, t("poll.results.voters", "fr")) == "A\u202f: <@42>\nB\u202f: <@43>, <@44>"
    assert field(embed, t("poll.results.status", "fr")) == t("poll.results.status_open", "fr")
    full = render.results_embed(results, "fr", W, by_type=True)
    assert field(full, t("poll.results.by_type", "fr")) is None
    assert field(full, t("poll.results.by_type_table", "fr")).splitlines()[-1] == (
        "**Total** (3)\u202f: A 1 (33,3\u00a0%) · B 2 (66,7\u00a0%)")


def test_results_embed_of_a_text_poll_quotes_the_answers():
    poll = make_poll(kind="text", lang="en")
    named = make_results(poll, [], 2, texts=(TextAnswer(42, "More *workshops*", None), TextAnswer(None, "x", None)))
    embed = render.results_embed(named, "en", W)
    assert "> More \\*workshops\\* — <@42>" in embed.description and "> x\n" not in embed.description
    assert field(embed, t("poll.results.voters", "en")) is None
    empty = render.results_embed(make_results(poll, [], 0), "en", W)
    assert t("poll.results.none", "en") in empty.description


def test_native_results_reply_has_counts_table_and_chart():
    poll = make_poll("A", "B", native=True, status="closed", closed_at=NOW)
    results = make_results(poll, [3, 1], 4, by_type=(TypeBreakdown("asso", 4, (3, 1)),))
    embed = render.native_results_embed(results, "fr", W, image=render.chart_name(results))
    assert embed.title == t("poll.message.native_results", "fr", id=7, question="Quel format ?")
    assert embed.description.splitlines()[0] == f"A — {charts.format_count_pct(3, 4, 'fr')}"
    assert [f.name for f in embed.fields] == [t("poll.results.by_type", "fr")]
    assert embed.image.url == "attachment://poll-7-results.png"


def test_chart_png_is_a_png():
    poll = make_poll("A", "B")
    assert render.chart_png(make_results(poll, [1, 1], 2), "fr", W).startswith(b"\x89PNG")


# ----------------------------------------------------------------------------- surveys
def survey_results() -> PollResults:
    q1 = QuestionView(100, 0, "q1", "Satisfait ?", "yesno", 1, options("Oui", "Non"))
    q2 = QuestionView(101, 1, "q2", "Une idée\u202f?", "text", 1, ())
    q3 = QuestionView(102, 2, "q3", "Thèmes\u202f?", "multi", 2, options("Eau", "Santé", "Climat"))
    poll = make_poll("Oui", "Non", kind="yesno", title="Bilan", questions=(q1, q2, q3), status="closed", closed_at=NOW)
    qr1 = QuestionResults(q1, 2, (OptionCount(10, "Oui", 2, 100.0), OptionCount(11, "Non", 0, 0.0)))
    qr2 = QuestionResults(q2, 1, (), texts=(TextAnswer(42, "plus de visio", None),))
    qr3 = QuestionResults(q3, 0, tuple(OptionCount(10 + i, o.label, 0, 0.0) for i, o in enumerate(q3.options)))
    return PollResults(poll, 2, qr1.options, questions=(qr1, qr2, qr3), survey_respondents=2, completed=1)


def test_survey_results_one_embed_per_question_and_charts_for_answered_choice_questions():
    results = survey_results()
    assert [name for _, name in render.survey_chart_names(results)] == ["survey-7-q1.png"]
    embeds = render.survey_results_embeds(results, "fr", W, final=True, campaign="Bilan 2026")
    header, first, second, third = embeds
    assert header.title == t("survey.message.title_closed", "fr", id=7)
    assert field(header, t("campaign.field", "fr")) == "Bilan 2026"
    assert t("survey.message.completed", "fr", count=charts.format_count(1, "fr")) in header.footer.text
    assert first.title == t("survey.message.question", "fr", number=1, total=3)
    assert first.image.url == "attachment://survey-7-q1.png" and third.image.url is None
    assert t("survey.message.text_answers", "fr") in second.description and "plus de visio" not in second.description
    assert sum(len(e) for e in embeds) < 6000
    live = render.survey_results_embeds(results, "fr", W, final=False)
    assert "> plus de visio — <@42>" in live[2].description
    assert field(live[0], t("poll.results.status", "fr")) == t("poll.results.status_closed", "fr")


def test_survey_public_message_lists_the_questions_with_their_kinds():
    results = survey_results()
    embed = render.survey_embed(dataclasses.replace(results.poll, status="open", closed_at=None), None, W)
    assert f"**2.** Une idée\u202f? — *{W.kind_label('text', 'fr')}*" in embed.description
    assert t("survey.message.how_to", "fr") in embed.footer.text
    assert field(embed, t("poll.message.deadline", "fr")) is None  # a survey without deadline says nothing


# ----------------------------------------------------------------------------- replies
def test_confirmation_of_a_choice_a_multiple_choice_a_text_and_a_withdrawal():
    poll = make_poll("A", "B")
    assert render.confirmation(VoteResult(poll, 42, (11,)), "fr", W).splitlines() == [
        t("poll.vote.choice", "fr", choices="**B**"),
        t("poll.vote.change_hint", "fr"),
    ]
    multi = make_poll("A", "B", "C", kind="multi")
    assert render.confirmation(VoteResult(multi, 42, (10, 12)), "en", W).startswith(
        t("poll.vote.choices", "en", count=2, max=2, choices="**A**, **C**")
    )
    text = render.confirmation(VoteResult(make_poll(kind="text"), 42, text="_hi_"), "en", W)
    assert text.startswith(t("poll.vote.text", "en", text="\\_hi\\_"))
    assert render.confirmation(VoteResult(poll, 42, withdrawn=True), "fr", W) == t("poll.vote.withdrawn", "fr")
    nothing = VoteResult(poll, 42, withdrawn=True, changed=False)
    assert render.confirmation(nothing, "fr", W) == t("poll.vote.nothing_to_withdraw", "fr")


def test_created_text_list_and_reminder():
    poll = make_poll("A", "B", deadline_at=NOW + timedelta(days=2))
    created = render.created_text("poll.created.buttons", poll, "fr", W, link="https://x/1", campaign="C_1")
    assert created.splitlines() == [
        t("poll.created.buttons", "fr", id=7, link="https://x/1"),
        t("campaign.of_poll", "fr", name="C\\_1"),
    ]
    closed = make_poll("A", "B", id=8, status="closed", closed_at=NOW)
    embed = render.list_embed(PollListing((poll,), (closed,)), "fr", W, lambda p: f"https://x/{p.id}")
    opened = field(embed, t("poll.list.open", "fr"))
    assert opened.startswith("**[n°\u00a07](https://x/7)** Quel format ? — ")
    assert field(embed, t("poll.list.recent", "fr")) == f"**[n°\u00a08](https://x/8)** Quel format ? — <t:{int(NOW.timestamp())}:d>"
    odd = make_poll("A", "B", id=9, question="Atelier [Lyon] ou *Paris* ? (voir https://x.org)")
    english = render.list_embed(PollListing((odd,), ()), "en", W, lambda p: f"https://x/{p.id}")
    # the title is text, never the link's label: its brackets and stars cannot break the link
    assert field(english, t("poll.list.open", "en")) == "**[#9](https://x/9)** Atelier [Lyon] ou \\*Paris\\* ? (voir https://x.org)"
    empty = render.list_embed(PollListing((), ()), "en", W, lambda p: "")
    assert field(empty, t("poll.list.open", "en")) == t("poll.list.none", "en")
    reminder = render.reminder_text(poll, W, link="https://x/7")
    assert reminder == t(
        "poll.reminder.text", "fr", question="Quel format ?", when=f"<t:{int(poll.deadline_at.timestamp())}:R>",
        link="https://x/7",
    )

"""Pure renderers: a poll, its results or a vote → the embed or the text a person reads.

No bot and no I/O: each function takes the plain views of ``bot.services.polls`` and a
:class:`Wording` (the catalogue and the poll service's labels), and returns a
:class:`discord.Embed` or a string — testable without SimCord (``tests/cogs/test_poll_render.py``).
Whatever depends on a poll's kind is asked of :mod:`cogs.polls.kinds`.  Posting, editing and
drawing charts into files is :mod:`cogs.polls.messages`' job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.i18n import plural_form
from bot.services import charts
from bot.services.polls import QuestionResults
from bot.services.polls.kinds import kind_of
from cogs._tables import code_block, compact_block, fits_phone, type_compact_lines, type_table_lines
from cogs.polls._common import CLOSED_COLOUR, EMBED_BUDGET, OPEN_COLOUR, clip, esc, join_lines, ts
from cogs.polls.kinds import ui_of

if TYPE_CHECKING:
    from bot.services.polls import (
        PollListing,
        PollResults,
        PollService,
        PollView,
        TypeTable,
        VoteResult,
    )


@dataclass(frozen=True)
class Wording:
    """The words the renderers need: ``t(key, lang, **params)`` from the catalogue, and the poll
    service's labels (a kind, a member type, the table by member type)."""

    t: Callable[..., str]
    kind_label: Callable[..., str]
    member_type_label: Callable[[str | None, str], str]
    type_table: Callable[[Any, str], TypeTable]

    @classmethod
    def of(cls, t: Callable[..., str], service: PollService) -> Wording:
        return cls(t, service.kind_label, service.member_type_label, service.type_table)


# ----------------------------------------------------------------------------- small parts
def respondents_text(count: int, lang: str, w: Wording) -> str:
    key = f"poll.message.respondents_{plural_form(lang, count)}"
    return w.t(key, lang, count=charts.format_count(count, lang))


def participants_text(results: PollResults | None, lang: str, w: Wording) -> str:
    """A survey's participants (and how many answered every question)."""
    count = results.survey_respondents if results else 0
    text = w.t(
        f"survey.message.participants_{plural_form(lang, count)}",
        lang,
        count=charts.format_count(count, lang),
    )
    if results is not None and count:
        completed = w.t("survey.message.completed", lang, count=charts.format_count(results.completed, lang))
        text += f" ({completed})"
    return text


def type_table_block(results: PollResults | QuestionResults, lang: str, w: Wording, limit: int) -> str:
    """Results by member type in at most ``limit`` characters: the code-block table when it fits
    a phone's width, else the compact list (the chart's bars carry the counts as well)."""
    table = w.type_table(results, lang)
    lines = type_table_lines(table, lang, w.t("poll.results.type_column", lang))
    if fits_phone(lines):
        return code_block(lines, limit)
    return compact_block(type_compact_lines(
        table, lang, lambda label, value: w.t("format.label_value", lang, label=label, value=value)), limit)


def add_type_table(
    embed: discord.Embed, results: PollResults | QuestionResults, lang: str, w: Wording, name: str
) -> None:
    """The table by member type as a field, within Discord's 6,000 characters per embed."""
    room = min(1024, EMBED_BUDGET - len(embed) - len(name))
    if room >= 200:
        embed.add_field(name=name, value=type_table_block(results, lang, w, room), inline=False)


def add_campaign_field(embed: discord.Embed, campaign: str | None, lang: str, w: Wording) -> None:
    if campaign:
        embed.add_field(name=w.t("campaign.field", lang), value=clip(campaign, 100), inline=False)


def _rules_fields(
    embed: discord.Embed, poll: PollView, lang: str, w: Wording, *, final: bool, say_no_deadline: bool
) -> None:
    """When it closes (closed), who sees the names, which roles may answer."""
    if final and poll.closed_at is not None:
        embed.add_field(name=w.t("poll.message.closed_at", lang), value=ts(poll.closed_at, "f"))
    elif poll.deadline_at is not None:
        embed.add_field(
            name=w.t("poll.message.deadline", lang),
            value=f"{ts(poll.deadline_at, 'f')} ({ts(poll.deadline_at, 'R')})",
        )
    elif say_no_deadline:
        embed.add_field(name=w.t("poll.message.deadline", lang), value=w.t("poll.message.no_deadline", lang))
    privacy = "poll.message.anonymous" if poll.anonymous else "poll.message.named"
    embed.add_field(name=w.t("poll.message.privacy", lang), value=w.t(privacy, lang), inline=False)
    if poll.allowed_role_ids:
        embed.add_field(
            name=w.t("poll.message.roles", lang),
            value=" ".join(f"<@&{role_id}>" for role_id in poll.allowed_role_ids),
            inline=False,
        )


# ----------------------------------------------------------------------------- public messages
def poll_embed(
    poll: PollView, results: PollResults | None, w: Wording, *, image: str | None = None
) -> discord.Embed:
    """The public message: the question, the options (with counts when they are shown),
    the rules, and — once closed — the final results (and the breakdown by member type
    when at least one answer has one)."""
    if poll.is_survey:
        return survey_embed(poll, results, w)
    lang = poll.lang
    ui = ui_of(poll.kind)
    final = not poll.is_open
    title_key = "poll.message.title_closed" if final else "poll.message.title"
    lines = [f"**{esc(poll.question)}**", ""]
    respondents = results.respondents if results else 0
    lines += ui.message_lines(poll, results, show_counts=final or poll.live_results, final=final, t=w.t)
    embed = discord.Embed(
        title=w.t(title_key, lang, id=poll.id),
        description=clip("\n".join(lines), 4000),
        colour=CLOSED_COLOUR if final else OPEN_COLOUR,
    )
    embed.add_field(name=w.t("poll.message.kind", lang), value=w.kind_label(poll.kind, lang, poll.max_choices))
    _rules_fields(embed, poll, lang, w, final=final, say_no_deadline=True)
    footer = [respondents_text(respondents, lang, w)]
    if final:
        footer.append(w.t("poll.message.final", lang))
    else:
        if not poll.live_results:
            footer.append(w.t("poll.message.hidden", lang))
        footer.append(w.t(ui.how_to, lang))
    embed.set_footer(text=" · ".join(footer))
    if final and results is not None and results.has_member_types and ui.tallied:
        add_type_table(embed, results, lang, w, w.t("poll.results.by_type", lang))
    if image:
        embed.set_image(url=f"attachment://{image}")
    return embed


def survey_embed(poll: PollView, results: PollResults | None, w: Wording) -> discord.Embed:
    """A survey's public message: its title, its questions, the rules and how many members
    took part; once closed, the header of the final results (one embed per question
    follows, see :func:`survey_results_embeds`)."""
    lang = poll.lang
    final = not poll.is_open
    lines = [f"**{esc(poll.title)}**", ""]
    for question in poll.questions:
        kind = w.kind_label(question.kind, lang, question.max_choices)
        lines.append(f"**{question.number}.** {esc(question.text)} — *{kind}*")
    embed = discord.Embed(
        title=w.t("survey.message.title_closed" if final else "survey.message.title", lang, id=poll.id),
        description=clip("\n".join(lines), 4000),
        colour=CLOSED_COLOUR if final else OPEN_COLOUR,
    )
    _rules_fields(embed, poll, lang, w, final=final, say_no_deadline=False)
    footer = [participants_text(results, lang, w)]
    footer.append(w.t("poll.message.final" if final else "survey.message.how_to", lang))
    embed.set_footer(text=" · ".join(footer))
    return embed


# ----------------------------------------------------------------------------- results
def results_embed(results: PollResults, lang: str, w: Wording, *, by_type: bool = False) -> discord.Embed:
    """What moderators read with /poll results: counts, percentages, member types (with
    ``by_type``: the full table), and for named polls who answered what."""
    poll = results.poll
    ui = ui_of(poll.kind)
    lines = [f"**{esc(poll.question)}**", "", *ui.results_lines(results, lang, w.t)]
    embed = discord.Embed(
        title=w.t("poll.results.title", lang, id=poll.id),
        description=clip("\n".join(lines), 4000),
        colour=OPEN_COLOUR if poll.is_open else CLOSED_COLOUR,
    )
    status = w.t("poll.results.status_open" if poll.is_open else "poll.results.status_closed", lang)
    if poll.is_open and poll.deadline_at is not None:
        status += f" · {w.t('poll.message.deadline', lang)} {ts(poll.deadline_at, 'f')}"
    embed.add_field(name=w.t("poll.results.status", lang), value=status, inline=False)
    if results.has_member_types and ui.tallied and not by_type:
        type_lines = []
        for breakdown in results.by_type:
            parts = " · ".join(
                f"{clip(o.label, 30)} {n}" for o, n in zip(results.options, breakdown.counts, strict=True) if n
            )
            label = w.member_type_label(breakdown.code, lang)
            type_lines.append(
                w.t("format.label_value", lang, label=f"**{label}** ({breakdown.respondents})", value=parts)
            )
        embed.add_field(
            name=w.t("poll.results.by_type", lang), value=join_lines(type_lines, 1024), inline=False
        )
    if results.voters and ui.tallied:
        voter_lines = []
        for option in results.options:
            users = results.voters.get(option.option_id, ())
            if users:
                voter_lines.append(w.t("format.label_value", lang, label=clip(option.label, 40),
                                       value=", ".join(f"<@{u}>" for u in users)))
        embed.add_field(
            name=w.t("poll.results.voters", lang), value=join_lines(voter_lines, 1024), inline=False
        )
    embed.set_footer(text=respondents_text(results.respondents, lang, w))
    if by_type and results.by_type and ui.tallied:
        add_type_table(embed, results, lang, w, w.t("poll.results.by_type_table", lang))
    return embed


def native_results_embed(results: PollResults, lang: str, w: Wording, *, image: str) -> discord.Embed:
    """The reply under an ended native Discord poll: counts, the table by member type, the chart."""
    poll = results.poll
    embed = results_embed(results, lang, w)
    embed.title = w.t("poll.message.native_results", lang, id=poll.id, question=clip(poll.question, 200))
    embed.description = "\n".join(
        f"{esc(o.label)} — {charts.format_count_pct(o.count, results.respondents, lang)}" for o in results.options
    )
    embed.clear_fields()
    if results.has_member_types:
        add_type_table(embed, results, lang, w, w.t("poll.results.by_type", lang))
    embed.set_image(url=f"attachment://{image}")
    return embed


def chart_name(results: PollResults) -> str:
    return f"poll-{results.poll.id}-results.png"


def survey_chart_names(results: PollResults) -> list[tuple[QuestionResults, str]]:
    """The survey questions that get a chart (answered, counted per option) and its file name."""
    return [
        (qr, f"survey-{results.poll.id}-q{qr.question.number}.png")
        for qr in results.questions
        if ui_of(qr.question.kind).tallied and qr.respondents
    ]


def survey_results_embeds(
    results: PollResults,
    lang: str,
    w: Wording,
    *,
    final: bool,
    by_type: bool = False,
    campaign: str | None = None,
) -> list[discord.Embed]:
    """A survey's results: a header embed, then one embed per question with its counts, its
    chart (choice questions: the files of :func:`survey_chart_names`) and — when asked, or
    when closing with member types — the table by member type.  Kept under Discord's 6,000
    characters per message."""
    poll = results.poll
    if final:
        header = survey_embed(poll, results, w)
    else:
        header = discord.Embed(
            title=w.t("survey.message.results_title", lang, id=poll.id),
            description=f"**{esc(poll.title)}**",
            colour=OPEN_COLOUR if poll.is_open else CLOSED_COLOUR,
        )
        status = w.t("poll.results.status_open" if poll.is_open else "poll.results.status_closed", lang)
        header.add_field(name=w.t("poll.results.status", lang), value=status, inline=False)
        header.set_footer(text=participants_text(results, lang, w))
    add_campaign_field(header, campaign, lang, w)
    images = {qr.question.id: name for qr, name in survey_chart_names(results)}
    total = len(results.questions)
    texts = []
    for qr in results.questions:
        ui = ui_of(qr.question.kind)
        lines = [f"**{esc(clip(qr.question.text, 300))}**", *ui.survey_lines(qr, lang, w.t, final=final)]
        table = ui.tallied and qr.by_type and (by_type or (final and qr.has_member_types))
        texts.append(("\n".join(lines), table))
    needs = [
        min(QUESTION_MAX, len(text) + (2 + len(type_table_block(qr, lang, w, QUESTION_MAX)) if table else 0))
        for qr, (text, table) in zip(results.questions, texts, strict=True)
    ]
    # One message (the closing one) shares its 6,000 characters by need; /poll results posts
    # as many messages as it takes (split_messages), each question whole.
    shares = shares_by_need(needs, max(300 * total, 5600 - len(header))) if final else needs
    embeds = [header]
    for qr, (text, table), budget in zip(results.questions, texts, shares, strict=True):
        question = qr.question
        if table:
            room = budget - len(text) - 2
            if room > 120:
                text += "\n" + type_table_block(qr, lang, w, room)
        embed = discord.Embed(
            title=w.t("survey.message.question", lang, number=question.number, total=total),
            description=clip(text, max(300, budget)),
            colour=CLOSED_COLOUR if final or not poll.is_open else OPEN_COLOUR,
        )
        embed.set_footer(text=respondents_text(qr.respondents, lang, w))
        if question.id in images:
            embed.set_image(url=f"attachment://{images[question.id]}")
        embeds.append(embed)
    return embeds


QUESTION_MAX = 4000  # an embed's description holds 4,096 characters


def shares_by_need(needs: list[int], total: int) -> list[int]:
    """Each question's characters out of ``total``: all it needs when everything fits; else
    the questions needing less than an even share get theirs and the others split the rest."""
    shares = [0] * len(needs)
    left = total
    order = sorted(range(len(needs)), key=needs.__getitem__)
    for done, index in enumerate(order):
        shares[index] = min(needs[index], left // (len(needs) - done))
        left -= shares[index]
    return shares


def split_messages(embeds: list[discord.Embed], limit: int = EMBED_BUDGET) -> list[list[discord.Embed]]:
    """Embeds grouped in order into messages Discord accepts: at most 10 embeds and ``limit``
    characters each."""
    groups: list[list[discord.Embed]] = []
    size = 0
    for embed in embeds:
        if not groups or len(groups[-1]) == 10 or size + len(embed) > limit:
            groups.append([])
            size = 0
        groups[-1].append(embed)
        size += len(embed)
    return groups


def chart_png(results: PollResults | QuestionResults, lang: str, w: Wording, *, by_type: bool = False) -> bytes:
    """The results chart as PNG bytes (CPU work: run it with ``asyncio.to_thread``): by member
    type when an answer has one (or ``by_type`` is asked and there are answers)."""
    labels = [o.label for o in results.options]
    title = results.question.text if isinstance(results, QuestionResults) else results.poll.question
    kind = results.question.kind if isinstance(results, QuestionResults) else results.poll.kind
    own = ui_of(kind).chart_png(results, title, lang, w.t)
    if own is not None:
        return own
    if results.has_member_types or (by_type and results.by_type):
        return charts.results_by_type_chart(
            title,
            labels,
            [w.member_type_label(b.code, lang) for b in results.by_type],
            [list(b.counts) for b in results.by_type],
            lang=lang,
            respondents=results.respondents,
        )
    return charts.results_chart(
        title, labels, [o.count for o in results.options], lang=lang, respondents=results.respondents
    )


# ----------------------------------------------------------------------------- replies
def confirmation(result: VoteResult, lang: str, w: Wording) -> str:
    """The ephemeral acknowledgement of a vote: the member's current choice and how to change it."""
    if result.withdrawn:  # a written answer is an answer, not a vote
        text = "_text" if kind_of(result.poll.kind).by_text else ""
        return w.t(("poll.vote.withdrawn" if result.changed else "poll.vote.nothing_to_withdraw") + text, lang)
    if result.text is not None:
        line = w.t("poll.vote.text", lang, text=clip(esc(result.text), 300))
    else:
        line = ui_of(result.poll.kind).vote_line(result, lang, w.t)
    return f"{line}\n{w.t('poll.vote.change_hint', lang)}"


def created_text(key: str, poll: PollView, lang: str, w: Wording, *, link: str, campaign: str | None) -> str:
    """The author's "poll posted" reply: its number, a link, and its campaign."""
    text = w.t(key, lang, id=poll.id, link=link)
    if campaign:
        text += "\n" + w.t("campaign.of_poll", lang, name=esc(campaign))
    return text


def list_embed(listing: PollListing, lang: str, w: Wording, link: Callable[[PollView], str]) -> discord.Embed:
    """/poll list: the open polls (and when they end), then the recently closed ones."""
    embed = discord.Embed(title=w.t("poll.list.title", lang), colour=OPEN_COLOUR)
    none = w.t("poll.list.none", lang)

    def line(p: PollView, suffix: str) -> str:
        # the link on the number: a title's own brackets, stars or URL would break a masked link
        number = w.t("format.numbered", lang, id=p.id)
        return f"**[{number}]({link(p)})** {'📋 ' if p.is_survey else ''}{esc(clip(p.title or p.question, 80))}" + suffix

    opened = [
        line(p, f" — {w.t('poll.list.ends', lang, when=ts(p.deadline_at, 'R'))}" if p.deadline_at else "")
        for p in listing.open
    ]
    recent = [line(p, f" — {ts(p.closed_at, 'd')}" if p.closed_at else "") for p in listing.recent]
    embed.add_field(name=w.t("poll.list.open", lang), value=join_lines(opened, 1024) or none, inline=False)
    embed.add_field(name=w.t("poll.list.recent", lang), value=join_lines(recent, 1024) or none, inline=False)
    return embed


def reminder_text(poll: PollView, w: Wording, *, link: str) -> str:
    """The reminder posted in the poll's channel (the pings go before it)."""
    return w.t(
        "survey.reminder.text" if poll.is_survey else "poll.reminder.text",
        poll.lang,
        question=clip(poll.title if poll.is_survey else poll.question, 200),
        when=ts(poll.deadline_at, "R") if poll.deadline_at else "",
        link=link,
    )

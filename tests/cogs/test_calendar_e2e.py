"""The moderators' calendar end to end on SimCord (issue 12): a poll planned for later is posted
at its time after a restart in between (and caught up when the bot was down); a weekly poll
makes three occurrences in one series, and the series view and CSV have them; duplicate and
templates; /calendar lists everything planned, in order, and cancels and postpones by reference.

As in the other e2e files, APScheduler runs on the wall clock while SimCord's time is virtual:
the tests check the job the reconciler put, then move the bot's clock (``bot.clock``) and call
the job's function — what APScheduler calls at that time — or restart the bot past it.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import discord
import simcord
from sqlalchemy import func, select

from bot.errors import InvalidInput, NotFound
from bot.services import announcements
from bot.services import calendar as service
from bot.simcord_support import set_locale
from storage.models import AuditEntry, CalendarRun, Poll
from tests.conftest import embed_text
from tests.time_ahead import NOW, at, local_text

PARIS = ZoneInfo("Europe/Paris")


def local_at(days: int, hour: int, minute: int = 0) -> datetime:
    """``days`` after NOW's date, at that local time, in UTC."""
    day = NOW.astimezone(PARIS).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).astimezone(UTC)


TOMORROW_9_UTC = local_at(1, 9)


def plain(text: str) -> str:
    """French typography's thin spaces as plain ones (what a reader sees)."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def poll_posts(channel) -> list:
    return [m for m in channel.history() if m.author.bot and m.embeds and "Sondage" in (m.embeds[0].title or "")]


async def plan(world, **options):
    options.setdefault("question", "Quel format pour la rencontre ?")
    options.setdefault("options", "Visio; Présentiel")
    result = await world.moderator.slash(world.fr, "poll create", **options)
    assert result.ephemeral
    return result


async def polls_in(sessions) -> list[Poll]:
    async with sessions() as session:
        return list(await session.scalars(select(Poll).order_by(Poll.id)))


async def fire(world, job_id: str, when: datetime) -> None:
    """Move the bot's clock to ``when`` and run the job as APScheduler would."""
    bot = world.env.bot
    job = bot.scheduler.get_job(job_id)
    assert job is not None, f"no job {job_id}: {[j.id for j in bot.scheduler.get_jobs()]}"
    assert job.next_run_time == when
    bot.clock = at(when + timedelta(seconds=1))
    await job.func()
    await world.env.settle()


# ----------------------------------------------------------------------------- scheduled polls
async def test_a_planned_poll_is_posted_at_its_time_after_a_restart(world, sessions, bot_factory):
    world.env.bot.clock = at(NOW)
    result = await plan(world, start="demain 9 h", deadline="2j")
    calendar = world.env.bot.services.calendar
    [planned] = await calendar.plans()
    assert f"`plan-{planned.id}`" in result.response.content
    assert f"{local_text(TOMORROW_9_UTC)} (Europe/Paris)" in result.response.content
    assert planned.next_at == TOMORROW_9_UTC and planned.recurrence is None
    assert poll_posts(world.fr) == [] and await polls_in(sessions) == []
    assert world.env.bot.scheduler.get_job(service.poll_job_id(planned.id)) is not None
    listing = await world.moderator.slash(world.fr, "poll list")
    assert f"plan-{planned.id}` · {local_text(TOMORROW_9_UTC)} · Quel format pour la rencontre ?" in embed_text(listing.response)

    # the bot restarts before the time: the job is rebuilt from the row
    await world.env.restart_bot(bot_factory(world.config, clock=at(NOW + timedelta(hours=1))))
    await world.env.settle()
    await fire(world, service.poll_job_id(planned.id), TOMORROW_9_UTC)
    [posted] = poll_posts(world.fr)
    assert [c.label for c in posted.components[0].children] == ["Visio", "Présentiel"]
    [poll] = await polls_in(sessions)
    assert poll.message_id == posted.id and poll.lang == "fr"
    assert poll.deadline_at == TOMORROW_9_UTC + timedelta(seconds=1) + timedelta(days=2)  # from its posting
    assert world.env.bot.scheduler.get_job(service.poll_job_id(planned.id)) is None
    assert (await world.env.bot.services.calendar.get_plan(planned.id)).status == "done"
    await world.env.bot.get_cog("Calendar").run_poll(planned.id)  # a second run posts nothing
    await world.env.settle()
    assert len(poll_posts(world.fr)) == 1 and len(await polls_in(sessions)) == 1


async def test_a_planned_poll_the_channel_refuses_is_said_to_moderators_in_their_language(world, sessions):
    closed = world.guild.create_text_channel(
        "ferme", overwrites={world.guild.me: discord.PermissionOverwrite(send_messages=False)})
    world.env.bot.clock = at(NOW)
    await world.moderator.slash(closed, "poll create", question="Quel format ?", options="Visio; Présentiel",
                                start="demain 9 h")
    [planned] = await world.env.bot.services.calendar.plans()
    await fire(world, service.poll_job_id(planned.id), TOMORROW_9_UTC)
    [report] = [m for m in world.modlog.history() if m.author.bot]
    assert report.content.startswith(f"⚠️ Le sondage programmé `plan-{planned.id}` du ")
    assert ("Je ne peux pas publier de sondage dans ce salon. — le bot n’a pas les permissions nécessaires "
            "dans ce salon (code Discord 50013)") in plain(report.content).replace("\u2019", "’")
    assert "poll.error" not in report.content and "Missing Permissions" not in report.content


async def test_a_planned_poll_is_caught_up_when_the_bot_was_down_at_its_time(world, sessions, bot_factory):
    world.env.bot.clock = at(NOW)
    await plan(world, start=local_text(TOMORROW_9_UTC))
    await world.env.restart_bot(bot_factory(world.config, clock=at(TOMORROW_9_UTC + timedelta(hours=3))))
    await world.env.settle()
    assert len(poll_posts(world.fr)) == 1
    await world.env.restart_bot(bot_factory(world.config, clock=at(TOMORROW_9_UTC + timedelta(hours=4))))
    await world.env.settle()
    assert len(poll_posts(world.fr)) == 1, "caught up once"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(CalendarRun)) == 1


async def test_cancelling_a_planned_poll_posts_nothing(world, sessions):
    world.env.bot.clock = at(NOW)
    await plan(world, start="demain 9 h")
    calendar = world.env.bot.services.calendar
    [planned] = await calendar.plans()
    job = world.env.bot.scheduler.get_job(service.poll_job_id(planned.id))
    done = await world.moderator.slash(world.fr, "calendar cancel", reference=f"plan-{planned.id}")
    assert plain(done.response.content) == f"Annulé : Sondage programmé `plan-{planned.id}`."
    assert world.env.bot.scheduler.get_job(service.poll_job_id(planned.id)) is None
    world.env.bot.clock = at(TOMORROW_9_UTC + timedelta(minutes=1))
    await job.func()  # even a job that survived finds the plan cancelled
    await world.env.settle()
    assert poll_posts(world.fr) == []
    async with sessions() as session:
        actions = [e.action for e in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert "calendar.plan" in actions and "calendar.cancel" in actions


async def test_bad_starts_and_repetitions_are_refused_clearly_and_store_nothing(world, sessions):
    world.env.bot.clock = at(NOW)
    bad = await plan(world, start="la semaine des quatre jeudis")
    assert "n’est pas un moment compris" in bad.response.content
    past = await plan(world, start=local_text(NOW - timedelta(days=1)))
    assert "est déjà passé" in past.response.content
    rule = await plan(world, start="demain 9 h", repeat="tous les 36 du mois")
    assert "n’est pas une répétition comprise" in rule.response.content
    dated = await plan(world, start="demain 9 h", repeat="weekly", deadline=local_text(local_at(4, 10)))
    assert "prend une durée comme échéance" in dated.response.content
    assert await world.env.bot.services.calendar.plans() == []
    simcord.assert_error(world.env, InvalidInput)


# ----------------------------------------------------------------------------- series
async def test_a_weekly_poll_makes_three_occurrences_in_one_series(world, sessions):
    world.env.bot.clock = at(NOW)
    result = await plan(world, start="demain 9 h", repeat="hebdomadaire", deadline="2j")
    assert "chaque semaine" in result.response.content
    calendar = world.env.bot.services.calendar
    [planned] = await calendar.plans()
    job_id = service.poll_job_id(planned.id)
    occurrences = [TOMORROW_9_UTC + timedelta(weeks=k) for k in range(3)]
    for number, when in enumerate(occurrences, start=1):
        await fire(world, job_id, when)
        posts = poll_posts(world.fr)
        assert len(posts) == number
        await world.member_fr.click(posts[-1], label="Visio" if number != 2 else "Présentiel")
    assert world.env.bot.scheduler.get_job(job_id).next_run_time == TOMORROW_9_UTC + timedelta(weeks=3)
    polls = await polls_in(sessions)
    assert len(polls) == 3

    view = await world.moderator.slash(world.fr, "poll series", poll=polls[1].id)
    text = embed_text(view.response)
    assert "Série" in text and text.count("Visio") == 3
    for when in occurrences:
        assert when.astimezone(PARIS).strftime("%Y-%m-%d %H:%M") in text
    [attachment] = view.response.attachments
    rows = list(csv.DictReader(io.StringIO((await attachment.read()).decode("utf-8-sig"))))
    d1, d2, d3 = (local_text(when) for when in occurrences)
    assert [(r["occurrence"], r["option_label"], r["count"]) for r in rows] == [
        (d1, "Visio", "1"), (d1, "Présentiel", "0"),
        (d2, "Visio", "0"), (d2, "Présentiel", "1"),
        (d3, "Visio", "1"), (d3, "Présentiel", "0"),
    ]
    results = await world.moderator.slash(world.fr, "poll results", poll=polls[2].id)
    shown = plain(embed_text(results.response))
    assert f"Série `plan-{planned.id}` (chaque semaine)" in shown
    assert f"3 occurrences — répondants : {d1[:10]} : 1 · {d2[:10]} : 1 · {d3[:10]} : 1" in shown
    wide = await calendar.series_csv(planned.id, layout="wide")
    assert wide.splitlines()[:3] == [
        f"option_code,option_label,{d1},{d2},{d3}",
        "o1,Visio,1,0,1",
        "o2,Présentiel,0,1,0",
    ]


async def test_a_series_down_for_two_weeks_catches_up_once(world, sessions, bot_factory):
    world.env.bot.clock = at(NOW)
    await plan(world, start="demain 9 h", repeat="weekly", deadline="1j")
    late = TOMORROW_9_UTC + timedelta(weeks=2, hours=1)
    await world.env.restart_bot(bot_factory(world.config, clock=at(late)))
    await world.env.settle()
    assert len(poll_posts(world.fr)) == 1, "missed occurrences collapse into one"
    [planned] = await world.env.bot.services.calendar.plans()
    assert planned.next_at == TOMORROW_9_UTC + timedelta(weeks=3)


# ----------------------------------------------------------------------------- duplicate, templates
async def test_duplicate_and_templates(world, sessions):
    world.env.bot.clock = at(NOW)
    created = await world.moderator.slash(
        world.fr, "poll create", question="Date de l’AG ?", options="Mars; Avril; Mai", kind="multi", max_choices=2,
        anonymous=False, deadline="1j",
    )
    assert created.ephemeral
    [original] = await polls_in(sessions)
    again = await world.moderator.slash(world.fr, "poll duplicate", poll=original.id, deadline="3j")
    assert "recréé" in again.response.content
    original, copy = await polls_in(sessions)
    assert (copy.title, copy.anonymous, copy.deadline_at) == ("Date de l’AG ?", False, NOW + timedelta(days=3))
    posts = poll_posts(world.fr)
    assert len(posts) == 2
    first, second = (p.embeds[0] for p in posts)
    assert second.description == first.description and second.title == first.title.replace(str(original.id), str(copy.id))
    assert [c.label for c in posts[1].components[0].children] == [c.label for c in posts[0].components[0].children]

    saved = await world.moderator.slash(world.fr, "poll template save", name="AG", poll=original.id)
    assert "Modèle « AG » enregistré" in plain(saved.response.content)
    listing = await world.moderator.slash(world.fr, "poll template list")
    assert "**AG**" in embed_text(listing.response) and "Date de l’AG ?" in embed_text(listing.response)
    used = await world.moderator.slash(world.en, "poll template use", name="AG")
    assert "created from the template" in used.response.content or "créé depuis le modèle" in used.response.content
    third = (await polls_in(sessions))[-1]
    assert (third.title, third.channel_id, third.lang) == ("Date de l’AG ?", world.en.id, "en")
    planned = await world.moderator.slash(world.fr, "poll template use", name="AG", start="demain 9 h")
    assert "plan-" in planned.response.content
    deleted = await world.moderator.slash(world.fr, "poll template delete", name="AG")
    assert "supprimé" in deleted.response.content
    gone = await world.moderator.slash(world.fr, "poll template use", name="AG")
    assert "Aucun modèle « AG »" in plain(gone.response.content)
    simcord.assert_error(world.env, NotFound)


# ----------------------------------------------------------------------------- the calendar
async def test_the_calendar_lists_everything_planned_in_order(world, sessions):
    bot = world.env.bot
    bot.clock = at(NOW)
    await world.moderator.slash(world.fr, "poll create", question="Ouvert ?", options="Oui; Non", deadline="3j",
                                reminder="1j")
    await plan(world, question="Plus tard ?", start=local_text(local_at(3, 10)))
    await plan(world, question="Chaque semaine ?", start=local_text(local_at(2, 9)), repeat="weekly", deadline="1j")
    # an announcement scheduled for day 1 at 12:00, and a monthly one from day 4 at 08:30
    sessions_ = bot.services.sessions
    once = await announcements.create_draft(sessions_, guild_id=world.guild.id, author_id=world.moderator.id,
                                            title="AG", body="Le 12.", now=NOW)
    await announcements.schedule(sessions_, once.id, when=local_at(1, 12), now=NOW, actor_id=world.moderator.id)
    monthly = await announcements.create_draft(sessions_, guild_id=world.guild.id, author_id=world.moderator.id,
                                               title="Réunion mensuelle", body="Premier jeudi.", now=NOW)
    await bot.services.calendar.plan_announcement(monthly.id, when=local_at(4, 8, 30), repeat="mensuel",
                                                  actor_id=world.moderator.id)
    listing = await world.moderator.slash(world.fr, "calendar list")
    text = plain(embed_text(listing.response))
    order = [
        f"{local_text(local_at(1, 12))} · Annonce · « AG » · `announcement-{once.id}`",
        f"{local_text(local_at(2, 9))} · Sondage récurrent · « Chaque semaine ? » · <#{world.fr.id}> · 🔁 chaque semaine · `plan-",
        f"{local_text(NOW + timedelta(days=3))} · Clôture de sondage · « Ouvert ? »",
        f"{local_text(local_at(3, 10))} · Sondage programmé · « Plus tard ? »",
        f"{local_text(local_at(4, 8, 30))} · Annonce récurrente · « Réunion mensuelle » · 🔁 chaque mois · `plan-",
    ]
    positions = [text.index(line) for line in order]
    assert positions == sorted(positions), text
    assert f"{local_text(NOW + timedelta(days=2))} · Rappel de sondage · « Ouvert ? »" in text
    assert "Extrait mensuel" in text and "Calendrier (Europe/Paris)" in text

    calendar = bot.services.calendar
    later = next(p for p in await calendar.plans() if p.title == "Plus tard ?")
    new_time = local_at(4, 11, 30)
    moved = await world.moderator.slash(world.fr, "calendar postpone", reference=f"plan-{later.id}", when=local_text(new_time))
    assert f"{local_text(new_time)} (Europe/Paris)" in moved.response.content
    assert moved.response.content.startswith("Déplacé\u202f:"), "earlier or later: moved, not « Reporté »"
    assert bot.scheduler.get_job(service.poll_job_id(later.id)).next_run_time == new_time
    [open_poll] = [p for p in await polls_in(sessions) if p.title == "Ouvert ?"]
    assert f"· `poll-{open_poll.id}`" in text  # its closing can be moved from the calendar
    later_close = NOW + timedelta(days=5)
    closing = await world.moderator.slash(world.fr, "calendar postpone", reference=f"poll-{open_poll.id}",
                                          when=local_text(later_close))
    assert f"{local_text(later_close)} (Europe/Paris)" in closing.response.content
    assert bot.scheduler.get_job(f"poll-close-{open_poll.id}").next_run_time == later_close
    assert bot.scheduler.get_job(f"poll-remind-{open_poll.id}").next_run_time == later_close - timedelta(days=1)
    await world.env.settle()
    [message] = [m for m in poll_posts(world.fr) if m.id == open_poll.message_id]
    assert f"<t:{int(later_close.timestamp())}" in embed_text(message)
    refused = await world.moderator.slash(world.fr, "calendar cancel", reference=f"poll-{open_poll.id}")
    assert "ne s’annule pas" in refused.response.content
    simcord.assert_error(world.env, InvalidInput)
    unknown = await world.moderator.slash(world.fr, "calendar cancel", reference="plan-999")
    assert "Rien de programmé sous la référence `plan-999`" in unknown.response.content
    simcord.assert_error(world.env, NotFound)


async def test_a_time_typed_alone_is_today_at_that_time_not_a_duration(world, sessions):
    """At 08:00, « 14h » is today at 14:00 (it planned 22:00, 14 hours ahead), and postponing
    to « 16 h » is today at 16:00 (it gave midnight); a duration says « dans »."""
    bot = world.env.bot
    bot.clock = at(NOW)  # 08:00 in Paris
    result = await plan(world, start="14h")
    [planned] = await bot.services.calendar.plans()
    assert planned.next_at == local_at(0, 14)
    assert f"{local_text(local_at(0, 14))} (Europe/Paris)" in result.response.content
    moved = await world.moderator.slash(world.fr, "calendar postpone", reference=f"plan-{planned.id}", when="16 h")
    assert f"{local_text(local_at(0, 16))} (Europe/Paris)" in moved.response.content
    assert bot.scheduler.get_job(service.poll_job_id(planned.id)).next_run_time == local_at(0, 16)
    moved = await world.moderator.slash(world.fr, "calendar postpone", reference=f"plan-{planned.id}", when="dans 3 h")
    assert (await bot.services.calendar.get_plan(planned.id)).next_at == NOW + timedelta(hours=3)
    refused = await world.moderator.slash(world.fr, "calendar postpone", reference=f"plan-{planned.id}", when="dans mardi")
    assert "« dans 2 h »" in plain(refused.response.content)  # the refusal says how a duration is written
    simcord.assert_error(world.env, InvalidInput)


async def test_a_planned_poll_is_not_postponed_past_its_own_deadline(world, sessions):
    """Postponing a planned poll after its dated deadline was accepted (« Déplacé ») and then
    failed at its time (« L’échéance est déjà passée » in the moderators' log): refused now."""
    bot = world.env.bot
    bot.clock = at(NOW)
    deadline = local_text(local_at(2, 18))
    await plan(world, start="demain 9 h", deadline=deadline)
    [planned] = await bot.services.calendar.plans()
    refused = await world.moderator.slash(world.fr, "calendar postpone", reference=f"plan-{planned.id}",
                                          when=local_text(local_at(3, 9)))
    assert plain(refused.response.content).startswith(
        f"`plan-{planned.id}` a pour échéance le {deadline} : il ne peut pas être publié après.")
    simcord.assert_error(world.env, InvalidInput)
    assert (await bot.services.calendar.get_plan(planned.id)).next_at == TOMORROW_9_UTC
    moved = await world.moderator.slash(world.fr, "calendar postpone", reference=f"plan-{planned.id}",
                                        when=local_text(local_at(2, 9)))
    assert moved.response.content.startswith("Déplacé")


async def test_a_duplicate_and_a_template_go_to_the_current_campaign_and_say_it(world, sessions):
    """/poll duplicate and /poll template use put the new poll in the copied poll's campaign,
    even after another was activated, and never said it: now the current one, named."""
    mod = world.moderator
    world.env.bot.clock = at(NOW)
    await mod.slash(world.fr, "poll campaign create", name="Enquête 2026")
    await mod.slash(world.fr, "poll campaign create", name="Enquête 2027")
    await mod.slash(world.fr, "poll create", question="Format ?", options="A; B")
    [original] = await polls_in(sessions)
    await mod.slash(world.fr, "poll template save", name="Format", poll=original.id)
    await mod.slash(world.fr, "poll campaign activate", name="Enquête 2027")
    again = await mod.slash(world.fr, "poll duplicate", poll=original.id, deadline="1j")
    used = await mod.slash(world.fr, "poll template use", name="Format")
    original, copy, from_template = await polls_in(sessions)
    assert original.campaign_id != copy.campaign_id == from_template.campaign_id
    for reply in (again, used):
        assert "Campagne : Enquête 2027" in plain(reply.response.content)


async def test_a_cron_rule_is_read_as_any_cron_and_the_reply_says_its_next_days(world, sessions):
    """« 0 9 * * 4 » is Thursday (it posted on Fridays) and the reply names the next two
    occurrences; a rule every 5 minutes and a monthly start on the 30th are refused."""
    bot = world.env.bot
    bot.clock = at(NOW)
    days_to_thursday = (3 - NOW.astimezone(PARIS).weekday()) % 7 or 7
    start = local_at(days_to_thursday, 9)
    result = await plan(world, start=local_text(start), repeat="0 9 * * 4", deadline="1j")
    text = plain(result.response.content)
    assert "selon « 0 9 * * thu »" in text
    assert text.count("jeudi") == 2 and "vendredi" not in text, text
    [planned] = await bot.services.calendar.plans()
    await fire(world, service.poll_job_id(planned.id), start)
    assert (await bot.services.calendar.get_plan(planned.id)).next_at == start + timedelta(weeks=1)

    often = await plan(world, start="demain 9 h", repeat="*/5 * * * *")
    assert "au plus une fois par jour" in often.response.content
    simcord.assert_error(world.env, InvalidInput)
    day = NOW.astimezone(PARIS).date()
    while day.day != 30:
        day += timedelta(days=1)
    monthly = await plan(world, start=f"{day.isoformat()} 09:00", repeat="mensuel")
    assert "entre le 1er et le 28 du mois" in plain(monthly.response.content)
    simcord.assert_error(world.env, InvalidInput)
    assert len(await bot.services.calendar.plans()) == 1


async def test_a_series_started_off_its_rule_first_posts_on_the_rules_first_day(world, sessions):
    """Started « lundi 9 h » with « 0 9 * * thu » (every Thursday at 9:00), the series posted its
    first poll on the Monday, and the reply and the calendar said so: its first post is the
    rule's first Thursday at or after the start, said in the reply and shown in the calendar; the
    reply says why it is not the Monday typed.  A start on the rule's day gets no such sentence."""
    bot = world.env.bot
    bot.clock = at(NOW)  # 08:00 in Paris: « lundi 9 h » is this Monday when today is one
    monday = (-NOW.astimezone(PARIS).weekday()) % 7
    first = local_at(monday + 3, 9)  # that week's Thursday
    result = await plan(world, start="lundi 9 h", repeat="0 9 * * 4", deadline="1j")
    text = plain(result.response.content)
    assert f"première fois le {local_text(first)} (Europe/Paris)" in text, text
    typed = local_text(local_at(monday, 9))
    assert f"La série commence au premier jour de sa règle à partir de la date indiquée ({typed})." in text, text
    assert text.count(typed) == 1  # in that sentence only
    # why, right after the first date; how to cancel, last
    assert text.index("première fois") < text.index("La série commence") < text.index("Ensuite"), text
    assert text.endswith("Annulable avec /calendrier."), text
    [planned] = await bot.services.calendar.plans()
    assert (planned.start_at, planned.next_at) == (first, first)
    listing = plain(embed_text((await world.moderator.slash(world.fr, "calendar list")).response))
    assert f"{local_text(first)} · Sondage récurrent · « Quel format pour la rencontre ? »" in listing
    assert local_text(local_at(monday, 9)) not in listing
    job_id = service.poll_job_id(planned.id)
    await fire(world, job_id, first)  # asserts the job's time: the Thursday
    assert len(poll_posts(world.fr)) == 1
    await fire(world, job_id, first + timedelta(weeks=1))
    assert len(poll_posts(world.fr)) == 2
    async with sessions() as session:
        runs = list(await session.scalars(select(CalendarRun.occurrence_at).order_by(CalendarRun.occurrence_at)))
    assert runs == [first, first + timedelta(weeks=1)]

    never = await plan(world, start="demain 9 h", repeat="0 9 31 2 *")
    assert "ne tombe jamais" in plain(never.response.content)
    simcord.assert_error(world.env, InvalidInput)
    assert len(await bot.services.calendar.plans()) == 1

    on_rule = await plan(world, start=local_text(first + timedelta(weeks=2)), repeat="0 9 * * 4", deadline="1j")
    assert "premier jour de sa règle" not in plain(on_rule.response.content), on_rule.response.content
    set_locale(world.moderator, "en-US")  # an English moderator reads it in English
    later = local_at(monday + 14, 9)  # a Monday again
    english = plain((await plan(world, start=local_text(later), repeat="0 9 * * 4", deadline="1j")).response.content)
    assert f"first on {local_text(local_at(monday + 17, 9))} (Europe/Paris)" in english, english
    assert f"The series starts on its rule's first day on or after the date you gave ({local_text(later)})." \
        in english, english
    assert english.endswith("Cancel it with /calendar."), english
    assert len(await bot.services.calendar.plans()) == 3

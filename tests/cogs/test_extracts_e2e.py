"""/extract end to end on SimCord: preview, publish after a confirm button, queue, skip; the
scheduled post (time injected), a failing channel, a restart in the middle of a fan-out, the
catch-up at start-up, and a confirm button clicked after a restart."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import discord
import pytest
import simcord

from bot.config import NetworkChannel
from bot.errors import NotFound
from bot.posting import GatewaySender
from bot.services import extracts as service
from bot.simcord_support import set_locale
from cogs._errors import NotModerator
from storage.repositories import AuditRepository, DeliveryRepository
from tests.command_access import assert_hidden, open_to_everyone
from tests.conftest import embed_text

# A Friday: no slot of the default cron ("first Monday, 10:00") within the 7 days of catch-up.
QUIET = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOVEMBER_SLOT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # Monday 2 November 2026, 10:00 Paris


def md(title: str, month: str, *, lang: str = "fr", link: str = "https://example.org/rapport.pdf", body: str = "") -> str:
    body = body or (
        "Les membres parlent de leur réseau.\n\n"
        "Une élue le dit ainsi\u202f: « Nous avons besoin de voir ce que font les autres collectivités. »"
    )
    return f'---\ntitle = "{title}"\nmonth = "{month}"\nlang = "{lang}"\nlink = "{link}"\n---\n{body}\n'


async def add_extracts(sessions, tmp_path, *specs: tuple[str, str] | tuple[str, str, str]):
    folder = tmp_path / "extraits"
    folder.mkdir(exist_ok=True)
    for spec in specs:
        title, month, lang = (*spec, "fr")[:3]
        (folder / f"{title}.md").write_text(md(title, month, lang=lang))
    result = await service.import_path(sessions, folder, now=QUIET, tz=service.ZoneInfo("Europe/Paris"))
    return {e.title: e for e in result.extracts}


async def use(world, *, channels=None, clock=QUIET, **discord_changes):
    bot = world.env.bot
    bot.clock = world.env.now if clock is None else (lambda: clock)
    config = dataclasses.replace(
        world.config,
        channels=channels if channels is not None else world.config.channels,
        discord=dataclasses.replace(world.config.discord, **discord_changes),
    )
    await bot.reconfigure(config)
    await world.env.settle()
    return config


def posts(channel) -> list[discord.Message]:
    return [m for m in channel.history() if m.author.bot]


def message_posts(env, channel_id: int) -> list:
    return [r for r in env.http_requests if r.method == "POST" and r.path == f"/channels/{channel_id}/messages"]


# --------------------------------------------------------------------------------------------


async def test_preview_is_exactly_what_members_then_see(world, sessions, tmp_path):
    role = world.guild.create_role("Membres")
    channels = (dataclasses.replace(world.config.channels[0], mention_role_id=role.id), world.config.channels[1])
    await use(world, channels=channels)
    await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"))

    preview = await world.moderator.slash(world.fr, "extract preview")
    assert preview.ephemeral
    assert preview.response.content == f"<@&{role.id}>"
    text = embed_text(preview.response)
    assert "Novembre" in text and "> « Nous avons besoin" in text and "novembre 2026" in text
    [row] = preview.response.components
    assert row["components"][0]["label"] == "Lire le rapport complet"
    assert row["components"][0]["url"] == "https://example.org/rapport.pdf"
    assert posts(world.fr) == []  # a preview posts nothing

    confirm = await world.moderator.slash(world.fr, "extract publish")
    await world.moderator.click(confirm.response, label="Publier")
    [posted] = posts(world.fr)
    assert [e.to_dict() for e in posted.embeds] == [e.to_dict() for e in preview.response.embeds]
    assert posted.content == preview.response.content
    assert posted.components[0].children[0].url == "https://example.org/rapport.pdf"
    # The preview pinged nobody; the post pings the channel's role and nothing else.
    [request] = message_posts(world.env, world.fr.id)
    assert request.json["allowed_mentions"] == {"parse": [], "roles": [role.id]}
    assert request.json["enforce_nonce"] is True and len(request.json["nonce"]) <= 25


async def test_publish_asks_first_then_posts_in_the_channels_of_its_language(world, sessions, tmp_path):
    await use(world)
    extracts = await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"), ("Décembre", "2026-12"))

    confirm = await world.moderator.slash(world.fr, "extract publish")
    assert confirm.ephemeral and "Novembre" in confirm.response.content and "1 salon" in confirm.response.content
    assert posts(world.fr) == []
    done = await world.moderator.click(confirm.response, label="Publier")
    assert "publié\u202f: 1 salon servi." in done.response.content  # no « 0 en échec » noise
    assert [m.embeds[0].title for m in posts(world.fr)] == ["Novembre"]
    assert posts(world.en) == []  # a French extract goes to French channels only
    assert posts(world.fr)[0].content == ""  # no role configured: no mention at all

    # Again: nothing a button could do, so no button — said at once, with what was delivered.
    again = await world.moderator.slash(world.fr, "extract publish", id=extracts["Novembre"].id)
    assert again.ephemeral and again.response.components == []
    [posted] = posts(world.fr)
    assert again.response.content.splitlines() == [
        f"L’extrait n°\u00a0{extracts['Novembre'].id} «\u202fNovembre\u202f» a déjà été publié dans tous les salons concernés\u202f: "
        "1 salon servi, aujourd’hui à 13 h. Il n’y a rien d’autre à publier.",
        f"• {posted.jump_url}",
    ]
    assert len(posts(world.fr)) == 1
    async with sessions() as session:
        entries = [e for e in await AuditRepository(session).latest(20) if e.action == "extract.publish"]
    assert [(e.actor_id, e.guild_id, e.channel_id, e.target_id) for e in entries] == [
        (world.moderator.id, world.guild.id, world.fr.id, str(extracts["Novembre"].id))
    ]


async def test_cancel_button_posts_nothing(world, sessions, tmp_path):
    await use(world)
    await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"))
    confirm = await world.moderator.slash(world.fr, "extract publish")
    cancelled = await world.moderator.click(confirm.response, label="Annuler")
    assert "rien n’a été posté" in cancelled.response.content
    assert posts(world.fr) == [] and [e.status for e in await service.queue(sessions)] == ["queued"]


async def test_queue_and_skip(world, sessions, tmp_path):
    await use(world)
    extracts = await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"), ("Décembre", "2026-12"), ("English", "2026-11", "en"))
    queue = await world.moderator.slash(world.fr, "extract queue")
    text = embed_text(queue.response)
    assert queue.ephemeral and text.index("Novembre") < text.index("Décembre")
    assert "English" in text and "Prochaine publication programmée\u202f: 2026-12-07 10:00" in text

    head = (await service.queue(sessions))[0]  # month, then id: the November ones first
    assert head.month == "2026-11" and text.index(head.title) < text.index("Décembre")
    assert "novembre 2026" in text and "décembre 2026" in text and "2026-11" not in text, "months in words"
    skipped = await world.moderator.slash(world.fr, "extract skip")
    assert f"«\u202f{head.title}\u202f» (novembre 2026) retiré de la file" in skipped.response.content
    await open_to_everyone(world, "extract")
    english = await world.member_en.slash(world.en, "extract queue")
    assert "for the network's moderators" in english.response.content
    simcord.assert_error(world.env, NotModerator)
    by_id = await world.moderator.slash(world.fr, "extract skip", id=extracts["Décembre"].id)
    assert "Décembre" in by_id.response.content
    queue = await world.moderator.slash(world.fr, "extract queue")
    remaining = embed_text(queue.response)
    assert head.title not in remaining and "Décembre" not in remaining
    async with sessions() as session:
        entries = [e for e in await AuditRepository(session).latest(20) if e.action == "extract.skip"]
    assert [(e.actor_id, e.target_id, e.guild_id) for e in reversed(entries)] == [
        (world.moderator.id, str(head.id), world.guild.id),
        (world.moderator.id, str(extracts["Décembre"].id), world.guild.id),
    ]


async def test_unknown_extract_is_a_clear_refusal(world, sessions):
    await use(world)
    result = await world.moderator.slash(world.fr, "extract preview", id=42)
    assert result.ephemeral and result.response.content == "Aucun extrait n°\u00a042."
    empty = await world.moderator.slash(world.fr, "extract publish")
    assert "La file des extraits est vide" in empty.response.content
    simcord.assert_error(world.env, NotFound)


async def test_scheduled_post_with_time_injected(world, sessions, tmp_path):
    role = world.guild.create_role("Veille")
    channels = (dataclasses.replace(world.config.channels[0], mention_role_id=role.id), world.config.channels[1])
    await use(world, channels=channels)
    await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"), ("November", "2026-11", "en"), ("Décembre", "2026-12"))
    bot = world.env.bot
    job = bot.scheduler.get_job(service.JOB_ID)
    assert job is not None and str(job.trigger.timezone) == "Europe/Paris"
    assert str(job.trigger) == "cron[month='*', day='1-7', day_of_week='mon', hour='10', minute='0']"

    bot.clock = lambda: NOVEMBER_SLOT
    await job.func()  # what APScheduler calls at the slot
    await world.env.settle()
    assert [m.embeds[0].title for m in posts(world.fr)] == ["Novembre"]
    assert [m.embeds[0].title for m in posts(world.en)] == ["November"]
    assert posts(world.fr)[0].content == f"<@&{role.id}>"
    await job.func()  # a second run for the same slot (restart, double fire) does nothing
    await world.env.settle()
    assert len(posts(world.fr)) == 1 and len(posts(world.en)) == 1
    assert [e.title for e in await service.queue(sessions)] == ["Décembre"]


async def test_a_failing_channel_is_reported_and_the_others_still_receive(world, sessions, tmp_path):
    closed = world.guild.create_text_channel(
        "ferme", overwrites={world.guild.me: discord.PermissionOverwrite(send_messages=False)}
    )
    gone_id = 1456074443980899999  # a channel deleted since it was configured
    channels = (
        *world.config.channels,
        NetworkChannel(guild_id=world.guild.id, channel_id=closed.id, language="fr", name="ferme"),
        NetworkChannel(guild_id=world.guild.id, channel_id=gone_id, language="fr", name="supprime"),
    )
    await use(world, channels=channels)
    await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"))
    confirm = await world.moderator.slash(world.fr, "extract publish")
    done = await world.moderator.click(confirm.response, label="Publier")
    assert "1 salon servi, 2 en échec." in done.response.content
    assert len(posts(world.fr)) == 1 and posts(closed) == []
    [report] = posts(world.modlog)
    assert "2 publications n’ont pas pu être postées" in report.content
    assert f"<#{closed.id}>" in report.content and f"<#{gone_id}>" in report.content
    # Discord's refusals in the log's language (its error code kept as a detail), not Discord's English
    assert "le bot n’a pas les permissions nécessaires dans ce salon (code Discord 50013)" in report.content
    assert "ce salon n’existe plus, ou son identifiant est faux (code Discord 10003)" in report.content
    assert "Missing Permissions" not in report.content and "missing permission" not in report.content
    async with sessions() as session:
        failed = await DeliveryRepository(session).failed()
    assert sorted(d.channel_id for d in failed) == sorted([closed.id, gone_id])


async def test_restart_in_the_middle_of_a_fan_out_sends_only_what_was_missing(
    world, sessions, tmp_path, bot_factory, monkeypatch
):
    second = world.guild.create_text_channel("annonces-2")
    third = world.guild.create_text_channel("annonces-3")
    # The bot's clock follows SimCord's (2026-01-01…): the history look-up compares the delivery
    # row's time with message snowflakes, which SimCord derives from its own clock.
    config = await use(world, clock=None, channels=(
        *world.config.channels,
        NetworkChannel(guild_id=world.guild.id, channel_id=second.id, language="fr"),
        NetworkChannel(guild_id=world.guild.id, channel_id=third.id, language="fr"),
    ))
    await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"))
    # The process "dies" twice over: right after Discord accepted the post in `second` (before
    # the database heard of it), and before anything reached `third` (a 502 in flight).
    real_send = GatewaySender.send

    async def dying_send(self, channel_id, part, nonce, *, crosspost=False):
        message_id = await real_send(self, channel_id, part, nonce, crosspost=crosspost)
        if channel_id == second.id:
            raise RuntimeError("SIGKILL")
        return message_id

    monkeypatch.setattr(GatewaySender, "send", dying_send)
    world.env.inject_error("POST", f"/channels/{third.id}/messages", status=502, times=1)
    confirm = await world.moderator.slash(world.fr, "extract publish")
    done = await world.moderator.click(confirm.response, label="Publier")
    assert "2 à réessayer" in done.response.content
    assert (len(posts(world.fr)), len(posts(second)), len(posts(third))) == (1, 1, 0)

    monkeypatch.setattr(GatewaySender, "send", real_send)
    before = len(world.env.http_requests)
    await world.env.restart_bot(bot_factory(config, clock=world.env.now))
    await world.env.settle()
    assert (len(posts(world.fr)), len(posts(second)), len(posts(third))) == (1, 1, 1)
    resent = [r.path for r in world.env.http_requests[before:] if r.method == "POST" and r.path.endswith("/messages")]
    assert resent == [f"/channels/{third.id}/messages"]  # `second` was found in its history, not resent
    async with sessions() as session:
        rows = await DeliveryRepository(session).for_source(extract_id=(await service.list_extracts(sessions))[0].id)
    assert {r.channel_id: r.status for r in rows} == {world.fr.id: "sent", second.id: "sent", third.id: "sent"}
    assert {r.channel_id: r.message_id for r in rows}[second.id] == posts(second)[0].id


async def test_catch_up_at_start_up_posts_the_missed_month_once(world, sessions, tmp_path, bot_factory):
    config = await use(world)
    await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"))
    started = NOVEMBER_SLOT + timedelta(days=2)  # down at the slot, back two days later
    await world.env.restart_bot(bot_factory(config, clock=lambda: started))
    await world.env.settle()
    assert [m.embeds[0].title for m in posts(world.fr)] == ["Novembre"]
    await world.env.restart_bot(bot_factory(config, clock=lambda: started + timedelta(hours=1)))
    await world.env.settle()
    assert len(posts(world.fr)) == 1
    async with sessions() as session:
        [entry] = [e for e in await AuditRepository(session).latest(20) if e.action == "extract.publish"]
    assert entry.actor_id is None and entry.details["trigger"] == "catch-up"


async def test_confirm_button_still_works_after_a_restart(world, sessions, tmp_path, bot_factory):
    config = await use(world)
    await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"))
    confirm = await world.moderator.slash(world.fr, "extract publish")
    await world.env.restart_bot(bot_factory(config, clock=lambda: QUIET))
    await world.env.settle()
    done = await world.moderator.click(confirm.response, label="Publier")
    assert "1 salon servi" in done.response.content
    assert len(posts(world.fr)) == 1


async def test_already_posted_everywhere_is_said_at_once_in_english_with_configured_links(
    world, sessions, tmp_path
):
    await use(world, web_base_url="http://127.0.0.1:8765/app", clock=QUIET - timedelta(days=1))
    extracts = await add_extracts(sessions, tmp_path, ("November", "2026-11", "en"))
    await service.publish_extract(
        sessions, world.env.bot.services.publisher, extracts["November"].id, now=QUIET - timedelta(days=1)
    )
    world.env.bot.clock = lambda: QUIET  # the next day
    set_locale(world.moderator, "en-GB")
    again = await world.moderator.slash(world.en, "extract publish", id=extracts["November"].id)
    [posted] = posts(world.en)
    assert again.response.components == []
    assert again.response.content.splitlines() == [
        f"Extract #{extracts['November'].id} “November” has already been posted to every channel concerned: "
        "1 channel served, yesterday at 13:00. There is nothing left to post.",
        f"• http://127.0.0.1:8765/app/channels/{world.guild.id}/{world.en.id}/{posted.id}",
    ]


async def test_a_channel_added_since_is_all_a_second_publish_asks_for_and_posts(world, sessions, tmp_path):
    await use(world)
    extracts = await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"))
    first = await world.moderator.slash(world.fr, "extract publish")
    await world.moderator.click(first.response, label="Publier")
    second = world.guild.create_text_channel("annonces-2")
    await use(world, channels=(
        *world.config.channels, NetworkChannel(guild_id=world.guild.id, channel_id=second.id, language="fr"),
    ))
    again = await world.moderator.slash(world.fr, "extract publish", id=extracts["Novembre"].id)
    assert "dans 1 salon\u202f?" in again.response.content  # the one channel that does not have it yet
    done = await world.moderator.click(again.response, label="Publier")
    assert "publié\u202f: 1 salon servi." in done.response.content
    assert (len(posts(world.fr)), len(posts(second))) == (1, 1)


async def test_confirm_clicked_after_someone_else_posted_it_ends_on_the_summary(world, sessions, tmp_path):
    await use(world)
    extracts = await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"))
    confirm = await world.moderator.slash(world.fr, "extract publish")
    other = await world.moderator.slash(world.fr, "extract publish")
    await world.moderator.click(other.response, label="Publier")  # a second moderator was quicker
    late = await world.moderator.click(confirm.response, label="Publier")
    # The message that said « Publication en cours… » now says what happened, in place.
    assert late.response.content.startswith(f"L’extrait n°\u00a0{extracts['Novembre'].id} «\u202fNovembre\u202f» a déjà été publié")
    assert late.response.components == [] and late.followups == []
    assert len(posts(world.fr)) == 1


async def test_confirm_that_fails_replaces_publishing_with_the_reason(world, sessions, tmp_path):
    await use(world)
    await add_extracts(sessions, tmp_path, ("Novembre", "2026-11"))
    confirm = await world.moderator.slash(world.fr, "extract publish")
    await use(world, channels=(world.config.channels[1],))  # the French channel left the network
    failed = await world.moderator.click(confirm.response, label="Publier")
    assert failed.response.content == "Aucun salon du réseau en langue «\u202ffr\u202f» ne peut recevoir cet extrait."
    assert "Publication en cours" not in failed.response.content and failed.followups == []
    assert posts(world.fr) == []


@pytest.mark.parametrize("command", ["extract preview", "extract publish", "extract queue", "extract skip"])
async def test_every_extract_command_is_for_moderators(world, command):
    await assert_hidden(world.member_fr, world.fr, command)
    await open_to_everyone(world, command)
    result = await world.member_fr.slash(world.fr, command)
    assert result.ephemeral and "réservée aux modérateurs" in result.response.content
    simcord.assert_error(world.env, NotModerator)

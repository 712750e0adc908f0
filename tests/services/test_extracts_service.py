"""The extracts and announcements services on a real database, with an in-memory Sender:
import and re-import, queue order, the monthly slot (once per month, daylight saving, catch-up),
the outbox (failures, crash recovery, nonces) and announcement transitions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.config import Config, NetworkChannel, build_config
from bot.errors import Conflict, InvalidInput, NotFound, describe
from bot.i18n import Catalogue
from bot.services import announcements
from bot.services import extracts as service
from bot.services.container import Services
from bot.services.delivery import (
    ChannelMissing,
    MissingPermission,
    Publisher,
    TransientFailure,
    part_nonce,
)
from storage import models
from storage.repositories import AuditRepository, DeliveryRepository
from tests.paths import FIXTURES

PARIS = ZoneInfo("Europe/Paris")
# A monthly post as messy as real ones (our own text): the intro printed twice, a paragraph
# repeated further down, blank lines of no-break spaces, a trailing "rapport enquête" link label.
MESSY_EXAMPLE = FIXTURES / "extract-messy.txt"
NOW = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)


def md(title: str, month: str | None = None, lang: str = "fr", link: str | None = None, body: str = "Un texte.") -> str:
    front = [f'title = "{title}"', f'lang = "{lang}"']
    if month:
        front.append(f'month = "{month}"')
    if link:
        front.append(f'link = "{link}"')
    return "---\n" + "\n".join(front) + "\n---\n" + body + "\n"


class MemorySender:
    """A Discord stand-in: channels with messages; some channels missing, forbidden or flaky."""

    def __init__(self) -> None:
        self.messages: dict[int, list[tuple[int, str, object]]] = {}
        self.missing: set[int] = set()
        self.forbidden: set[int] = set()
        self.flaky: set[int] = set()
        self.crash_after_send: set[int] = set()  # the message goes out, then the process "dies"
        self.notes: list[tuple[int, str]] = []
        self.lookups = 0
        self._next = 1000

    async def send(self, channel_id, part, nonce, *, crosspost=False):
        assert len(nonce) <= 25
        if channel_id in self.missing:
            raise ChannelMissing("404 10003: Unknown Channel")
        if channel_id in self.forbidden:
            raise MissingPermission("403 50013: Missing Permissions")
        if channel_id in self.flaky:
            raise TransientFailure("502 Bad Gateway")
        self._next += 1
        self.messages.setdefault(channel_id, []).append((self._next, nonce, part))
        if channel_id in self.crash_after_send:
            raise RuntimeError("killed between the send and the database")
        return self._next

    async def find_sent(self, channel_id, parts, after):
        self.lookups += 1
        sent = {nonce: mid for mid, nonce, _ in self.messages.get(channel_id, [])}
        return {i: sent[nonce] for i, (nonce, _) in enumerate(parts) if nonce in sent}

    async def notify(self, channel_id, text):
        self.notes.append((channel_id, text))

    def count(self, channel_id: int) -> int:
        return len(self.messages.get(channel_id, []))


def make_config(database_url: str, tmp_path: Path, **schedule) -> Config:
    raw = {
        "database": {"url": database_url},
        "discord": {"moderators_log_channel_id": 99},
        "schedule": schedule,
        "channels": [
            {"guild_id": 1, "channel_id": 11, "language": "fr", "mention_role_id": 555},
            {"guild_id": 1, "channel_id": 12, "language": "en"},
            {"guild_id": 2, "channel_id": 21, "language": "fr"},
        ],
    }
    return build_config(raw, tmp_path / "config.toml", environ={})


async def mirror(sessions, config: Config) -> None:
    """The config's channels, as the bot mirrors them (``Services.mirror_channels``)."""
    await Services(config, engine=sessions.kw["bind"], sessions=sessions).mirror_channels()


@pytest.fixture
async def setup(sessions, database_url, tmp_path):
    config = make_config(database_url, tmp_path)
    await mirror(sessions, config)
    sender = MemorySender()
    publisher = Publisher(sessions, sender, catalogue=Catalogue.load(), modlog_channel_id=99, rate=None, clock=lambda: NOW)
    return config, sender, publisher


async def import_one(sessions, folder: Path, text: str | None = None, name: str = "a.md"):
    """One extract file (November's by default) written in ``folder`` and imported."""
    (folder / name).write_text(md("Novembre", "2026-11") if text is None else text)
    return await service.import_path(sessions, folder, now=NOW, tz=PARIS)


async def audit_actions(sessions) -> list[str]:
    async with sessions() as session:
        return [e.action for e in reversed(await AuditRepository(session).latest(100))]


# --------------------------------------------------------------------------------------------
# Import


async def test_folder_import_then_reimport_updates_never_duplicates(sessions, tmp_path):
    folder = tmp_path / "extraits"
    folder.mkdir()
    (folder / "a.md").write_text(md("Premier", "2026-11"))
    (folder / "b.txt").write_text("Deuxième sans en-tête\n\nUn texte brut.\n")
    (folder / "c.md").write_text(md("Third", lang="en"))
    first = await service.import_path(sessions, folder, now=NOW, tz=PARIS)
    assert [e.title for e in first.created] == ["Premier", "Deuxième sans en-tête", "Third"]
    by_title = {e.title: e for e in first.created}
    # No month: the next free month of its language from the current month on.
    assert by_title["Deuxième sans en-tête"].month == "2026-10"
    assert by_title["Third"].month == "2026-10"

    (folder / "a.md").write_text(md("Premier, corrigé", "2026-11"))
    again = await service.import_path(sessions, folder, now=NOW + timedelta(days=40), tz=PARIS)
    assert again.created == [] and len(again.updated) == 3
    rows = await service.list_extracts(sessions)
    assert len(rows) == 3
    assert {e.title for e in rows} == {"Premier, corrigé", "Deuxième sans en-tête", "Third"}
    # A re-imported extract without a month keeps the month it was given.
    assert {e.title: e.month for e in rows}["Deuxième sans en-tête"] == "2026-10"
    # A new one skips the months already taken in its language.
    (folder / "d.txt").write_text("Encore un\n\nTexte.\n")
    third = await service.import_path(sessions, folder / "d.txt", now=NOW, tz=PARIS)
    assert third.created[0].month == "2026-12"


async def test_a_published_extract_is_never_rewritten_by_a_new_file_of_the_same_name(setup, sessions, tmp_path):
    """The dashboard's upload keys a file by its name: extrait.md of January, published, then
    another extrait.md for March.  January's extract stays as it was posted (it was rewritten
    into « Mars », still « published », and March was never queued); the new content is kept
    out and reported, so the page can say why and what to do."""
    config, sender, publisher = setup
    folder = tmp_path / "dashboard"
    folder.mkdir()
    january = await import_one(sessions, folder, md("Janvier : la coopération", "2027-01"), name="extrait.md")
    [published] = january.created
    await service.publish_extract(sessions, publisher, published.id, now=NOW, actor_id=7)
    assert sender.count(11) == 1 and sender.count(21) == 1

    march = await import_one(sessions, folder, md("Mars : l’évaluation", "2027-03"), name="extrait.md")
    assert march.created == [] and march.updated == [] and march.extracts == []
    [kept] = march.kept
    assert (kept.extract.id, kept.extract.title, kept.month, kept.skipped) == (
        published.id, "Janvier : la coopération", "2027-03", False)
    [row] = await service.list_extracts(sessions)
    assert (row.title, row.month, row.status, row.body) == ("Janvier : la coopération", "2027-01", "published", "Un texte.")
    assert await service.queue(sessions) == []
    assert sender.count(11) == 1 and sender.count(21) == 1

    # another name is another extract: queued for March
    other = await import_one(sessions, folder, md("Mars : l’évaluation", "2027-03"), name="extrait-2027-03.md")
    assert [(e.title, e.month, e.status) for e in other.created] == [("Mars : l’évaluation", "2027-03", "queued")]


async def test_a_queued_extract_is_replaced_by_its_file_and_a_skipped_one_is_kept(sessions, tmp_path):
    first = await import_one(sessions, tmp_path, md("Février", "2027-02"), name="extrait.md")
    again = await import_one(sessions, tmp_path, md("Février, corrigé", "2027-02"), name="extrait.md")
    assert again.created == [] and [e.id for e in again.updated] == [first.created[0].id] and again.kept == []
    assert [(e.title, e.status) for e in await service.queue(sessions)] == [("Février, corrigé", "queued")]
    await service.skip(sessions, actor_id=7)
    third = await import_one(sessions, tmp_path, md("Février, encore", "2027-02"), name="extrait.md")
    assert third.extracts == [] and third.kept[0].skipped
    [row] = await service.list_extracts(sessions)
    assert (row.title, row.status) == ("Février, corrigé", "skipped")


async def test_the_status_check_is_the_databases_not_a_stale_copy(sessions, tmp_path):
    """A slot publishing the extract between the import's read and its write (another process):
    the UPDATE itself checks the status and that nothing was delivered, so the import keeps its
    hands off even though the row it read said « queued »."""
    from storage.models import Delivery, Extract
    from storage.repositories import ExtractRepository
    from storage.repositories.extracts import SAVE_KEPT

    [extract] = (await import_one(sessions, tmp_path, md("Avril", "2027-04"), name="avril.md")).created
    key = extract.source_key
    async with sessions.begin() as session:
        repo = ExtractRepository(session)
        stale = await repo.by_source_key(key)
        assert stale.status == "queued"
        await session.execute(update(Extract).where(Extract.id == stale.id).values(status="published"))
        row, outcome = await repo.save(key, {"title": "Réécrit", "month": "2027-09"})
    assert outcome == SAVE_KEPT and (row.title, row.month, row.status) == ("Avril", "2027-04", "published")
    async with sessions.begin() as session:  # queued, but its deliveries are being written
        await session.execute(update(Extract).where(Extract.id == extract.id).values(status="queued"))
        session.add(Delivery(extract_id=extract.id, guild_id=1, channel_id=11, status="pending", nonce="n"))
    async with sessions.begin() as session:
        row, outcome = await ExtractRepository(session).save(key, {"title": "Réécrit"})
    assert outcome == SAVE_KEPT and row.title == "Avril"


async def test_a_bad_file_in_a_folder_imports_nothing(sessions, tmp_path):
    (tmp_path / "a.md").write_text(md("Bon", "2026-11"))
    (tmp_path / "b.md").write_text('---\ntitle = "Mal fermé\n---\nTexte\n')
    with pytest.raises(InvalidInput) as info:
        await service.import_path(sessions, tmp_path, now=NOW, tz=PARIS)
    assert info.value.key == "extract.bad_front_matter"
    assert await service.list_extracts(sessions) == []


async def test_messy_example_is_stored_clean(sessions):
    result = await service.import_path(sessions, MESSY_EXAMPLE, now=NOW, tz=PARIS)
    [extract] = result.created
    assert extract.intro.startswith("Chaque mois")
    assert "Chaque mois" not in extract.body
    assert "rapport enquête" not in [line.strip() for line in extract.body.splitlines()]
    again = await service.import_path(sessions, MESSY_EXAMPLE, now=NOW, tz=PARIS)
    assert again.updated and not again.created


# --------------------------------------------------------------------------------------------
# Queue


async def test_queue_order_is_month_then_id_and_skip_is_audited(sessions, tmp_path):
    for name, month in (("c", "2026-12"), ("a", "2026-11"), ("b", "2026-11")):
        (tmp_path / f"{name}.md").write_text(md(f"Extrait {name}", month))
    await service.import_path(sessions, tmp_path / "c.md", now=NOW, tz=PARIS)
    await service.import_path(sessions, tmp_path / "a.md", now=NOW, tz=PARIS)
    await service.import_path(sessions, tmp_path / "b.md", now=NOW, tz=PARIS)
    assert [e.title for e in await service.queue(sessions)] == ["Extrait a", "Extrait b", "Extrait c"]
    skipped = await service.skip(sessions, actor_id=7, guild_id=1, channel_id=11)
    assert skipped.title == "Extrait a"
    assert [e.title for e in await service.queue(sessions)] == ["Extrait b", "Extrait c"]
    with pytest.raises(Conflict) as refused:
        await service.skip(sessions, skipped.id, actor_id=7)
    said = describe(refused.value, Catalogue.load(), "fr")  # its state in words, not « skipped »
    assert said == f"L’extrait n°\u00a0{skipped.id} n’est plus dans la file (état\u202f: écarté)."
    with pytest.raises(NotFound):
        await service.skip(sessions, 999, actor_id=7)
    async with sessions() as session:
        [entry] = await AuditRepository(session).latest(10)
    assert (entry.action, entry.actor_id, entry.target_id, entry.guild_id, entry.channel_id) == (
        "extract.skip", 7, str(skipped.id), 1, 11,
    )


# --------------------------------------------------------------------------------------------
# Publishing and the outbox


async def test_publish_goes_to_the_channels_of_its_language_once(setup, sessions, tmp_path):
    config, sender, publisher = setup
    (tmp_path / "a.md").write_text(md("Novembre", "2026-11", link="https://example.org/r"))
    await service.import_path(sessions, tmp_path, now=NOW, tz=PARIS)
    outcome = await service.publish_extract(sessions, publisher, now=NOW, actor_id=7, guild_id=1, channel_id=11)
    assert outcome.new_rows == 2 and outcome.report.delivered == 2
    assert sender.count(11) == 1 and sender.count(21) == 1 and sender.count(12) == 0
    [(_, nonce, part)] = sender.messages[11]
    assert part.content == "<@&555>" and part.mention_role_id == 555 and not part.mention_everyone
    assert part.button is not None and part.button.label == "Lire le rapport complet"
    assert nonce.startswith("rb") and len(nonce) <= 25
    assert sender.messages[21][0][2].content is None  # no role configured there: nobody is pinged
    with pytest.raises(Conflict):
        await service.publish_extract(sessions, publisher, outcome.extracts[0].id, now=NOW, actor_id=7)
    assert sender.count(11) == 1
    assert "extract.publish" in await audit_actions(sessions)


async def test_failed_channels_are_marked_reported_and_do_not_stop_the_others(setup, sessions, tmp_path):
    config, sender, publisher = setup
    sender.missing.add(11)
    sender.forbidden.add(21)
    extra = dataclasses.replace(config, channels=(
        *config.channels, NetworkChannel(guild_id=3, channel_id=31, language="fr"),
    ))
    await mirror(sessions, extra)
    await import_one(sessions, tmp_path)
    outcome = await service.publish_extract(sessions, publisher, now=NOW, actor_id=None)
    assert sender.count(31) == 1
    assert sorted(f.channel_id for f in outcome.report.failed) == [11, 21]
    async with sessions() as session:
        failed = await DeliveryRepository(session).failed()
    assert {d.channel_id: d.error for d in failed}.keys() == {11, 21}
    assert {d.channel_id: d.error for d in failed}[11] == "unknown_channel: 404 10003: Unknown Channel"
    [(channel, text)] = sender.notes
    assert channel == 99 and "<#11>" in text and "<#21>" in text and "Novembre" in text
    assert (await audit_actions(sessions)).count("delivery.failed") == 2


async def test_transient_failure_stays_pending_and_is_retried(setup, sessions, tmp_path):
    config, sender, publisher = setup
    sender.flaky.add(21)
    await import_one(sessions, tmp_path)
    outcome = await service.publish_extract(sessions, publisher, now=NOW)
    assert outcome.report.pending and sender.count(11) == 1 and sender.count(21) == 0
    sender.flaky.clear()
    retry = await publisher.deliver()
    assert len(retry.sent) == 1 and sender.count(21) == 1 and sender.count(11) == 1


async def test_crash_after_send_is_recovered_without_a_second_post(setup, sessions, tmp_path):
    config, sender, publisher = setup
    sender.crash_after_send.add(21)
    await import_one(sessions, tmp_path)
    first = await service.publish_extract(sessions, publisher, now=NOW)
    assert first.report.pending  # the row could not be marked: it stays pending
    assert sender.count(21) == 1
    sender.crash_after_send.clear()
    fresh = Publisher(sessions, sender, catalogue=Catalogue.load(), rate=None)  # "after the restart"
    second = await fresh.deliver()
    assert second.recovered and not second.sent
    assert sender.count(21) == 1 and sender.lookups == 1
    async with sessions() as session:
        rows = await DeliveryRepository(session).for_source(extract_id=first.extracts[0].id)
    assert {r.status for r in rows} == {"sent"}


async def test_long_extract_parts_have_distinct_nonces_and_recover_part_by_part(setup, sessions, tmp_path):
    config, sender, publisher = setup
    body = "\n\n".join(f"Paragraphe {i} " + "mot " * 300 for i in range(12))  # ≈ 18 000 characters
    await import_one(sessions, tmp_path, md("Long", "2026-11", body=body), name="long.md")
    await service.publish_extract(sessions, publisher, now=NOW)
    nonces = [nonce for _, nonce, _ in sender.messages[11]]
    assert len(nonces) >= 3 and len(set(nonces)) == len(nonces) and all(len(n) <= 25 for n in nonces)
    assert nonces[1] == part_nonce(nonces[0], 1)


async def test_one_delivery_per_extract_and_channel_is_a_database_fact(sessions, setup, tmp_path):
    config, sender, publisher = setup
    [extract] = (await import_one(sessions, tmp_path)).created
    from bot.services.delivery import write_deliveries

    async with sessions.begin() as session:
        first = await write_deliveries(session, kind="extract", source_id=extract.id, targets=[(1, 11), (2, 21)], now=NOW)
        again = await write_deliveries(session, kind="extract", source_id=extract.id, targets=[(1, 11)], now=NOW)
    assert len(first) == 2 and again == []
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(models.Delivery)) == 2


# --------------------------------------------------------------------------------------------
# The monthly slot


async def test_slot_publishes_the_month_once_per_language(setup, sessions, tmp_path):
    config, sender, publisher = setup
    for name, month, lang in (("fr11", "2026-11", "fr"), ("fr12", "2026-12", "fr"), ("en11", "2026-11", "en")):
        (tmp_path / f"{name}.md").write_text(md(name, month, lang=lang))
    await service.import_path(sessions, tmp_path, now=NOW, tz=PARIS)
    slot = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    outcome = await service.run_slot(sessions, publisher, month="2026-11", now=slot)
    assert sorted(e.title for e in outcome.extracts) == ["en11", "fr11"]
    assert sender.count(11) == sender.count(21) == sender.count(12) == 1
    assert await service.run_slot(sessions, publisher, month="2026-11", now=slot) is None
    assert await service.run_slot(sessions, publisher, month="2026-10", now=slot) is None  # the past too
    assert sender.count(11) == 1
    december = await service.run_slot(sessions, publisher, month="2026-12", now=slot + timedelta(days=35))
    assert [e.title for e in december.extracts] == ["fr12"]  # no English extract left: nothing for en
    assert sender.count(11) == 2 and sender.count(12) == 1


async def test_slot_takes_an_overdue_extract_but_never_a_future_one(setup, sessions, tmp_path):
    config, sender, publisher = setup
    (tmp_path / "late.md").write_text(md("En retard", "2026-09"))
    (tmp_path / "future.md").write_text(md("Plus tard", "2027-01"))
    await service.import_path(sessions, tmp_path, now=NOW, tz=PARIS)
    november = await service.run_slot(sessions, publisher, month="2026-11", now=NOW)
    assert [e.title for e in november.extracts] == ["En retard"]
    december = await service.run_slot(sessions, publisher, month="2026-12", now=NOW)
    assert december.extracts == [] and sender.count(11) == 1


async def test_slot_after_a_manual_publish_of_the_month_posts_nothing_more(setup, sessions, tmp_path):
    config, sender, publisher = setup
    (tmp_path / "nov.md").write_text(md("Novembre", "2026-11"))
    (tmp_path / "old.md").write_text(md("Vieux", "2026-09"))
    await service.import_path(sessions, tmp_path, now=NOW, tz=PARIS)
    nov = [e for e in await service.queue(sessions) if e.month == "2026-11"][0]
    await service.publish_extract(sessions, publisher, nov.id, now=NOW, actor_id=7)
    outcome = await service.run_slot(sessions, publisher, month="2026-11", now=NOW)
    assert outcome.extracts == [] and sender.count(11) == 1


def test_daylight_saving_fire_times_at_0230_paris(tmp_path):
    """What APScheduler 3.11 computes for 02:30 Europe/Paris around the two changes of 2026."""
    config = build_config({"schedule": {"extract_cron": "30 2 * * *"}}, tmp_path / "c.toml", environ={})
    trigger = service.extract_trigger(config)
    march = service.fire_times(trigger, datetime(2026, 3, 28, 12, tzinfo=PARIS), end=datetime(2026, 3, 30, 12, tzinfo=PARIS))
    # Last Sunday of March: 02:30 does not exist; it fires once, at 01:30 UTC (03:30 summer time).
    assert [t.astimezone(UTC).strftime("%m-%d %H:%M") for t in march] == ["03-29 01:30", "03-30 00:30"]
    assert [service.format_local(t, PARIS) for t in march] == ["2026-03-29 03:30", "2026-03-30 02:30"]
    october = service.fire_times(trigger, datetime(2026, 10, 24, 12, tzinfo=PARIS), end=datetime(2026, 10, 26, 12, tzinfo=PARIS))
    # Last Sunday of October: 02:30 happens twice (summer, then winter time); APScheduler fires at both.
    assert [t.astimezone(UTC).strftime("%m-%d %H:%M") for t in october] == ["10-25 00:30", "10-25 01:30", "10-26 01:30"]


@pytest.mark.parametrize("cron", ["30 2 25-31 * sun", "0 10 1-7 * mon", "30 2 * * sun"])
async def test_a_year_of_slots_across_both_changes_publishes_every_month_exactly_once(cron, sessions, database_url, tmp_path):
    """Every fire time from January 2026 to January 2027 (the last-Sunday 02:30 cron hits both
    daylight-saving Sundays); each month's extract is posted exactly once, none skipped."""
    config = make_config(database_url, tmp_path, extract_cron=cron)
    await mirror(sessions, config)
    sender = MemorySender()
    publisher = Publisher(sessions, sender, catalogue=Catalogue.load(), rate=None)
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    for month in months:
        (tmp_path / f"{month}.md").write_text(md(f"Extrait {month}", month))
    await service.import_path(sessions, tmp_path, now=datetime(2026, 1, 1, tzinfo=UTC), tz=PARIS)
    fires = service.fire_times(service.extract_trigger(config), datetime(2026, 1, 1, tzinfo=PARIS),
                               end=datetime(2026, 12, 31, 23, 59, tzinfo=PARIS))
    for when in fires:
        await service.run_slot(sessions, publisher, month=service.month_of(when, PARIS), now=when.astimezone(UTC))
    posted = [part.embeds[0].title for _, _, part in sender.messages[11]]
    # Every month with a slot gets its own extract, once ("30 2 25-31 * sun" has no slot in
    # February 2026: no Sunday after the 24th).
    with_a_slot = sorted({service.month_of(t, PARIS) for t in fires})
    assert "2026-03" in with_a_slot and "2026-10" in with_a_slot
    assert posted == [f"Extrait {m}" for m in with_a_slot]
    assert len(with_a_slot) >= 11
    if cron.startswith("30 2 25-31"):
        october = [t for t in fires if t.month == 10]
        assert len(october) == 2  # the repeated 02:30 fired twice: the second run posted nothing


def test_next_runs_skip_the_repeated_autumn_fire_and_show_local_times(tmp_path):
    config = build_config({"schedule": {"extract_cron": "30 2 25-31 * sun"}}, tmp_path / "c.toml", environ={})
    runs = service.next_runs(config, datetime(2026, 9, 30, tzinfo=UTC), count=3)
    assert [service.format_local(t, PARIS) for t in runs] == ["2026-10-25 02:30", "2026-11-29 02:30", "2026-12-27 02:30"]
    default = build_config({}, tmp_path / "d.toml", environ={})
    assert [service.format_local(t, PARIS) for t in service.next_runs(default, datetime(2027, 3, 1, 10, tzinfo=UTC))] == [
        "2027-04-05 10:00", "2027-05-03 10:00", "2027-06-07 10:00",
    ]


@pytest.mark.parametrize("cron", ["* * * * *", "*/5 * * * *", "0 10 1-7 * mon", "0 10 28 * *"])
def test_the_last_slot_is_the_last_fire_time_whatever_the_cron_fires(cron, tmp_path):
    """The slot a restart catches up is the newest fire time within ``catch_up_days``, compared
    here with every fire time of the week: a cron of every minute fires 10,080 times in 7 days,
    and the first 1,000 of them from a week ago gave a slot of last month on the 1st (the
    December extract never caught up at 01:10 on 1 December)."""
    config = build_config({"schedule": {"extract_cron": cron, "catch_up_days": 7}}, tmp_path / "c.toml", environ={})
    trigger = service.extract_trigger(config)
    for now in (datetime(2026, 12, 1, 0, 10, 30, tzinfo=UTC), datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
                datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC)):
        within = timedelta(days=7)
        every = service.fire_times(trigger, (now - within).astimezone(PARIS), end=now.astimezone(PARIS), limit=None)
        expected = every[-1] if every else None
        assert service.last_slot(config, now, within=within) == expected, (cron, now)
    every_minute = build_config({"schedule": {"extract_cron": "* * * * *"}}, tmp_path / "m.toml", environ={})
    slot = service.last_slot(every_minute, datetime(2026, 12, 1, 0, 10, 30, tzinfo=UTC), within=timedelta(days=7))
    assert service.month_of(slot, PARIS) == "2026-12"


def test_next_runs_of_a_frequent_cron_are_one_a_month(tmp_path):
    """The next runs that publish: one per month, however often the cron fires (a cron of every
    minute listed one month only: its next 120 fire times were all in it)."""
    config = build_config({"schedule": {"extract_cron": "* * * * *"}}, tmp_path / "c.toml", environ={})
    runs = service.next_runs(config, datetime(2026, 11, 30, 23, 30, tzinfo=UTC), count=3)
    assert [service.format_local(t, PARIS) for t in runs] == ["2026-12-01 00:30", "2027-01-01 00:00", "2027-02-01 00:00"]
    leap_days = build_config({"schedule": {"extract_cron": "0 10 29 2 *"}}, tmp_path / "n.toml", environ={})
    assert [service.format_local(t, PARIS) for t in service.next_runs(leap_days, datetime(2026, 3, 1, tzinfo=UTC), count=2)] == [
        "2028-02-29 10:00", "2032-02-29 10:00"]


async def test_catch_up_posts_a_missed_month_once_and_only_within_the_grace(setup, sessions, tmp_path):
    config, sender, publisher = setup
    (tmp_path / "nov.md").write_text(md("Novembre", "2026-11"))
    await service.import_path(sessions, tmp_path, now=NOW, tz=PARIS)
    slot = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # first Monday of November, 10:00 Paris
    assert await service.catch_up(sessions, publisher, config, now=slot - timedelta(minutes=1)) is None
    late = slot + timedelta(days=8)  # beyond the 7 days of grace
    assert await service.catch_up(sessions, publisher, config, now=late) is None
    assert sender.count(11) == 0
    outcome = await service.catch_up(sessions, publisher, config, now=slot + timedelta(days=3))
    assert [e.title for e in outcome.extracts] == ["Novembre"] and sender.count(11) == 1
    assert await service.catch_up(sessions, publisher, config, now=slot + timedelta(days=3, hours=1)) is None
    assert sender.count(11) == 1


# --------------------------------------------------------------------------------------------
# Announcements


def test_local_time_parsing_refuses_the_spring_gap_and_takes_the_first_autumn_hour():
    assert announcements.parse_local_time("2026-12-01 09:30", PARIS) == datetime(2026, 12, 1, 8, 30, tzinfo=UTC)
    with pytest.raises(InvalidInput) as gap:
        announcements.parse_local_time("2026-03-29 02:30", PARIS)
    assert gap.value.key == "announce.time_gap"
    assert announcements.parse_local_time("2026-10-25 02:30", PARIS) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    for bad in ("demain", "2026-13-01 10:00", "2026-12-01"):
        with pytest.raises(InvalidInput):
            announcements.parse_local_time(bad, PARIS)


async def test_announcement_schedule_cancel_and_missed(setup, sessions):
    config, sender, publisher = setup
    draft = await announcements.create_draft(sessions, guild_id=1, author_id=7, title="AG", body="Le 12.", now=NOW)
    with pytest.raises(InvalidInput):
        await announcements.schedule(sessions, draft.id, when=NOW - timedelta(minutes=1), now=NOW, actor_id=7)
    with pytest.raises(NotFound):
        await announcements.schedule(sessions, draft.id, when=NOW + timedelta(hours=1), now=NOW, actor_id=7, guild_id=2)
    scheduled = await announcements.schedule(sessions, draft.id, when=NOW + timedelta(hours=1), now=NOW, actor_id=7)
    assert scheduled.status == "scheduled"
    result = await announcements.reconcile(sessions, now=NOW + timedelta(hours=2), grace=timedelta(hours=6))
    assert [a.id for a in result.due] == [draft.id]
    outcome = await announcements.publish(sessions, publisher, draft.id, now=NOW, actor_id=None, scheduled=True)
    assert outcome.report.delivered == 3  # every network channel, whatever its language
    assert await announcements.publish(sessions, publisher, draft.id, now=NOW, actor_id=None, scheduled=True) is None
    assert sender.count(11) == 1

    other = await announcements.create_draft(sessions, guild_id=1, author_id=7, title="Vote", body="Texte", now=NOW)
    await announcements.schedule(sessions, other.id, when=NOW + timedelta(hours=1), now=NOW, actor_id=7)
    cancelled = await announcements.cancel(sessions, other.id, actor_id=7, guild_id=1)
    assert cancelled.status == "cancelled"
    assert await announcements.publish(sessions, publisher, other.id, now=NOW, actor_id=None, scheduled=True) is None
    with pytest.raises(Conflict):
        await announcements.cancel(sessions, other.id, actor_id=7)

    stale = await announcements.create_draft(sessions, guild_id=1, author_id=7, title="Vieux", body="Texte", now=NOW)
    await announcements.schedule(sessions, stale.id, when=NOW + timedelta(hours=1), now=NOW, actor_id=7)
    result = await announcements.reconcile(sessions, now=NOW + timedelta(days=1), grace=timedelta(hours=6))
    assert [a.id for a in result.missed] == [stale.id]
    actions = await audit_actions(sessions)
    for action in ("announcement.schedule", "announcement.publish", "announcement.cancel", "announcement.missed"):
        assert action in actions


async def test_announcement_input_is_checked(setup, sessions):
    for kwargs, key in (
        ({"title": " ", "body": "x"}, "announce.title_empty"),
        ({"title": "x", "body": ""}, "announce.body_empty"),
        ({"title": "x", "body": "y", "link": "ftp://example.org"}, "announce.bad_link"),
        ({"title": "x" * 300, "body": "y"}, "announce.title_too_long"),
    ):
        with pytest.raises(InvalidInput) as info:
            await announcements.create_draft(sessions, guild_id=1, author_id=7, now=NOW, **kwargs)
        assert info.value.key == key
        Catalogue.load().t(info.value.key, "fr", **info.value.params)

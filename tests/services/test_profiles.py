"""Profiles and privacy, service level, on the real database (SQLite or PostgreSQL): validation
in both languages, consent before anything is stored, answers keep their member type, forget in
both modes with an audit entry that names nobody, retention (prune) and its command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.config import PrivacySection
from bot.errors import Conflict, InvalidInput
from bot.i18n import Catalogue, french_typography
from bot.services.container import privacy_hooks
from bot.services.profiles import ProfileService
from storage.models import Answer, AnswerChoice, AuditEntry, Option, Poll, Profile, Question
from storage.repositories import AnswerRepository
from tests.clock import ManualClock
from tests.paths import REPO

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ALICE, BOB = 111_222_333_444_555_666, 777_888_999_000_111_222


@pytest.fixture
def clock(clock: ManualClock) -> ManualClock:
    """The shared clock, at this file's NOW."""
    clock.set(NOW)
    return clock


@pytest.fixture
def service(sessions, clock) -> ProfileService:
    return ProfileService(sessions, privacy=PrivacySection(retention_days=365, forget_mode="delete"), clock=clock,
                          hooks=privacy_hooks(sessions))


@pytest.fixture
def catalogue() -> Catalogue:
    return Catalogue.load()


async def make_poll(sessions, *, title="Besoins 2026", labels=("Formation", "Financement", "Plaidoyer")) -> Poll:
    poll = Poll(guild_id=1, channel_id=2, author_id=BOB, title=title, lang="fr")
    question = Question(position=0, code="q1", text="Quel soutien ?", kind="single")
    question.options = [Option(position=i, code=f"o{i}", label=label) for i, label in enumerate(labels)]
    poll.questions = [question]
    async with sessions.begin() as session:
        session.add(poll)
    return poll


async def add_answer(sessions, question: Question, user_id: int | None, *, member_type: str | None,
                     options=(), text=None, at: datetime = NOW) -> int:
    async with sessions.begin() as session:
        answer = Answer(question_id=question.id, user_id=user_id, member_type=member_type, text=text,
                        answered_at=at, updated_at=at)
        answer.choices = [AnswerChoice(option_id=o.id) for o in options]
        session.add(answer)
        await session.flush()
        return answer.id


async def answers_of(sessions, user_id: int | None = None) -> list[Answer]:
    async with sessions() as session:
        stmt = select(Answer).order_by(Answer.id)
        if user_id is not None:
            stmt = stmt.where(Answer.user_id == user_id)
        return list(await session.scalars(stmt))


async def count(sessions, model) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


# ------------------------------------------------------------------------------ consent and profile
async def test_nothing_is_stored_before_consent(service, sessions):
    with pytest.raises(Conflict) as caught:
        await service.set_profile(ALICE, "collectivite", "Ville de Lyon", None)
    assert caught.value.key == "profile.error.no_consent"
    assert await service.get(ALICE) is None
    assert await count(sessions, Profile) == 0


async def test_consent_creates_the_profile_and_keeps_the_first_date(service, clock):
    first = await service.record_consent(ALICE, lang="fr")
    assert first.consent_at == NOW and first.member_type is None and first.lang == "fr"
    clock.set(NOW + timedelta(days=3))
    again = await service.record_consent(ALICE, lang="en")
    assert again.consent_at == NOW, "accepting twice keeps the date consent was first given"
    assert again.lang == "en" and again.updated_at == clock.now()


async def test_set_and_change_a_profile(service, clock):
    await service.record_consent(ALICE, lang="fr")
    saved = await service.set_profile(ALICE, "collectivite", "  Ville   de Lyon ", " Auvergne-Rhône-Alpes ")
    assert (saved.member_type, saved.organisation, saved.region) == (
        "collectivite", "Ville de Lyon", "Auvergne-Rhône-Alpes"
    )
    clock.set(NOW + timedelta(hours=1))
    changed = await service.set_profile(ALICE, "reseau", "", None)
    assert (changed.member_type, changed.organisation, changed.region) == ("reseau", None, None)
    assert changed.updated_at == clock.now() and changed.consent_at == NOW
    assert (await service.get(ALICE)).member_type == "reseau"


@pytest.mark.parametrize(
    ("args", "key", "fr", "en"),
    [
        (("benevole", None, None), "profile.error.unknown_type", "Type de membre inconnu\u202f: « benevole »",
         "Unknown member type “benevole”"),
        (("ong", "x" * 201, None), "profile.error.organisation_too_long",
         "Le nom de l’organisation fait 201 caractères\u202f; 200 au plus", "organisation name is 201 characters long"),
        (("ong", None, "y" * 101), "profile.error.region_too_long", "fait 101 caractères\u202f; 100 au plus",
         "101 characters long; 100 at most"),
        (("ong", "ONG <@123456789012345678>", None), "profile.error.mention", "Pas de mention", "No mentions"),
        (("ong", None, "@everyone"), "profile.error.mention", "Pas de mention", "No mentions"),
    ],
)
async def test_invalid_profiles_are_refused_in_both_languages(service, catalogue, args, key, fr, en):
    await service.record_consent(ALICE)
    with pytest.raises(InvalidInput) as caught:
        await service.set_profile(ALICE, *args)
    error = caught.value
    assert error.key == key
    assert french_typography(fr) in catalogue.t(error.key, "fr", **error.params)
    assert en in catalogue.t(error.key, "en", **error.params)
    assert (await service.get(ALICE)).member_type is None, "nothing of a refused profile is stored"


async def test_the_codes_of_the_configured_types_are_the_only_choices(sessions):
    from bot.config import MemberType

    service = ProfileService(sessions, member_types=(MemberType("ecole", {"fr": "École", "en": "School"}),))
    await service.record_consent(ALICE)
    with pytest.raises(InvalidInput) as caught:
        await service.set_profile(ALICE, "collectivite")
    assert caught.value.params["choices"] == "ecole"
    assert (await service.set_profile(ALICE, "ecole")).member_type == "ecole"
    assert service.member_type_label("ecole", "fr") == "École"
    assert service.member_type_label("ecole", "en") == "School"


async def test_a_later_profile_change_does_not_rewrite_answers(service, sessions):
    await service.record_consent(ALICE)
    await service.set_profile(ALICE, "collectivite")
    poll = await make_poll(sessions)
    question = poll.questions[0]
    answer_id = await add_answer(sessions, question, ALICE, member_type="collectivite",
                                 options=[question.options[0]])
    await service.set_profile(ALICE, "ong", "Solidarité Sahel", "Sénégal")
    async with sessions() as session:
        answer = await session.get(Answer, answer_id)
        assert answer.member_type == "collectivite", "the snapshot taken when answering stays"
        # …while the next vote (the polls code reads the profile at that moment) copies the new type
        assert await AnswerRepository(session).member_type_of(ALICE) == "ong"


# ------------------------------------------------------------------------------ my data
async def test_my_data_holds_the_profile_and_every_answer(service, sessions):
    await service.record_consent(ALICE, lang="fr")
    await service.set_profile(ALICE, "collectivite", "Ville de Lyon", "Auvergne-Rhône-Alpes")
    poll = await make_poll(sessions)
    question = poll.questions[0]
    await add_answer(sessions, question, ALICE, member_type="collectivite",
                     options=[question.options[2], question.options[0]])
    text_poll = await make_poll(sessions, title="Vos idées", labels=())
    await add_answer(sessions, text_poll.questions[0], ALICE, member_type="collectivite",
                     text="Des webinaires en anglais", at=NOW + timedelta(minutes=5))
    await add_answer(sessions, question, BOB, member_type="ong", options=[question.options[1]])

    data = await service.my_data(ALICE)
    assert data.profile["organisation"] == "Ville de Lyon"
    assert [(a["poll"], a["question"], tuple(a["choices"]), a["text"]) for a in data.section("answers")] == [
        ("Besoins 2026", "Quel soutien ?", ("Formation", "Plaidoyer"), None),
        ("Vos idées", "Quel soutien ?", (), "Des webinaires en anglais"),
    ]
    document = json.loads(data.to_json(lambda code: service.member_type_label(code, "fr")))
    assert document["discord_user_id"] == str(ALICE)
    assert document["profile"]["member_type_label"] == "Collectivité territoriale"
    assert document["profile"]["region"] == "Auvergne-Rhône-Alpes"
    assert document["answers"][0]["choices"] == ["Formation", "Plaidoyer"]
    assert document["answers"][1]["answered_at"] == "2026-03-02T09:35:00+00:00"
    assert "Financement" not in json.dumps(document), "another member's answer is not in it"
    assert document["polls_created"] == []
    bob = await service.my_data(BOB)
    assert bob.profile is None and [p["title"] for p in bob.section("polls_created")] == ["Besoins 2026", "Vos idées"]


# ------------------------------------------------------------------------------ forget
async def _alice_with_answers(service, sessions):
    await service.record_consent(ALICE)
    await service.set_profile(ALICE, "reseau", "Réseau Centraider", "Centre-Val de Loire")
    poll = await make_poll(sessions)
    question = poll.questions[0]
    other = await make_poll(sessions, title="Autre")
    await add_answer(sessions, question, ALICE, member_type="reseau", options=[question.options[0]])
    await add_answer(sessions, other.questions[0], ALICE, member_type="reseau", options=[other.questions[0].options[1]])
    await add_answer(sessions, question, BOB, member_type="ong", options=[question.options[0]])
    return poll, other


def _entry_text(entry: AuditEntry) -> str:
    columns = {c.key: getattr(entry, c.key) for c in AuditEntry.__table__.columns}
    return json.dumps(columns, default=str)


async def test_forget_in_delete_mode_removes_profile_and_answers(service, sessions):
    poll, other = await _alice_with_answers(service, sessions)
    result = await service.forget(ALICE, actor_id=ALICE, mode="delete")
    assert (result.mode, result.profile_deleted, result.answers) == ("delete", True, 2)
    assert set(result.poll_ids) == {poll.id, other.id}
    assert await service.get(ALICE) is None
    remaining = await answers_of(sessions)
    assert [a.user_id for a in remaining] == [BOB], "only the other member's answer is left"
    assert await count(sessions, AnswerChoice) == 1, "the deleted answers' choices went with them"

    async with sessions() as session:
        entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "forget_me")))
    assert len(entries) == 1
    entry = entries[0]
    assert entry.actor_id is None
    assert entry.details == {"mode": "delete", "answers": 2, "profile": True}
    assert str(ALICE) not in _entry_text(entry), "no personal data in the audit log"


async def test_forget_in_unlink_mode_keeps_anonymous_answers(service, sessions):
    poll, _ = await _alice_with_answers(service, sessions)
    async with sessions.begin() as session:  # unlink keeps the answers of closed polls (open ones: deleted)
        await session.execute(update(Poll).values(status="closed"))
    result = await service.forget(ALICE, actor_id=ALICE, mode="unlink")
    assert (result.mode, result.profile_deleted, result.answers) == ("unlink", True, 2)
    assert await service.get(ALICE) is None
    assert await answers_of(sessions, ALICE) == []
    remaining = await answers_of(sessions)
    assert len(remaining) == 3, "unlinked answers still count"
    unlinked = [a for a in remaining if a.user_id is None]
    assert len(unlinked) == 2 and {a.member_type for a in unlinked} == {"reseau"}
    assert await count(sessions, AnswerChoice) == 3
    async with sessions() as session:
        per_question = await session.scalar(
            select(func.count(Answer.id)).where(Answer.question_id == poll.questions[0].id)
        )
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "forget_me"))
    assert per_question == 2
    assert entry.details == {"mode": "unlink", "answers": 2, "profile": True}
    assert str(ALICE) not in _entry_text(entry)


async def test_forget_uses_the_configured_mode_and_records_another_actor(sessions):
    service = ProfileService(sessions, privacy=PrivacySection(forget_mode="unlink"))
    await service.record_consent(ALICE)
    moderator = 424242
    result = await service.forget(ALICE, actor_id=moderator)
    assert result.mode == "unlink" and result.answers == 0
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "forget_me"))
    assert entry.actor_id == moderator and str(ALICE) not in _entry_text(entry)
    with pytest.raises(InvalidInput):
        await service.forget(ALICE, actor_id=ALICE, mode="shred")


# ------------------------------------------------------------------------------ retention
async def test_prune_deletes_what_is_older_than_the_retention(service, sessions, clock):
    old = NOW - timedelta(days=400)
    poll = await make_poll(sessions)
    question = poll.questions[0]
    later = await make_poll(sessions, title="Plus tard")
    # Alice: profile and answer both old → both go
    clock.set(old)
    await service.record_consent(ALICE)
    await service.set_profile(ALICE, "ong")
    await add_answer(sessions, question, ALICE, member_type="ong", options=[question.options[0]], at=old)
    # Bob: old profile, old answer, but a recent answer → his profile stays, the old answer goes
    await service.record_consent(BOB)
    await service.set_profile(BOB, "collectivite")
    await add_answer(sessions, question, BOB, member_type="collectivite", options=[question.options[1]], at=old)
    await add_answer(sessions, later.questions[0], BOB, member_type="collectivite",
                     options=[later.questions[0].options[0]], at=NOW - timedelta(days=10))
    # Carol: recent profile → stays; an unlinked old answer → goes
    clock.set(NOW - timedelta(days=30))
    await service.record_consent(333)
    await add_answer(sessions, question, None, member_type="reseau", options=[question.options[2]], at=old)
    clock.set(NOW)

    dry = await service.prune(NOW, dry_run=True)
    assert (dry.answers, dry.profiles, dry.dry_run) == (3, 1, True)
    assert await count(sessions, Answer) == 4 and await count(sessions, Profile) == 3

    result = await service.prune(NOW)
    assert result.cutoff == NOW - timedelta(days=365) and result.retention_days == 365
    assert (result.answers, result.profiles) == (3, 1)
    assert await service.get(ALICE) is None
    assert (await service.get(BOB)).member_type == "collectivite"
    assert await service.get(333) is not None
    assert [a.question_id for a in await answers_of(sessions)] == [later.questions[0].id]
    async with sessions() as session:
        entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "prune")))
    assert len(entries) == 1, "a dry run writes no audit entry"
    assert entries[0].details["answers"] == 3 and entries[0].details["profiles"] == 1

    again = await service.prune(NOW)
    assert (again.answers, again.profiles) == (0, 0), "pruning twice changes nothing"
    with pytest.raises(InvalidInput) as caught:
        await service.prune(NOW, retention_days=0)
    assert caught.value.key == "profile.error.retention"


async def test_prune_command_line_applies_the_config(sessions, database_url, tmp_path):
    service = ProfileService(sessions, clock=ManualClock(datetime.now(UTC) - timedelta(days=20)))
    await service.record_consent(ALICE)
    poll = await make_poll(sessions)
    question = poll.questions[0]
    await add_answer(sessions, question, ALICE, member_type=None, options=[question.options[0]],
                     at=datetime.now(UTC) - timedelta(days=20))
    await add_answer(sessions, question, BOB, member_type=None, options=[question.options[0]],
                     at=datetime.now(UTC) - timedelta(days=2))
    config = tmp_path / "config.toml"
    config.write_text("[privacy]\nretention_days = 7\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN",)}
    env.update(RESEAU_DATABASE_URL=database_url, PYTHONPATH=str(REPO))

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), "prune", *extra],
                              cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    dry = await asyncio.to_thread(run, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("seraient supprimés") and "réponses\u202f: 1, profils\u202f: 1" in dry.stdout
    assert "conservation 7 jours" in dry.stdout
    assert await count(sessions, Answer) == 2
    done = await asyncio.to_thread(run)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("supprimés") and "réponses\u202f: 1, profils\u202f: 1" in done.stdout
    assert [a.user_id for a in await answers_of(sessions)] == [BOB]
    assert await count(sessions, Profile) == 0


def test_a_retention_below_one_day_is_a_configuration_error(tmp_path):
    from bot.config import ConfigError, build_config

    with pytest.raises(ConfigError, match="privacy.retention_days must be 1 or more"):
        build_config({"privacy": {"retention_days": 0}}, tmp_path / "config.toml", environ={})


@pytest.mark.parametrize(("language", "expected"), [
    ("fr", "conservation 1 jour)"), ("en", "retention 1 day)"),
])
def test_a_one_day_retention_is_singular(database_url, tmp_path, language, expected):
    """« conservation 1 jours » / "retention 1 days": the count picks the plural form."""
    config = tmp_path / "config.toml"
    config.write_text(f"[bot]\nlanguage = '{language}'\n[privacy]\nretention_days = 1\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN",)}
    env.update(RESEAU_DATABASE_URL=database_url, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(config), "prune", "--dry-run"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout, result.stdout

"""A privacy hook per feature (bot/services/privacy.py): /my-data holds every registered feature's
section, /forget-me calls every hook, a hook that fails is reported (to the member in their
language, in the moderators' log, in the audit entry) without stopping the others, and a new
feature's hook needs no change to the profile service — on the real database and on SimCord."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import PrivacySection
from bot.services.container import privacy_hooks
from bot.services.privacy import Forgotten, PrivacyHook, PrivacyRegistry
from bot.services.profiles import ProfileService
from storage.models import Announcement, Answer, AnswerChoice, AuditEntry, Option, Poll, Profile, Question
from storage.repositories import AuditRepository
from tests.conftest import embed_text

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ALICE, BOB = 111_222_333_444_555_666, 777_888_999_000_111_222


# ------------------------------------------------------------------------------ throw-away hooks
class Bookmarks:
    """A feature the profile service has never heard of: bookmarks kept in memory."""

    feature = "bookmarks"

    def __init__(self) -> None:
        self.saved: dict[int, list[str]] = {}

    async def describe(self, user_id: int) -> Mapping[str, Any]:
        return {"bookmarks": list(self.saved.get(user_id, []))}

    async def forget(self, user_id: int, mode: str) -> Forgotten:
        return Forgotten(removed={"bookmarks": len(self.saved.pop(user_id, []))})

    async def stored(self, user_id: int) -> int:
        return len(self.saved.get(user_id, []))


class Broken:
    """A feature whose storage is down."""

    feature = "broken"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def describe(self, user_id: int) -> Mapping[str, Any]:
        self.calls.append("describe")
        raise ConnectionError("the bookmarks server is down")

    async def forget(self, user_id: int, mode: str) -> Forgotten:
        self.calls.append("forget")
        raise ConnectionError("the bookmarks server is down")

    async def stored(self, user_id: int) -> int:
        return 1


# ------------------------------------------------------------------------------ helpers
async def seed(sessions, user_id: int = ALICE) -> Poll:
    """A profile with consent, one answer of ``user_id`` and one of Bob, an announcement and an
    audit entry by ``user_id``."""
    poll = Poll(guild_id=1, channel_id=2, author_id=user_id, title="Besoins 2026", lang="fr")
    question = Question(position=0, code="q1", text="Quel soutien ?", kind="single")
    question.options = [Option(position=i, code=f"o{i}", label=label) for i, label in enumerate(("A", "B"))]
    poll.questions = [question]
    async with sessions.begin() as session:
        session.add(poll)
        session.add(Profile(user_id=user_id, member_type="ong", consent_at=NOW, created_at=NOW, updated_at=NOW))
        session.add(Announcement(guild_id=1, author_id=user_id, title="Rencontre annuelle", body="…"))
        AuditRepository(session).record("announce", actor_id=user_id, target_type="announcement", target_id="1")
        await session.flush()
        for who, option in ((user_id, question.options[0]), (BOB, question.options[1])):
            answer = Answer(question_id=question.id, user_id=who, member_type="ong")
            answer.choices = [AnswerChoice(option_id=option.id)]
            session.add(answer)
    return poll


def service_with(sessions, registry: PrivacyRegistry) -> ProfileService:
    return ProfileService(sessions, privacy=PrivacySection(forget_mode="delete"), clock=lambda: NOW, hooks=registry)


# ------------------------------------------------------------------------------ the registry
def test_the_container_registers_a_hook_for_every_table_naming_a_member(sessions):
    registry = privacy_hooks(sessions)
    assert registry.features[:5] == ("profiles", "polls", "polls_created", "announcements", "audit")
    assert all(isinstance(hook, PrivacyHook) for hook in registry)
    registry.register(Bookmarks())
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Bookmarks())  # one hook per feature
    with pytest.raises(TypeError):
        registry.register(object())  # type: ignore[arg-type]


async def test_my_data_holds_each_registered_features_section(sessions):
    await seed(sessions)
    registry = privacy_hooks(sessions)
    data = await service_with(sessions, registry).my_data(ALICE)
    assert tuple(data.sections) == registry.features and data.failed == ()
    document = json.loads(data.to_json())
    for feature, section in data.sections.items():
        assert section, f"{feature} gave an empty section"
        for key in section:
            assert key in document, f"{feature}'s {key!r} is missing from the member's file"
    assert document["profile"]["member_type"] == "ong"
    assert [a["choices"] for a in document["answers"]] == [["A"]], "only the member's own answer"
    assert [p["title"] for p in document["polls_created"]] == ["Besoins 2026"]
    assert [a["title"] for a in document["announcements_written"]] == ["Rencontre annuelle"]
    assert [e["action"] for e in document["audit_log_actions"]] == ["announce"]
    assert "incomplete" not in document


async def test_a_new_hook_needs_no_change_to_the_profile_service(sessions):
    await seed(sessions)
    registry = privacy_hooks(sessions)
    bookmarks = registry.register(Bookmarks())
    bookmarks.saved[ALICE] = ["https://example.org/appel-a-projets"]
    service = service_with(sessions, registry)

    counts = await service.stored_counts(ALICE)
    assert counts.answers == 2, "one answer and one bookmark to remove"
    assert counts.authored == 3, "a poll, an announcement and an audit entry name her"
    data = await service.my_data(ALICE)
    assert json.loads(data.to_json())["bookmarks"] == ["https://example.org/appel-a-projets"]
    result = await service.forget(ALICE, actor_id=ALICE)
    assert result.complete and result.features["bookmarks"].removed == {"bookmarks": 1}
    assert bookmarks.saved == {}
    assert (result.profile_deleted, result.answers) == (True, 1)
    async with sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "forget_me"))
    assert entry.details == {"mode": "delete", "answers": 1, "profile": True, "bookmarks": 1,
                             "polls_created": 1, "announcements_written": 1, "audit_log_actions": 1}


async def test_a_failing_hook_is_reported_and_does_not_stop_the_others(sessions):
    poll = await seed(sessions)
    broken = Broken()
    registry = PrivacyRegistry([broken, *privacy_hooks(sessions)])  # first, so the others run after it
    service = service_with(sessions, registry)

    data = await service.my_data(ALICE)
    assert [f.feature for f in data.failed] == ["broken"] and data.failed[0].error == "ConnectionError"
    document = json.loads(data.to_json())
    assert document["incomplete"] == ["broken"], "the member's file says it is incomplete"
    assert document["profile"] is not None and len(document["answers"]) == 1, "the other features still answer"

    result = await service.forget(ALICE, actor_id=ALICE)
    assert broken.calls == ["describe", "forget"]
    assert not result.complete and [f.feature for f in result.failed] == ["broken"]
    assert "broken" not in result.features, "nothing claims the failed feature was forgotten"
    assert (result.profile_deleted, result.answers, result.poll_ids) == (True, 1, (poll.id,))
    async with sessions() as session:
        assert await session.get(Profile, ALICE) is None
        assert [a.user_id for a in await session.scalars(select(Answer))] == [BOB]
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "forget_me"))
    assert entry.details == {"mode": "delete", "answers": 1, "profile": True, "failed": ["broken"],
                             "polls_created": 1, "announcements_written": 1, "audit_log_actions": 1}
    assert str(ALICE) not in json.dumps(entry.details)


@pytest.mark.parametrize("mode", ["delete", "unlink"])
async def test_forget_keeps_the_moderators_records_but_not_the_member_in_them(sessions, mode):
    """#10 item 5: the polls, announcements and audit entries a moderator made stay, but no
    longer hold their id; afterwards /my-data shows nothing and /forget-me finds nothing left."""
    await seed(sessions)
    async with sessions.begin() as session:  # a poll and an announcement of someone else stay theirs
        session.add(Poll(guild_id=1, channel_id=2, author_id=BOB, title="Autre", lang="fr"))
        session.add(Announcement(guild_id=1, author_id=BOB, title="Autre", body="…"))
        AuditRepository(session).record("announce", actor_id=BOB, target_type="announcement", target_id="2")
    service = ProfileService(sessions, privacy=PrivacySection(forget_mode=mode), clock=lambda: NOW,
                             hooks=privacy_hooks(sessions))
    result = await service.forget(ALICE, actor_id=ALICE)
    assert result.complete and result.authored == 3
    assert result.features["polls_created"].removed == {"polls_created": 1}
    assert result.features["announcements"].removed == {"announcements_written": 1}
    assert result.features["audit"].removed == {"audit_log_actions": 1}
    async with sessions() as session:
        polls = {p.title: p.author_id for p in await session.scalars(select(Poll))}
        announcements = {a.title: a.author_id for a in await session.scalars(select(Announcement))}
        actors = {e.target_id: e.actor_id for e in await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "announce"))}
        everything = [json.dumps(e.details) for e in await session.scalars(select(AuditEntry))]
    assert polls == {"Besoins 2026": None, "Autre": BOB}, "the poll stays, without its author"
    assert announcements == {"Rencontre annuelle": None, "Autre": BOB}
    assert actors == {"1": None, "2": BOB}, "the audit entry stays, without its actor"
    assert not any(str(ALICE) in details for details in everything)
    document = json.loads((await service.my_data(ALICE)).to_json())
    for key in ("answers", "polls_created", "announcements_written", "audit_log_actions"):
        assert document[key] == [], f"{key} still lists something after /forget-me"
    assert not (await service.stored_counts(ALICE)).anything, "/forget-me then truthfully finds nothing"


# ------------------------------------------------------------------------------ on SimCord
def buttons(message) -> dict[str, str]:
    return {c["label"]: c["custom_id"] for row in message.components for c in row["components"] if c["type"] == 2}


async def test_a_new_hook_shows_in_my_data_and_is_forgotten_on_discord(world):
    bookmarks = world.env.bot.services.privacy.register(Bookmarks())
    member = world.member_en
    bookmarks.saved[member.id] = ["https://example.org/call"]

    shown = await member.slash(world.en, "my-data")
    assert "`bookmarks`" in embed_text(shown.response) and "Other data" in embed_text(shown.response)
    document = json.loads(await shown.response.attachments[0].read())
    assert document["bookmarks"] == ["https://example.org/call"]
    for key in ("profile", "answers", "polls_created", "announcements_written", "audit_log_actions"):
        assert key in document

    asked = await member.slash(world.en, "forget-me")
    assert "(1)" in embed_text(asked.response), "the bookmark is something to forget"
    done = await member.click(asked.response, label="Yes, forget me")
    assert "Done" in embed_text(done.response)
    assert bookmarks.saved == {}


async def test_a_failing_hook_is_told_to_the_member_and_the_moderators(world, sessions):
    broken = world.env.bot.services.privacy.register(Broken())
    member = world.member_fr
    await seed(sessions, member.id)

    shown = await member.slash(world.fr, "my-data")
    text = embed_text(shown.response)
    assert "n’a pas pu être lue (broken)" in text and "Besoins 2026" in text
    assert json.loads(await shown.response.attachments[0].read())["incomplete"] == ["broken"]

    asked = await member.slash(world.fr, "forget-me")
    done = await member.click(asked.response, label="Oui, m’oublier")
    text = embed_text(done.response)
    assert "n’a pas pu être effacée (broken)" in text and "relancez `/oublier` plus tard" in text
    assert "Votre profil a été effacé." in text and "Vos réponses (1) ont été effacées." in text
    assert "C’est fait" not in text, "no claim of complete success"
    assert broken.calls == ["describe", "forget"]
    line = world.modlog.last_message.content
    assert "/oublier" in line and "broken" in line and "ConnectionError" in line
    assert str(member.id) not in line and member.name not in line, "the moderators' log names nobody"
    async with sessions() as session:
        assert await session.get(Profile, member.id) is None

    english = world.member_en
    await seed(sessions, english.id)
    asked = await english.slash(world.en, "forget-me")
    done = await english.click(asked.response, label="Yes, forget me")
    assert "Part of your data could not be removed (broken)" in embed_text(done.response)

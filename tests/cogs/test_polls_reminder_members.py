"""With the privileged members intent, a named poll's reminder pings only the members of the
allowed roles who have not answered; without it (tests/cogs/test_polls_e2e.py), or for an
anonymous poll (who is left out would tell who answered), it mentions the role."""

from __future__ import annotations

import dataclasses

import pytest

from tests.cogs.test_polls_e2e import create


@pytest.fixture
def config(config):
    return dataclasses.replace(config, discord=dataclasses.replace(config.discord, members_intent=True))


async def test_reminder_pings_only_members_of_the_role_who_have_not_answered(world):
    env = world.env
    bot = env.bot
    assert bot.intents.members
    role = world.guild.create_role("Collège des collectivités")
    answered = world.guild.add_member(env.create_user("ines"), roles=[role])
    silent = world.guild.add_member(env.create_user("paul"), roles=[role])
    _, message, poll_id = await create(world, options="A; B", role=role, deadline="2j", reminder="1j",
                                       anonymous=False)
    await answered.click(message, label="A")

    await bot.get_cog("Polls").run_reminder(poll_id)
    reminder = world.fr.last_message
    assert "Rappel" in reminder.content
    assert f"<@{silent.id}>" in reminder.content
    assert f"<@{answered.id}>" not in reminder.content and f"<@&{role.id}>" not in reminder.content
    posted = [r for r in env.http_requests
              if r.method == "POST" and r.path.endswith(f"/channels/{world.fr.id}/messages")][-1]
    allowed = posted.json["allowed_mentions"]
    assert allowed["users"] == [silent.id]
    assert not allowed.get("roles") and "roles" not in allowed["parse"] and "everyone" not in allowed["parse"]


async def test_no_reminder_when_every_member_of_the_role_has_answered(world):
    env = world.env
    role = world.guild.create_role("Bureau")
    only = world.guild.add_member(env.create_user("rose"), roles=[role])
    _, message, poll_id = await create(world, options="A; B", role=role, deadline="2j", reminder="1j",
                                       anonymous=False)
    await only.click(message, label="B")
    before = len(world.fr.history())
    await env.bot.get_cog("Polls").run_reminder(poll_id)
    assert len(world.fr.history()) == before


async def test_an_anonymous_polls_reminder_mentions_the_role_not_who_is_left(world):
    env = world.env
    role = world.guild.create_role("Collège des ONG")
    answered = world.guild.add_member(env.create_user("ines"), roles=[role])
    silent = world.guild.add_member(env.create_user("paul"), roles=[role])
    _, message, poll_id = await create(world, options="A; B", role=role, deadline="2j", reminder="1j")
    await answered.click(message, label="A")
    await env.bot.get_cog("Polls").run_reminder(poll_id)
    reminder = world.fr.last_message
    assert f"<@&{role.id}>" in reminder.content
    assert f"<@{silent.id}>" not in reminder.content and f"<@{answered.id}>" not in reminder.content

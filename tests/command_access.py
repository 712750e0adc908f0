"""Discord's command picker in the tests.  Moderators' commands carry default permissions
(Manage Server), so members do not see them; SimCord enforces that like the picker does.

* :func:`assert_hidden` — a member cannot even start the command;
* :func:`open_to_everyone` — what any server admin can do in Server Settings → Integrations:
  allow the command to every member.  The bot's run-time check must still refuse non-moderators
  (that is why it runs on every invocation).
"""

from __future__ import annotations

import pytest
import simcord


async def assert_hidden(actor, channel, name: str) -> None:
    with pytest.raises(simcord.SetupError, match="default-member-permissions"):
        await actor.slash(channel, name)


async def open_to_everyone(world, name: str) -> None:
    root = name.split()[0]
    [command] = [c for c in await world.env.bot.tree.fetch_commands() if c.name == root]
    # The overrides of a command are replaced as a whole: keep the moderators' role allowed.
    world.guild.set_command_permissions(command, {world.mod_role: True, world.guild.default_role: True})

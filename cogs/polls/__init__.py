"""Polls and surveys on Discord (the ``cogs.polls`` extension): see :mod:`cogs.polls.commands`.

``setup`` registers the persistent components once (a click on a message posted before a
restart finds its handler) and adds the Polls cog.  Campaigns are their own extension,
``cogs.campaigns``, loaded after this one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cogs.polls.commands import Polls
from cogs.polls.components import DYNAMIC_ITEMS
from cogs.polls.privacy import PollsPrivacy

if TYPE_CHECKING:
    from bot.client import ReseauBot

__all__ = ["DYNAMIC_ITEMS", "Polls", "setup"]


async def setup(bot: ReseauBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    await bot.add_cog(Polls(bot))
    await bot.add_cog(PollsPrivacy(bot))  # forget-me refreshes the polls the member answered

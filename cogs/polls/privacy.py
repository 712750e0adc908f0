"""The polls' Discord side of ``/forget-me``: refresh the live counts of the polls a forgotten
member had answered.

The profile cog dispatches ``member_forgotten(user_id, result)`` once every feature's privacy
hook has run (:mod:`bot.services.privacy`); ``result.poll_ids`` are the polls whose answers the
polls hook deleted or unlinked (:mod:`bot.services.polls.privacy`).  Each gets the Polls cog's
debounced refresh, as after a vote: an open poll's public message stops counting the deleted
answers (an open poll hiding its results shows none).  A closed poll whose answers were deleted
(``forget_mode = "delete"``) has its final results shown again without them, chart included, in
the background; in ``unlink`` mode a closed poll's answers stay counted, unnamed, and its
message stays as it is.  A native poll's final results (a reply under Discord's ended poll) are
not posted twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from discord.ext import commands

if TYPE_CHECKING:
    from bot.client import ReseauBot
    from bot.services.profiles import ForgetResult

__all__ = ["PollsPrivacy"]

log = logging.getLogger(__name__)


class PollsPrivacy(commands.Cog):
    """Listens for ``member_forgotten`` and refreshes the polls it changed."""

    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_member_forgotten(self, user_id: int, result: ForgetResult) -> None:
        polls = self.bot.get_cog("Polls")
        if polls is None:  # the polls extension is being reloaded: its start-up refresh will do
            log.warning("member forgotten while the Polls cog is not loaded: %d polls not refreshed",
                        len(result.poll_ids))
            return
        for poll_id in result.poll_ids:
            polls.schedule_refresh(poll_id)  # type: ignore[attr-defined]
        if result.mode == "delete" and result.poll_ids:
            self.bot.track(self._refinalise(polls, result.poll_ids), name="forget-me-closed-polls")

    @staticmethod
    async def _refinalise(polls: commands.Cog, poll_ids: tuple[int, ...]) -> None:
        for poll_id in poll_ids:  # one after another: each redraws a chart
            try:
                await polls.messages.refinalise(poll_id)  # type: ignore[attr-defined]
            except Exception:
                log.exception("could not show poll %s's final results again after a forget-me", poll_id)

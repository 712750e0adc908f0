"""An announcement withdrawn while one of its messages is on its way to Discord: the message that
arrives after the withdrawal is taken down too, never left in its channel untracked (the row is
already ``withdrawn``, so it could not be marked ``sent`` — and nothing would ever delete it).

The sender stands in for Discord's REST (the project's end-to-end tests run the real bot on
SimCord; here the point is the order of two transactions): while it "sends" to one channel, a
moderator's withdrawal runs to the end — the interleaving a slow request allows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.config import build_config
from bot.services import announcements
from bot.services.container import Services
from storage.models import Delivery

NOW = datetime(2035, 12, 3, 12, 0, tzinfo=UTC)


class WithdrawingSender:
    """Channels with messages; the send to ``slow_channel`` lets ``meanwhile`` run first."""

    def __init__(self, slow_channel: int) -> None:
        self.slow_channel = slow_channel
        self.meanwhile = None
        self.messages: dict[int, list[int]] = {}
        self.deleted: list[tuple[int, int]] = []
        self._next = 1000

    async def send(self, channel_id, part, nonce, *, crosspost=False):
        if channel_id == self.slow_channel and self.meanwhile is not None:
            work, self.meanwhile = self.meanwhile, None
            await work()  # the withdrawal, while this request is on its way
        self._next += 1
        self.messages.setdefault(channel_id, []).append(self._next)
        return self._next

    async def find_sent(self, channel_id, parts, after):
        return {}

    async def delete(self, channel_id, message_id):
        self.messages[channel_id].remove(message_id)
        self.deleted.append((channel_id, message_id))

    async def notify(self, channel_id, text):
        pass


async def test_a_message_sent_while_its_announcement_is_withdrawn_is_taken_down(engine, sessions, database_url,
                                                                               tmp_path: Path):
    config = build_config({
        "database": {"url": database_url},
        "channels": [{"guild_id": 1, "channel_id": 11, "language": "fr"},
                     {"guild_id": 1, "channel_id": 12, "language": "fr"}],
    }, tmp_path / "config.toml", environ={})
    services = Services(config, engine=engine, sessions=sessions, clock=lambda: NOW)
    sender = WithdrawingSender(slow_channel=12)
    services.attach_sender(sender, rate=None)
    await services.mirror_channels()
    draft = await announcements.create_draft(sessions, guild_id=1, author_id=7, title="Assemblée", body="Le 12.",
                                             now=NOW)
    withdrawals = []

    async def withdraw():
        withdrawals.append(await announcements.withdraw(sessions, services.publisher, draft.id, actor_id=7))

    sender.meanwhile = withdraw
    await announcements.publish(sessions, services.publisher, draft.id, now=NOW, actor_id=7)

    assert withdrawals, "the withdrawal ran while channel 12's message was on its way"
    assert sender.messages == {11: [], 12: []}, "nothing of the withdrawn announcement is left in a channel"
    assert len(sender.deleted) == 2
    async with sessions() as session:
        rows = {d.channel_id: d.status for d in await session.scalars(select(Delivery))}
    assert rows == {11: "withdrawn", 12: "withdrawn"}
    await services.aclose(dispose_engine=False)

"""Forged and stale buttons on SimCord: what a modified client (or a message posted before a
change) sends, which the bot must refuse without touching the database."""

from __future__ import annotations

FORGED = "⚠"


def forge(env, message, custom_id: str, label: str = "Forgé") -> None:
    """Test-only: put a button with ``custom_id`` on the stored message (a stale or forged
    component) in place of any earlier forged one, so that a member can click it."""
    stored = env.backend.get_message(message.channel.id, message.id)
    genuine = [
        row
        for row in stored.components
        if not any(c.get("label", "").startswith(FORGED) for c in row["components"])
    ]
    forged = {"type": 2, "style": 2, "label": f"{FORGED} {label}", "custom_id": custom_id}
    stored.components = [*genuine, {"type": 1, "components": [forged]}]


async def click_forged(env, message, clicks) -> list:
    """Each (member, custom_id) of ``clicks`` in turn: forge the button, the member clicks it.
    Returns the interactions, in order, for the test to check each reply."""
    replies = []
    for member, custom_id in clicks:
        forge(env, message, custom_id)
        replies.append(await member.click(message, label=f"{FORGED} Forgé"))
    return replies

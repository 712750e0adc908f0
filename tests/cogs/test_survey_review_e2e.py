"""A moderator's review of quick surveys, end to end on SimCord over a real database: options
a member can tell apart, a channel the bot cannot post in, results by member type that fit."""

from __future__ import annotations

from tests.cogs.test_polls_surveys_e2e import buttons, create_survey
from tests.conftest import embed_text

PREFIX = "Davantage de rencontres régionales entre collectivités territoriales et ONG du "
LONG_A = PREFIX + "littoral atlantique"
LONG_B = PREFIX + "bassin méditerranéen"


# ----------------------------------------------------------------------------- finding 1
async def test_survey_options_longer_than_a_button_are_listed_in_full_and_numbered(world):
    assert len(LONG_A) > 80 and len(LONG_B) > 80 and LONG_A[:79] == LONG_B[:79]
    text = f"Quelle priorité pour 2027 ?\n{LONG_A}\n{LONG_B}\nAutre\n\n[oui/non] Venez-vous ?"
    _posted, public = await create_survey(world, text)
    step = await world.member_fr.click(public, label="Répondre au questionnaire")
    shown = embed_text(step.response)
    assert f"**1.** {LONG_A}" in shown and f"**2.** {LONG_B}" in shown and "**3.** Autre" in shown
    labels = list(buttons(step.response))
    assert len(set(labels)) == 3 and all(len(label) <= 80 for label in labels)
    assert labels[0].startswith("1. ") and labels[1].startswith("2. ") and labels[2] == "3. Autre"
    nxt = await world.member_fr.click(step.response, label=labels[1])
    assert "bassin méditerranéen" in embed_text(nxt.response)
    assert list(buttons(nxt.response)) == ["Oui", "Non", "Abstention"], "short options stay as they were"


async def test_quick_poll_options_longer_than_a_button_are_numbered_in_the_message(world):
    await world.moderator.slash(world.fr, "poll create", question="Quelle priorité ?", options=f"{LONG_A}; {LONG_B}")
    message = world.fr.last_message
    shown = embed_text(message)
    assert f"**1.** {LONG_A}" in shown and f"**2.** {LONG_B}" in shown
    labels = [label for label in buttons(message) if label[0].isdigit()]
    assert len(labels) == 2 and labels[0].startswith("1. ") and labels[1].startswith("2. ")
    assert all(len(label) <= 80 for label in labels)
    short = await world.moderator.slash(world.fr, "poll create", question="Lieu ?", options="Lyon; Paris")
    assert short.response is not None
    assert {"Lyon", "Paris"} <= set(buttons(world.fr.last_message))
    assert "**1.**" not in embed_text(world.fr.last_message)

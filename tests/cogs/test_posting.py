"""Posts as Discord messages: who may be pinged, the link button, and how a sent post is
recognised again in a channel's history."""

from __future__ import annotations

from datetime import UTC, datetime

import discord

from bot.i18n import Catalogue
from bot.posting import _match, allowed_mentions_of, message_kwargs
from bot.services.delivery import announcement_post, extract_post, make_nonce, part_nonce
from storage import models


def extract(**overrides) -> models.Extract:
    values = dict(id=3, title="Titre", intro="", body="Un texte qui dit @everyone et <@&42>.", link="https://example.org/r",
                  image_url=None, lang="fr", month="2026-11", tags=[])
    values.update(overrides)
    return models.Extract(**values)


async def test_only_the_configured_role_can_be_pinged():
    post = extract_post(extract(), catalogue=Catalogue.load(), mention_role_id=555, guild_id=1)
    [part] = post.parts
    assert part.content == "<@&555>"
    mentions = allowed_mentions_of(part).to_dict()
    assert mentions == {"parse": [], "roles": [555]}  # not @everyone, not role 42 named in the text
    kwargs = message_kwargs(part)
    assert kwargs["view"].children[0].url == "https://example.org/r"
    assert kwargs["view"].children[0].style is discord.ButtonStyle.link
    assert message_kwargs(part, preview=True)["allowed_mentions"].to_dict() == {"parse": []}


async def test_no_role_no_mention_and_everyone_only_when_configured():
    [plain] = extract_post(extract(), catalogue=Catalogue.load(), guild_id=1).parts
    assert plain.content is None and allowed_mentions_of(plain).to_dict() == {"parse": []}
    [everyone] = extract_post(extract(), catalogue=Catalogue.load(), mention_role_id=1, guild_id=1).parts
    assert everyone.content == "@everyone" and allowed_mentions_of(everyone).to_dict() == {"parse": ["everyone"]}
    [no_link] = extract_post(extract(link=None), catalogue=Catalogue.load()).parts
    assert "view" not in message_kwargs(no_link)


async def test_announcement_role_only_in_its_own_server_and_button_in_the_channel_language():
    ann = models.Announcement(id=9, guild_id=1, author_id=2, title="AG", body="Le 12.", link="https://example.org/ag",
                              mention_role_id=77, lang="fr")
    [home] = announcement_post(ann, catalogue=Catalogue.load(), lang="en", guild_id=1).parts
    [away] = announcement_post(ann, catalogue=Catalogue.load(), lang="fr", guild_id=5).parts
    assert home.content == "<@&77>" and home.button.label == "Read more"
    assert away.content is None and away.button.label == "En savoir plus"


def test_nonces_fit_discord_and_differ_per_row_and_part():
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    a = make_nonce("extract", 3, 910000000000000001, at)
    b = make_nonce("extract", 3, 910000000000000002, at)
    assert a != b and len(a) == 22 and part_nonce(a, 0) == a and len(part_nonce(a, 99)) == 25


def test_history_match_by_nonce_or_by_content_and_only_the_bots_own():
    [part] = extract_post(extract(), catalogue=Catalogue.load()).parts
    sig = ("", "Titre", part.embeds[0].description)
    nonce = "rb0123456789abcdef0123"
    assert _match([(10, 1, nonce, ("", "", ""))], 1, [(nonce, part)]) == {0: 10}
    assert _match([(11, 1, None, sig)], 1, [(nonce, part)]) == {0: 11}  # nonces not echoed back
    assert _match([(12, 2, nonce, sig)], 1, [(nonce, part)]) == {}  # someone else's message

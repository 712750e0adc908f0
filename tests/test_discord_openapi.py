"""The Discord OpenAPI request validator catches broken bodies and accepts discord.py's own."""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.discord_openapi import (
    OpenAPIValidator,
    assert_requests_valid,
    check_env,
    check_requests,
    command_violations,
    get_validator,
    message_violations,
)

MESSAGES = "/channels/111/messages"
MESSAGE = "/channels/111/messages/222"
CALLBACK = "/interactions/333/tok_en/callback"
FOLLOWUP = "/webhooks/444/tok_en"
ORIGINAL = "/webhooks/444/tok_en/messages/@original"
GLOBAL_COMMANDS = "/applications/444/commands"
GUILD_COMMANDS = "/applications/444/guilds/555/commands"


@pytest.fixture(scope="module")
def oas() -> OpenAPIValidator:
    return get_validator()


# ----------------------------------------------------------------- good bodies
def make_embed(**overrides) -> discord.Embed:
    embed = discord.Embed(
        title=overrides.get("title", "Enquête de juin"),
        description=overrides.get("description", "Résultats du mois"),
        url="https://example.com/survey",
        colour=discord.Colour.blurple(),
        timestamp=discord.utils.utcnow(),
    )
    embed.set_author(name="réseau 2.0", url="https://example.com", icon_url="https://example.com/a.png")
    embed.set_footer(text="mis à jour", icon_url="https://example.com/f.png")
    embed.set_thumbnail(url="https://example.com/t.png")
    embed.set_image(url="https://example.com/i.png")
    for i in range(overrides.get("fields", 3)):
        embed.add_field(name=f"Question {i}", value=f"{i * 10} %", inline=bool(i % 2))
    return embed


def make_view() -> discord.ui.View:
    view = discord.ui.View()
    view.add_item(
        discord.ui.Button(label="Voter", custom_id="vote", style=discord.ButtonStyle.primary, emoji="🗳️")
    )
    view.add_item(discord.ui.Button(label="Annuler", custom_id="cancel", style=discord.ButtonStyle.danger))
    view.add_item(discord.ui.Button(label="Site", url="https://example.com"))
    view.add_item(
        discord.ui.Select(
            custom_id="pick",
            placeholder="Choisir",
            min_values=1,
            max_values=3,
            options=[
                discord.SelectOption(label=f"Option {i}", value=str(i), description="d") for i in range(25)
            ],
        )
    )
    view.add_item(discord.ui.UserSelect(custom_id="who"))
    view.add_item(discord.ui.ChannelSelect(custom_id="where", channel_types=[discord.ChannelType.text]))
    return view


def good_message() -> dict:
    return {
        "content": "x" * 2000,
        "embeds": [make_embed().to_dict(), make_embed(fields=25).to_dict()],
        "components": make_view().to_components(),
        "allowed_mentions": discord.AllowedMentions(users=[discord.Object(42)], roles=False).to_dict(),
        "message_reference": discord.MessageReference(
            message_id=77, channel_id=111
        ).to_message_reference_dict(),
    }


class FeedbackModal(discord.ui.Modal, title="Votre avis"):
    name = discord.ui.TextInput(label="Nom", max_length=50)
    feedback = discord.ui.TextInput(label="Avis", style=discord.TextStyle.long, required=False)


def make_tree() -> app_commands.CommandTree:
    tree = app_commands.CommandTree(discord.Client(intents=discord.Intents.default()))

    @tree.command(name="sondage", description="Lancer un sondage rapide")
    @app_commands.describe(question="La question", durée="En heures")
    @app_commands.default_permissions(manage_guild=True)
    async def sondage(interaction, question: str, durée: app_commands.Range[int, 1, 768] = 24):
        pass

    survey = app_commands.Group(name="enquête", description="Extraits de l'enquête mensuelle")
    export = app_commands.Group(name="export", description="Exports", parent=survey)

    @survey.command(name="extrait", description="Un extrait")
    @app_commands.choices(mois=[app_commands.Choice(name="Juin 2024", value="2024-06")])
    async def extrait(interaction, mois: app_commands.Choice[str], salon: discord.TextChannel | None = None):
        pass

    @export.command(name="xlsx", description="Export Excel")
    async def xlsx(interaction, membre: discord.Member | None = None):
        pass

    tree.add_command(survey)

    @tree.context_menu(name="Signaler le message")
    async def report(interaction, message: discord.Message):
        pass

    return tree


def tree_payload() -> list[dict]:
    tree = make_tree()
    return [command.to_dict(tree) for command in tree.get_commands()]


def test_spec_is_loaded_once(oas):
    assert get_validator() is oas
    assert OpenAPIValidator.load() is oas
    assert oas.match_route("/channels/1/messages/pins") == "/channels/{channel_id}/messages/pins"
    assert oas.match_route("/channels/1/messages/2") == "/channels/{channel_id}/messages/{message_id}"
    assert oas.match_route(ORIGINAL) == "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
    assert oas.match_route("/api/v10/channels/1?limit=5") == "/channels/{channel_id}"


def test_validator_honours_env_var(monkeypatch, oas):
    monkeypatch.setenv("DISCORD_OPENAPI_PATH", str(oas.path))
    assert get_validator() is oas
    assert OpenAPIValidator.load() is oas


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("POST", MESSAGES, good_message(), id="message"),
        pytest.param("PATCH", MESSAGE, {"content": "édité", "embeds": [make_embed().to_dict()]}, id="edit"),
        pytest.param(
            "POST",
            CALLBACK,
            {"type": 4, "data": {**good_message(), "flags": discord.MessageFlags(ephemeral=True).value}},
            id="ephemeral-reply",
        ),
        pytest.param("POST", CALLBACK, {"type": 5, "data": {"flags": 64}}, id="defer"),
        pytest.param("POST", CALLBACK, {"type": 7, "data": good_message()}, id="update-message"),
        pytest.param("POST", CALLBACK, {"type": 6}, id="deferred-update"),
        pytest.param(
            "POST", CALLBACK, {"type": 9, "data": FeedbackModal(custom_id="avis").to_dict()}, id="modal"
        ),
        pytest.param(
            "POST",
            CALLBACK,
            {"type": 8, "data": {"choices": [app_commands.Choice(name="Juin", value="06").to_dict()]}},
            id="autocomplete",
        ),
        pytest.param("POST", FOLLOWUP, good_message(), id="followup"),
        pytest.param("PATCH", ORIGINAL, {"content": "ok", "components": []}, id="edit-original"),
        pytest.param("PUT", GLOBAL_COMMANDS, tree_payload(), id="global-sync"),
        pytest.param("PUT", GUILD_COMMANDS, tree_payload(), id="guild-sync"),
        pytest.param("PUT", GLOBAL_COMMANDS, [], id="empty-sync"),
        pytest.param("GET", "/channels/111/messages/222", None, id="get"),
        pytest.param("DELETE", "/channels/111/messages/222", None, id="delete"),
        pytest.param("PUT", "/channels/111/messages/222/reactions/%F0%9F%91%8D/@me", None, id="reaction"),
        pytest.param(
            "POST", "/guilds/555/roles", {"name": "Membre", "permissions": "1024"}, id="role-perm-string"
        ),
        pytest.param(
            "PUT",
            "/channels/111/permissions/666",
            {"allow": "1024", "deny": "0", "type": 0},
            id="overwrite-perm-strings",
        ),
        pytest.param(
            "POST", "/guilds/555/stickers", {"name": "logo", "tags": "r", "description": ""}, id="sticker"
        ),
    ],
)
def test_accepts_good_bodies(oas, method, path, body):
    assert oas.validate(method, path, body) == []


def test_accepts_native_poll(oas):
    poll = discord.Poll(question="Prochaine réunion ?", duration=timedelta(hours=48), multiple=True)
    poll.add_answer(text="Mardi", emoji="📅")
    poll.add_answer(text="Jeudi")
    assert oas.validate("POST", MESSAGES, {"poll": poll._to_dict()}) == []


def test_accepts_components_v2_with_more_than_five_top_level_items(oas):
    view = discord.ui.LayoutView()
    for i in range(7):
        view.add_item(discord.ui.TextDisplay(f"ligne {i}"))
    container = discord.ui.Container(discord.ui.TextDisplay("dans le conteneur"))
    container.add_item(discord.ui.ActionRow(discord.ui.Button(label="ok", custom_id="ok")))
    view.add_item(container)
    body = {"components": view.to_components(), "flags": discord.MessageFlags(components_v2=True).value}
    assert oas.validate("POST", MESSAGES, body) == []


# ---------------------------------------------------------------- broken bodies
def _button(i: int = 0) -> dict:
    return {"type": 2, "style": 1, "custom_id": f"b{i}", "label": str(i)}


BROKEN = [
    pytest.param(
        "POST",
        MESSAGES,
        {"embeds": [make_embed(title="x" * 257).to_dict()]},
        "embeds[0].title",
        id="title-257",
    ),
    pytest.param(
        "POST",
        MESSAGES,
        {
            "components": [
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 3,
                            "custom_id": "s",
                            "options": [{"label": f"{i}", "value": f"{i}"} for i in range(30)],
                        }
                    ],
                }
            ]
        },
        "components[0].components[0].options",
        id="select-30-options",
    ),
    pytest.param(
        "POST",
        MESSAGES,
        {"components": [{"type": 1, "components": [{**_button(), "custom_id": "c" * 101}]}]},
        "custom_id",
        id="custom-id-101",
    ),
    pytest.param("POST", MESSAGES, {"content": "x" * 2001}, "content", id="content-2001"),
    pytest.param("PATCH", MESSAGE, {"content": "x" * 2001}, "content", id="edit-content-2001"),
    pytest.param("POST", FOLLOWUP, {"content": "x" * 2001}, "content", id="followup-content-2001"),
    pytest.param("PATCH", ORIGINAL, {"content": "x" * 2001}, "content", id="edit-original-content-2001"),
    pytest.param(
        "POST",
        CALLBACK,
        {"type": 7, "data": {"content": "x" * 2001}},
        "data.content",
        id="update-content-2001",
    ),
    pytest.param(
        "POST",
        MESSAGES,
        {"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "?"}]}]},
        "neither a custom_id nor a url",
        id="button-without-id-or-url",
    ),
    pytest.param(
        "POST",
        CALLBACK,
        {
            "type": 4,
            "data": {"components": [{"type": 1, "components": [{"type": 2, "style": 5, "label": "?"}]}]},
        },
        "needs a url",
        id="link-button-without-url",
    ),
    pytest.param(
        "POST",
        MESSAGES,
        {"components": [{"type": 1, "components": [{**_button(), "url": "https://example.com"}]}]},
        "both a custom_id and a url",
        id="button-with-both",
    ),
    pytest.param(
        "PUT", GLOBAL_COMMANDS, [{"name": "Bad Name", "description": "d"}], "Bad Name", id="command-name"
    ),
    pytest.param(
        "PUT",
        GUILD_COMMANDS,
        [{"name": "ok", "description": "d", "name_localizations": {"fr": "Mauvais"}}],
        "name_localizations.fr",
        id="command-localized-name",
    ),
    pytest.param(
        "POST",
        GLOBAL_COMMANDS,
        {
            "name": "ok",
            "description": "d",
            "options": [
                {
                    "type": 2,
                    "name": "grp",
                    "description": "g",
                    "options": [
                        {
                            "type": 1,
                            "name": "sub",
                            "description": "s",
                            "options": [{"type": 3, "name": "Texte Libre", "description": "o"}],
                        }
                    ],
                }
            ],
        },
        "options[0].options[0].options[0].name",
        id="nested-option-name",
    ),
    pytest.param(
        "POST",
        MESSAGES,
        {"components": [{"type": 1, "components": [_button(i) for i in range(6)]}]},
        "components[0].components",
        id="six-buttons-in-a-row",
    ),
    pytest.param(
        "POST",
        MESSAGES,
        {"components": [{"type": 1, "components": [_button(i)]} for i in range(6)]},
        "6 action rows",
        id="six-rows",
    ),
    pytest.param("POST", MESSAGES, {"embeds": [make_embed(fields=26).to_dict()]}, "fields", id="26-fields"),
    pytest.param(
        "POST",
        MESSAGES,
        {"embeds": [{"description": "x" * 4096}, {"title": "t" * 256, "description": "d" * 1649}]},
        "6001 characters",
        id="6001-embed-characters",
    ),
    pytest.param("POST", MESSAGES, {"embeds": [{"title": "t"}] * 11}, "embeds", id="11-embeds"),
    pytest.param("POST", "/channels/111/not-a-route", {"content": "hi"}, "route not in", id="unknown-route"),
    pytest.param("GET", "/nowhere/1", None, "route not in", id="unknown-bodiless-route"),
    pytest.param("PUT", MESSAGES, {"content": "hi"}, "route not in", id="undocumented-method"),
    pytest.param("GET", "/channels/general/messages", None, "not a snowflake", id="bad-snowflake-path"),
    pytest.param("POST", CALLBACK, {"type": 99}, "matches no documented shape", id="unknown-callback-type"),
    pytest.param("POST", MESSAGES, {"tts": "yes"}, "tts", id="wrong-type"),
    pytest.param(
        "POST", "/guilds/555/roles", {"permissions": "administrator"}, "permissions", id="perm-not-digits"
    ),
    pytest.param(
        "POST",
        MESSAGES,
        {"allowed_mentions": {"users": [-1]}},
        "allowed_mentions.users[0]",
        id="negative-snowflake",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), BROKEN)
def test_reports_broken_bodies(oas, method, path, body, expected):
    violations = oas.validate(method, path, body)
    assert violations, f"{method} {path} should have been rejected"
    assert any(expected in violation for violation in violations), violations


def test_a_body_checked_again_gets_the_same_verdict_and_a_look_alike_is_checked_anew(oas):
    """The validator remembers each distinct body's schema violations: the second look at a
    broken body still reports them, and a body JSON would not give back (a tuple) is checked."""
    broken = {"content": 5}
    first = oas.validate("POST", MESSAGES, copy.deepcopy(broken))
    assert first and first == oas.validate("POST", MESSAGES, copy.deepcopy(broken))
    good = {"content": "Bonjour", "allowed_mentions": {"parse": []}}
    assert oas.validate("POST", MESSAGES, good) == []
    # JSON reads this tuple as the list above, but the schema does not take a tuple for an array
    assert oas.validate("POST", MESSAGES, {"content": "Bonjour", "allowed_mentions": {"parse": ()}})


def test_documented_rules_hold_without_the_schema():
    """The extra rules fire on their own, even where the schema has a matching limit."""
    six_buttons = {"components": [{"type": 1, "components": [_button(i) for i in range(6)]}]}
    assert message_violations(six_buttons) == [
        "body.components[0].components: 6 components in an action row, at most 5"
    ]
    assert message_violations({"embeds": [make_embed(fields=26).to_dict()]}) == [
        "body.embeds[0].fields: 26 fields, at most 25"
    ]
    select_and_button = {
        "components": [{"type": 1, "components": [_button(), {"type": 3, "custom_id": "s", "options": []}]}]
    }
    assert "cannot hold anything else" in message_violations(select_and_button)[0]
    assert message_violations({"components": [{"type": 2, "style": 6, "sku_id": "1"}]}) == []
    assert command_violations({"name": "Signaler le message", "type": 3}) == []
    assert command_violations({"name": "Sondage"}) == ["body.name: 'Sondage' is not lower case"]
    assert command_violations({"name": "enquête-2024_é"}) == []


def test_components_v2_skips_only_the_row_count():
    body = {
        "flags": 1 << 15,
        "components": [{"type": 10, "content": str(i)} for i in range(6)]
        + [{"type": 9, "components": [], "accessory": {"type": 2, "style": 1, "label": "?"}}],
    }
    assert message_violations(body) == [
        "body.components[6].accessory: button has neither a custom_id nor a url"
    ]


def test_check_requests_names_method_and_path(oas):
    Entry = dataclasses.make_dataclass("Entry", ["method", "path", "json"])
    entries = [Entry("POST", MESSAGES, {"content": "ok"}), Entry("POST", MESSAGES, {"content": "x" * 2001})]
    assert check_requests(entries, oas) == [
        "#1 POST /channels/111/messages: body.content: 2001 characters, Discord allows at most 2000"
    ]
    with pytest.raises(AssertionError, match="2001 characters"):
        assert_requests_valid(entries)


# ------------------------------------------------------------------ end to end
class ReplyBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default())

        @self.tree.command(name="bilan", description="Le bilan du mois")
        async def bilan(interaction: discord.Interaction) -> None:
            view = discord.ui.View()
            view.add_item(discord.ui.Button(label="Détails", custom_id="details"))
            view.add_item(discord.ui.Button(label="Site", url="https://example.com"))
            await interaction.response.send_message(embed=make_embed(), view=view)

    async def setup_hook(self) -> None:
        await self.tree.sync()


@pytest.fixture
def simcord_bot():
    return ReplyBot()


async def test_end_to_end_requests_are_valid(simcord_env, oas):
    guild = simcord_env.create_guild("Réseau")
    channel = guild.create_text_channel("général")
    member = guild.add_member(simcord_env.create_user("alice"))

    result = await member.slash(channel, "bilan")

    assert result.response is not None and result.response.embeds[0].title == "Enquête de juin"
    entries = list(simcord_env.http_requests)
    assert any(e.method == "PUT" and e.path.endswith("/commands") for e in entries)
    callbacks = [e for e in entries if e.path.endswith("/callback")]
    assert callbacks and callbacks[0].json["type"] == 4
    assert_requests_valid(simcord_env)
    assert check_env(simcord_env) == []

    broken = dataclasses.replace(callbacks[0], json=copy.deepcopy(callbacks[0].json))
    broken.json["data"]["content"] = "x" * 2001
    assert oas.validate_entry(broken) == ["body.data.content: 2001 characters, at most 2000 allowed"]
    with pytest.raises(AssertionError, match=r"POST /interactions/\d+/[^ ]+/callback: body\.data\.content"):
        assert_requests_valid([*entries, broken])

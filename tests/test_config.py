"""Configuration: defaults, the example file, and one clear message per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, build_config, load_config
from tests.paths import REPO


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_as_is():
    config = load_config(REPO / "config.example.toml", environ={})
    assert config.bot.timezone == "Europe/Paris"
    assert config.bot.language == "fr"
    assert config.database.url.startswith("sqlite+aiosqlite:///./data/")
    assert [t.code for t in config.member_types][:2] == ["collectivite", "reseau"]


def test_defaults_without_a_file():
    config = build_config({}, Path("config.toml"), environ={})
    assert config.schedule.extract_cron == "0 10 1-7 * mon"
    assert config.schedule.catch_up_days == 7
    assert len(config.member_types) == 5
    assert config.discord.web_base_url == "https://discord.com"
    assert config.discord.message_url(1, 2, 3) == "https://discord.com/channels/1/2/3"


def test_message_links_follow_the_configured_web_base_url(tmp_path):
    config = load_config(write(tmp_path, "[discord]\nweb_base_url = 'http://127.0.0.1:8080/app'\n"), environ={})
    assert config.discord.message_url(10, 20, 30) == "http://127.0.0.1:8080/app/channels/10/20/30"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[bots]\nlanguage = 'fr'\n", "unknown section [bots]"),
        ("[bot]\nlangage = 'fr'\n", "unknown key bot.langage"),
        ("[bot]\nmoderator_roles = 'Mods'\n", "bot.moderator_roles must be a list"),
        ("[schedule]\ncatch_up_days = 'seven'\n", "schedule.catch_up_days must be an integer"),
        ("[discord]\nmembers_intent = 1\n", "discord.members_intent must be true or false"),
        ("[bot]\ntimezone = 'Europe/Lutece'\n", "bot.timezone: unknown timezone"),
        ("[schedule]\nextract_cron = '0 25 * * *'\n", "schedule.extract_cron: bad cron expression"),
        ("[schedule]\nextract_cron = 'every monday'\n", "schedule.extract_cron"),
        (
            "[[channels]]\nguild_id = 1\nchannel_id = 5\n[[channels]]\nguild_id = 2\nchannel_id = 5\n",
            "channels[1].channel_id 5 is listed twice",
        ),
        ("[[channels]]\nguild_id = 1\n", "channels[0]"),
        ("[[channels]]\nguild_id = 1\nchannel_id = 2\nlanguage = 'de'\n", "channels[0].language"),
        ("[database]\nurl = 'mysql://x'\n", "database.url"),
        ("[privacy]\nforget_mode = 'shred'\n", "privacy.forget_mode"),
        ("[bot\n", "not valid TOML"),
        ("[discord]\nweb_base_url = 'https://discord.com/'\n", "discord.web_base_url must be an http:// or https:// URL"),
        ("[discord]\nweb_base_url = 'discord.com'\n", "discord.web_base_url"),
        ("[discord]\nweb_base_url = 'wss://chat.example.org'\n", "discord.web_base_url"),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_database_url_from_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, "[database]\nurl = 'sqlite+aiosqlite:///a.db'\n")
    url = "postgresql+asyncpg://u@127.0.0.1/db"
    assert load_config(path, environ={"RESEAU_DATABASE_URL": url}).database.url == url


def test_token_from_environment_or_file(tmp_path):
    secret = tmp_path / "outside" / "token"
    secret.parent.mkdir()
    secret.write_text("file-token\n")
    path = write(tmp_path, f"[discord]\ntoken_file = '{secret}'\n")
    config = load_config(path, environ={})
    assert config.read_token(environ={}) == "file-token"
    assert config.read_token(environ={"DISCORD_TOKEN": "env-token"}) == "env-token"
    assert build_config({}, path, environ={}).read_token(environ={}) is None


def test_unreadable_token_file_is_a_clear_error(tmp_path):
    path = write(tmp_path, f"[discord]\ntoken_file = '{tmp_path / 'missing'}'\n")
    with pytest.raises(ConfigError, match="discord.token_file: cannot read"):
        load_config(path, environ={}).read_token(environ={})


def test_every_configuration_error_has_its_sentence_in_both_languages():
    """Each key given to ConfigError (read from the code) names a sentence of
    ``bot/locales/config.toml`` in French and English: a mistake found at a user's start never
    turns into a missing-key crash."""
    import ast

    from bot.i18n import Catalogue
    from tests.paths import REPO

    catalogue = Catalogue.load()
    keys = set()
    for source in ("bot/config.py", "bot/processes.py"):
        for node in ast.walk(ast.parse((REPO / source).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ConfigError":
                key = node.args[1]
                if isinstance(key, ast.JoinedStr):  # must_be_{type}: the types a section field has
                    keys |= {f"must_be_{name}" for name in ("str", "int", "float", "bool")}
                else:
                    keys.add(key.value)
    assert len(keys) > 40
    missing = [key for key in sorted(keys) if not catalogue.has(f"config.error.{key}")]
    assert missing == []


@pytest.mark.parametrize(("lang", "expected"), [
    ("fr", "c.toml: channels[0].channel_id doit être un nombre entier, pas 'abc'"),
    ("en", "c.toml: channels[0].channel_id must be an integer, not 'abc'"),
])
def test_a_configuration_error_reads_in_the_readers_language(tmp_path, lang, expected):
    raw = {"channels": [{"guild_id": 1, "channel_id": "abc"}]}
    with pytest.raises(ConfigError) as info:
        build_config(raw, Path("c.toml"), environ={})
    assert info.value.text(lang) == expected
    assert str(info.value) == info.value.text("en")

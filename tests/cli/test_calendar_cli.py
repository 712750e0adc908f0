"""``reseau-bot schedule --all`` / ``--cancel`` / ``--postpone`` (issue 12): everything planned,
in the network's time zone, with the references to cancel or postpone — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from bot.config import load_config
from bot.services.container import Services
from tests.cli.test_extracts_cli import run, write_config

GUILD, CHANNEL = 900000000000000001, 900000000000000002


async def planned(config_path):
    """A poll planned for tomorrow 9 h and a weekly one, as /poll create start:… stores them."""
    services = Services.from_config(load_config(config_path))
    try:
        payload = {"question": "Quel format ?", "options": "Visio; Présentiel", "kind": "single"}
        once = await services.calendar.plan_poll(
            guild_id=GUILD, channel_id=CHANNEL, author_id=7, payload=payload, start="demain 9 h"
        )
        weekly = await services.calendar.plan_poll(
            guild_id=GUILD, channel_id=CHANNEL, author_id=7, payload={**payload, "question": "Chaque semaine ?"},
            start="après-demain 10 h", repeat="hebdomadaire",
        )
        return once, weekly
    finally:
        await services.aclose()


async def test_schedule_lists_cancels_and_postpones(database_url, tmp_path):
    config = write_config(tmp_path, database_url)
    once, weekly = await planned(config)
    tz = load_config(config).tz
    result = run(config, "schedule", "--all")
    assert result.returncode == 0, result.stderr
    heading, *lines = result.stdout.splitlines()
    assert heading == "programmé (Europe/Paris)\u202f:"
    first = once.start_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    second = weekly.start_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    assert lines[0].strip().startswith(f"{first} · plan-{once.id}")
    assert "Sondage programmé" in lines[0] and "Quel format ?" in lines[0]
    assert lines[1].strip().startswith(f"{second} · plan-{weekly.id}") and "weekly" in lines[1]
    assert "Extrait mensuel" in result.stdout

    moved_to = (once.start_at + timedelta(days=3)).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    moved = run(config, "schedule", "--postpone", f"plan-{once.id}", moved_to)
    assert moved.returncode == 0, moved.stderr
    assert moved_to in moved.stdout
    cancelled = run(config, "schedule", "--cancel", f"plan-{weekly.id}")
    assert cancelled.returncode == 0 and f"plan-{weekly.id}" in cancelled.stdout
    after = run(config, "schedule", "--all").stdout
    assert f"plan-{weekly.id}" not in after and f"{moved_to} · plan-{once.id}" in after

    again = run(config, "schedule", "--cancel", f"plan-{weekly.id}")
    assert again.returncode == 1 and again.stderr.startswith("reseau-bot: ") and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    bad = run(config, "schedule", "--postpone", f"plan-{once.id}", "la saint-glinglin")
    assert bad.returncode == 1 and "n’est pas un moment compris" in bad.stderr


def test_schedule_without_options_still_needs_no_database(tmp_path):
    result = run(write_config_free(tmp_path), "schedule", "--count", "1")
    assert result.returncode == 0 and result.stdout.startswith("prochains extraits mensuels")


def write_config_free(folder):
    config = folder / "config.toml"
    config.write_text("[database]\nurl = 'sqlite+aiosqlite:///nowhere/none.db'\n")
    return config



async def test_schedule_series_prints_the_csv(database_url, tmp_path):
    config = write_config(tmp_path, database_url)
    _once, weekly = await planned(config)
    result = run(config, "schedule", "--series", weekly.ref, "--layout", "wide")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["option_code,option_label", "respondents,"]  # no occurrence yet
    long = run(config, "schedule", "--series", weekly.ref)
    assert long.stdout.splitlines()[0].startswith("plan_id,occurrence,poll_id")
    unknown = run(config, "schedule", "--series", "plan-99")
    assert unknown.returncode == 1 and "plan-99" in unknown.stderr


async def test_schedule_lists_a_series_at_its_rules_first_time_not_the_start_typed(database_url, tmp_path):
    """A series started « lundi 9 h » on « 0 9 * * thu »: `schedule --all` showed the Monday,
    when the first post is on the Thursday after it."""
    config = write_config(tmp_path, database_url)
    tz = load_config(config).tz
    services = Services.from_config(load_config(config))
    try:
        series = await services.calendar.plan_poll(
            guild_id=GUILD, channel_id=CHANNEL, author_id=7,
            payload={"question": "Le jeudi ?", "options": "Oui; Non", "kind": "single"},
            start="lundi 9 h", repeat="0 9 * * 4",
        )
    finally:
        await services.aclose()
    first = series.start_at.astimezone(tz)
    assert (first.weekday(), first.hour, first.minute, series.next_at) == (3, 9, 0, series.start_at)  # a Thursday
    listing = run(config, "schedule", "--all")
    assert listing.returncode == 0, listing.stderr
    [line] = [line for line in listing.stdout.splitlines() if f"plan-{series.id}" in line]
    assert line.strip().startswith(f"{first.strftime('%Y-%m-%d %H:%M')} · plan-{series.id}"), line
    assert "0 9 * * thu" in line

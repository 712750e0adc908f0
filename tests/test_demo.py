"""`reseau-bot demo` looks true: it narrates in the configured language, the bot has its own name,
SimCord's clock and the bot's are one clock starting now, and discord.py's irrelevant warnings
(voice, the intent-less probe client) stay off stderr.  Two runs of the demo (~30 s each)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.paths import REPO

DISCORD_EPOCH_MS = 1420070400000


def demo(config: Path, out: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "RESEAU_DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "demo", "--out", str(out)],
        cwd=out.parent, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def french(tmp_path_factory):
    """The example config as it is: `bot.language = "fr"`."""
    tmp = tmp_path_factory.mktemp("demo-fr")
    start = datetime.now(UTC)
    result = demo(REPO / "config.example.toml", tmp / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    return result, start, datetime.now(UTC)


@pytest.fixture(scope="module")
def english(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo-en")
    config = tmp / "config.toml"
    config.write_text('[bot]\nlanguage = "en"\n', encoding="utf-8")
    result = demo(config, tmp / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def narration(out: str) -> list[str]:
    """The demo's own lines, without the bot's messages it quotes (indented)."""
    return [line for line in out.splitlines() if line.strip() and not line.startswith("    ")]


def test_the_demo_narrates_in_french_by_default(french):
    result, _, _ = french
    lines = narration(result.stdout)
    assert lines[0].startswith("reseau-bot demo — base de données\u202f: ")
    assert "— Un membre francophone et un membre anglophone demandent de l’aide —" in lines
    assert "▶ Camille (modératrice) → /etat" in lines
    assert "▶ Awa, qui change d’avis → clique sur [Hybride]" in lines
    assert "◀ Réseau 2.0 dans #annonces\u202f:" in lines
    assert "◀ Réseau 2.0 (visible par ce membre seulement)\u202f:" in lines
    assert any(line.endswith(": rien n’est publié") for line in lines)
    assert "Fichiers écrits\u202f:" in lines and lines[-1] == "démo terminée"
    english_words = re.compile(r"\b(clicks|wrote|moderator|database|visible only|finished|posted|the poll)\b")
    assert [line for line in lines if english_words.search(line)] == []


def test_the_demo_narrates_in_english_when_configured(english):
    lines = narration(english.stdout)
    assert lines[0].startswith("reseau-bot demo — database: ")
    assert "— A French member and an English member ask for help —" in lines
    assert "▶ Awa, who changes her mind → clicks [Hybride]" in lines
    assert "◀ Réseau 2.0 in #annonces:" in lines
    assert any(line.endswith(": nothing posted") for line in lines)
    assert "Files written:" in lines and lines[-1] == "demo finished"
    french_words = re.compile(r"\b(clique|fichier|modératrice|base de données|seulement|terminée|publié|clos)\b")
    assert [line for line in lines if french_words.search(line)] == []


def test_the_bot_has_its_name_and_one_clock_with_simcord_starting_now(french):
    result, start, end = french
    out = result.stdout
    assert "TestBot" not in out
    connected = next(line for line in narration(out) if line.startswith("● Le bot est connecté"))
    assert "en tant que Réseau 2.0 à «\u202fRéseau 2.0 (démo)\u202f»" in connected
    # SimCord's time is a snowflake's: the quick poll's message was created today, not on 2026-01-01…
    message_id = int(re.search(r"Sondage n°\u00a02 publié\u202f: https://\S+/(\d+)\s", out).group(1))
    created = datetime.fromtimestamp(((message_id >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)
    assert start - timedelta(minutes=1) <= created <= end + timedelta(minutes=1), created
    # …and the bot's clock set its three-day deadline from that same instant
    poll = out[out.index("**📊 Sondage n°\u00a02**"):]
    deadline = datetime.fromtimestamp(int(re.search(r"<t:(\d+):R>", poll).group(1)), UTC)
    assert abs(deadline - created - timedelta(days=3)) < timedelta(seconds=5), (created, deadline)


def test_discord_py_irrelevant_warnings_stay_off_stderr(french, english):
    for result in (french[0], english):
        for noise in ("PyNaCl", "davey", "intent", "voice will NOT be supported", "logging in using static token"):
            assert noise not in result.stderr, result.stderr[-2000:]
        assert "WARNING" not in result.stderr and "Traceback" not in result.stderr, result.stderr[-2000:]


def test_the_demo_plays_the_whole_journey(french):
    """What each person saw, in the French run: help, refusal, votes, extract, announcement,
    profiles, survey, results by type and the export with its codebook."""
    result, _, _ = french
    out_dir = Path(result.args[result.args.index("--out") + 1])
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "▶ Awa (fr) → /aide" in out and "Pour les membres" in out
    assert "▶ Sam (en-US) → /help" in out and "For members" in out
    assert "réservée aux modérateurs" in out
    assert "Traceback" not in out + result.stderr
    assert (out_dir / "demo.db").exists()
    # the quick poll: votes acknowledged in each member's language, a change of mind, a chart
    assert "✅ Votre choix\u202f: **En ligne**" in out and "✅ Your choice: **En présentiel**" in out
    assert "▶ Awa, qui change d’avis → clique sur [Hybride]" in out
    assert "`████████░░` 3 (75" in out
    charts = sorted((out_dir).glob("poll-*-results.png"))
    assert charts and all(str(c) in out and c.read_bytes().startswith(b"\x89PNG") for c in charts)
    # the month's extract in both languages, its question asked back, an announcement
    assert "◀ Réseau 2.0 dans #annonces\u202f:" in out and "[Lire le rapport complet]" in out and "[Read the full report]" in out
    assert "Quel accompagnement à l’évaluation vous serait le plus utile cette année ?" in out
    assert "rien n’est publié" in out  # the same slot twice posts once
    assert "Annonce n°\u00a01 publiée\u202f: 2 salons servis" in out
    # profiles with consent, a quick survey with progress and resumption, results by type, export
    assert "Profil enregistré." in out
    assert "**Question 2/2**" in out and "You are picking up where you left off." in out
    assert "**Collectivité territoriale** (1)\u202f: " in out  # a line per member type: fits a phone
    by_type = out_dir / "poll-1-by-member-type.png"  # the month's follow-up: one poll, two channels
    assert by_type.read_bytes().startswith(b"\x89PNG")
    wide = (out_dir / "enquete-membres-2026-2027-wide.csv").read_bytes()
    assert wide.startswith(b"\xef\xbb\xbfrespondent;member_type;")
    codebook = (out_dir / "enquete-membres-2026-2027-wide.codebook.csv").read_text("utf-8-sig")
    assert codebook.splitlines()[0].split(";")[:2] == ["code", "label"] or "code" in codebook.splitlines()[0]


def test_the_demo_never_deletes_a_folder_it_did_not_make(french, tmp_path):
    """``--out`` on a folder with someone's files is refused, every file kept; the folder of an
    earlier demo (its mark) is emptied and reused, and its database is whole (no journal left)."""
    result, _, _ = french
    earlier = Path(result.args[result.args.index("--out") + 1])
    assert (earlier / ".reseau-bot-demo").is_file() and not (earlier / "demo.db-wal").exists()
    mine = tmp_path / "myproject"
    (mine / "notes").mkdir(parents=True)
    (mine / "notes" / "thesis.txt").write_text("precious", encoding="utf-8")
    refused = demo(REPO / "config.example.toml", mine)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "n’a pas été créé par la démo" in refused.stderr and "rien n’a été effacé" in refused.stderr
    assert (mine / "notes" / "thesis.txt").read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in mine.rglob("*")) == ["notes", "thesis.txt"]
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    assert demo(REPO / "config.example.toml", a_file).returncode != 0 and a_file.read_text(encoding="utf-8") == "x"

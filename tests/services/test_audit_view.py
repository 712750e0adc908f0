"""The audit log in words (bot/services/audit_view.py): every action and detail key the code
records is named in the catalogue (bot/locales/audit.toml), and a value is written plainly."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

from bot.i18n import Catalogue
from bot.services.audit_view import audit_line
from storage.models import AuditEntry
from tests.paths import REPO

CATALOGUE = Catalogue.load()


def recorded(paths: list[Path]) -> tuple[set[str], set[str]]:
    """The actions (``record("poll.create", …)``, ``with_audit(services, "extract.upload", …)``)
    and the detail keys (a ``details=`` dict, a ``details = {…}`` dict, ``details["x"] = …``)
    written as literals in these files."""
    actions: set[str] = set()
    keys: set[str] = set()

    def literal_keys(node: ast.AST | None) -> None:
        if isinstance(node, ast.Dict):
            keys.update(k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))

    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                position = {"record": 0, "with_audit": 1}.get(name)
                if position is not None and len(node.args) > position:
                    action = node.args[position]
                    if isinstance(action, ast.Constant) and isinstance(action.value, str):
                        actions.add(action.value)
                        for keyword in node.keywords:
                            if keyword.arg == "details":
                                literal_keys(keyword.value)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and target.id == "details":
                        literal_keys(node.value)
                    elif (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                          and target.value.id == "details" and isinstance(target.slice, ast.Constant)):
                        keys.add(target.slice.value)
    return actions, keys


def test_every_recorded_action_and_detail_key_is_named():
    actions, keys = recorded([*REPO.glob("bot/**/*.py"), *REPO.glob("cogs/**/*.py"), *REPO.glob("web/**/*.py")])
    assert {"poll.create", "extract.upload", "forget_me", "export"} <= actions  # the scan finds them
    assert {"before", "identified", "expires_in_min", "campaign_id"} <= keys
    assert sorted(a for a in actions if not CATALOGUE.has(f"audit.action.{a}")) == []
    assert sorted(k for k in keys if not CATALOGUE.has(f"audit.key.{k}")) == []


def test_the_scan_can_fail(tmp_path):
    source = tmp_path / "x.py"
    source.write_text('repo.record("brand.new", details={"odd": 1})\ndetails["other"] = 2\n', encoding="utf-8")
    assert recorded([source]) == ({"brand.new"}, {"odd", "other"})


def entry(action: str, target_type: str = "", target_id: str = "", **details) -> AuditEntry:
    return AuditEntry(action=action, actor_id=None, target_type=target_type, target_id=target_id,
                      details=details, at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC))


def when(value: datetime) -> str:
    return value.strftime("%H:%M %Z")


def test_values_are_written_plainly():
    line = audit_line(entry("extract.move", "extract", "3,4", month="2027-01", swapped_with=5, nothing=None,
                            failed=["polls", "calendar"], recurrence="weekly", at="2026-03-02T10:00:00+00:00"),
                      CATALOGUE, "fr", when=when)
    assert line.action == "Extrait déplacé dans la file" and line.target == "extrait n°\u00a03, n°\u00a04"
    texts = [d.text.replace("\u202f", " ") for d in line.details]
    assert texts == ["Mois : janvier 2027", "Échangé avec l’extrait : n°\u00a05", "nothing : -",
                     "En échec : polls, calendar", "Répétition : chaque semaine", "Date prévue : 10:00 UTC"]
    english = audit_line(entry("calendar.plan", "plan", "2", recurrence="0 9 * * thu", kind="announcement"),
                         CATALOGUE, "en", when=when)
    assert [d.text for d in english.details] == ["Repeats: on “0 9 * * thu”", "Kind: announcement"]
    assert english.target == "plan #2"
    nested = audit_line(entry("announcement.edit", before={"title": "A", "link": None}), CATALOGUE, "en", when=when)
    assert nested.details[0].text == "Before the edit:" and nested.details[0].parts == ("Title: A", "Link: -")
    assert nested.target == "-"

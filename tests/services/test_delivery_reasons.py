"""A failed delivery's stored reason read back in the reader's language: what the outbox writes
now (``missing_access: 403 50001: Missing Access``) and what rows written before reasons had codes
hold (Discord's English, a French give-up suffix) — never Discord's English shown to a person."""

from __future__ import annotations

import pytest

from bot.i18n import Catalogue
from bot.services.delivery import MissingPermission, TransientFailure, describe_failure, failure_reason

CATALOGUE = Catalogue.load()


@pytest.mark.parametrize(("stored", "fr", "en"), [
    ("missing_permission: 403 50013: Missing Permissions",
     "le bot n’a pas les permissions nécessaires dans ce salon (code Discord 50013)",
     "the bot lacks permissions it needs in this channel (Discord code 50013)"),
    ("missing_access: 403 50001: Missing Access", "le bot n’a pas accès à ce salon (code Discord 50001)",
     "the bot has no access to this channel (Discord code 50001)"),
    ("unknown_channel", "ce salon n’existe plus, ou son identifiant est faux",
     "this channel no longer exists, or its id is wrong"),
    ("not_text_channel", "ce salon n’est pas un salon textuel", "this channel is not a text channel"),
    ("unavailable/5: 503 0: Service Unavailable",
     "Discord était injoignable ou surchargé (HTTP 503)\u202f; abandon après 5 tentatives",
     "Discord was unreachable or overloaded (HTTP 503); gave up after 5 attempts"),
    ("unexpected/5: RuntimeError: boom", "erreur inattendue du bot, détaillée dans son journal\u202f; abandon après 5 tentatives",
     "unexpected error in the bot, detailed in its log; gave up after 5 attempts"),
    # rows stored before reasons had codes
    ("missing permission (403 50001: Missing Access)", "le bot n’a pas accès à ce salon (code Discord 50001)",
     "the bot has no access to this channel (Discord code 50001)"),
    ("unknown channel (404 10003: Unknown Channel)", "ce salon n’existe plus, ou son identifiant est faux (code Discord 10003)",
     "this channel no longer exists, or its id is wrong (Discord code 10003)"),
    ("not a text channel", "ce salon n’est pas un salon textuel", "this channel is not a text channel"),
    ("502 0: Bad Gateway (abandon après 5 tentatives)",
     "Discord était injoignable ou surchargé (HTTP 502)\u202f; abandon après 5 tentatives",
     "Discord was unreachable or overloaded (HTTP 502); gave up after 5 attempts"),
    ("something else", "erreur non reconnue\u202f: something else", "unrecognised error: something else"),
])
def test_a_stored_reason_reads_in_the_readers_language(stored, fr, en):
    assert describe_failure(stored, CATALOGUE, "fr") == fr
    assert describe_failure(stored, CATALOGUE, "en") == en


def test_an_error_stores_its_code_and_discords_answer():
    assert MissingPermission("403 50001: Missing Access", code="missing_access").reason == (
        "missing_access: 403 50001: Missing Access")
    assert MissingPermission("403 50013: Missing Permissions").reason == "missing_permission: 403 50013: Missing Permissions"
    assert failure_reason(TransientFailure("ClientConnectorError: refused").reason).code == "unavailable"

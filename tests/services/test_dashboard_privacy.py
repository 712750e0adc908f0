"""The dashboard's privacy hook: a moderator's sign-in links and sessions are in /my-data and
/forget-me deletes them (which signs them out); nobody else's are touched."""

from __future__ import annotations

from pathlib import Path

from bot.config import build_config
from bot.services.authority import Actor
from bot.services.container import Services, privacy_hooks
from bot.services.privacy import DashboardHook

GUILD, ROLE = 10, 20


async def test_my_data_shows_the_sessions_and_forget_me_removes_them(engine, sessions, clock, database_url):
    config = build_config({"database": {"url": database_url}, "bot": {"moderator_roles": [ROLE]},
                           "channels": [{"guild_id": GUILD, "channel_id": 1}]}, Path("c.toml"), environ={})
    services = Services(config, engine=engine, sessions=sessions, clock=clock)
    mine = await services.sign_in.issue(Actor.of(GUILD, [ROLE]), 1)
    browser, _ = await services.sign_in.redeem(mine)
    await services.sign_in.issue(Actor.of(GUILD, [ROLE]), 1)  # a second link, unused
    theirs = await services.sign_in.issue(Actor.of(GUILD, [ROLE]), 2)
    other_browser, _ = await services.sign_in.redeem(theirs)

    hooks = privacy_hooks(sessions)
    assert "dashboard" in hooks.features
    described = (await hooks.describe(1)).document()
    assert described["dashboard_links"] == 2 and len(described["dashboard_sessions"]) == 1
    assert await DashboardHook(sessions).stored(1) == 3
    forgotten = await hooks.forget(1, "delete")
    assert forgotten.removed("dashboard_sessions") == 3
    assert await services.sign_in.session(browser) is None  # signed out
    assert (await services.sign_in.session(other_browser)).actor_id == 2  # the other moderator is not
    assert (await hooks.describe(1)).document()["dashboard_sessions"] == []

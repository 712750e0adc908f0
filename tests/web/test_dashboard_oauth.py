""""Se connecter avec Discord" (OAuth2), against a loopback Discord-compatible server (the
authorize page, the token exchange, /users/@me and the member's roles in a moderation server):
a moderator is signed in; a member without the moderator role and a forged state are refused;
without a client id and secret the button is not offered."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

from aiohttp import web

from tests.web.conftest import GUILD, MOD_ROLE, pytestmark  # noqa: F401 (the module's skip mark)
from web.app import start

CLIENT_ID, SECRET = "145607444398080", "an oauth secret"
NEXT = {"code": ""}  # who the fake Discord's consent page signs in next


async def fake_discord(users: dict[str, tuple[int, list[int]]]) -> tuple[web.AppRunner, str, list[str]]:
    """``users``: authorization code → (user id, role ids in GUILD).  Returns the runner, its
    base URL and the requests it saw."""
    seen: list[str] = []

    async def authorize(request: web.Request) -> web.StreamResponse:
        seen.append("authorize " + request.query["scope"])
        assert request.query["client_id"] == CLIENT_ID and request.query["response_type"] == "code"
        code = NEXT["code"]
        target = request.query["redirect_uri"] + "?" + urlencode({"code": code, "state": request.query["state"]})
        raise web.HTTPFound(target)

    async def token(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        seen.append("token")
        assert request.headers["Authorization"].startswith("Basic ")
        if form["code"] not in users:
            return web.json_response({"error": "invalid_grant"}, status=400)
        return web.json_response({"access_token": f"at-{form['code']}", "token_type": "Bearer"})

    def who(request: web.Request) -> tuple[int, list[int]]:
        return users[request.headers["Authorization"].removeprefix("Bearer at-")]

    async def me(request: web.Request) -> web.StreamResponse:
        seen.append("me")
        return web.json_response({"id": str(who(request)[0]), "username": "x"})

    async def member(request: web.Request) -> web.StreamResponse:
        seen.append("member " + request.match_info["guild"])
        if int(request.match_info["guild"]) != GUILD:
            return web.json_response({"message": "Unknown Guild", "code": 10004}, status=404)
        return web.json_response({"roles": [str(r) for r in who(request)[1]]})

    app = web.Application()
    app.router.add_get("/oauth2/authorize", authorize)
    app.router.add_post("/api/v10/oauth2/token", token)
    app.router.add_get("/api/v10/users/@me", me)
    app.router.add_get("/api/v10/users/@me/guilds/{guild}/member", member)
    runner = await start(app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}", seen


def with_oauth(dashboard, discord_base: str, client_id: str = CLIENT_ID):
    config = dashboard.config
    dashboard.services.configure(dataclasses.replace(
        config,
        discord=dataclasses.replace(config.discord, web_base_url=discord_base, api_base_url=discord_base + "/api/v10"),
        dashboard=dataclasses.replace(config.dashboard, public_url=dashboard.base, oauth_client_id=client_id),
    ))


async def test_sign_in_with_discord(dashboard, browser, monkeypatch):
    monkeypatch.setenv("RESEAU_DASHBOARD_OAUTH_SECRET", SECRET)
    runner, base, seen = await fake_discord({"mod": (3003, [MOD_ROLE, 7]), "member": (4004, [7])})
    with_oauth(dashboard, base)
    ctx = await browser.new_context(locale="fr-FR")
    page = await ctx.new_page()
    try:
        await page.goto(dashboard.base + "/login")
        NEXT["code"] = "mod"
        await page.get_by_role("link", name="Se connecter avec Discord").click()
        await page.wait_for_url(dashboard.base + "/")
        assert await page.locator("h1").inner_text() == "Vue d’ensemble"
        assert seen[:3] == ["authorize identify guilds.members.read", "token", "me"]
        assert f"member {GUILD}" in seen
        assert "dashboard.login" in [e.action for e in await dashboard.services.dashboard.audit()]
        cookie = next(c for c in await ctx.cookies() if c["name"] == "rb_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

        other = await browser.new_context(locale="fr-FR")
        member_page = await other.new_page()
        await member_page.goto(dashboard.base + "/login")
        NEXT["code"] = "member"
        await member_page.get_by_role("link", name="Se connecter avec Discord").click()
        await member_page.wait_for_load_state()
        assert "modérat" in await member_page.inner_text("main")
        assert (await member_page.goto(dashboard.base + "/")).status == 401
        # a callback whose state is not the one this browser was given
        forged = await member_page.goto(dashboard.base + "/login/discord/callback?code=mod&state=forged")
        assert forged.status == 403 and "La connexion avec Discord n’a pas abouti" in await member_page.inner_text("main")
        await other.close()
    finally:
        await ctx.close()
        await runner.cleanup()


async def test_without_a_client_id_and_secret_discord_is_not_offered(dashboard, browser, monkeypatch):
    monkeypatch.delenv("RESEAU_DASHBOARD_OAUTH_SECRET", raising=False)
    with_oauth(dashboard, "http://127.0.0.1:9")
    ctx = await browser.new_context(locale="fr-FR")
    page = await ctx.new_page()
    try:
        await page.goto(dashboard.base + "/login")
        assert await page.get_by_role("link", name="Se connecter avec Discord").count() == 0
        assert (await page.goto(dashboard.base + "/login/discord")).status == 404
        assert dashboard.services.discord_sign_in.app is None
    finally:
        await ctx.close()

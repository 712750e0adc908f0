"""The dashboard's pages: one small handler each, reading through the services.

    GET  /login?t=…            the sign-in page of a one-time link (the link is not spent yet)
    POST /login                spend the link, open the session, go to the overview
    POST /logout
    GET  /                     overview: open polls, next planned posts, latest deliveries
    GET  /polls, /polls/{id}   polls; a poll's results (chart + table, by member type, texts)
    GET  /polls/{id}/chart-{n}.png
    GET  /campaigns, /campaigns/{id}   a campaign's answers per question and its coverage
    GET  /exports, POST /exports       download an export (a zip of data + codebook, or XLSX)
    GET  /extracts, /extracts/{id}     the queue; an extract as members will see it
    POST /extracts/upload, /extracts/{id}/move, /skip, /publish
    GET  /audit                the audit log
    GET  /lang/{fr|en}         the language switch (a cookie), back to the page
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import tempfile
import zipfile
from pathlib import Path
from typing import Any, NoReturn

from aiohttp import web

from bot.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, describe
from bot.i18n import LANGUAGES
from bot.services import charts, extracts
from bot.services.audit_view import audit_line
from bot.services.dashboard import LinkInvalid, OAuthRefused
from bot.services.exports import FORMATS, HEADINGS, LAYOUTS, ExportRequest
from bot.services.extract_render import render_extract, report_button_label
from web import auth
from web.context import (
    CACHE,
    FORM_KEY,
    HTTP_CLIENT,
    LANG_COOKIE,
    LIMITER,
    RENDERER,
    SESSIONS,
    lang_of,
    services_of,
)
from web.render import page_html, render, render_error, send_page

log = logging.getLogger("reseau.web")

_STATUS = {InvalidInput: 400, Forbidden: 403, NotFound: 404}


def _services(request: web.Request):
    return services_of(request)


@web.middleware
async def errors(request: web.Request, handler) -> web.StreamResponse:
    """A domain error is a page in the reader's language with its status; anything else is
    logged and answered with a generic page (never a traceback)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return render_error(request, 404, "dashboard.error.not_found")
    except web.HTTPException:
        raise
    except DomainError as exc:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 409)
        return render(request, "error.html", status=status, status_code=status,
                      message=describe(exc, _services(request).catalogue, lang_of(request)))
    except Exception:
        log.exception("dashboard page %s failed", request.path)
        return render_error(request, 500, "dashboard.error.unexpected")


async def cached(request: web.Request, key: tuple, load) -> Any:
    return await request.app[CACHE].get(key, load)


async def cached_page(request: web.Request, key: tuple, template: str, context) -> web.Response:
    """A page shared by every session for a few seconds (data and HTML, per language and path):
    under load most requests only swap in their own anti-forgery token."""

    async def build() -> str:
        return page_html(request, template, **await context())

    return send_page(request, await cached(request, ("page", template, lang_of(request), request.path, *key), build))


def changed(request: web.Request) -> None:
    """A write through the dashboard: the next pages read afresh."""
    request.app[CACHE].clear()


def _int(value: Any) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        raise NotFound("dashboard.error.not_found") from None
    if not 0 < number < 2**31:
        raise NotFound("dashboard.error.not_found")
    return number


# ---------------------------------------------------------------------------- sign-in
def _throttled(request: web.Request) -> web.Response | None:
    """The sign-in routes' limit per client: the 429 page once it is reached, else ``None``."""
    if request.app[LIMITER].allow(auth.client_key(request)):
        return None
    return render_error(request, 429, "dashboard.error.rate_limited")


def _signed_in(request: web.Request, browser_token: str, *, spent_cookie: str) -> NoReturn:
    """Off to the overview with the new session's cookie; the cookie that led here is spent."""
    response = web.HTTPSeeOther("/")
    auth.set_cookie(request, response, auth.SESSION_COOKIE, browser_token, max_age=auth.SESSION_MAX_AGE)
    response.del_cookie(spent_cookie, path="/")
    raise response


async def login_page(request: web.Request) -> web.StreamResponse:
    if (refused := _throttled(request)) is not None:
        return refused
    token = request.query.get("t", "")
    await _services(request).sign_in.check_link(token)
    pre = secrets.token_urlsafe(24)
    response = render(request, "login.html", token=token, prelogin=pre)
    auth.set_cookie(request, response, auth.PRELOGIN_COOKIE, pre, max_age=600)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    if (refused := _throttled(request)) is not None:
        return refused
    form = await request.post()
    pre = request.cookies.get(auth.PRELOGIN_COOKIE, "")
    if not pre or not secrets.compare_digest(pre, str(form.get("csrf", ""))):
        return render_error(request, 403, "dashboard.error.csrf")
    token = str(form.get("t", ""))
    if not token:
        raise LinkInvalid()
    browser_token, _ = await _services(request).sign_in.redeem(token)
    _signed_in(request, browser_token, spent_cookie=auth.PRELOGIN_COOKIE)


async def logout(request: web.Request) -> web.StreamResponse:
    web_session = auth.session(request)
    await _services(request).sign_in.end(request.cookies.get(auth.SESSION_COOKIE, ""), actor_id=web_session.actor_id)
    request.app[SESSIONS].clear()
    response = web.HTTPSeeOther("/login")
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    raise response


async def logged_out(request: web.Request) -> web.StreamResponse:
    """``/login`` without a link: how to get one (and Discord's sign-in when configured)."""
    if "t" in request.query:
        return await login_page(request)
    return render(request, "signin.html", oauth=_services(request).discord_sign_in.app is not None)


OAUTH_STATE_COOKIE = "rb_oauth_state"


def _redirect_uri(request: web.Request) -> str:
    return _services(request).config.dashboard.base_url + "/login/discord/callback"


def _discord_refusal(request: web.Request) -> web.Response | None:
    """Signing in with Discord: not found unless the dashboard has an OAuth application, then
    limited per client like the links (see :func:`_throttled`)."""
    if _services(request).discord_sign_in.app is None:
        raise web.HTTPNotFound()
    return _throttled(request)


async def discord_login(request: web.Request) -> web.StreamResponse:
    """"Se connecter avec Discord": off to Discord's consent page with a one-time state."""
    services = _services(request)
    if (refused := _discord_refusal(request)) is not None:
        return refused
    state = secrets.token_urlsafe(24)
    response = web.HTTPSeeOther(services.discord_sign_in.authorize_url(_redirect_uri(request), state))
    auth.set_cookie(request, response, OAUTH_STATE_COOKIE, state, max_age=600)
    raise response


async def discord_callback(request: web.Request) -> web.StreamResponse:
    services = _services(request)
    if (refused := _discord_refusal(request)) is not None:
        return refused
    state, expected = request.query.get("state", ""), request.cookies.get(OAUTH_STATE_COOKIE, "")
    code = request.query.get("code", "")
    if not expected or not secrets.compare_digest(state, expected) or not code:
        raise OAuthRefused()
    browser_token, _ = await services.discord_sign_in.complete(code, _redirect_uri(request), _http_client(request))
    _signed_in(request, browser_token, spent_cookie=OAUTH_STATE_COOKIE)


def _http_client(request: web.Request):
    """The process's ``httpx`` client, else one the application keeps (closed with it)."""
    services = _services(request)
    if services.http_client is not None:
        return services.http_client
    holder = request.app[HTTP_CLIENT]
    if holder.get("client") is None:
        import httpx

        holder["client"] = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
    return holder["client"]


async def switch_lang(request: web.Request) -> web.StreamResponse:
    lang = request.match_info["lang"]
    if lang not in LANGUAGES:
        raise web.HTTPNotFound()
    back = request.query.get("next", "/")
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = "/"
    response = web.HTTPSeeOther(back)
    auth.set_cookie(request, response, LANG_COOKIE, lang, max_age=365 * 86400)
    raise response


# ---------------------------------------------------------------------------- pages
async def overview(request: web.Request) -> web.StreamResponse:
    services = _services(request)

    async def context() -> dict[str, Any]:
        return {"overview": await services.dashboard.overview(),
                "planned": await services.calendar.upcoming(limit=15)}

    return await cached_page(request, (), "overview.html", context)


async def polls(request: web.Request) -> web.StreamResponse:
    return render(request, "polls.html", polls=await cached(request, ("polls",), _services(request).dashboard.polls))


async def _results(request: web.Request):
    services = _services(request)
    poll_id = _int(request.match_info["id"])
    lang = lang_of(request)

    async def load():
        results = await services.polls.results(poll_id, text_limit=50)
        services.dashboard.check_poll(results.poll)
        return await services.postings.results_in(results, lang)  # a poll posted in several languages

    return await cached(request, ("poll", poll_id, lang), load)


async def poll_page(request: web.Request) -> web.StreamResponse:
    services = _services(request)
    lang = lang_of(request)

    async def context() -> dict[str, Any]:
        results = await _results(request)
        channels = await services.postings.by_channel(results.poll)
        return {
            "results": results, "tables": [services.polls.type_table(q, lang) for q in results.questions],
            "channels": channels, "postings": [c.posting for c in channels if c.posting is not None],
            "campaign": await services.campaigns.name_of(results.poll.campaign_id),
            "type_label": lambda code: services.polls.member_type_label(code, lang),
        }

    return await cached_page(request, (), "poll.html", context)


async def poll_chart(request: web.Request) -> web.StreamResponse:
    results = await _results(request)
    number = _int(request.match_info["n"])
    if number > len(results.questions):
        raise web.HTTPNotFound()
    question = results.questions[number - 1]
    if not question.options:
        raise web.HTTPNotFound()
    lang = lang_of(request)
    labels = [o.label for o in question.options]
    if question.options[0].mean_rank is not None or any(o.mean_rank is not None for o in question.options):
        png = await asyncio.to_thread(
            charts.mean_rank_chart, question.question.text, labels, [o.mean_rank for o in question.options],
            [o.first for o in question.options], lang=lang, respondents=question.respondents)
    else:
        png = await asyncio.to_thread(
            charts.results_chart, question.question.text, labels, [o.count for o in question.options],
            lang=lang, respondents=max(question.respondents, max((o.count for o in question.options), default=0)))
    # in the page's language (the switch's cookie, else Accept-Language): the browser keeps one per language
    return web.Response(body=png, content_type="image/png",
                        headers={"Cache-Control": "private, max-age=30", "Vary": "Cookie, Accept-Language"})


async def campaigns(request: web.Request) -> web.StreamResponse:
    return render(request, "campaigns.html", campaigns=await _services(request).campaigns.list(limit=100))


async def campaign_page(request: web.Request) -> web.StreamResponse:
    services = _services(request)
    campaign_id = _int(request.match_info["id"])
    page = await cached(request, ("campaign", campaign_id), lambda: services.dashboard.campaign(campaign_id))
    lang = lang_of(request)
    return render(request, "campaign.html", page=page,
                  type_label=lambda code: services.polls.member_type_label(code, lang))


async def audit(request: web.Request) -> web.StreamResponse:
    services, lang, renderer = _services(request), lang_of(request), request.app[RENDERER]
    lines = [audit_line(entry, services.catalogue, lang, when=lambda value: renderer.when(value, lang))
             for entry in await services.dashboard.audit()]
    return render(request, "audit.html", entries=lines)


# ---------------------------------------------------------------------------- exports
async def exports_page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.StreamResponse:
    services = _services(request)
    return render(request, "exports.html", status=status, error=error,
                  polls=await services.dashboard.polls(limit=200),
                  campaigns=await services.campaigns.list(limit=100),
                  formats=FORMATS, layouts=LAYOUTS, headings=HEADINGS)


async def export_download(request: web.Request) -> web.StreamResponse:
    services = _services(request)
    form = request[FORM_KEY]
    web_session = auth.session(request)
    scope = str(form.get("scope", ""))
    kind, _, ident = scope.partition(":")
    poll_id = campaign = None
    if kind == "poll":
        poll = await services.polls.get(_int(ident))
        services.dashboard.check_poll(poll)
        poll_id = poll.id
    elif kind == "campaign":
        campaign = await services.campaigns.name_of(_int(ident))
        if campaign is None:
            raise NotFound("dashboard.error.no_campaign")
    else:
        raise InvalidInput("dashboard.error.export_scope")
    identified = form.get("identified") == "yes"
    request_ = ExportRequest(
        poll_id=poll_id, campaign=campaign, format=str(form.get("format", "csv")),
        layout=str(form.get("layout", "long")), headings=str(form.get("headings", "codes")),
        separator=";" if form.get("separator") == ";" else ",", identified=identified,
        lang=lang_of(request), actor_id=web_session.actor_id,
    )
    if identified and not await _identifiable(services, poll_id, campaign):
        raise Forbidden("dashboard.error.identified_anonymous")
    from bot.services.exports.worker import export_to_path_in_worker  # loads at the first export

    with tempfile.TemporaryDirectory(prefix="reseau-export-") as folder:
        # written in a worker process, as /export's (the dashboard may share the bot's loop:
        # ``run --web``), zipped in a thread, then sent from the disk a piece at a time
        name = Path(folder) / _filename(request_)
        result = await export_to_path_in_worker(services.exports, request_, name)
        if len(result.files) == 1:
            path, content_type = result.files[0], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            path, content_type = name.with_suffix(".zip"), "application/zip"
            await asyncio.to_thread(_zip, path, result.files)
        response = web.StreamResponse(headers={
            "Content-Type": content_type, "Content-Length": str(path.stat().st_size),
            "Content-Disposition": f'attachment; filename="{path.name}"'})
        await response.prepare(request)
        with path.open("rb") as file:
            while chunk := await asyncio.to_thread(file.read, _CHUNK):
                await response.write(chunk)
        await response.write_eof()
        return response


_CHUNK = 1 << 20


def _zip(path: Path, files: tuple[Path, ...]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in files:
            archive.write(file, file.name)


async def _identifiable(services, poll_id: int | None, campaign: str | None) -> bool:
    """Identified data only for polls that are not anonymous (every poll of a campaign)."""
    if poll_id is not None:
        return not (await services.polls.get(poll_id)).anonymous
    campaign_id = await services.campaigns.resolve(campaign)
    page = await services.dashboard.campaign(campaign_id)
    return bool(page.polls) and not any(line.poll.anonymous for line in page.polls)


def _filename(request: ExportRequest) -> str:
    scope = f"poll-{request.poll_id}" if request.poll_id is not None else "campaign"
    ext = {"csv": "csv", "xlsx": "xlsx", "json": "jsonl"}[request.format]
    return f"export-{scope}-{request.layout}.{ext}"


# ---------------------------------------------------------------------------- extracts
async def extracts_page(request: web.Request, *, message: str | None = None, error: str | None = None,
                        status: int = 200) -> web.StreamResponse:
    services = _services(request)
    queues = await extracts.queues(services.sessions)
    return render(request, "extracts.html", status=status, queues=queues, message=message, error=error)


async def extract_page(request: web.Request) -> web.StreamResponse:
    services = _services(request)
    extract = await extracts.get_extract(services.sessions, _int(request.match_info["id"]))
    messages = render_extract(extract, lang=extract.lang, catalogue=services.catalogue)
    lang = lang_of(request)
    # after an upload that replaced the queued extract of the same file name: said on the page
    replaced = request.query.get("replaced") == "1" and extract.status == extracts.EXTRACT_QUEUED
    return render(request, "extract.html", extract=extract, messages=messages,
                  button=report_button_label(extract.lang, services.catalogue),
                  can_publish=services.dashboard.can_publish(services.publisher),
                  message=services.catalogue.t("dashboard.extracts.replaced", lang) if replaced else None)


def _kept_message(services, lang: str, name: str, kept: extracts.KeptExtract) -> str:
    """Why an upload was not imported: its file name's extract has left the queue."""
    extract, path = kept.extract, Path(name)
    suggestion = f"{path.stem}-{kept.month or 2}{path.suffix}"
    key = "dashboard.extracts.kept_skipped" if kept.skipped else "dashboard.extracts.kept_published"
    return services.catalogue.t(key, lang, file=name, id=extract.id, title=extract.title, suggestion=suggestion,
                                month=services.catalogue.iso_month(extract.month, lang))


async def extract_upload(request: web.Request) -> web.StreamResponse:
    from bot.services.extract_sources import MAX_FILE_BYTES, TEXT_MAX  # the parsers: at the first upload

    services = _services(request)
    form = request[FORM_KEY]
    upload = form.get("file")
    lang = lang_of(request)
    if not isinstance(upload, web.FileField) or not upload.filename:
        return await extracts_page(request, error=services.catalogue.t("dashboard.extracts.no_file", lang), status=400)
    name = Path(upload.filename.replace("\\", "/")).name
    if not name.lower().endswith((".md", ".markdown")):
        return await extracts_page(request, error=services.catalogue.t("dashboard.extracts.not_markdown", lang),
                                   status=400)
    data = upload.file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:  # the importer's own limit, said in its words
        error = services.catalogue.t("extract.file_too_large", lang, source=name, kb=MAX_FILE_BYTES // 1024,
                                     total=TEXT_MAX)
        return await extracts_page(request, error=error, status=400)
    with tempfile.TemporaryDirectory(prefix="reseau-upload-") as folder:
        # one folder name for every upload: the same file name uploaded again updates its extract
        path = Path(folder) / "dashboard" / name
        path.parent.mkdir()
        path.write_bytes(data)
        try:
            result = await services.import_extracts(str(path), front_matter_required=True)
        except DomainError as exc:
            return await extracts_page(request, error=describe(exc, services.catalogue, lang), status=400)
    if not result.extracts:  # the file name's extract is published (or skipped): never rewritten
        message = _kept_message(services, lang, name, result.kept[0])
        return await extracts_page(request, error=message, status=409)
    changed(request)
    web_session = auth.session(request)
    await with_audit(services, "extract.upload", web_session.actor_id, [e.id for e in result.extracts], name,
                     replaced=bool(result.updated))
    extract = result.extracts[0]
    raise web.HTTPSeeOther(f"/extracts/{extract.id}?replaced=1" if result.updated else f"/extracts/{extract.id}")


async def with_audit(services, action: str, actor_id: int, ids: list[int], name: str, *, replaced: bool = False) -> None:
    details: dict[str, Any] = {"file": name[:100]}
    if replaced:
        details["replaced"] = True  # the queued extract of that file name was rewritten
    await services.dashboard.record(action, actor_id=actor_id, target_type="extract",
                                    target_id=",".join(map(str, ids))[:64], details=details)


async def extract_move(request: web.Request) -> web.StreamResponse:
    services = _services(request)
    direction = str(request[FORM_KEY].get("direction", ""))
    if direction not in ("up", "down"):
        raise InvalidInput("dashboard.error.bad_request")
    try:
        await extracts.move(services.sessions, _int(request.match_info["id"]), up=direction == "up",
                            actor_id=auth.session(request).actor_id)
    except Conflict as exc:  # already first (or last) of its queue: the queue, saying so
        return await extracts_page(request, error=describe(exc, services.catalogue, lang_of(request)), status=409)
    changed(request)
    raise web.HTTPSeeOther("/extracts")


async def extract_skip(request: web.Request) -> web.StreamResponse:
    services = _services(request)
    await extracts.skip(services.sessions, _int(request.match_info["id"]), actor_id=auth.session(request).actor_id,
                        guild_id=auth.session(request).guild_id)
    changed(request)
    raise web.HTTPSeeOther("/extracts")


async def extract_publish(request: web.Request) -> web.StreamResponse:
    services = _services(request)
    if not services.dashboard.can_publish(services.publisher):
        raise Conflict("dashboard.error.cannot_publish")
    outcome = await extracts.publish_extract(
        services.sessions, services.publisher, _int(request.match_info["id"]), now=services.now(),
        actor_id=auth.session(request).actor_id, guild_id=auth.session(request).guild_id,
    )
    changed(request)
    lang = lang_of(request)
    report = outcome.report
    message = services.catalogue.t("dashboard.extracts.published", lang, sent=len(report.sent) + len(report.recovered),
                                   failed=len(report.failed), pending=len(report.pending))
    return await extracts_page(request, message=message)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/login", logged_out)
    r.add_post("/login", login)
    r.add_get("/login/discord", discord_login)
    r.add_get("/login/discord/callback", discord_callback)
    r.add_post("/logout", logout)
    r.add_get("/lang/{lang}", switch_lang)
    r.add_get("/", overview)
    r.add_get("/polls", polls)
    r.add_get("/polls/{id}", poll_page)
    r.add_get("/polls/{id}/chart-{n}.png", poll_chart)
    r.add_get("/campaigns", campaigns)
    r.add_get("/campaigns/{id}", campaign_page)
    r.add_get("/exports", exports_page)
    r.add_post("/exports", export_download)
    r.add_get("/extracts", extracts_page)
    r.add_post("/extracts/upload", extract_upload)
    r.add_get("/extracts/{id}", extract_page)
    r.add_post("/extracts/{id}/move", extract_move)
    r.add_post("/extracts/{id}/skip", extract_skip)
    r.add_post("/extracts/{id}/publish", extract_publish)
    r.add_get("/audit", audit)

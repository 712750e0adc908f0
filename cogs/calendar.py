"""The moderators' calendar on Discord: /calendar (fr /calendrier) list, cancel, postpone;
/poll duplicate, /poll series, /poll template save|use|list|delete; and the posting of what was
planned (``/poll create start:… repeat:…``) when its time comes.

The rules are ``bot/services/calendar.py``'s.  ``duplicate``, ``series`` and the ``template``
group sit under the Polls cog's ``/poll`` group (attached when this cog loads, as
``cogs.campaigns`` does), so this extension loads after ``cogs.polls``.  The calendar's jobs
(``calendar-poll-<plan>``, ``calendar-announce-<plan>``, ``calendar-resume-<plan>.<occurrence>``)
are declared here with what they do;
the bot's one reconciler rebuilds them from the plans at every READY and after each change.
"""

from __future__ import annotations

import io
import logging
import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from bot.errors import DomainError, InvalidInput, NotFound, describe
from bot.posting import classify_refusal
from bot.services import calendar as service
from bot.services.delivery import describe_failure
from cogs import _text
from cogs._checks import (
    Scope,
    is_moderator,
    moderator_group,
    moderator_only,
    require_moderator,
    require_network,
)
from cogs.polls._common import OPEN_COLOUR, clip, esc, join_lines

if TYPE_CHECKING:
    from bot.client import ReseauBot
    from bot.services.calendar import CalendarEntry, CalendarService
    from bot.services.polls import PollView
    from cogs.polls.commands import Polls

log = logging.getLogger("cogs.calendar")

_ICONS = {
    "extract": "📰", "extract_none": "📰", "announcement": "📣", "recurring_announcement": "🔁📣", "poll": "📊", "series": "🔁📊",
    "reminder": "⏰", "closing": "🔒",
}
_ATTACHED = ("duplicate", "series", "template")  # the /poll sub-commands this cog owns
HISTORY_LIMIT = 50  # recent messages looked at before resending an occurrence's poll
HISTORY_SLACK = timedelta(minutes=2)


class Calendar(commands.Cog):
    calendar = moderator_group(_text.name("calendar"), _text.desc("calendar"))
    template = app_commands.Group(name=_text.name("poll.template"), description=_text.desc("poll.template"))

    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot
        self.service: CalendarService = bot.services.calendar
        self._attached: list[app_commands.Command[Any, ..., Any] | app_commands.Group] = []

    def t(self, key: str, lang: str, /, **params: Any) -> str:
        return self.bot.t(key, lang, **params)

    @property
    def polls(self) -> Polls:
        cog = self.bot.get_cog("Polls")
        if cog is None:
            raise RuntimeError("the calendar posts polls through the Polls cog: load cogs.polls first")
        return cog  # type: ignore[return-value]

    # ---------------------------------------------------------------- loading
    async def cog_load(self) -> None:
        """Attach duplicate, series and template under ``/poll``; declare the calendar's jobs."""
        group = self.polls.poll
        order = [self._base(n) for n in _ATTACHED]
        mine = sorted((c for c in self.__cog_app_commands__ if c.name in order), key=lambda c: order.index(c.name))
        for command in mine:
            if group.get_command(command.name) is not None:
                group.remove_command(command.name)
            group.add_command(command)
        self._attached = mine
        self.__cog_app_commands__ = [c for c in self.__cog_app_commands__ if c not in mine]
        self.bot.schedule.declare(
            service.feature(poll=self.run_poll, announce=self.run_announcement, resume=self.resume_poll)
        )

    async def cog_unload(self) -> None:
        polls = self.bot.get_cog("Polls")  # gone first when the bot closes: nothing to detach
        for command in self._attached:
            if polls is not None and polls.poll.get_command(command.name) is command:  # type: ignore[attr-defined]
                polls.poll.remove_command(command.name)  # type: ignore[attr-defined]
        self.bot.schedule.withdraw(service.FEATURE)

    @staticmethod
    def _base(key: str) -> str:
        return str(_text.name(f"poll.{key}").message)

    async def reschedule(self) -> None:
        """After a plan changes: the calendar's jobs rebuilt from the rows (no catch-up)."""
        await self.bot.reconcile_jobs(service.FEATURE, catch_up=False)

    # ---------------------------------------------------------------- the jobs
    async def run_poll(self, plan_id: int) -> None:
        """A planned poll's time: post it (once: the service claims the occurrence)."""
        try:
            outcome = await self.service.run_poll(plan_id, self.post_occurrence)
        except Exception:
            log.exception("planned poll %s failed", plan_id)
            return
        await self._report(plan_id, outcome)
        await self.reschedule()

    async def resume_poll(self, plan_id: int, occurrence: datetime) -> None:
        """An occurrence claimed by a process that died before posting it (READY's catch-up)."""
        try:
            outcome = await self.service.resume_poll(plan_id, occurrence, self.post_occurrence)
        except Exception:
            log.exception("resuming planned poll %s (%s) failed", plan_id, occurrence.isoformat())
            return
        await self._report(plan_id, outcome)

    async def _report(self, plan_id: int, outcome: service.RunOutcome | None) -> None:
        if outcome is not None and outcome.error is not None:
            lang = self.bot.config.bot.language
            await self._tell_moderators(self.t(
                "calendar.run_failed", lang, ref=f"plan-{plan_id}",
                when=self.service.local(outcome.occurrence_at), reason=clip(self._said(outcome, lang), 300),
            ))

    def _said(self, outcome: service.RunOutcome, lang: str) -> str:
        """Why a run failed, in the moderators' language (never a catalogue key or Discord's English)."""
        cause, catalogue = outcome.cause, self.bot.services.catalogue
        if isinstance(cause, DomainError):
            said = describe(cause, catalogue, lang)
            if isinstance(cause.__cause__, discord.HTTPException):  # Discord's refusal: its reason too
                said += " — " + describe_failure(classify_refusal(cause.__cause__).reason, catalogue, lang)
            return said
        return describe_failure(outcome.error, catalogue, lang)

    async def post_occurrence(self, poll: PollView, nonce: str, maybe_sent: bool) -> int:
        """Post an occurrence's poll (already stored) in its channel with ``nonce`` — unless an
        earlier attempt did (``maybe_sent``: the bot's recent messages there are looked at
        first) — then attach the message, record the posting and schedule its deadline.
        Raises ``poll.error.no_channel`` when Discord refuses the message."""
        message_id = poll.message_id
        if message_id is None and maybe_sent:
            message_id = await self._find_posted(poll, nonce)
        if message_id is None:
            poll = await self.service.shift_unposted(poll)  # resumed late: open as long as planned
            channel = self.bot.get_partial_messageable(poll.channel_id, guild_id=poll.guild_id)
            hours = 1
            if poll.deadline_at is not None:
                hours = max(1, math.ceil((poll.deadline_at - self.service.clock()).total_seconds() / 3600))
            try:
                message_id = (await self.polls.messages.post(poll, channel, hours, nonce=nonce)).id
            except discord.HTTPException as exc:
                log.warning("could not post planned poll %s in %s: %s", poll.id, poll.channel_id, exc)
                raise DomainError("poll.error.no_channel") from exc
        if poll.message_id is None:
            poll = await self.polls.service.attach_message(poll.id, message_id)
        await self.polls.messages.postings.record_first(poll)
        self.polls.jobs.schedule(poll)
        return message_id

    async def _find_posted(self, poll: PollView, nonce: str) -> int | None:
        """The bot's message of ``poll`` among the channel's recent ones: its nonce (when
        Discord echoes it), else its components (their custom_ids carry the poll's id) or, for
        a native poll, its question posted since the poll was written."""
        view = self.polls.messages.components(poll)
        wanted = {getattr(item, "custom_id", None) for item in (view.children if view else ())} - {None}
        since = poll.created_at - HISTORY_SLACK
        channel = self.bot.get_channel(poll.channel_id) or await self.bot.fetch_channel(poll.channel_id)
        me = self.bot.user.id if self.bot.user else None
        async for message in channel.history(limit=HISTORY_LIMIT):  # type: ignore[union-attr]
            if message.author.id != me:
                continue
            if message.nonce is not None and str(message.nonce) == nonce:
                return message.id
            ids = {getattr(child, "custom_id", None) for row in message.components
                   for child in getattr(row, "children", ())}
            if wanted & ids:
                return message.id
            if poll.native and message.poll is not None and message.poll.question == poll.question \
                    and message.created_at >= since:
                return message.id
        return None

    async def run_announcement(self, plan_id: int) -> None:
        """A recurring announcement's occurrence (once; delivered through the outbox)."""
        try:
            await self.service.run_announcement(plan_id, self.bot.services.publisher)
        except Exception:
            log.exception("recurring announcement %s failed", plan_id)
            return
        await self.reschedule()

    async def _tell_moderators(self, text: str) -> None:
        publisher = self.bot.services.publisher
        if not publisher.modlog_channel_id:
            return
        try:
            await publisher.sender.notify(publisher.modlog_channel_id, text[:2000])
        except Exception:
            log.exception("could not tell the moderators' log")

    # ---------------------------------------------------------------- planning (/poll create start:…)
    def channel_lang(self, channel_id: int, default: str) -> str:
        """A poll posted in a network channel speaks the channel's language."""
        for channel in self.bot.config.channels:
            if channel.channel_id == channel_id:
                return channel.language
        return default

    async def plan_from_create(
        self, interaction: discord.Interaction, *, start: str | None, repeat: str | None, payload: dict[str, Any]
    ) -> None:
        """``/poll create`` with a start or a repetition: stored as a plan, posted at its time."""
        require_moderator(interaction)
        lang = self.bot.lang(interaction)
        channel_id = interaction.channel_id or 0
        payload = {**payload, "lang": self.channel_lang(channel_id, payload.get("lang") or lang)}
        plan = await self.service.plan_poll(
            guild_id=interaction.guild_id or 0, channel_id=channel_id, author_id=interaction.user.id,
            payload=payload, start=start, repeat=repeat,
        )
        await self.reschedule()
        await interaction.response.send_message(self.planned_text(plan, lang), ephemeral=True)

    def planned_text(self, plan: service.PlanView, lang: str) -> str:
        when = self.service.local(plan.start_at)
        tz = self.bot.config.bot.timezone
        if plan.recurrence:
            return self.t("calendar.planned_series", lang, ref=plan.ref, when=when, tz=tz,
                          rule=self.rule_text(plan.recurrence, lang), title=esc(clip(plan.title, 200))) \
                + self.moved_text(plan, lang) + self.then_text(plan, lang) \
                + " " + self.t("calendar.cancel_series", lang)
        return self.t("calendar.planned", lang, ref=plan.ref, when=when, tz=tz, title=esc(clip(plan.title, 200)))

    def moved_text(self, plan: service.PlanView, lang: str) -> str:
        """Why the first post is not the start typed (« lundi 9 h » with every Thursday): the
        series begins on its rule's first time from it."""
        if plan.typed_at is None:
            return ""
        return " " + self.t("calendar.moved_to_rule", lang, typed=self.service.local(plan.typed_at))

    def then_text(self, plan: service.PlanView, lang: str) -> str:
        """The series' next two occurrences in words (« puis jeudi 10 décembre à 9 h et … »),
        so that a rule read otherwise than meant shows at once."""
        then = self.service.following(plan, 2)
        if len(then) < 2:
            return ""
        tz, now = self.bot.config.tz, self.service.clock()
        first, second = (self.bot.catalogue.moment(w, lang, now=now, tz=tz) for w in then)
        return " " + self.t("calendar.then", lang, first=first, second=second)

    def rule_text(self, recurrence: str, lang: str) -> str:
        if recurrence in ("weekly", "monthly"):
            return self.t(f"calendar.rule.{recurrence}", lang)
        return self.t("calendar.rule.cron", lang, cron=recurrence)

    async def planned_polls_field(self, embed: discord.Embed, guild_id: int, lang: str) -> None:
        """``/poll list``: the polls planned for later on this server, with their reference."""
        plans = await self.service.plans(guild_id=guild_id, kind=service.KIND_POLL)
        if not plans:
            return
        lines = [
            f"`{p.ref}` · {self.service.local(p.next_at)} · {esc(clip(p.title, 80))}"  # type: ignore[arg-type]
            + (f" · 🔁 {self.rule_text(p.recurrence, lang)}" if p.recurrence else "")
            + (f" · <#{p.channel_id}>" if p.channel_id else "")
            for p in plans
        ]
        embed.add_field(name=self.t("calendar.planned_field", lang, count=len(plans)), value=join_lines(lines, 1024),
                        inline=False)

    async def series_field(self, embed: discord.Embed, poll_id: int, guild_id: int, lang: str) -> None:
        """``/poll results`` of a series' occurrence: the series, its occurrences' respondents
        side by side, and where the full view is (``/poll series``)."""
        plan = await self.service.series_of(poll_id, guild_id=guild_id)
        if plan is None:
            return
        occurrences = await self.service.series(plan.id, guild_id=guild_id)
        people = " · ".join(
            self.t("calendar.series_people", lang, date=self.service.local(o.occurrence_at)[:10], count=o.respondents)
            for o in occurrences[-6:]
        )
        embed.add_field(
            name=self.t("calendar.series_field", lang, ref=plan.ref, rule=self.rule_text(plan.recurrence or "", lang)),
            value=clip(self.t("calendar.series_field_value", lang, count=len(occurrences), people=people), 1024),
            inline=False,
        )

    async def _post_now_or_plan(
        self, interaction: discord.Interaction, payload: dict[str, Any], *, start: str | None, repeat: str | None,
        done_key: str,
    ) -> None:
        """Re-create a poll from ``payload`` in this channel: now, or planned when a start or a
        repetition is given."""
        if start or repeat:
            await self.plan_from_create(interaction, start=start, repeat=repeat, payload=payload)
            return
        require_network(interaction)
        lang = self.bot.lang(interaction)
        channel = interaction.channel
        if interaction.guild_id is None or not isinstance(channel, discord.abc.Messageable):
            raise InvalidInput("poll.error.no_channel")
        payload = {**payload, "lang": self.channel_lang(channel.id, payload.get("lang") or lang)}  # type: ignore[union-attr]
        draft = self.service.check_poll(
            guild_id=interaction.guild_id, channel_id=channel.id, author_id=interaction.user.id,  # type: ignore[union-attr]
            payload=payload,
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        poll, _message = await self.polls.publish(draft, channel, actor_id=interaction.user.id)
        await interaction.followup.send(await self._created(done_key, poll, lang), ephemeral=True)

    async def _created(self, key: str, poll: PollView, lang: str) -> str:
        """The reply, with the poll's campaign as /poll create's names it."""
        text = self.t(key, lang, id=poll.id, link=self.polls.jump_url(poll), title=esc(clip(poll.title, 200)))
        campaign = await self.polls.campaigns.name_of(poll.campaign_id)
        return text + ("\n" + self.t("campaign.of_poll", lang, name=esc(campaign)) if campaign else "")

    # ================================================================= /calendar
    @staticmethod
    def _scope(interaction: discord.Interaction) -> int | None:
        """Whose plans a moderator sees and changes: every server's for the network's moderators,
        else their own server's (what they could plan there with /poll create)."""
        return None if is_moderator(interaction, Scope.NETWORK) else interaction.guild_id

    @calendar.command(name=_text.name("calendar.list"), description=_text.desc("calendar.list"))
    @moderator_only(Scope.SERVER)
    async def calendar_list(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        entries = await self.service.upcoming(guild_id=self._scope(interaction))
        lines = [self.entry_line(entry, lang) for entry in entries]
        embed = discord.Embed(
            title=self.t("calendar.title", lang, tz=self.bot.config.bot.timezone),
            description=join_lines(lines, 4096) if lines else self.t("calendar.empty", lang),
            colour=OPEN_COLOUR,
        )
        embed.set_footer(text=self.t("calendar.footer", lang))
        await interaction.followup.send(embed=embed, ephemeral=True)

    def entry_line(self, entry: CalendarEntry, lang: str) -> str:
        what = self.t(f"calendar.what.{entry.what}", lang)
        parts = [f"{_ICONS.get(entry.what, '•')} {self.service.local(entry.when)}", what]
        if entry.title:
            parts.append(self.t("calendar.quoted", lang, title=esc(clip(entry.title, 80))))
        if entry.channel_id:
            parts.append(f"<#{entry.channel_id}>")
        if entry.recurrence:
            parts.append(f"🔁 {self.rule_text(entry.recurrence, lang)}")
        if entry.ref:
            parts.append(f"`{entry.ref}`")
        return " · ".join(parts)

    @calendar.command(name=_text.name("calendar.cancel"), description=_text.desc("calendar.cancel"))
    @_text.options(ref="calendar.opt.ref")
    @moderator_only(Scope.SERVER)
    async def calendar_cancel(self, interaction: discord.Interaction, ref: app_commands.Range[str, 1, 40]) -> None:
        lang = self.bot.lang(interaction)
        what = await self.service.cancel(ref, actor_id=interaction.user.id, guild_id=self._scope(interaction))
        await self.bot.reconcile_jobs(service.FEATURE, "announcement", catch_up=False)
        await interaction.response.send_message(
            self.t(f"calendar.cancelled.{what}", lang, ref=ref.strip()),
            ephemeral=True,
        )

    @calendar.command(name=_text.name("calendar.postpone"), description=_text.desc("calendar.postpone"))
    @_text.options(ref="calendar.opt.ref", when="calendar.opt.when")
    @moderator_only(Scope.SERVER)
    async def calendar_postpone(
        self, interaction: discord.Interaction, ref: app_commands.Range[str, 1, 40],
        when: app_commands.Range[str, 1, 60],
    ) -> None:
        lang = self.bot.lang(interaction)
        moved = await self.service.postpone(ref, when, actor_id=interaction.user.id, guild_id=self._scope(interaction))
        await self.bot.reconcile_jobs(service.FEATURE, "announcement", "poll", catch_up=False)
        if (poll_id := self.service.poll_of(ref)) is not None:
            self.polls.schedule_refresh(poll_id)  # its message shows the new closing
        await interaction.response.send_message(
            self.t("calendar.postponed", lang, ref=ref.strip(), when=self.service.local(moved),
                   tz=self.bot.config.bot.timezone),
            ephemeral=True,
        )

    @calendar_cancel.autocomplete("ref")
    @calendar_postpone.autocomplete("ref")
    async def _ref_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        if not is_moderator(interaction):
            return []
        lang = self.bot.lang(interaction)
        typed = current.strip().lower()
        choices = []
        for entry in await self.service.upcoming(guild_id=self._scope(interaction)):
            if entry.ref is None or (typed and typed not in entry.ref and typed not in entry.title.lower()):
                continue
            label = f"{entry.ref} · {self.service.local(entry.when)} · {self.t(f'calendar.what.{entry.what}', lang)} · {entry.title}"
            choices.append(Choice(name=clip(label, 100), value=entry.ref))
        return choices[:25]

    # ================================================================= /poll duplicate, /poll series
    @app_commands.command(name=_text.name("poll.duplicate"), description=_text.desc("poll.duplicate"))
    @_text.options(poll_id="poll.opt.poll", deadline="poll.opt.deadline", start="poll.opt.start",
                   repeat="poll.opt.repeat")
    @moderator_only()
    async def duplicate(
        self, interaction: discord.Interaction, poll_id: int, deadline: str | None = None,
        start: str | None = None, repeat: str | None = None,
    ) -> None:
        payload = await self.service.duplicate_payload(poll_id, guild_id=interaction.guild_id or 0)
        payload["deadline"] = deadline
        payload["campaign_id"] = await self.polls.campaigns.resolve(None)  # the current one, as /poll create
        await self._post_now_or_plan(interaction, payload, start=start, repeat=repeat, done_key="calendar.duplicated")

    @app_commands.command(name=_text.name("poll.series"), description=_text.desc("poll.series"))
    @_text.options(poll_id="poll.opt.poll", layout="poll.opt.layout")
    @app_commands.choices(layout=[
        Choice(name=_text.name("poll.layout.long"), value="long"),
        Choice(name=_text.name("poll.layout.wide"), value="wide"),
    ])
    @moderator_only()
    async def series(self, interaction: discord.Interaction, poll_id: int, layout: str = "long") -> None:
        """A recurring poll's occurrences side by side (counts per option), with the CSV."""
        lang = self.bot.lang(interaction)
        guild_id = interaction.guild_id or 0
        plan = await self.service.series_of(poll_id, guild_id=guild_id)
        if plan is None:
            raise NotFound("calendar.error.not_series", id=poll_id)
        await interaction.response.defer(ephemeral=True, thinking=True)
        occurrences = await self.service.series(plan.id, guild_id=guild_id)
        lines = []
        for o in occurrences:
            counts = " · ".join(f"{esc(clip(label, 40))} {count}" for _, label, count in o.counts)
            lines.append(self.t("calendar.series_line", lang, when=self.service.local(o.occurrence_at), id=o.poll_id,
                                respondents=o.respondents, counts=counts or "—"))
        embed = discord.Embed(
            title=self.t("calendar.series_title", lang, title=clip(plan.title, 200)),
            description=join_lines(lines, 4096) if lines else self.t("calendar.series_empty", lang),
            colour=OPEN_COLOUR,
        )
        embed.set_footer(text=f"{plan.ref} · {self.rule_text(plan.recurrence or '', lang)}")
        data = (await self.service.series_csv(plan.id, guild_id=guild_id, layout=layout)).encode("utf-8-sig")
        file = discord.File(io.BytesIO(data), filename=f"series-{plan.id}-{layout}.csv")
        await interaction.followup.send(embed=embed, file=file, ephemeral=True)

    @duplicate.autocomplete("poll_id")
    @series.autocomplete("poll_id")
    async def _poll_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[int]]:
        if not is_moderator(interaction):
            return []
        text = "" if current.strip().lstrip("#").isdigit() else current.strip()
        found = await self.bot.services.polls.search(interaction.guild_id or 0, text)
        lang = self.bot.lang(interaction)
        return [
            Choice(name=clip(f"{self.t('format.numbered', lang, id=poll_id)} · {title}", 100), value=poll_id)
            for poll_id, title in found
        ][:25]

    # ================================================================= /poll template
    @template.command(name=_text.name("poll.template.save"), description=_text.desc("poll.template.save"))
    @_text.options(name="poll.opt.template_name", poll_id="poll.opt.poll")
    @moderator_only()
    async def template_save(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100], poll_id: int
    ) -> None:
        lang = self.bot.lang(interaction)
        created = await self.service.save_template(
            name, poll_id, guild_id=interaction.guild_id or 0, actor_id=interaction.user.id
        )
        key = "calendar.template_saved" if created else "calendar.template_replaced"
        await interaction.response.send_message(self.t(key, lang, name=esc(name.strip()), id=poll_id), ephemeral=True)

    @template.command(name=_text.name("poll.template.use"), description=_text.desc("poll.template.use"))
    @_text.options(name="poll.opt.template_name", deadline="poll.opt.deadline", start="poll.opt.start",
                   repeat="poll.opt.repeat")
    @moderator_only()
    async def template_use(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100], deadline: str | None = None,
        start: str | None = None, repeat: str | None = None,
    ) -> None:
        payload = await self.service.template_payload(name, guild_id=interaction.guild_id or 0)
        payload["deadline"] = deadline
        payload["campaign_id"] = await self.polls.campaigns.resolve(None)  # the current one, as /poll create
        await self._post_now_or_plan(interaction, payload, start=start, repeat=repeat, done_key="calendar.from_template")

    @template.command(name=_text.name("poll.template.list"), description=_text.desc("poll.template.list"))
    @moderator_only()
    async def template_list(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        templates = await self.service.templates(guild_id=interaction.guild_id or 0)
        lines = [
            f"**{esc(clip(t.name, 100))}** · {self.bot.services.polls.kind_label(t.kind, lang)} · {esc(clip(t.question, 120))}"
            for t in templates
        ]
        embed = discord.Embed(
            title=self.t("calendar.templates_title", lang),
            description=join_lines(lines, 4096) if lines else self.t("calendar.templates_empty", lang),
            colour=OPEN_COLOUR,
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @template.command(name=_text.name("poll.template.delete"), description=_text.desc("poll.template.delete"))
    @_text.options(name="poll.opt.template_name")
    @moderator_only()
    async def template_delete(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 100]) -> None:
        lang = self.bot.lang(interaction)
        await self.service.delete_template(name, guild_id=interaction.guild_id or 0, actor_id=interaction.user.id)
        await interaction.response.send_message(self.t("calendar.template_deleted", lang, name=esc(name.strip())),
                                                ephemeral=True)

    @template_use.autocomplete("name")
    @template_delete.autocomplete("name")
    async def _template_autocomplete(self, interaction: discord.Interaction, current: str) -> list[Choice[str]]:
        if not is_moderator(interaction):
            return []
        typed = current.strip().casefold()
        names = [t.name for t in await self.service.templates(guild_id=interaction.guild_id or 0)]
        return [Choice(name=clip(n, 100), value=n) for n in names if typed in n.casefold()][:25]


async def setup(bot: ReseauBot) -> None:
    if bot.get_cog("Polls") is None:
        raise RuntimeError("cogs.calendar attaches /poll duplicate and /poll template: load cogs.polls first")
    await bot.add_cog(Calendar(bot))

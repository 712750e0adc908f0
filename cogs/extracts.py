"""/extract (fr /extrait): preview, publish, queue, skip — and the monthly slot.

The slot is an APScheduler cron job (``extract-slot-monthly``) built from
``schedule.extract_cron`` in ``bot.timezone``: the cog declares it
(``bot.services.extracts.feature``) with :meth:`Extracts.run_monthly_slot` and the catch-up
:meth:`Extracts.catch_up`, both idempotent per month, and the bot's one reconciler builds it and
catches up a missed slot.  Once that is done (``schedule_reconciled``) the cog resumes any
pending delivery (a fan-out interrupted by a crash or a restart) and posts due follow-ups.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReseauBot
from bot.errors import DomainError
from bot.services import extracts as service
from bot.services.campaigns import current_campaign_id
from bot.services.delivery import DeliveryReport, extract_post
from cogs import _text
from cogs._checks import Scope, moderator_group, moderator_only, require_moderator
from cogs._components import ActionButton
from cogs._errors import message_for, report_error
from cogs._publishing import delivery_counts, outcome_text, send_preview, text

log = logging.getLogger("reseau.extracts")


# At most this many message links under « already posted » (a message stays under 2,000 characters).
MAX_LINKS = 10


def published_text(bot: ReseauBot, lang: str, extract_id: int, report: DeliveryReport) -> str:
    return bot.t("extracts.published", lang, id=extract_id, outcome=outcome_text(bot, lang, report))


def already_delivered_text(
    bot: ReseauBot, lang: str, extract_id: int, title: str, delivered: service.DeliverySummary
) -> str:
    """« L’extrait n° 3 « … » a déjà été publié … : 2 salons servis, hier à 10 h. » and a link
    to each posted message."""
    outcome = delivery_counts(bot, lang, len(delivered.sent), delivered.failed, delivered.pending)
    if delivered.last_sent_at is not None:
        when = bot.catalogue.moment(delivered.last_sent_at, lang, now=bot.clock(), tz=bot.config.tz)
        outcome = bot.t("extracts.delivered_at", lang, outcome=outcome, when=when)
    lines = [bot.t("extracts.already_delivered", lang, id=extract_id, title=title, outcome=outcome)]
    copies = [c for c in delivered.sent if c.message_id is not None]
    lines += [
        bot.t("extracts.link_line", lang, link=bot.config.discord.message_url(c.guild_id, c.channel_id, c.message_id))
        for c in copies[:MAX_LINKS]
    ]
    if len(copies) > MAX_LINKS:
        lines.append(bot.t("delivery.failed_more", lang, count=len(copies) - MAX_LINKS))
    return "\n".join(lines)[:2000]


class ExtractButton(ActionButton, template=r"rb:extract:(?P<action>publish|dismiss):(?P<id>[0-9]+)"):
    """Confirm / cancel under ``/extract publish``; works after a restart (state in the id)."""

    prefix = "rb:extract"

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ReseauBot = interaction.client  # type: ignore[assignment]
        lang = bot.lang(interaction)
        try:
            require_moderator(interaction, Scope.NETWORK)
            if self.action == "dismiss":
                await interaction.response.edit_message(content=bot.t("extracts.dismissed", lang), view=None)
                return
            cog = bot.get_cog("Extracts")
            assert isinstance(cog, Extracts)
            await interaction.response.edit_message(content=bot.t("extracts.publishing", lang), view=None)
        except Exception as error:  # the one error path, for a button as for a command
            await report_error(interaction, error)
            return
        # « Publication en cours… » is now shown: whatever happens, it is replaced by the outcome.
        try:
            try:
                outcome = await cog.publish(
                    self.record_id, actor_id=interaction.user.id, guild_id=interaction.guild_id,
                    channel_id=interaction.channel_id,
                )
                text_ = published_text(bot, lang, self.record_id, outcome.report)
            except service.AlreadyDelivered as done:  # posted meanwhile (another moderator, the slot)
                text_ = already_delivered_text(bot, lang, done.extract_id, done.title, done.delivered)
        except Exception as error:
            text_ = message_for(bot, lang, error)
        try:
            await interaction.edit_original_response(content=text_)
        except discord.HTTPException as error:
            await report_error(interaction, error)


class Extracts(commands.Cog):
    extract = moderator_group(_text.name("extract"), _text.desc("extract"))

    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot
        self._slot_lock = asyncio.Lock()

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ExtractButton)
        self.bot.schedule.declare(service.feature(slot=self.run_monthly_slot, catch_up=self.catch_up))

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ExtractButton)
        self.bot.schedule.withdraw(service.FEATURE)

    # ---------------------------------------------------------------- start-up and schedule
    @commands.Cog.listener()
    async def on_schedule_reconciled(self) -> None:
        """The jobs are rebuilt and a missed slot caught up (when the gateway is ready, after a
        reconfigure): resume interrupted deliveries and post due follow-ups.  Not a task waiting
        for READY: close() waits for tracked tasks, and one stuck before READY would hold it 30 s."""
        self.bot.track(self._after_ready(), name="extracts-startup")

    async def _after_ready(self) -> None:
        try:
            resume, followups = await service.work_at_ready(self.bot.services.plain)
        except Exception:
            log.exception("could not read the start-up's work; resuming everything")
            resume = followups = True
        if resume:
            try:
                await self.bot.services.publisher.deliver()
            except Exception:
                log.exception("start-up resume of deliveries failed")
        if followups or resume:  # also those of posts made meanwhile by `extracts publish`
            await self.post_followups()

    async def post_followups(self) -> int:
        """Post each published extract's follow-up question as a poll, in every channel that
        received the extract, in the current campaign — one poll for the month's question, with
        one posting per channel in the channel's language (an extract's version in another
        language gives that language's wording) — once per extract and channel: each
        posting is claimed in the database first (``service.post_followups``), so a restart, a
        second call or a second process on the same database posts nothing twice."""
        polls = self.bot.get_cog("Polls")
        if polls is None:
            return 0
        languages = {c.channel_id: c.language for c in self.bot.config.channels}
        campaign: list[int | None] = []  # read once, at the first posting

        async def post(item: service.FollowUp) -> int:
            lang = languages.get(item.channel_id, self.bot.config.bot.language)
            postings = self.bot.services.postings
            month_poll = await postings.month_poll(item.extract_id)
            claimed = False
            if month_poll is None:  # one poll for the month's question, whichever process creates it
                claimed, existing = await postings.claim_month_poll(item.extract_id)
                if not claimed and existing is None:  # being created elsewhere: due again at the next pass
                    raise DomainError("poll.error.no_channel")
            if month_poll is not None:  # one question: one more posting of the month's poll
                return await polls.add_posting(month_poll, item.guild_id, item.channel_id, lang,
                                               question=item.question, options=item.options)
            try:
                poll_id = await create(item, lang)
            except BaseException:
                if claimed:  # released: the month's poll is due again
                    await postings.month_poll_posted(item.extract_id, None)
                raise
            if claimed:
                await postings.month_poll_posted(item.extract_id, poll_id)
            return poll_id

        async def create(item: service.FollowUp, lang: str) -> int:
            if not campaign:
                campaign.append(await current_campaign_id(self.bot.sessions))
            channel = self.bot.get_channel(item.channel_id) or await self.bot.fetch_channel(item.channel_id)
            draft = self.bot.services.polls.prepare(
                guild_id=item.guild_id, channel_id=item.channel_id, author_id=self.bot.user.id,
                question=item.question, kind=item.kind, options=list(item.options) or None,
                lang=lang, campaign_id=campaign[0], extract_id=item.extract_id,
            )
            poll, _ = await polls.publish(draft, channel)
            return poll.id

        return await service.post_followups(self.bot.sessions, post, now=self.bot.clock)

    async def run_monthly_slot(self, now: datetime | None = None) -> service.PublishOutcome | None:
        """The cron job's body: publish the slot's month once (``now`` defaults to the bot's clock)."""
        now = now or self.bot.clock()
        async with self._slot_lock:
            outcome = await service.run_slot(
                self.bot.sessions, self.bot.services.publisher, month=service.month_of(now, self.bot.config.tz), now=now
            )
        if outcome is None:
            log.info("monthly slot: %s already handled", service.month_of(now, self.bot.config.tz))
        await self.post_followups()
        return outcome

    async def catch_up(self, now: datetime | None = None) -> service.PublishOutcome | None:
        now = now or self.bot.clock()
        async with self._slot_lock:
            outcome = await service.catch_up(self.bot.sessions, self.bot.services.publisher, self.bot.config, now=now)
        if outcome is not None:
            log.info("catch-up published %d extract(s)", len(outcome.extracts))
            await self.post_followups()
        return outcome

    async def publish(self, extract_id: int | None, **who) -> service.PublishOutcome:
        outcome = await service.publish_extract(
            self.bot.sessions, self.bot.services.publisher, extract_id, now=self.bot.clock(), **who
        )
        await self.post_followups()
        return outcome

    # ---------------------------------------------------------------- commands
    def _channel_lang(self, interaction: discord.Interaction) -> str:
        """The language of the network channel the command is used in, else the moderator's."""
        for channel in self.bot.config.channels:
            if channel.channel_id == interaction.channel_id:
                return channel.language
        return self.bot.lang(interaction)

    async def _post_for(self, extract, guild_id: int | None):
        """The extract as members of this server will see it (their channel's role mention)."""
        async with self.bot.sessions() as session:
            channels = await service.target_channels(session, extract.lang)
        here = [c for c in channels if c.guild_id == guild_id] or channels
        role = here[0].mention_role_id if here else None
        return extract_post(extract, catalogue=self.bot.catalogue, mention_role_id=role, guild_id=guild_id or 0)

    @extract.command(name=_text.name("extract.preview"), description=_text.desc("extract.preview"))
    @app_commands.describe(id=text("extracts.param_id"))
    @moderator_only(Scope.NETWORK)
    async def preview(self, interaction: discord.Interaction, id: app_commands.Range[int, 1] | None = None) -> None:
        extract = await service.extract_or_next(self.bot.sessions, id, lang=self._channel_lang(interaction))
        await send_preview(interaction, await self._post_for(extract, interaction.guild_id))
        if extract.question:
            lang = self.bot.lang(interaction)
            campaign = await self.bot.services.campaigns.current()
            options = "\n".join(f"• {discord.utils.escape_markdown(o)}" for o in extract.question_options or ())
            await interaction.followup.send(self.bot.t(
                "followup.preview", lang, question=discord.utils.escape_markdown(extract.question),
                options=options, campaign=campaign.name if campaign else self.bot.t("followup.no_campaign", lang),
            )[:2000], ephemeral=True)

    @extract.command(name=_text.name("extract.publish"), description=_text.desc("extract.publish"))
    @app_commands.describe(id=text("extracts.param_id"))
    @moderator_only(Scope.NETWORK)
    async def publish_command(self, interaction: discord.Interaction, id: app_commands.Range[int, 1] | None = None) -> None:
        lang = self.bot.lang(interaction)
        plan = await service.plan_publish(self.bot.sessions, id, lang=self._channel_lang(interaction))
        extract = plan.extract
        if plan.already_delivered:  # nothing a confirm button could do: say so at once
            await interaction.response.send_message(
                already_delivered_text(self.bot, lang, extract.id, extract.title, plan.delivered), ephemeral=True
            )
            return
        view = discord.ui.View(timeout=None)
        view.add_item(ExtractButton(
            "publish", extract.id, label=self.bot.t("extracts.confirm_button", lang), style=discord.ButtonStyle.danger
        ))
        view.add_item(ExtractButton("dismiss", extract.id, label=self.bot.t("extracts.dismiss_button", lang)))
        await interaction.response.send_message(
            self.bot.t("extracts.confirm", lang, id=extract.id, title=extract.title,
                       month=self.bot.catalogue.iso_month(extract.month, lang),
                       lang=extract.lang, count=plan.to_post),
            view=view, ephemeral=True,
        )

    @extract.command(name=_text.name("extract.queue"), description=_text.desc("extract.queue"))
    @moderator_only(Scope.NETWORK)
    async def queue(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        t = self.bot.t
        config = self.bot.config
        rows = await service.queue(self.bot.sessions)
        lines = [
            t("extracts.queue_line", lang, id=e.id, month=self.bot.catalogue.iso_month(e.month, lang), lang=e.lang,
              title=e.title[:80])
            for e in rows[:25]
        ] or [t("extracts.queue_empty_line", lang)]
        if len(rows) > 25:
            lines.append("…")
        embed = discord.Embed(title=t("extracts.queue_title", lang), description="\n".join(lines), colour=0x2B6CB0)
        runs = service.next_runs(config, self.bot.clock(), count=1)
        footer = []
        if runs:
            footer.append(t("extracts.queue_next", lang, when=service.format_local(runs[0], config.tz), tz=config.bot.timezone))
        last = await service.last_handled_month(self.bot.sessions)
        if last:
            footer.append(t("extracts.queue_last", lang, month=self.bot.catalogue.iso_month(last, lang)))
        if footer:
            embed.set_footer(text="\n".join(footer))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @extract.command(name=_text.name("extract.skip"), description=_text.desc("extract.skip"))
    @app_commands.describe(id=text("extracts.param_id"))
    @moderator_only(Scope.NETWORK)
    async def skip(self, interaction: discord.Interaction, id: app_commands.Range[int, 1] | None = None) -> None:
        lang = self.bot.lang(interaction)
        extract = await service.skip(
            self.bot.sessions, id, actor_id=interaction.user.id, guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
        )
        await interaction.response.send_message(
            self.bot.t("extracts.skipped", lang, id=extract.id, title=extract.title,
                       month=self.bot.catalogue.iso_month(extract.month, lang)),
            ephemeral=True,
        )


async def setup(bot: ReseauBot) -> None:
    await bot.add_cog(Extracts(bot))


"""/announce (fr /annonce): new (modal → preview → publish now / schedule / cancel), list, cancel.

A scheduled announcement is a database row; the cog declares the announcements' jobs
(``bot.services.announcements.feature``: ``announcement-publish-<id>`` at its time, or
``announcement-miss-<id>`` when it is too late) with what they do here, and the bot's one
reconciler rebuilds them from the rows — at start-up, so schedules survive a restart, and after
each schedule or cancel.  The job re-checks the row (still ``scheduled``) before posting, so a
cancelled one or a second run posts nothing.  Announcements are crossposted in announcement
(news) channels.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReseauBot
from bot.services import announcements as service
from bot.services.calendar import parse_start
from bot.services.delivery import announcement_post, describe_failure
from cogs import _text
from cogs._checks import Scope, moderator_group, moderator_only, require_moderator
from cogs._components import ActionButton
from cogs._errors import ReportingModal, report_error
from cogs._publishing import outcome_text, send_preview, text

if TYPE_CHECKING:
    from storage import models  # annotations only: cogs call services, never the database

log = logging.getLogger("reseau.announcements")


def _summary(bot: ReseauBot, lang: str, outcome: service.AnnouncementOutcome) -> str:
    return bot.t(
        "announce.published", lang, id=outcome.announcement.id, outcome=outcome_text(bot, lang, outcome.report)
    )


def _version_inputs(
    bot: ReseauBot, lang: str, version_lang: str, title: str | None = None, text_: str | None = None,
) -> tuple[discord.ui.TextInput, discord.ui.TextInput]:
    """The title and text in ``version_lang``, the announcement's other language (each channel
    gets its language's version); labelled in ``lang``, the moderator's."""
    other = bot.t(f"announce.lang.{version_lang}", lang)
    return (
        discord.ui.TextInput(
            label=bot.t("announce.field_other_title", lang, lang=other)[:45], custom_id="other_title", required=False,
            max_length=service.TITLE_MAX, default=title,
        ),
        discord.ui.TextInput(
            label=bot.t("announce.field_other_text", lang, lang=other)[:45], custom_id="other_text", required=False,
            style=discord.TextStyle.paragraph, max_length=service.BODY_MAX, default=text_,
        ),
    )


class AnnounceModal(ReportingModal):
    def __init__(
        self, bot: ReseauBot, lang: str, channel_id: int | None, role_id: int | None,
        image: discord.Attachment | None = None,
    ) -> None:
        super().__init__(title=bot.t("announce.modal_title", lang), timeout=900)
        self.bot, self.lang, self.channel_id, self.role_id, self.image = bot, lang, channel_id, role_id, image
        self.title_input = discord.ui.TextInput(
            label=bot.t("announce.field_title", lang), custom_id="title", max_length=service.TITLE_MAX
        )
        self.text_input = discord.ui.TextInput(
            label=bot.t("announce.field_text", lang), custom_id="text", style=discord.TextStyle.paragraph,
            max_length=service.BODY_MAX,
        )
        self.link_input = discord.ui.TextInput(
            label=bot.t("announce.field_link", lang), custom_id="link", required=False, max_length=service.LINK_MAX,
            placeholder="https://…",
        )
        self.other_title, self.other_text = _version_inputs(bot, lang, service.other_language(lang))
        for item in (self.title_input, self.text_input, self.link_input, self.other_title, self.other_text):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        cog = self.bot.get_cog("Announcements")
        assert isinstance(cog, Announcements)
        require_moderator(interaction, Scope.NETWORK)
        assert interaction.guild_id is not None
        image = None
        if self.image is not None:  # downloading it may take a while: "thinking…" first
            await interaction.response.defer(ephemeral=True, thinking=True)
            image = service.check_image(self.image.filename, self.image.content_type, await self.image.read())
        announcement = await service.create_draft(
            self.bot.sessions, guild_id=interaction.guild_id, author_id=interaction.user.id,
            title=self.title_input.value, body=self.text_input.value, link=self.link_input.value,
            target_channel_id=self.channel_id, mention_role_id=self.role_id, lang=self.lang, now=self.bot.clock(),
            other_title=self.other_title.value, other_body=self.other_text.value, image=image,
        )
        await cog.show_preview(interaction, announcement, self.lang)


class EditModal(ReportingModal):
    """``/announce edit``: the announcement's current text, to correct; every delivered copy
    follows."""

    def __init__(self, bot: ReseauBot, lang: str, announcement: models.Announcement) -> None:
        super().__init__(title=bot.t("announce.edit_modal_title", lang, id=announcement.id)[:45], timeout=900)
        self.bot, self.lang, self.announcement_id = bot, lang, announcement.id
        version = (announcement.versions or {}).get(service.other_language(announcement.lang)) or {}
        self.title_input = discord.ui.TextInput(
            label=bot.t("announce.field_title", lang), custom_id="title", max_length=service.TITLE_MAX,
            default=announcement.title,
        )
        self.text_input = discord.ui.TextInput(
            label=bot.t("announce.field_text", lang), custom_id="text", style=discord.TextStyle.paragraph,
            max_length=service.BODY_MAX, default=announcement.body,
        )
        self.link_input = discord.ui.TextInput(
            label=bot.t("announce.field_link", lang), custom_id="link", required=False, max_length=service.LINK_MAX,
            default=announcement.link or None,
        )
        self.other_title, self.other_text = _version_inputs(
            bot, lang, service.other_language(announcement.lang), version.get("title"), version.get("body")
        )
        for item in (self.title_input, self.text_input, self.link_input, self.other_title, self.other_text):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        require_moderator(interaction, Scope.NETWORK)
        await interaction.response.defer(ephemeral=True, thinking=True)
        done = await service.edit(
            self.bot.sessions, self.bot.services.publisher, self.announcement_id, title=self.title_input.value,
            body=self.text_input.value, link=self.link_input.value, other_title=self.other_title.value,
            other_body=self.other_text.value, now=self.bot.clock(), actor_id=interaction.user.id,
            guild_id=interaction.guild_id, channel_id=interaction.channel_id,
        )
        await interaction.followup.send(_corrected(self.bot, self.lang, "announce.edited", done), ephemeral=True)


def _corrected(bot: ReseauBot, lang: str, key: str, done: service.Correction) -> str:
    text_ = bot.t(key, lang, id=done.announcement.id, count=done.done)
    if done.failed:  # each channel with why, in the moderator's language (never Discord's English)
        text_ += "\n" + "\n".join([bot.t("announce.not_corrected", lang), *(
            bot.t("announce.not_corrected_line", lang, channel=f"<#{channel_id}>",
                  reason=describe_failure(reason, bot.catalogue, lang))
            for channel_id, reason in done.failed[:10]
        )])
    return text_[:2000]


class ScheduleModal(ReportingModal):
    def __init__(self, bot: ReseauBot, lang: str, announcement_id: int) -> None:
        super().__init__(title=bot.t("announce.schedule_modal_title", lang), timeout=900)
        self.bot, self.lang, self.announcement_id = bot, lang, announcement_id
        example = (bot.clock() + timedelta(days=1)).astimezone(bot.config.tz).strftime("%Y-%m-%d 09:00")
        self.when_input = discord.ui.TextInput(
            label=bot.t("announce.field_when", lang, tz=bot.config.bot.timezone), custom_id="when", max_length=60,
            placeholder=bot.t("announce.when_placeholder", lang, example=example)[:100],
        )
        self.add_item(self.when_input)
        self.repeat_input = discord.ui.TextInput(
            label=bot.t("announce.field_repeat", lang)[:45], custom_id="repeat", required=False, max_length=100,
        )
        self.add_item(self.repeat_input)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        cog = self.bot.get_cog("Announcements")
        assert isinstance(cog, Announcements)
        require_moderator(interaction, Scope.NETWORK)
        # typed as the calendar's starts (« demain 9 h », « 2026-12-03 09:00 »), as /calendar postpone takes it
        when = parse_start(self.when_input.value, now=self.bot.clock(), tz=self.bot.config.tz)
        if (self.repeat_input.value or "").strip():  # recurring: the calendar posts each occurrence (issue 12)
            await self._recurring(interaction, when)
            return
        announcement = await service.schedule(
            self.bot.sessions, self.announcement_id, when=when, now=self.bot.clock(), actor_id=interaction.user.id,
            guild_id=interaction.guild_id, channel_id=interaction.channel_id,
        )
        await cog.reschedule()
        text_ = self.bot.t(
            "announce.scheduled", self.lang, id=announcement.id,
            when=when.astimezone(self.bot.config.tz).strftime("%Y-%m-%d %H:%M"), tz=self.bot.config.bot.timezone,
        )
        await self._reply(interaction, text_)

    async def _recurring(self, interaction: discord.Interaction, when: datetime) -> None:
        calendar = self.bot.services.calendar
        plan = await calendar.plan_announcement(
            self.announcement_id, when=when, repeat=self.repeat_input.value, actor_id=interaction.user.id,
            guild_id=interaction.guild_id, channel_id=interaction.channel_id,
        )
        await self.bot.reconcile_jobs("calendar", catch_up=False)
        rule = plan.recurrence or ""
        rule_text = self.bot.t(f"calendar.rule.{rule}", self.lang) if rule in ("weekly", "monthly") else (
            self.bot.t("calendar.rule.cron", self.lang, cron=rule)
        )
        cog = self.bot.get_cog("Calendar")
        then = cog.moved_text(plan, self.lang) + cog.then_text(plan, self.lang)  # type: ignore[union-attr]
        await self._reply(interaction, self.bot.t(
            "announce.recurring_planned", self.lang, id=self.announcement_id, ref=plan.ref, rule=rule_text,
            when=calendar.local(plan.start_at), tz=self.bot.config.bot.timezone,  # the rule's first time
        ) + then)

    @staticmethod
    async def _reply(interaction: discord.Interaction, text_: str) -> None:
        if interaction.message is not None:
            await interaction.response.edit_message(content=text_, view=None)
        else:
            await interaction.response.send_message(text_, ephemeral=True)


class AnnounceButton(ActionButton, template=r"rb:announce:(?P<action>publish|schedule|discard):(?P<id>[0-9]+)"):
    """The buttons under an announcement's preview; the id in the custom_id is reloaded and
    checked against the clicking moderator's server at every click."""

    prefix = "rb:announce"

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ReseauBot = interaction.client  # type: ignore[assignment]
        lang = bot.lang(interaction)
        try:
            require_moderator(interaction, Scope.NETWORK)
            cog = bot.get_cog("Announcements")
            assert isinstance(cog, Announcements)
            if self.action == "schedule":
                # Checks first (exists, this server, still a draft), then the modal.
                await service.schedulable(bot.sessions, self.record_id, guild_id=interaction.guild_id)
                await interaction.response.send_modal(ScheduleModal(bot, lang, self.record_id))
            elif self.action == "discard":
                announcement = await service.cancel(
                    bot.sessions, self.record_id, actor_id=interaction.user.id,
                    guild_id=interaction.guild_id, channel_id=interaction.channel_id,
                )
                await cog.reschedule()
                await interaction.response.edit_message(
                    content=bot.t("announce.cancelled", lang, id=announcement.id), embeds=[], view=None
                )
            else:
                await interaction.response.defer()
                outcome = await service.publish(
                    bot.sessions, bot.services.publisher, self.record_id, now=bot.clock(),
                    actor_id=interaction.user.id, guild_id=interaction.guild_id, channel_id=interaction.channel_id,
                )
                assert outcome is not None
                await interaction.edit_original_response(content=_summary(bot, lang, outcome), view=None)
        except Exception as error:
            await report_error(interaction, error)


class Announcements(commands.Cog):
    announce = moderator_group(_text.name("announce"), _text.desc("announce"))

    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(AnnounceButton)
        self.bot.schedule.declare(service.feature(publish=self.run_scheduled, missed=self.run_missed))

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(AnnounceButton)
        self.bot.schedule.withdraw(service.FEATURE)

    # ---------------------------------------------------------------- scheduler
    async def reschedule(self) -> None:
        """After a schedule or a cancel: the announcements' jobs rebuilt from the rows."""
        await self.bot.reconcile_jobs(service.FEATURE, catch_up=False)

    async def run_missed(self, announcement_id: int) -> None:
        """Too late to post (the bot was down past its time and the grace): mark it missed and
        tell the moderators."""
        announcement = await service.mark_missed(self.bot.sessions, announcement_id)
        publisher = self.bot.services.publisher
        if announcement is None or not publisher.modlog_channel_id:
            return
        when = announcement.scheduled_at.astimezone(self.bot.config.tz).strftime("%Y-%m-%d %H:%M")
        try:
            await publisher.sender.notify(publisher.modlog_channel_id, self.bot.t(
                "announce.missed", self.bot.config.bot.language, id=announcement.id,
                title=announcement.title, when=when,
            ))
        except Exception:
            log.exception("could not report missed announcement %d", announcement.id)

    async def run_scheduled(self, announcement_id: int, now: datetime | None = None) -> service.AnnouncementOutcome | None:
        """The date job's body: post the announcement if it is still scheduled (and its time
        has come: one postponed meanwhile gets its job again)."""
        now = now or self.bot.clock()
        try:
            current = await service.get_announcement(self.bot.sessions, announcement_id)
            if current.scheduled_at is not None and current.scheduled_at > now:
                await self.reschedule()  # postponed meanwhile (/calendar, the CLI): its job moves
                return None
            return await service.publish(
                self.bot.sessions, self.bot.services.publisher, announcement_id, now=now, actor_id=None,
                scheduled=True,
            )
        except Exception:
            log.exception("scheduled announcement %d failed", announcement_id)
            return None

    # ---------------------------------------------------------------- commands
    async def show_preview(self, interaction: discord.Interaction, announcement: models.Announcement, lang: str) -> None:
        t = self.bot.t
        if announcement.target_channel_id:
            target = f"<#{announcement.target_channel_id}>"
        else:
            target = t("announce.target_all", lang, count=await service.network_channel_count(self.bot.sessions))
        actions = discord.ui.View(timeout=None)
        actions.add_item(AnnounceButton(
            "publish", announcement.id, label=t("announce.publish_button", lang), style=discord.ButtonStyle.success
        ))
        actions.add_item(AnnounceButton(
            "schedule", announcement.id, label=t("announce.schedule_button", lang), style=discord.ButtonStyle.primary
        ))
        actions.add_item(AnnounceButton("discard", announcement.id, label=t("announce.cancel_button", lang)))
        post = announcement_post(announcement, catalogue=self.bot.catalogue, guild_id=announcement.guild_id)
        await send_preview(interaction, post, header=t("announce.preview_header", lang, target=target), extra=actions)

    @announce.command(name=_text.name("announce.new"), description=_text.desc("announce.new"))
    @app_commands.describe(
        channel=text("announce.param_channel"), role=text("announce.param_role"), image=text("announce.param_image")
    )
    @moderator_only(Scope.NETWORK)
    async def new(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None,
        role: discord.Role | None = None, image: discord.Attachment | None = None,
    ) -> None:
        lang = self.bot.lang(interaction)
        role_id = role.id if role is not None else None
        if image is not None:  # refused before the form is typed (its bytes are checked at submit)
            service.check_image_meta(image.filename, image.content_type, image.size)
        await interaction.response.send_modal(
            AnnounceModal(self.bot, lang, channel.id if channel is not None else None, role_id, image)
        )

    @announce.command(name=_text.name("announce.edit"), description=_text.desc("announce.edit"))
    @app_commands.describe(id=text("announce.param_id"))
    @moderator_only(Scope.NETWORK)
    async def edit(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        lang = self.bot.lang(interaction)
        # refused before the form is typed (a withdrawn or cancelled one); checked again at submit
        announcement = await service.editable(self.bot.sessions, id, guild_id=interaction.guild_id)
        await interaction.response.send_modal(EditModal(self.bot, lang, announcement))

    @announce.command(name=_text.name("announce.withdraw"), description=_text.desc("announce.withdraw"))
    @app_commands.describe(id=text("announce.param_id"))
    @moderator_only(Scope.NETWORK)
    async def withdraw(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        lang = self.bot.lang(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        done = await service.withdraw(
            self.bot.sessions, self.bot.services.publisher, id, actor_id=interaction.user.id,
            guild_id=interaction.guild_id, channel_id=interaction.channel_id,
        )
        await interaction.followup.send(_corrected(self.bot, lang, "announce.withdrawn", done), ephemeral=True)

    @announce.command(name=_text.name("announce.list"), description=_text.desc("announce.list"))
    @moderator_only(Scope.NETWORK)
    async def list_(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        t = self.bot.t
        tz = self.bot.config.tz
        rows = await service.list_scheduled(self.bot.sessions, guild_id=interaction.guild_id)
        everywhere = t("announce.target_all", lang, count=await service.network_channel_count(self.bot.sessions))
        dated = [
            (a.scheduled_at, t("announce.list_line", lang, id=a.id, when=a.scheduled_at.astimezone(tz).strftime(
                "%Y-%m-%d %H:%M"), title=a.title[:80],
                target=f"<#{a.target_channel_id}>" if a.target_channel_id else everywhere))
            for a in rows
        ]
        # recurring announcements are the calendar's plans (issue 12): listed here too, by reference
        recurring = await self.bot.services.calendar.plans(guild_id=interaction.guild_id, kind="announcement")
        for plan in recurring:
            rule = (t(f"calendar.rule.{plan.recurrence}", lang) if plan.recurrence in ("weekly", "monthly")
                    else t("calendar.rule.cron", lang, cron=plan.recurrence))
            dated.append((plan.next_at, t(
                "announce.list_recurring_line", lang, ref=plan.ref, rule=rule, title=plan.title[:80],
                when=plan.next_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if plan.next_at else "—",
                target=f"<#{plan.channel_id}>" if plan.channel_id else everywhere,
            )))
        dated.sort(key=lambda pair: pair[0] or datetime.max.replace(tzinfo=UTC))
        lines = [line for _, line in dated[:25]] or [t("announce.list_empty", lang)]
        if recurring:
            lines.append(t("announce.list_recurring_hint", lang, ref=recurring[0].ref))
        embed = discord.Embed(title=t("announce.list_title", lang), description="\n".join(lines), colour=0xDD6B20)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @announce.command(name=_text.name("announce.cancel"), description=_text.desc("announce.cancel"))
    @app_commands.describe(id=text("announce.param_id"))
    @moderator_only(Scope.NETWORK)
    async def cancel(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        lang = self.bot.lang(interaction)
        announcement = await service.cancel(
            self.bot.sessions, id, actor_id=interaction.user.id, guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
        )
        await self.reschedule()
        await interaction.response.send_message(self.bot.t("announce.cancelled", lang, id=announcement.id), ephemeral=True)


async def setup(bot: ReseauBot) -> None:
    await bot.add_cog(Announcements(bot))

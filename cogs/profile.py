"""/profile (fr /profil), /my-data (fr /mes-donnees), /forget-me (fr /oublier).

The rules live in ``bot/services/profiles.py``; this cog turns them into ephemeral messages.

* ``/profile`` the first time shows the consent notice (what is stored, why, for how long, how to
  delete it) with "I agree" / "No thanks".  Agreeing stores ``consent_at`` and shows a select of
  the configured member types; choosing one stores it at once and opens a modal for the
  organisation and the region or country (both optional).  Later, ``/profile`` shows the profile
  with the same select and a button to edit the organisation and region.
* ``/my-data`` answers with a summary and a JSON file of everything stored about the member: one
  part per feature, from each feature's privacy hook (:mod:`bot.services.privacy`).  A feature
  that could not answer is named, and the file says it is incomplete.
* ``/forget-me`` asks for a confirmation, then every feature's hook deletes or unlinks what it
  holds (the profile; the answers per ``privacy.forget_mode``).  The member is told what was
  removed and, in their language, which part could not be (the moderators' log gets a line);
  then the cog dispatches ``member_forgotten(user_id, result)`` so that the Discord side of a
  feature can follow — the polls refresh the live counts of ``result.poll_ids``
  (``cogs/polls/privacy.py``).

Components are short-lived views (``VIEW_TIMEOUT``) on ephemeral messages, not DynamicItems: an
ephemeral message is only ever seen by the member who asked, it cannot outlive its interaction
token (15 minutes), and a view routes errors to ``ReportingView.on_error`` — the one error path.
Their custom_ids are ``rb:profile:<action>:<user_id>``: unique per member, so two members' open
flows never share a dispatch key (discord.py keys modals by custom_id alone), and every click or
submit from anyone but the owner is refused with a clear message.  After a restart a click on an
old message does nothing; running the command again starts afresh.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import ReseauBot
from bot.errors import Conflict, Forbidden
from bot.services.profiles import (
    MAX_ORGANISATION,
    MAX_REGION,
    ForgetResult,
    MyData,
    ProfileService,
    ProfileView,
)
from cogs import _text
from cogs._checks import require_network
from cogs._errors import ReportingView, RetryingModal

if TYPE_CHECKING:
    from bot.services.privacy import FeatureFailure

log = logging.getLogger(__name__)

VIEW_TIMEOUT = 600.0
COLOUR = 0x2B6CB0
DANGER_COLOUR = 0xC53030
FIELD_MAX = 1024
MAX_LISTED = 10


_LINE_BREAKS = re.compile(r"[ \t]*[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+[ \t]*")


def _one_line(text: str) -> str:
    """``text`` on one line: each run of line breaks (and the spaces around it) as one space;
    the other spaces as typed (French typography's narrow no-break spaces among them)."""
    return _LINE_BREAKS.sub(" ", text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _when(value: str | None) -> datetime | None:
    """A time from the member's document (ISO 8601) back to a datetime, for Discord's timestamps."""
    return datetime.fromisoformat(value) if value else None


def _cog(interaction: discord.Interaction) -> Profiles:
    cog = interaction.client.get_cog("Profiles")  # type: ignore[union-attr]
    if cog is None:  # pragma: no cover - the views only exist while the cog is loaded
        raise RuntimeError("the Profiles cog is not loaded")
    return cog  # type: ignore[return-value]


# ----------------------------------------------------------------------------- views
class OwnedView(ReportingView):
    """A view bound to the member who ran the command; anyone else is refused clearly."""

    def __init__(self, owner_id: int, lang: str) -> None:
        super().__init__(timeout=VIEW_TIMEOUT)
        self.owner_id = owner_id
        self.lang = lang
        self.origin: discord.Interaction | None = None  # whose response shows this view

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            raise Forbidden("profile.error.not_yours")
        return True

    async def show(self, interaction: discord.Interaction, **kwargs) -> None:
        """Replace the message this interaction came from with ``kwargs`` and this view."""
        await interaction.response.edit_message(view=self, **kwargs)
        self.origin = interaction

    async def on_timeout(self) -> None:
        if self.origin is None:
            return
        try:
            await self.origin.edit_original_response(content=_cog(self.origin).bot.t("profile.expired", self.lang),
                                                     view=None)
        except discord.HTTPException:  # the token expired or the message is gone: nothing to tidy
            pass


class ConsentView(OwnedView):
    def __init__(self, owner_id: int, lang: str, t) -> None:
        super().__init__(owner_id, lang)
        accept = discord.ui.Button(
            label=t("profile.consent.accept", lang),
            style=discord.ButtonStyle.success,
            custom_id=f"rb:profile:accept:{owner_id}",
        )
        decline = discord.ui.Button(
            label=t("profile.consent.decline", lang),
            style=discord.ButtonStyle.secondary,
            custom_id=f"rb:profile:decline:{owner_id}",
        )
        accept.callback = self.on_accept
        decline.callback = self.on_decline
        self.add_item(accept)
        self.add_item(decline)

    async def on_accept(self, interaction: discord.Interaction) -> None:
        cog = _cog(interaction)
        profile = await cog.service.record_consent(self.owner_id, lang=self.lang)
        self.stop()
        editor = EditorView(cog, self.owner_id, self.lang, profile)
        embed = discord.Embed(
            title=cog.bot.t("profile.title", self.lang),
            description=cog.bot.t("profile.form.choose_type", self.lang),
            colour=COLOUR,
        )
        await editor.show(interaction, content=None, embed=embed)

    async def on_decline(self, interaction: discord.Interaction) -> None:
        cog = _cog(interaction)
        self.stop()
        embed = discord.Embed(
            title=cog.bot.t("profile.title", self.lang),
            description=cog.bot.t("profile.consent.declined", self.lang),
            colour=COLOUR,
        )
        await interaction.response.edit_message(content=None, embed=embed, view=None)


class EditorView(OwnedView):
    """The member type select (current type pre-selected) and, once a type is set, a button to
    edit the organisation and region."""

    def __init__(self, cog: Profiles, owner_id: int, lang: str, profile: ProfileView) -> None:
        super().__init__(owner_id, lang)
        t = cog.bot.t
        self.type_select: discord.ui.Select[EditorView] = discord.ui.Select(
            custom_id=f"rb:profile:type:{owner_id}",
            placeholder=t("profile.form.placeholder", lang),
            options=[
                discord.SelectOption(
                    label=_clip(member_type.label(lang), 100),
                    value=member_type.code,
                    default=member_type.code == profile.member_type,
                )
                for member_type in cog.service.member_types
            ],
        )
        self.type_select.callback = self.on_type
        self.add_item(self.type_select)
        if profile.member_type:
            edit = discord.ui.Button(
                label=t("profile.form.edit", lang),
                style=discord.ButtonStyle.secondary,
                custom_id=f"rb:profile:edit:{owner_id}",
            )
            edit.callback = self.on_edit
            self.add_item(edit)

    async def on_type(self, interaction: discord.Interaction) -> None:
        cog = _cog(interaction)
        service = cog.service
        current = await service.get(self.owner_id)
        if current is None or not current.consented:
            raise Conflict("profile.error.no_consent")
        profile = await service.set_profile(
            self.owner_id, self.type_select.values[0], current.organisation, current.region, lang=self.lang
        )
        await interaction.response.send_modal(DetailsModal(cog, self, profile))

    async def on_edit(self, interaction: discord.Interaction) -> None:
        cog = _cog(interaction)
        profile = await cog.service.get(self.owner_id)
        if profile is None or not profile.member_type:
            raise Conflict("profile.error.no_consent")
        await interaction.response.send_modal(DetailsModal(cog, self, profile))


class DetailsModal(RetryingModal):
    """Organisation and region or country, both optional; submitting shows the saved profile.
    A refused value (a mention, a link…) is said with « Corriger mon profil », which opens the
    form again as it was typed."""

    retry_label = "profile.form.retry"

    def __init__(self, cog: Profiles, parent: EditorView, profile: ProfileView) -> None:
        t, lang = cog.bot.t, parent.lang
        super().__init__(
            title=t("profile.form.modal_title", lang),
            custom_id=f"rb:profile:details:{parent.owner_id}",
            timeout=VIEW_TIMEOUT,
        )
        self.cog, self.profile = cog, profile
        self.parent = parent
        self.member_type = profile.member_type or ""
        self.organisation: discord.ui.TextInput[DetailsModal] = discord.ui.TextInput(
            custom_id="organisation",
            style=discord.TextStyle.short,
            placeholder=t("profile.form.organisation_hint", lang),
            default=profile.organisation,
            required=False,
            max_length=MAX_ORGANISATION,
        )
        self.region: discord.ui.TextInput[DetailsModal] = discord.ui.TextInput(
            custom_id="region",
            style=discord.TextStyle.short,
            placeholder=t("profile.form.region_hint", lang),
            default=profile.region,
            required=False,
            max_length=MAX_REGION,
        )
        self.add_item(discord.ui.Label(text=t("profile.form.organisation", lang), component=self.organisation))
        self.add_item(discord.ui.Label(text=t("profile.form.region", lang), component=self.region))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.parent.owner_id:
            raise Forbidden("profile.error.not_yours")
        return True

    def again(self) -> DetailsModal:
        typed = dataclasses.replace(self.profile, organisation=self.organisation.value, region=self.region.value)
        return DetailsModal(self.cog, self.parent, typed)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        cog, lang = _cog(interaction), self.parent.lang
        profile = await cog.service.set_profile(
            self.parent.owner_id, self.member_type, self.organisation.value, self.region.value, lang=lang
        )
        self.parent.stop()
        editor = EditorView(cog, self.parent.owner_id, lang, profile)
        embed = cog.profile_embed(profile, lang, cog.bot.t("profile.form.saved", lang))
        if interaction.message is not None:
            await editor.show(interaction, content=None, embed=embed)
        else:  # pragma: no cover - the modal is always opened from a component of a message
            await interaction.response.send_message(embed=embed, view=editor, ephemeral=True)
            editor.origin = interaction


class ForgetView(OwnedView):
    def __init__(self, owner_id: int, lang: str, t) -> None:
        super().__init__(owner_id, lang)
        confirm = discord.ui.Button(
            label=t("forget.confirm", lang), style=discord.ButtonStyle.danger,
            custom_id=f"rb:profile:forget:{owner_id}",
        )
        cancel = discord.ui.Button(
            label=t("forget.cancel", lang), style=discord.ButtonStyle.secondary,
            custom_id=f"rb:profile:keep:{owner_id}",
        )
        confirm.callback = self.on_confirm
        cancel.callback = self.on_cancel
        self.add_item(confirm)
        self.add_item(cancel)

    async def on_confirm(self, interaction: discord.Interaction) -> None:
        cog = _cog(interaction)
        result = await cog.service.forget(self.owner_id, actor_id=interaction.user.id)
        self.stop()
        embed = discord.Embed(
            title=cog.bot.t("forget.title", self.lang),
            description=cog.forget_text(result, self.lang),
            colour=DANGER_COLOUR,
        )
        await interaction.response.edit_message(content=None, embed=embed, view=None)
        if result.failed:
            await cog.report_failure(result.failed)
        cog.bot.dispatch("member_forgotten", self.owner_id, result)

    async def on_cancel(self, interaction: discord.Interaction) -> None:
        cog = _cog(interaction)
        self.stop()
        embed = discord.Embed(
            title=cog.bot.t("forget.title", self.lang),
            description=cog.bot.t("forget.cancelled", self.lang),
            colour=COLOUR,
        )
        await interaction.response.edit_message(content=None, embed=embed, view=None)


# ----------------------------------------------------------------------------- the cog
class Profiles(commands.Cog):
    def __init__(self, bot: ReseauBot) -> None:
        self.bot = bot

    @property
    def service(self) -> ProfileService:
        """The bot's profile service (it follows a reconfigured bot: member types, retention)."""
        return self.bot.services.profiles

    # -------------------------------------------------------------------- rendering
    def consent_embed(self, lang: str) -> discord.Embed:
        t = self.bot.t
        facts = self.service.consent_facts()
        embed = discord.Embed(title=t("profile.title", lang), description=t("profile.consent.intro", lang),
                              colour=COLOUR)
        embed.add_field(name=t("profile.consent.what", lang), value=t("profile.consent.what_text", lang),
                        inline=False)
        embed.add_field(name=t("profile.consent.why", lang), value=t("profile.consent.why_text", lang),
                        inline=False)
        embed.add_field(name=t("profile.consent.how_long", lang),
                        value=t("profile.consent.how_long_text", lang, count=facts.retention_days), inline=False)
        embed.add_field(name=t("profile.consent.how_delete", lang),
                        value=t(f"profile.consent.how_delete_{facts.forget_mode}", lang), inline=False)
        return embed

    def profile_lines(self, profile: ProfileView | dict[str, Any], lang: str) -> list[tuple[str, str]]:
        """The profile's lines, from the service's view or from the member's document."""
        t = self.bot.t
        none = t("profile.none", lang)

        def shown(value: str | None) -> str:
            return discord.utils.escape_markdown(value) if value else none

        if isinstance(profile, ProfileView):
            code, organisation, region = profile.member_type, profile.organisation, profile.region
            consent_at = profile.consent_at
        else:
            code, organisation, region = profile.get("member_type"), profile.get("organisation"), profile.get("region")
            consent_at = _when(profile.get("consent_at"))
        lines = [
            (t("profile.field.member_type", lang), shown(self.service.member_type_label(code, lang))),
            (t("profile.field.organisation", lang), shown(organisation)),
            (t("profile.field.region", lang), shown(region)),
        ]
        if consent_at is not None:
            lines.append((t("profile.field.consent_at", lang), discord.utils.format_dt(consent_at, "D")))
        return lines

    def profile_embed(self, profile: ProfileView, lang: str, description: str) -> discord.Embed:
        embed = discord.Embed(title=self.bot.t("profile.title", lang), description=description, colour=COLOUR)
        for name, value in self.profile_lines(profile, lang):
            embed.add_field(name=name, value=value, inline=True)
        return embed

    def feature_names(self, failed: tuple[FeatureFailure, ...], lang: str) -> str:
        """The features that failed, named in ``lang`` (a feature without a catalogue name: as is)."""
        catalogue = self.bot.services.catalogue
        return ", ".join(
            self.bot.t(f"privacy.feature.{f.feature}", lang) if catalogue.has(f"privacy.feature.{f.feature}")
            else f.feature
            for f in failed
        )

    def my_data_embed(self, data: MyData, lang: str) -> discord.Embed:
        """A summary of each feature's part; the attached file holds all of it."""
        t = self.bot.t
        description = f"{t('mydata.intro', lang)}\n\n{t('mydata.retention', lang, count=data.retention_days)}"
        if data.failed:
            description += "\n\n" + t("mydata.incomplete", lang, features=self.feature_names(data.failed, lang))
        embed = discord.Embed(title=t("mydata.title", lang), description=description, colour=COLOUR)
        shown = {"profile", "answers", "polls_created", "announcements_written", "audit_log_actions"}
        if data.profile is not None:
            profile = "\n".join(self.bot.catalogue.label_value(f"**{name}**", value, lang)
                                 for name, value in self.profile_lines(data.profile, lang))
        else:
            profile = t("mydata.no_profile", lang)
        embed.add_field(name=t("mydata.profile", lang), value=profile, inline=False)
        answers = data.section("answers", [])
        embed.add_field(
            name=t("mydata.answers", lang, count=len(answers)),
            value=self._answer_lines(answers, lang) or t("mydata.no_answers", lang),
            inline=False,
        )
        for key, label in (("polls_created", "mydata.polls_created"), ("announcements_written", "mydata.announcements")):
            records = data.section(key, [])
            if records:
                titles = [discord.utils.escape_markdown(_clip(r["title"], 80)) for r in records]
                embed.add_field(name=f"{t(label, lang)} ({len(titles)})",
                                value=_clip("\n".join(titles), FIELD_MAX), inline=False)
        audit = data.section("audit_log_actions", [])
        if audit:
            embed.add_field(name=t("mydata.audit", lang), value=str(len(audit)), inline=False)
        # a feature this cog has no summary for: named, with a pointer to the file
        others = [key for section in data.sections.values() for key, value in section.items()
                  if key not in shown and value]
        if others:
            embed.add_field(name=t("mydata.other", lang),
                            value=_clip(", ".join(f"`{key}`" for key in others), FIELD_MAX), inline=False)
        return embed

    def _answer_lines(self, answers: list[dict[str, Any]], lang: str) -> str:
        """The latest answers, newest first, as many as fit one embed field."""
        lines: list[str] = []
        listed = 0
        for answer in reversed(answers):
            # the choices in the member's language where they read differently (« Yes » for « Oui »)
            choices = (answer.get("choices_in") or {}).get(lang) or answer["choices"]
            given = ", ".join(choices) if choices else (answer["text"] or "")
            answered_at = _when(answer["answered_at"])
            assert answered_at is not None
            # a survey's answer names its question (a quick poll's title is its question); a
            # written answer's line breaks would break the list
            question = answer.get("question") or ""
            key = "mydata.answer" if question in ("", answer["poll"]) else "mydata.answer_question"
            line = self.bot.t(key, lang, date=discord.utils.format_dt(answered_at, "d"), id=answer["poll_id"],
                              poll=discord.utils.escape_markdown(_clip(_one_line(answer["poll"]), 80)),
                              question=discord.utils.escape_markdown(_clip(_one_line(question), 80)),
                              given=discord.utils.escape_markdown(_clip(_one_line(given), 100)))
            more = len(answers) - listed - 1
            reserve = len(self.bot.t("mydata.more", lang, count=more)) + 1 if more else 0
            if listed >= MAX_LISTED or len("\n".join([*lines, line])) + reserve > FIELD_MAX:
                break
            lines.append(line)
            listed += 1
        if listed < len(answers):
            lines.append(self.bot.t("mydata.more", lang, count=len(answers) - listed))
        return "\n".join(lines)

    def forget_text(self, result: ForgetResult, lang: str) -> str:
        """What was removed — and, if a feature failed, which part was not: nothing claims a
        success that did not happen."""
        t = self.bot.t
        authored = [t("forget.done_authored", lang, count=result.authored)] if result.authored else []
        if not result.failed:
            key = "forget.done_delete" if result.mode == "delete" else "forget.done_unlink"
            return "\n\n".join([t(key, lang, count=result.answers), *authored])
        lines = [t("forget.partial", lang, features=self.feature_names(result.failed, lang))]
        if result.profile_deleted:
            lines.append(t("forget.done_profile", lang))
        if result.answers:
            lines.append(t(f"forget.done_answers_{result.mode}", lang, count=result.answers))
        return "\n\n".join(lines + authored)

    async def report_failure(self, failed: tuple[FeatureFailure, ...]) -> None:
        """A line in the moderators' log (the member is not named there, as in the audit log)."""
        publisher = self.bot.services.publisher
        if not publisher.modlog_channel_id:
            log.warning("forget-me failed for %s and no moderators' log is configured", [f.feature for f in failed])
            return
        lang = self.bot.config.bot.language
        text = self.bot.t("forget.modlog_failed", lang, features=self.feature_names(failed, lang),
                          errors=", ".join(sorted({f.error for f in failed})))
        try:
            await publisher.sender.notify(publisher.modlog_channel_id, text)
        except Exception:
            log.exception("could not tell the moderators' log that forget-me failed")

    # -------------------------------------------------------------------- commands
    @app_commands.command(name=_text.name("profile"), description=_text.desc("profile"))
    async def profile(self, interaction: discord.Interaction) -> None:
        require_network(interaction)  # outside the network's servers the bot stores nothing
        lang = self.bot.lang(interaction)
        profile = await self.service.get(interaction.user.id)
        view: OwnedView
        if profile is None or not profile.consented:
            view = ConsentView(interaction.user.id, lang, self.bot.t)
            embed = self.consent_embed(lang)
        else:
            view = EditorView(self, interaction.user.id, lang, profile)
            embed = self.profile_embed(profile, lang, self.bot.t("profile.form.change", lang))
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)
        view.origin = interaction

    @app_commands.command(name=_text.name("my-data"), description=_text.desc("my-data"))
    async def my_data(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        service = self.service
        data = await service.my_data(interaction.user.id)
        payload = data.to_json(lambda code: service.member_type_label(code, lang))
        file = discord.File(io.BytesIO(payload), filename=self.bot.t("mydata.filename", lang))
        await interaction.response.send_message(embed=self.my_data_embed(data, lang), file=file, ephemeral=True)

    @app_commands.command(name=_text.name("forget-me"), description=_text.desc("forget-me"))
    async def forget_me(self, interaction: discord.Interaction) -> None:
        lang = self.bot.lang(interaction)
        t = self.bot.t
        service = self.service
        counts = await service.stored_counts(interaction.user.id)
        if not counts.anything:
            await interaction.response.send_message(t("forget.nothing", lang), ephemeral=True)
            return
        key = f"forget.confirm_{service.privacy.forget_mode}"
        description = t(key, lang, count=counts.answers)
        if counts.authored:
            description += "\n\n" + t("forget.confirm_authored", lang, count=counts.authored)
        embed = discord.Embed(title=t("forget.title", lang), description=description, colour=DANGER_COLOUR)
        view = ForgetView(interaction.user.id, lang, t)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)
        view.origin = interaction


async def setup(bot: ReseauBot) -> None:
    await bot.add_cog(Profiles(bot))

"""A small survey written straight through the ORM, for the export tests.

Campaign "Enquête membres 2026-2027" with two polls of guild ``guild_id``:
- poll A: ``besoin`` (single: formation / financement / reseau), ``themes`` (multi, up to 3:
  climat / sante / education / eau), ``avis`` (text);
- poll B: ``besoin`` again (yes/no — the same code as in poll A, so the export must tell them
  apart), ``commentaire`` (text);
and poll C in another guild, outside the campaign.

Respondents: member 1 (collectivité) answers everything, three themes; member 2 (réseau)
answers some and empties its multiple choice; member 3 (ONG) answers only texts, one of them
shaped like a spreadsheet formula; two answers unlinked from their member (forget-me in
"unlink" mode), one without a member type.  Times are in winter and in summer (Paris offsets
+01:00 and +02:00).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from storage.models import Answer, AnswerChoice, Campaign, Option, Poll, Question

CAMPAIGN = "Enquête membres 2026-2027"
U1, U2, U3 = 401234567890123456, 401234567890123457, 401234567890123458
OTHER_GUILD = 999
WINTER = datetime(2026, 1, 15, 9, 30, 5, 123456, tzinfo=UTC)
SUMMER = datetime(2026, 7, 2, 16, 45, 0, tzinfo=UTC)
FORMULA = "=HYPERLINK(\"http://evil.example\",\"clic\")"


@dataclass
class Survey:
    campaign_id: int
    poll_a: int
    poll_b: int
    poll_c: int
    answers: list[StoredAnswer] = field(default_factory=list)


@dataclass(frozen=True)
class StoredAnswer:
    id: int
    user_id: int | None
    poll_id: int
    question_code: str  # the code in its poll (the export may qualify it)
    options: tuple[str, ...]
    text: str | None
    member_type: str | None
    answered_at: datetime


async def build_survey(sessions, guild_id: int) -> Survey:
    async with sessions.begin() as session:
        campaign = Campaign(name=CAMPAIGN)
        session.add(campaign)
        await session.flush()

        def poll(title: str, guild: int, campaign_id: int | None) -> Poll:
            # named polls: their answers hold member ids (an anonymous poll's hold pseudonyms)
            p = Poll(guild_id=guild, channel_id=1, author_id=2, title=title, campaign_id=campaign_id,
                     anonymous=False)
            session.add(p)
            return p

        def question(p: Poll, position: int, code: str, text: str, kind: str, options=(), max_choices=1):
            q = Question(position=position, code=code, text=text, kind=kind, max_choices=max_choices)
            q.options = [Option(position=i, code=c, label=label) for i, (c, label) in enumerate(options)]
            p.questions.append(q)
            return q

        a = poll("Besoins des membres", guild_id, campaign.id)
        besoin = question(a, 0, "besoin", "Quel soutien attendez-vous du réseau ?", "single",
                          [("formation", "Formation"), ("financement", "Financement"), ("reseau", "Mise en réseau")])
        themes = question(a, 1, "themes", "Quels thèmes vous concernent ?", "multi",
                          [("climat", "Climat"), ("sante", "Santé"), ("education", "Éducation"), ("eau", "Eau")],
                          max_choices=3)
        avis = question(a, 2, "avis", "Votre avis, en quelques mots", "text")
        b = poll("Collectivités territoriales", guild_id, campaign.id)
        besoin_b = question(b, 0, "besoin", "Avez-vous besoin d’un accompagnement ?", "yesno",
                            [("oui", "Oui"), ("non", "Non")])
        commentaire = question(b, 1, "commentaire", "Un commentaire ?", "text")
        c = poll("Autre serveur", OTHER_GUILD, None)
        question(c, 0, "q", "Ailleurs ?", "yesno", [("oui", "Oui"), ("non", "Non")])
        await session.flush()

        survey = Survey(campaign.id, a.id, b.id, c.id)

        made: list[tuple[Answer, Question, tuple[str, ...]]] = []

        def answer(user, member_type, q: Question, codes=(), text=None, at=WINTER):
            ans = Answer(question_id=q.id, user_id=user, member_type=member_type, text=text, answered_at=at,
                         updated_at=at)
            by_code = {o.code: o for o in q.options}
            ans.choices = [AnswerChoice(option_id=by_code[code].id) for code in codes]
            session.add(ans)
            made.append((ans, q, tuple(codes)))

        answer(U1, "collectivite", besoin, ["financement"])
        answer(U1, "collectivite", themes, ["climat", "education", "eau"])
        answer(U1, "collectivite", avis, text="Plus d’échanges entre collectivités, s’il vous plaît ; merci")
        answer(U1, "collectivite", besoin_b, ["oui"], at=SUMMER)
        answer(U1, "collectivite", commentaire, text="Ligne 1\nLigne 2, avec « guillemets »", at=SUMMER)
        answer(U2, "reseau", besoin, ["reseau"])
        answer(U2, "reseau", themes, [])  # emptied multiple choice: answered, nothing chosen
        answer(U2, "reseau", besoin_b, ["non"], at=SUMMER)
        answer(U3, "ong", avis, text=FORMULA)
        answer(U3, "ong", commentaire, text="-  mieux coordonner")
        answer(None, "collectivite", besoin, ["formation"])
        answer(None, None, themes, ["sante"])
        await session.flush()
        survey.answers = [
            StoredAnswer(ans.id, ans.user_id, q.poll_id, q.code, codes, ans.text, ans.member_type, ans.answered_at)
            for ans, q, codes in made
        ]
    return survey

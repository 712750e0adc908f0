"""One small repository per aggregate.  Each takes an ``AsyncSession``; the service owns the
transaction (``async with sessions.begin() as session``).  Nothing outside ``storage`` writes SQL."""

from storage.repositories.audit import AuditRepository
from storage.repositories.campaigns import CampaignRepository
from storage.repositories.exports import ExportRepository
from storage.repositories.extracts import AnnouncementRepository, DeliveryRepository, ExtractRepository
from storage.repositories.polls import AnswerRepository, PollRepository
from storage.repositories.profiles import ProfileRepository
from storage.repositories.state import ChannelRepository, StateRepository

__all__ = [
    "AnnouncementRepository",
    "AnswerRepository",
    "AuditRepository",
    "CampaignRepository",
    "ChannelRepository",
    "DeliveryRepository",
    "ExportRepository",
    "ExtractRepository",
    "PollRepository",
    "ProfileRepository",
    "StateRepository",
]

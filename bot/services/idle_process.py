"""Imported for its effect, by the workers' fork server only (:mod:`bot.services.workers`): the
importing process goes into the idle scheduling class, and so does every process it forks."""

from bot.services.workers import background_priority

background_priority()

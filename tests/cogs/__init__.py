"""Tests of the Discord side (cogs/, bot/posting.py): the real bot on SimCord, and the pure renderers."""

"""Tests of the services (bot/services/): plain Python on a real database, without Discord."""

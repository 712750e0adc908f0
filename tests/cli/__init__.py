"""Tests of the command line (bot/cli.py and its commands), in process or as a subprocess."""

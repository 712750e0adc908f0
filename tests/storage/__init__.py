"""Tests of the database layer (storage/): migrations and models."""

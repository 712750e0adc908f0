"""Fixtures of the service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """One HTTP client for a fetching test (the environment's proxies ignored)."""
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http

"""Platforms' public key sets (JWKS), fetched without blocking the Hub and cached.

jupyterhub-ltiauthenticator 1.6.3 builds a ``jwt.PyJWKClient`` at every launch: a
synchronous HTTP request on the Hub's event loop (every other request waits), and no
cache. Here a key set is fetched with tornado's asynchronous client, kept for
``max_age`` seconds, and fetched again at once when a launch names a key id it does not
hold (the platform rotated its keys) -- but at most once per ``refetch_interval`` per
platform, so that launches with made-up key ids cannot make the Hub hammer the platform.
"""

from __future__ import annotations

import asyncio
import json
import time

import jwt
from tornado.httpclient import AsyncHTTPClient, HTTPClientError


class KeyUnavailable(Exception):
    """No key to check a launch with; ``status`` and a message for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class KeySets:
    """Key sets by URL, each with the time it was fetched."""

    def __init__(self, max_age: float = 300, refetch_interval: float = 30, timeout: float = 10):
        self.max_age = max_age
        self.refetch_interval = refetch_interval
        self.timeout = timeout
        self._sets: dict[str, tuple[float, jwt.PyJWKSet]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def _fetch(self, url: str) -> jwt.PyJWKSet:
        try:
            response = await AsyncHTTPClient().fetch(
                url, request_timeout=self.timeout, connect_timeout=self.timeout
            )
            return jwt.PyJWKSet.from_dict(json.loads(response.body))
        except (HTTPClientError, OSError) as e:
            raise KeyUnavailable(
                502, f"the platform's key set ({url}) could not be fetched: {e}"
            ) from None
        except (ValueError, jwt.PyJWKSetError, jwt.PyJWKError) as e:
            raise KeyUnavailable(
                502, f"the platform's key set ({url}) is not a JWKS: {e}"
            ) from None

    async def key_set(self, url: str, refresh: bool = False) -> jwt.PyJWKSet:
        """The key set, from the cache unless stale (or `refresh` and not fetched lately)."""
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:  # one fetch at a time per platform; the others use its result
            fetched, keys = self._sets.get(url, (0.0, None))
            age = time.monotonic() - fetched
            if keys is None or age > self.max_age or (refresh and age > self.refetch_interval):
                keys = await self._fetch(url)
                self._sets[url] = (time.monotonic(), keys)
            return keys

    async def signing_key(self, url: str, kid: str | None) -> jwt.PyJWK:
        """The key a token names (`kid`); a token without one is accepted only from a
        platform with a single signing key."""
        for refresh in (False, True):
            keys = [
                k
                for k in (await self.key_set(url, refresh)).keys
                if k.public_key_use in (None, "sig")
            ]
            if kid is None:
                if len(keys) == 1:
                    return keys[0]
                raise KeyUnavailable(
                    401, "the launch's token names no key (kid) and the platform has several"
                )
            for key in keys:
                if key.key_id == kid:
                    return key
        raise KeyUnavailable(
            401, f"the launch is signed with a key ({kid!r}) the platform does not publish"
        )

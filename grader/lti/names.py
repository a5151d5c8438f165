"""The Hub name of a person who comes from an LMS over LTI 1.3.

One rule, used by the Hub when it signs a launch's user in (hub_config.lti) and by the
grader when it enrols a platform's roster (NRPS) ahead of anyone's first launch, so that
both arrive at the same name:

- the value of the platform's ``username_key`` claim (default ``email``; ``custom_<x>``
  reads ``<x>`` in the launch's custom claim), lower-cased, falling back to ``sub``
  when the claim is missing or empty (privacy settings of the LMS);
- a value without ``@`` (``sub``, or a user name the LMS gives) becomes
  ``<value>@<host of the issuer>``: a ``sub`` is unique only within its platform, and a
  bare name must not be taken for someone else's.

Every LTI name therefore holds an ``@``, which no password account's name may
(hub_config.authenticator.USERNAME_RE): a launch can never sign into a local account
that merely has the same name. A value the Hub could not use as a name (a ``/``,
spaces or control characters, over-long, an email address not of the usual form) is
refused with :class:`NameRefused`, whose message says why.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

DEFAULT_USERNAME_KEY = "email"
CUSTOM_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/custom"
CUSTOM_PREFIX = "custom_"
#: JupyterHub keeps names up to 255 characters; URLs and container names want fewer
MAX_NAME_LENGTH = 100
#: what a name may hold: letters, digits and ``. _ + - @`` (JupyterHub refuses "/";
#: names travel in URL paths, file, account and container names)
NAME_CHARACTERS = re.compile(r"^[a-z0-9._+@-]+$")
EMAIL = re.compile(r"^[a-z0-9._+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*$")


class NameRefused(ValueError):
    """A launch whose user cannot have a Hub name; ``str(e)`` says why (for a 400)."""


def issuer_host(issuer: str) -> str:
    """The host name of a platform's issuer URL, lower-cased (not its port: a name
    holds no ":")."""
    host = (urlparse(issuer).hostname or "").lower()
    if not host:
        raise NameRefused(f"the issuer {issuer!r} is not a URL")
    return host


def claim_value(claims: dict, username_key: str) -> str:
    """The launch's value of `username_key` (``custom_<x>``: in the custom claim), or ""."""
    source = claims
    key = username_key or "sub"
    if key.startswith(CUSTOM_PREFIX):
        source = claims.get(CUSTOM_CLAIM) or {}
        key = key[len(CUSTOM_PREFIX) :]
    value = source.get(key) if isinstance(source, dict) else None
    return value.strip() if isinstance(value, str) else ""


def hub_name(issuer: str, claims: dict, username_key: str = DEFAULT_USERNAME_KEY) -> str:
    """The Hub name of a launch's user (`claims`: the verified id_token's), or
    :class:`NameRefused`."""
    value = claim_value(claims, username_key)
    used = username_key
    if not value:
        value = claims.get("sub") if isinstance(claims.get("sub"), str) else ""
        value, used = value.strip(), "sub"
    if not value:
        raise NameRefused(
            f"the launch has neither the claim {username_key!r} nor a subject (sub): "
            "coursehub cannot tell who this is"
        )
    return name_from_value(issuer, value.lower(), used)


def name_from_value(issuer: str, value: str, claim: str = "sub") -> str:
    """The Hub name for a claim's (lower-cased) value: with ``@<issuer's host>`` unless
    it is an email address."""
    name = value if "@" in value else f"{value}@{issuer_host(issuer)}"
    if "@" in value and not EMAIL.match(value):
        raise NameRefused(
            f"the claim {claim!r} ({value!r}) is not an email address coursehub can use "
            "as a name: ask the LMS's administrators to send another claim (username_key)"
        )
    if not NAME_CHARACTERS.match(name):
        raise NameRefused(
            f"the claim {claim!r} ({value!r}) has characters a Hub name may not have "
            "(only letters, digits and . _ + - @)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise NameRefused(
            f"the claim {claim!r} gives a name longer than {MAX_NAME_LENGTH} characters"
        )
    return name


def hub_name_of_member(
    issuer: str, member: dict, username_key: str = DEFAULT_USERNAME_KEY
) -> str | None:
    """The Hub name of a member of an NRPS roster (``user_id``, ``email``, ...), as
    their launch would give it; None when it cannot be known before their launch (a
    custom claim, which rosters do not carry) or is refused."""
    if username_key.startswith(CUSTOM_PREFIX):
        return None
    claims = {"sub": member.get("user_id"), **member}
    try:
        return hub_name(issuer, claims, username_key)
    except NameRefused:
        return None

"""Passwords: the policy a new one must meet, and bcrypt.

bcrypt reads at most 72 bytes of a password (bcrypt 5 raises beyond that), so the
policy refuses longer ones with a message, and checking a longer one at sign-in is a
plain "wrong password", never an error. Guessability is zxcvbn's estimate, which also
knows the person's own name and address as guesses.
"""

from __future__ import annotations

import functools
import secrets

import bcrypt
from zxcvbn import zxcvbn

BCRYPT_MAX_BYTES = 72


class PasswordRefused(ValueError):
    """A new password that does not meet the policy; ``str(e)`` says why."""


def check_policy(
    password: str, minimum_length: int, minimum_strength: int, known: tuple[str, ...] = ()
) -> None:
    """Raise :class:`PasswordRefused` unless `password` may be set.

    `minimum_strength` is zxcvbn's score (0 to 4: 3 means "safely unguessable",
    about 10^10 guesses); `known` are words of the account (name, address) that a
    guesser would try first.
    """
    if len(password) < minimum_length:
        raise PasswordRefused(
            f"The password is too short: use at least {minimum_length} characters."
        )
    if len(password.encode("utf8")) > BCRYPT_MAX_BYTES:
        raise PasswordRefused(
            f"The password is too long: at most {BCRYPT_MAX_BYTES} bytes "
            "(letters with accents and other non-ASCII characters take 2 to 4 bytes each)."
        )
    if minimum_strength > 0:
        # zxcvbn gets slow on very long inputs; what counts is in the first 72 bytes anyway
        result = zxcvbn(password[:BCRYPT_MAX_BYTES], user_inputs=[k for k in known if k])
        if result["score"] < minimum_strength:
            advice = " ".join(
                part
                for part in [result["feedback"].get("warning"), *result["feedback"]["suggestions"]]
                if part
            )
            raise PasswordRefused(
                "The password is too easy to guess. " + (advice or "Add more words or symbols.")
            )


def hash_password(password: str, rounds: int) -> bytes:
    """bcrypt hash of a password that passed the policy (slow on purpose: in a thread)."""
    return bcrypt.hashpw(password.encode("utf8"), bcrypt.gensalt(rounds))


def check_password(password: str, stored: bytes) -> bool:
    """Whether `password` is the one `stored` was made from; False for any password
    bcrypt cannot take (too long), after the same work as a real check."""
    encoded = password.encode("utf8")
    if len(encoded) > BCRYPT_MAX_BYTES:
        # spend what a real check costs, so the refusal tells nothing by its time
        bcrypt.checkpw(encoded[:BCRYPT_MAX_BYTES], stored)
        return False
    return bcrypt.checkpw(encoded, stored)


@functools.cache
def dummy_hash(rounds: int) -> bytes:
    """A hash checked when a name has no account, of the same cost as a real one, so
    that refusing an unknown name takes as long as refusing a wrong password."""
    return hash_password(secrets.token_hex(16), rounds)

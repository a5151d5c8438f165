"""Accounts of CoursehubAuthenticator: passwords, verified email addresses, approval,
one-time codes, reset links, lockout and rate limits, all in the Hub's database.

- :mod:`.models`: the tables; :mod:`.schema`: their migrations (``coursehub-accounts
  upgrade-db``).
- :mod:`.passwords`: the password policy and bcrypt; :mod:`.codes`: one-time codes.
- :mod:`.limits`: lockout and per-address rate limits.
- :mod:`.store`: every blocking operation on accounts (called in a thread).
- :mod:`.mail`: the mail those flows send.
"""

from .models import Account
from .store import AccountStore, UsernameTaken

__all__ = ["Account", "AccountStore", "UsernameTaken"]

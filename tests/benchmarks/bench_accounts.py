"""What the Hub's sign-in tells by its timing, and what the accounts' steps cost.

Runs CoursehubAuthenticator in this process on a SQLite file (or a PostgreSQL URL), at
the Hub's real bcrypt cost, and prints p50 / max of:

- signing in with the right password, a wrong password, and an unknown name (the
  ratio unknown / wrong is what an attacker measures to find names: it should be 1);
- a password over bcrypt's 72 bytes (refused, never an error), and a locked name;
- sign-up (policy, hash, code, mail into a maildir) and checking a code.

    python tests/benchmarks/bench_accounts.py [--runs 20] [--db-url URL] [--rounds 12]

A script, not a test: tests never assert on wall-clock time (the test suite checks the
unknown / wrong ratio with a wide margin instead).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hub_config.authenticator import CoursehubAuthenticator, LoginRefused  # noqa: E402

STRONG = "correct horse battery staple"


async def timed(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        times.append(1000 * (time.perf_counter() - started))
    return times


def row(name: str, times: list[float]) -> str:
    return f"{name:44s} {statistics.median(times):8.1f} {max(times):8.1f}"


async def main(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="coursehub-bench-accounts-"))
    try:
        await measure(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def measure(args, workdir: Path) -> None:
    authenticator = CoursehubAuthenticator(
        db_url=args.db_url or f"sqlite:///{workdir}/hub.sqlite",
        bcrypt_rounds=args.rounds,
        maildir=str(workdir / "mail"),
        allowed_email_domains={"uni.example"},
        # the lockout would stop the wrong-password series; measured on its own below
        lockout_after=10 * args.runs,
    )
    await authenticator.sign_up("known", STRONG, STRONG, email="known@uni.example")

    def sign_in(name, password):
        return lambda: authenticator.authenticate(None, {"username": name, "password": password})

    counter = iter(range(10**6))

    async def sign_up():
        n = next(counter)
        await authenticator.sign_up(f"new{n}", STRONG, STRONG, email=f"new{n}@uni.example")

    async def wrong_code():
        try:
            await authenticator.verify_email("known", "AAAAAA")
        except Exception:
            pass

    await sign_in("warm-up", "x")()
    results = {
        "sign in, right password": await timed(sign_in("known", STRONG), args.runs),
        "sign in, wrong password": await timed(sign_in("known", "wrong"), args.runs),
        "sign in, unknown name": await timed(sign_in("nobody", "wrong"), args.runs),
        "sign in, 74-byte password (refused)": await timed(sign_in("known", "é" * 37), args.runs),
        "sign up (policy, hash, code, mail)": await timed(sign_up, args.runs),
        "check a code (wrong)": await timed(wrong_code, min(args.runs, 4)),
    }
    # the same database through an authenticator whose lockout starts at once (rules are
    # read when its store is made)
    strict = CoursehubAuthenticator(
        db_url=authenticator.db_url, bcrypt_rounds=args.rounds, lockout_after=1,
        maildir=authenticator.maildir,
    )  # fmt: skip

    async def locked():
        try:
            await strict.authenticate(None, {"username": "nobody", "password": "wrong"})
        except LoginRefused:
            pass

    await locked()
    results["sign in, locked name (refused at once)"] = await timed(locked, args.runs)

    print(f"bcrypt cost {args.rounds}, {args.runs} runs each, {authenticator.db_url.split(':')[0]}")
    print(f"{'':44s} {'p50 ms':>8s} {'max ms':>8s}")
    for name, times in results.items():
        print(row(name, times))
    ratio = statistics.median(results["sign in, unknown name"]) / statistics.median(
        results["sign in, wrong password"]
    )
    print(f"unknown name / wrong password, p50: {ratio:.2f} (1.00: nothing to tell them apart)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=12, help="bcrypt cost (the Hub's: 12)")
    parser.add_argument("--db-url", help="default: a SQLite file in a temp dir")
    asyncio.run(main(parser.parse_args()))

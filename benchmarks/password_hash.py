"""How long one password verification costs (every login and every e-signature pays it).

    .venv/bin/python benchmarks/password_hash.py [--rounds 20] [--grid]

Prints milliseconds per `check_password` for the production hasher
(mes.accounts.hashers.MesArgon2PasswordHasher) and, with --grid, for other Argon2id
parameter sets, so the cost can be re-tuned to about 100 ms on the plant's servers.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings.base")
os.environ.setdefault("MES_ALLOW_INSECURE_KEY", "1")

import django

django.setup()

from django.contrib.auth.hashers import Argon2PasswordHasher  # noqa: E402

from mes.accounts.hashers import MesArgon2PasswordHasher  # noqa: E402

PASSWORD = "correct-horse-battery-9"


def ms_per_verify(hasher: Argon2PasswordHasher, rounds: int) -> tuple[float, float]:
    encoded = hasher.encode(PASSWORD, hasher.salt())
    hasher.verify(PASSWORD, encoded)  # warm-up
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        ok = hasher.verify(PASSWORD, encoded)
        samples.append((time.perf_counter() - start) * 1000)
        if not ok:
            raise SystemExit("verification failed")
    return statistics.median(samples), min(samples)


def make(time_cost: int, memory_cost: int, parallelism: int) -> Argon2PasswordHasher:
    cls = type(
        "Candidate",
        (Argon2PasswordHasher,),
        {"time_cost": time_cost, "memory_cost": memory_cost, "parallelism": parallelism},
    )
    return cls()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--grid", action="store_true", help="also measure other parameter sets")
    args = parser.parse_args()

    print(f"cpu count: {os.cpu_count()}")
    prod = MesArgon2PasswordHasher()
    median, best = ms_per_verify(prod, args.rounds)
    print(
        f"MesArgon2PasswordHasher time_cost={prod.time_cost} memory_cost={prod.memory_cost} KiB "
        f"parallelism={prod.parallelism}: {median:.1f} ms per verify (median of {args.rounds}, "
        f"best {best:.1f} ms)"
    )
    django_default = Argon2PasswordHasher()
    median, best = ms_per_verify(django_default, args.rounds)
    print(
        f"Django default Argon2 time_cost={django_default.time_cost} "
        f"memory_cost={django_default.memory_cost} KiB parallelism={django_default.parallelism}: "
        f"{median:.1f} ms per verify (best {best:.1f} ms)"
    )
    if args.grid:
        for time_cost, memory_cost, parallelism in [
            (2, 65536, 2),
            (3, 65536, 2),
            (4, 65536, 2),
            (2, 102400, 2),
            (3, 102400, 2),
            (2, 131072, 2),
            (3, 131072, 2),
            (4, 131072, 2),
        ]:
            median, best = ms_per_verify(make(time_cost, memory_cost, parallelism), args.rounds)
            print(
                f"candidate time_cost={time_cost} memory_cost={memory_cost} KiB "
                f"parallelism={parallelism}: {median:.1f} ms per verify (best {best:.1f} ms)"
            )


if __name__ == "__main__":
    main()

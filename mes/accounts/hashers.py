"""Argon2id tuned for this plant's servers: one verification, which every e-signature costs,
near 100 ms on a 2-core machine. Raising the cost later re-hashes on next login."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class MesArgon2PasswordHasher(Argon2PasswordHasher):
    algorithm = "argon2"
    time_cost = 2
    memory_cost = 65536  # KiB
    parallelism = 2

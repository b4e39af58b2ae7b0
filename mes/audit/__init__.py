"""The authoritative audit trail: database-written, append-only, hash-chained."""

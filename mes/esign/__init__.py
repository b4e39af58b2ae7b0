"""Electronic signatures (21 CFR 11.50, 11.70, 11.200): one kernel service every app calls."""

"""People, roles, API tokens, login policy."""

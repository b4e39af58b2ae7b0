"""Work orders."""

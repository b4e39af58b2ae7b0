"""Recipes (ISA-88)."""

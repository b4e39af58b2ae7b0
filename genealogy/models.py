"""Lot genealogy."""

"""Batches and EBR."""

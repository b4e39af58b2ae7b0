"""ERP connectors."""

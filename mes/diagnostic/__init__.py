"""The production-model diagnostic and MES self-audit (the four-step checklist)."""

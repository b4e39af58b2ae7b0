"""A per-site mapping: MES codes ↔ ERP codes, shared by every adapter.

mapping = {
    "plant": "1010",                      # SAP plant / Oracle organization / D365 site
    "work_centers": {"WC-MIX": "MIX01"},  # MES work-center code -> ERP code
    "uoms": {"kg": "KG", "ea": "PC"},     # MES unit -> ERP unit
    "materials": {"RESIN-A": "MAT-1001"}, # MES material -> ERP material (default: same code)
    ... plus the adapter's own keys (order types, company, journals ...)
}
A code missing from a map passes through unchanged unless `strict` is true, then it is a
non-retryable AdapterError ("fix the mapping, then retry from the dead-letter screen").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from erp_connectors.adapters.base import AdapterError


class SiteMapping:
    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self.raw = dict(mapping)
        self.strict = bool(mapping.get("strict", False))

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)

    def _to(self, table: str, code: str) -> str:
        values = self.raw.get(table) or {}
        if code in values:
            return str(values[code])
        if self.strict and code:
            raise AdapterError(f"mapping {table!r} has no entry for {code!r}", retryable=False)
        return code

    def _from(self, table: str, code: str) -> str:
        for mes_code, erp_code in (self.raw.get(table) or {}).items():
            if str(erp_code) == code:
                return mes_code
        return code

    def work_center_to_erp(self, code: str) -> str:
        return self._to("work_centers", code)

    def work_center_from_erp(self, code: str) -> str:
        return self._from("work_centers", code)

    def uom_to_erp(self, code: str) -> str:
        return self._to("uoms", code)

    def uom_from_erp(self, code: str) -> str:
        return self._from("uoms", code)

    def material_to_erp(self, code: str) -> str:
        return self._to("materials", code)

    def material_from_erp(self, code: str) -> str:
        return self._from("materials", code)

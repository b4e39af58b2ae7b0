"""Refusals of the equipment gates. The API maps them to 409 with `{"code", "detail"}`."""

from collections.abc import Sequence
from dataclasses import dataclass

from mes.exceptions import Conflict


@dataclass(frozen=True)
class UsabilityReason:
    """One reason why a unit or instrument may not be used now.

    `code` is stable (callers and tests branch on it); `message` is for people."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


class EquipmentNotUsable(Conflict):
    """The unit (or an instrument on it) may not be used now; `reasons` lists every reason."""

    code = "equipment_not_usable"

    def __init__(self, subject: str, reasons: Sequence[UsabilityReason]) -> None:
        self.subject = subject
        self.reasons = list(reasons)
        detail = f"{subject} cannot be used: " + "; ".join(r.message for r in self.reasons)
        super().__init__(detail)

    @property
    def reason_codes(self) -> list[str]:
        return [r.code for r in self.reasons]


class InstrumentNotUsable(EquipmentNotUsable):
    code = "instrument_not_usable"

"""Step 1: which production model runs here, from the questionnaire and from what the
installation holds (the facts the apps register), with the reasons and the disagreements.

Each answer and each fact is evidence for the process side, the discrete side, or both (a
handoff rule, packaging downstream). Both sides present → mixed; one → that model."""

from dataclasses import dataclass, field
from typing import Any

from mes.diagnostic.choices import ProductionModel
from mes.exceptions import InvalidInput

# key: (question, {answer value: (label, sides it is evidence for)})
QUESTIONS: dict[str, tuple[str, dict[str, tuple[str, frozenset[str]]]]] = {
    "materials": (
        "Do you make product from recipes (a formula scaled by batch size) or from bills of "
        "materials?",
        {
            "recipes": ("Recipes", frozenset({"process"})),
            "boms": ("Bills of materials", frozenset({"discrete"})),
            "both": ("Both", frozenset({"process", "discrete"})),
        },
    ),
    "output": (
        "Is your output counted in batches (lots) or in units?",
        {
            "batches": ("Batches / lots", frozenset({"process"})),
            "units": ("Units", frozenset({"discrete"})),
            "both": ("Both", frozenset({"process", "discrete"})),
        },
    ),
    "continuous_flow": (
        "Does material flow continuously or through vessels (reactors, tanks, lines)?",
        {
            "yes": ("Yes", frozenset({"process"})),
            "no": ("No", frozenset()),
        },
    ),
    "traceability": (
        "Is traceability by lot or by serial number?",
        {
            "lot": ("By lot", frozenset({"process"})),
            "serial": ("By serial number", frozenset({"discrete"})),
            "both": ("Both", frozenset({"process", "discrete"})),
        },
    ),
    "downstream": (
        "Is the output packaged or assembled downstream into countable units?",
        {
            "yes": ("Yes", frozenset({"discrete"})),
            "no": ("No", frozenset()),
        },
    ),
}

SIDE_WORDS = {
    "process": "process (recipes, batches, lots)",
    "discrete": "discrete (BOMs, routings, units)",
}


def validate_answers(answers: dict[str, Any] | None) -> dict[str, str]:
    """The questionnaire's answers, checked (unanswered questions are left out)."""
    cleaned: dict[str, str] = {}
    for key, value in (answers or {}).items():
        if value in (None, ""):
            continue
        if key not in QUESTIONS:
            raise InvalidInput(f"Unknown question {key!r}.", code="unknown_question")
        options = QUESTIONS[key][1]
        if value not in options:
            allowed = ", ".join(options)
            raise InvalidInput(
                f"{key!r} must be one of {allowed}, not {value!r}.", code="invalid_answer"
            )
        cleaned[key] = str(value)
    return cleaned


def _mode(sides: set[str]) -> str:
    if {"process", "discrete"} <= sides:
        return ProductionModel.MIXED
    if "process" in sides:
        return ProductionModel.PROCESS
    if "discrete" in sides:
        return ProductionModel.DISCRETE
    return ProductionModel.UNKNOWN


@dataclass
class Derivation:
    mode: str
    answer_mode: str
    data_mode: str
    reasons: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)


def derive(answers: dict[str, str], facts: list[dict[str, Any]]) -> Derivation:
    """`facts`: [{"key", "title", "indicates", "count"}]."""
    answer_sides: dict[str, list[str]] = {"process": [], "discrete": []}
    for key, value in answers.items():
        question, options = QUESTIONS[key]
        label, sides = options[value]
        for side in sides:
            answer_sides[side].append(f"{question} — {label}")
    data_sides: dict[str, list[str]] = {"process": [], "discrete": []}
    for fact in facts:
        if not fact["count"]:
            continue
        sides = ("process", "discrete") if fact["indicates"] == "mixed" else (fact["indicates"],)
        for side in sides:
            if side in data_sides:
                data_sides[side].append(f"{fact['title']}: {fact['count']}")
    answered = {s for s, why in answer_sides.items() if why}
    held = {s for s, why in data_sides.items() if why}
    answer_mode, data_mode = _mode(answered), _mode(held)
    mode = _mode(answered | held)
    reasons: list[str] = []
    for side in ("process", "discrete"):
        if answer_sides[side]:
            reasons.append(
                f"Answers point to {SIDE_WORDS[side]}: " + "; ".join(answer_sides[side]) + "."
            )
        if data_sides[side]:
            reasons.append(
                f"The installation holds {SIDE_WORDS[side]}: " + "; ".join(data_sides[side]) + "."
            )
    disagreements: list[str] = []
    if answers:
        for side in ("process", "discrete"):
            if side in held and side not in answered:
                disagreements.append(
                    f"The answers say nothing {side}, but the installation holds "
                    + "; ".join(data_sides[side])
                    + "."
                )
            if side in answered and side not in held:
                disagreements.append(
                    f"The answers point to {SIDE_WORDS[side]}, but the installation holds "
                    f"nothing of it (no approved master data, nothing run in the period)."
                )
    if mode == ProductionModel.UNKNOWN:
        reasons.append("Neither the answers nor the installation's data show a production model.")
    return Derivation(mode, answer_mode, data_mode, reasons, disagreements)

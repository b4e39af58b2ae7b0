"""Step 1: the production model from the answers and from what the installation holds."""

import pytest

from mes.diagnostic.derivation import derive, validate_answers
from mes.exceptions import InvalidInput

PROCESS_ANSWERS = {"materials": "recipes", "output": "batches", "traceability": "lot"}
DISCRETE_ANSWERS = {"materials": "boms", "output": "units", "traceability": "serial"}


def fact(indicates, count, title="x"):
    return {"key": title, "title": title, "indicates": indicates, "count": count}


def test_process_answers_and_process_data_agree_on_process():
    found = derive(PROCESS_ANSWERS, [fact("process", 2, "Approved recipes"), fact("discrete", 0)])

    assert (found.mode, found.answer_mode, found.data_mode) == ("process", "process", "process")
    assert found.disagreements == []
    assert "The installation holds process (recipes, batches, lots): Approved recipes: 2." in (
        found.reasons
    )


def test_discrete_answers_and_discrete_data_agree_on_discrete():
    found = derive(DISCRETE_ANSWERS, [fact("discrete", 3, "Approved routings")])

    assert found.mode == "discrete"
    assert found.disagreements == []


def test_data_the_answers_do_not_mention_makes_the_model_mixed_and_is_flagged():
    found = derive(
        PROCESS_ANSWERS, [fact("process", 1), fact("discrete", 4, "Work orders released")]
    )

    assert (found.mode, found.answer_mode, found.data_mode) == ("mixed", "process", "mixed")
    assert found.disagreements == [
        "The answers say nothing discrete, but the installation holds Work orders released: 4."
    ]


def test_answers_the_data_does_not_back_are_flagged():
    found = derive(DISCRETE_ANSWERS, [fact("process", 1, "Approved recipes")])

    assert found.mode == "mixed"
    assert found.disagreements[0].startswith("The answers say nothing process")
    assert found.disagreements[1].startswith(
        "The answers point to discrete (BOMs, routings, units), but the installation holds nothing"
    )


def test_a_handoff_rule_alone_makes_the_data_mixed():
    found = derive({}, [fact("mixed", 1, "Handoff rules")])

    assert (found.mode, found.disagreements) == ("mixed", [])


def test_nothing_answered_and_nothing_held_is_unknown():
    assert derive({}, [fact("process", 0)]).mode == "unknown"


def test_downstream_packaging_with_recipes_is_mixed_by_the_answers():
    found = derive({"materials": "recipes", "downstream": "yes"}, [])

    assert found.answer_mode == "mixed"


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"colour": "red"}, "Unknown question 'colour'."),
        ({"output": "pallets"}, "'output' must be one of batches, units, both, not 'pallets'."),
    ],
)
def test_bad_answers_are_refused(answers, message):
    with pytest.raises(InvalidInput) as exc:
        validate_answers(answers)

    assert exc.value.detail == message


def test_unanswered_questions_are_left_out():
    assert validate_answers({"output": "", "materials": "both"}) == {"materials": "both"}

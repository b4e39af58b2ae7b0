from typing import Any

import pytest

from batches.tests import factories as f


@pytest.fixture
def version(recipe_author: Any, qa_user: Any) -> Any:
    return f.recipe(author=recipe_author, reviewer=qa_user)


@pytest.fixture
def unit(operator: Any, supervisor: Any) -> Any:
    return f.reactor(cleaned_by=operator, verified_by=supervisor)


@pytest.fixture
def batch(planner: Any, operator: Any, version: Any, unit: Any) -> Any:
    return f.started_batch(planner=planner, operator=operator, version=version, unit=unit)

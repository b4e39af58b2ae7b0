"""Refusals of the recipes app. Each says what is wrong and what to do instead."""

from mes.exceptions import Conflict, InvalidInput, NotFound


class RecipeInvalid(InvalidInput):
    """A value of a recipe element is not acceptable. `field` names the input field (for the
    form that shows it inline) and `path` the element ("UP1/OP2/PH3.parameters[Temperature]")."""

    code = "recipe_invalid"

    def __init__(self, detail: str, *, field: str = "", path: str = "", code: str | None = None):
        super().__init__(f"{path}: {detail}" if path else detail, code=code)
        self.field = field
        self.path = path
        self.message = detail


class RecipeIncomplete(InvalidInput):
    """The version cannot be submitted yet; `problems` lists every gap."""

    code = "recipe_incomplete"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"The version is not complete ({len(self.problems)} problem"
            f"{'' if len(self.problems) == 1 else 's'}): " + "; ".join(self.problems)
        )


class RecipeVersionNotEditable(Conflict):
    code = "recipe_version_not_editable"


class RecipeOpenVersionExists(Conflict):
    code = "recipe_open_version_exists"


class RecipeVersionNotUsable(Conflict):
    """The version may not be used for a new batch (not the current approved one)."""

    code = "recipe_version_not_usable"


class BatchSizeOutOfRange(InvalidInput):
    code = "batch_size_out_of_range"


class RecipeNotFound(NotFound):
    code = "recipe_not_found"

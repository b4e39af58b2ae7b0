from django.apps import AppConfig


class RecipesConfig(AppConfig):
    name = "recipes"
    verbose_name = "Recipes (ISA-88)"

    def ready(self) -> None:
        from mes.accounts.roles import Role
        from mes.audit.registry import register
        from mes.registry import Tile, register_demo_step, register_tile
        from recipes.demo import build_demo_recipes
        from recipes.models import Phase

        # Which capabilities a phase needs is recipe content: audited like the phase.
        register(Phase.capabilities.through)

        register_tile(
            Tile(
                key="recipes.list",
                title="Recipes",
                url_name="recipes:recipe_list",
                roles=(
                    Role.RECIPE_AUTHOR.value,
                    Role.QA_REVIEWER.value,
                    Role.SUPERVISOR.value,
                    Role.PLANNER.value,
                ),
                description="Master recipes (ISA-88), their versions and the review queue",
                order=300,
                icon="⚗",
            )
        )
        register_demo_step(
            "recipes.resin",
            build_demo_recipes,
            order=400,
            title="Resin recipe RESIN-PA: version 1 superseded by an approved version 2",
        )

"""What recipes contributes to the production-model self-audit (mes.registry).

- "Recipe changes are approved in the system": every recipe version approved in the period
  carries an "approved" e-signature, by someone other than its author (no approval by paper or
  e-mail, no self-approval). Symptom: old_recipe_versions (recipe changes handed out on paper).
- Fact for step 1: approved master recipes (process).
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Count, Exists, F, OuterRef, Q
from django.db.models.functions import Cast
from django.urls import reverse

from mes.esign.models import Meaning, Signature
from mes.registry import (
    CapabilityCheck,
    CheckResult,
    Evidence,
    InstallationFact,
    Period,
    register_check,
    register_fact,
)
from recipes.choices import RecipeVersionStatus
from recipes.models import RecipeVersion


def _approval_signature() -> Exists:
    content_type = ContentType.objects.get_for_model(RecipeVersion)
    return Exists(
        Signature.objects.filter(
            content_type=content_type,
            meaning=Meaning.APPROVED,
            object_id=Cast(OuterRef("pk"), output_field=CharField()),
        )
    )


def recipe_changes_approved(period: Period) -> CheckResult:
    approved = RecipeVersion.objects.filter(
        approved_at__gte=period.start, approved_at__lt=period.end
    )
    counts = approved.annotate(signed=_approval_signature()).aggregate(
        total=Count("pk"),
        unsigned=Count("pk", filter=Q(signed=False)),
        self_approved=Count("pk", filter=Q(approved_by_id=F("author_id"))),
    )
    total, unsigned, self_approved = counts["total"], counts["unsigned"], counts["self_approved"]
    if not total:
        return CheckResult(
            CheckResult.NOT_APPLICABLE, "No recipe version was approved in the period."
        )
    evidence = [
        Evidence("Versions approved in the period", total, reverse("recipes:recipe_list")),
        Evidence("Without an 'approved' e-signature", unsigned),
        Evidence("Approved by their own author", self_approved),
    ]
    measured = {"approved": total, "unsigned": unsigned, "self_approved": self_approved}
    if unsigned or self_approved:
        return CheckResult(
            CheckResult.FAIL,
            f"{unsigned + self_approved} of {total} recipe versions approved in the period "
            "lack an independent, signed approval.",
            evidence,
            measured,
        )
    return CheckResult(
        CheckResult.PASS,
        f"All {total} recipe versions approved in the period carry a signed approval by "
        "someone other than their author.",
        evidence,
        measured,
    )


def approved_recipe_count(period: Period) -> int:
    return RecipeVersion.objects.filter(status=RecipeVersionStatus.APPROVED).count()


register_check(
    CapabilityCheck(
        key="recipes.changes_approved",
        title="Recipe changes are approved and signed in the system",
        model="process",
        evaluate=recipe_changes_approved,
        symptom="old_recipe_versions",
        fixed_by="MES-integrated recipe version management with signed review and approval",
        order=15,
        tags=("recipes",),
    )
)
register_fact(
    InstallationFact(
        key="recipes.approved_recipes",
        title="Master recipes with an approved version",
        indicates="process",
        count=approved_recipe_count,
        order=10,
        url_name="recipes:recipe_list",
    )
)

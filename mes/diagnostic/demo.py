"""The demo plant's self-audit: one assessment over the last 90 days (after every other demo
step), answered as the Resin & Packaging Plant would, and signed by QA."""

from mes.accounts.roles import Role
from mes.diagnostic.models import Assessment
from mes.diagnostic.services import assessment_run, assessment_sign, last_days
from mes.esign.services import signer_for_system_command
from mes.registry import DemoContext

DEMO_ANSWERS = {
    "materials": "both",
    "output": "both",
    "continuous_flow": "yes",
    "traceability": "both",
    "downstream": "yes",
}


def build_demo_assessment(ctx: DemoContext) -> None:
    if Assessment.objects.exists():
        return
    qa = ctx.user(Role.QA_REVIEWER.value)
    assessment = assessment_run(actor=qa, period=last_days(90), answers=DEMO_ANSWERS)
    ctx.created(
        f"self-audit assessment #{assessment.pk}: {assessment.get_mode_display()}, "
        f"{assessment.pass_count} pass, {assessment.warning_count} warning, "
        f"{assessment.fail_count} fail, {assessment.not_applicable_count} not applicable"
    )
    assessment_sign(
        actor=qa,
        assessment=assessment,
        signer=signer_for_system_command(user=qa),
        reason="demo: assessment reviewed",
    )
    ctx.created(f"assessment #{assessment.pk} signed by {qa.get_username()}")

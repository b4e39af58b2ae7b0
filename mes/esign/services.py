"""Electronic signatures: the one kernel service every app calls (21 CFR 11.50, 11.70, 11.100,
11.200, 11.300; EU GMP Annex 11 §14).

Signing is two calls, because a failed password must be recorded even though the domain action
then fails (its transaction rolls back):

    # in the view, OUTSIDE any transaction:
    signer = signer_authenticate(request=request, actor=request.user,
                                 username=form.cleaned_data["username"],
                                 password=form.cleaned_data["password"])
    # then the app's service, in ONE transaction with the state change:
    @transaction.atomic
    def batch_release(*, actor, batch, signer, reason=""):
        ...                                         # checks and the state change
        record_sign(record=batch, signer=signer, meaning=Meaning.RELEASED, reason=reason)

`signer_authenticate` asks for user ID and password every time (11.200(a)(1)(ii)): the user ID
must be the logged-in user's (11.200(a)(2)); the password is checked through
`django.contrib.auth.authenticate`, so django-axes counts a wrong one toward the lockout
(11.300(d)). It returns an `AuthenticatedSigner` valid for MES_ESIGN_AUTH_VALID_SECONDS
(120 s); it may sign several records of the one action within that time.

`record_sign` applies the SignaturePolicy for (record type, meaning): the signer holds one of
its roles (superusers are NOT exempt), the record's author may be refused
(`record.signature_author()`), and meanings in `distinct_from` already signed by the same
person on the record refuse (performer ≠ verifier). With no policy row it refuses. The
signature stores the printed name (snapshot), user ID, meaning, reason, the database time and
the record's canonical content hash (mes/esign/hashing.py).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from mes.accounts.models import SecurityEvent, User
from mes.accounts.services import security_event_record
from mes.audit.context import acting_as, current_context
from mes.esign.hashing import HASH_ALG, record_content_hash, record_type_label
from mes.esign.models import Meaning, Signature, SignaturePolicy
from mes.esign.signals import record_signed
from mes.exceptions import InvalidInput, NotAuthorized, SignatureRefused

__all__ = [
    "AuthenticatedSigner",
    "record_content_hash",
    "record_sign",
    "signature_policy_set",
    "signer_authenticate",
    "signer_for_system_command",
]

_PROOF_SALT = "mes.esign.AuthenticatedSigner"


def auth_valid_seconds() -> int:
    return int(getattr(settings, "MES_ESIGN_AUTH_VALID_SECONDS", 120))


def _proof(user: Any, authenticated_at: datetime) -> str:
    # Bound to the password hash too: a password change in between voids the authentication.
    value = f"{user.pk}:{user.password}:{authenticated_at.isoformat()}"
    return salted_hmac(_PROOF_SALT, value, algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class AuthenticatedSigner:
    """Proof that `user` just entered their user ID and password. Made only by
    `signer_authenticate`; `record_sign` checks the proof and the freshness."""

    user: Any
    authenticated_at: datetime
    proof: str = field(repr=False, compare=False, default="")

    @property
    def expires_at(self) -> datetime:
        return self.authenticated_at + timedelta(seconds=auth_valid_seconds())

    def is_fresh(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) <= self.expires_at

    def has_valid_proof(self, user: Any) -> bool:
        return constant_time_compare(self.proof, _proof(user, self.authenticated_at))


def _in_atomic_block() -> bool:
    """True inside a transaction.atomic block (a test case's own wrapping does not count)."""
    return any(not block._from_testcase for block in connection.atomic_blocks)


def _django_request(request: Any) -> Any:
    return getattr(request, "_request", request)


def signer_authenticate(
    *, request: Any, actor: Any, username: str, password: str
) -> AuthenticatedSigner:
    """Check the signing credentials of the logged-in `actor`. Raises SignatureRefused with a
    clear reason; every refusal is a `signature.failed` SecurityEvent (written at once: this
    must be called outside any transaction)."""
    if _in_atomic_block():
        raise RuntimeError(
            "signer_authenticate() must be called outside any atomic block, so that a failed "
            "attempt is recorded even though the action then fails"
        )
    http_request = _django_request(request)
    entered = (username or "").strip()

    def refuse(code: str, detail: str) -> SignatureRefused:
        security_event_record(
            event_type=SecurityEvent.Type.SIGNATURE_FAILED,
            actor=actor,
            user=actor if getattr(actor, "is_authenticated", False) else None,
            username=entered,
            request=http_request,
            data={
                "reason": code,
                "detail": detail,
                "path": getattr(http_request, "path", "")[:200],
            },
        )
        return SignatureRefused(detail, code=code)

    if actor is None or not getattr(actor, "is_authenticated", False):
        raise refuse("signature_not_logged_in", "Log in before you sign.")
    if not entered or not password:
        raise refuse(
            "signature_incomplete",
            "Enter your user ID and your password to sign (21 CFR 11.200(a)(1)).",
        )
    if entered.casefold() != actor.get_username().casefold():
        raise refuse(
            "signature_wrong_user",
            f"User ID {entered!r} is not the logged-in user {actor.get_username()!r}: "
            "you can sign only as yourself (21 CFR 11.200(a)(2)).",
        )
    user = User.objects.get(pk=actor.pk)
    if not user.is_active or user.is_system:
        raise refuse("signature_user_inactive", f"User {user.username!r} may not sign (inactive).")
    if user.must_change_password:
        raise refuse(
            "signature_password_change_required",
            "Change your temporary password before you sign.",
        )
    if user.password_expired:
        raise refuse(
            "signature_password_expired",
            f"Your password is older than {settings.MES_PASSWORD_MAX_AGE_DAYS} days; change it "
            "before you sign (21 CFR 11.300(b)).",
        )
    credentials = {settings.AXES_USERNAME_FORM_FIELD: user.get_username()}
    http_request.mes_signing = True
    try:
        if settings.AXES_ENABLED:
            from axes.handlers.proxy import AxesProxyHandler

            if AxesProxyHandler.is_locked(http_request, credentials):
                raise refuse(
                    "signature_locked",
                    "Your user ID is locked after too many failed attempts; nothing was "
                    "signed. Wait for the lockout to end or ask an administrator.",
                )
        checked = authenticate(
            request=http_request, username=user.get_username(), password=password
        )
        if checked is None or checked.pk != user.pk:
            if getattr(http_request, "axes_locked_out", False):
                raise refuse(
                    "signature_bad_password",
                    "Wrong password; nothing was signed. Too many failed attempts: your user "
                    "ID is now locked and an administrator has been alerted.",
                )
            raise refuse(
                "signature_bad_password",
                "Wrong password; nothing was signed. Repeated failures lock your user ID.",
            )
        if settings.AXES_ENABLED and settings.AXES_RESET_ON_SUCCESS:
            from axes.handlers.proxy import AxesProxyHandler

            reset = getattr(AxesProxyHandler.get_implementation(), "reset_user_attempts", None)
            if reset is not None:
                reset(http_request, credentials)
    finally:
        http_request.mes_signing = False
    checked.refresh_from_db(fields=["password"])
    now = timezone.now()
    return AuthenticatedSigner(user=checked, authenticated_at=now, proof=_proof(checked, now))


def signer_for_system_command(*, user: Any) -> AuthenticatedSigner:
    """A signer without a password, for a management command that loads data (`load_demo`)
    and prints the person's password. Refused anywhere but in a named system audit context
    with no request (never from a view, API call or task acting for a person)."""
    ctx = current_context()
    if (
        ctx is None
        or not ctx.principal.startswith("system:")
        or ctx.request is not None
        or ctx.user is not None
    ):
        raise SignatureRefused(
            "Only a system command may sign without the signer's password.",
            code="signature_not_authenticated",
        )
    now = timezone.now()
    return AuthenticatedSigner(user=user, authenticated_at=now, proof=_proof(user, now))


def _signer_user(signer: AuthenticatedSigner) -> User:
    if not isinstance(signer, AuthenticatedSigner):
        raise SignatureRefused(
            "A signature needs the signer's user ID and password (signer_authenticate).",
            code="signature_not_authenticated",
        )
    if not signer.is_fresh():
        raise SignatureRefused(
            f"Your signing authentication is older than {auth_valid_seconds()} seconds; "
            "enter your user ID and password again.",
            code="signature_expired",
        )
    user = User.objects.filter(pk=getattr(signer.user, "pk", None)).first()
    if user is None or not signer.has_valid_proof(user):
        raise SignatureRefused(
            "The signing authentication is not valid; enter your user ID and password again.",
            code="signature_not_authenticated",
        )
    if not user.is_active or user.is_system:
        raise SignatureRefused(f"User {user.username!r} may not sign (inactive).")
    if user.must_change_password:
        raise SignatureRefused(
            "Change your temporary password before you sign.",
            code="signature_password_change_required",
        )
    return user


def _policy(content_type: ContentType, meaning: str) -> SignaturePolicy:
    policy = (
        SignaturePolicy.objects.filter(content_type=content_type, meaning=meaning, is_active=True)
        .prefetch_related("allowed_roles")
        .first()
    )
    if policy is None:
        raise SignatureRefused(
            f"No signature policy for {content_type.app_label}.{content_type.model} "
            f"'{meaning}': nobody may sign it until an administrator defines one.",
            code="signature_no_policy",
        )
    return policy


@transaction.atomic
def record_sign(
    *, record: models.Model, signer: AuthenticatedSigner, meaning: str, reason: str = ""
) -> Signature:
    """Sign `record` with `meaning`, inside the caller's transaction. Refusals raise
    SignatureRefused (nothing is written)."""
    if meaning not in Meaning.values:
        raise InvalidInput(f"Unknown signature meaning {meaning!r}.")
    if record.pk is None:
        raise InvalidInput("An unsaved record cannot be signed.")
    user = _signer_user(signer)
    model = record._meta.concrete_model
    content_type = ContentType.objects.get_for_model(model)
    policy = _policy(content_type, meaning)

    allowed = {g.name for g in policy.allowed_roles.all()}
    held = set(user.groups.values_list("name", flat=True))
    if not allowed & held:
        raise SignatureRefused(
            f"Signing {model._meta.verbose_name} as '{Meaning(meaning).label}' needs the role "
            f"{' or '.join(sorted(allowed)) or '(none configured)'}; "
            f"{user.username} holds {', '.join(sorted(held)) or 'no role'}.",
            code="signature_role",
        )
    if not policy.author_may_sign:
        author_of = getattr(record, "signature_author", None)
        if not callable(author_of):
            raise SignatureRefused(
                f"The policy forbids the author to sign '{Meaning(meaning).label}', but a "
                f"{model._meta.verbose_name} does not name its author.",
                code="signature_author_unknown",
            )
        author = author_of()
        if author is not None and author.pk == user.pk:
            raise SignatureRefused(
                f"You are the author of this {model._meta.verbose_name}: someone else must "
                f"sign it as '{Meaning(meaning).label}'.",
                code="signature_author",
            )

    # Lock the record: signatures of one record are serialised (performer ≠ verifier holds
    # under concurrency) and the hash is taken from the stored row, not the caller's copy.
    stored = model._base_manager.select_for_update().get(pk=record.pk)
    object_id = str(record.pk)
    if policy.distinct_from:
        earlier = list(
            Signature.objects.filter(
                content_type=content_type,
                object_id=object_id,
                signer=user,
                meaning__in=policy.distinct_from,
            ).values_list("meaning", flat=True)
        )
        if earlier:
            labels = ", ".join(sorted({Meaning(m).label for m in earlier}))
            raise SignatureRefused(
                f"You already signed this {model._meta.verbose_name} as '{labels}': "
                f"'{Meaning(meaning).label}' must be signed by someone else.",
                code="signature_not_distinct",
            )

    with acting_as(user, reason=f"e-signature: {Meaning(meaning).label}"):
        signature = Signature(
            content_type=content_type,
            object_id=object_id,
            signer=user,
            printed_name=user.printed_name,
            username=user.get_username(),
            meaning=meaning,
            reason=(reason or "").strip(),
            record_hash=record_content_hash(stored),
            hash_alg=HASH_ALG,
        )
        signature.save()
    signature.refresh_from_db(fields=["signed_at"])
    signature_id, label = signature.pk, record_type_label(model)
    transaction.on_commit(
        lambda: record_signed.send(
            sender=Signature,
            signature_id=signature_id,
            record_type=label,
            object_id=object_id,
            meaning=meaning,
        )
    )
    return signature


def _model_from(model: Any) -> type[models.Model]:
    from django.apps import apps

    if isinstance(model, str):
        try:
            return apps.get_model(model)
        except (LookupError, ValueError) as exc:
            raise InvalidInput(f"Unknown record type {model!r}.") from exc
    if isinstance(model, type) and issubclass(model, models.Model):
        return model
    raise InvalidInput(f"Not a model: {model!r}.")


@transaction.atomic
def signature_policy_set(
    *,
    actor: Any,
    model: Any,
    meaning: str,
    roles: list[str] | tuple[str, ...],
    author_may_sign: bool = True,
    distinct_from: list[str] | tuple[str, ...] = (),
    is_active: bool = True,
) -> SignaturePolicy:
    """Create or replace the policy for (record type, meaning). `model` is a model class or
    "app_label.ModelName". Called from apps' data migrations (as a system principal, actor
    None or a system user) and from the admin (an administrator holding the permission)."""
    is_person = actor is not None and not getattr(actor, "is_system", False)
    if is_person and not (
        actor.is_active
        and actor.has_perm("esign.add_signaturepolicy")
        and actor.has_perm("esign.change_signaturepolicy")
    ):
        raise NotAuthorized("You lack the permission to set signature policies.")
    model_class = _model_from(model)
    if meaning not in Meaning.values:
        raise InvalidInput(f"Unknown signature meaning {meaning!r}.")
    bad = sorted(set(distinct_from) - set(Meaning.values))
    if bad:
        raise InvalidInput(f"Unknown meaning(s) in distinct_from: {', '.join(bad)}.")
    roles = list(roles)
    if not roles:
        raise InvalidInput("A signature policy needs at least one role.")
    groups = list(Group.objects.filter(name__in=roles))
    missing = sorted(set(roles) - {g.name for g in groups})
    if missing:
        raise InvalidInput(f"Unknown role(s): {', '.join(missing)}.")
    content_type = ContentType.objects.get_for_model(model_class._meta.concrete_model)
    scope = acting_as(actor, reason=f"signature policy {content_type.model} {meaning}")
    with scope:
        policy = (
            SignaturePolicy.objects.select_for_update()
            .filter(content_type=content_type, meaning=meaning)
            .first()
        )
        if policy is None:
            policy = SignaturePolicy(content_type=content_type, meaning=meaning)
        policy.author_may_sign = author_may_sign
        policy.distinct_from = sorted(set(distinct_from))
        policy.is_active = is_active
        policy.save()
        policy.allowed_roles.set(groups)
    return policy

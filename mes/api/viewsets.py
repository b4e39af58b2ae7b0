"""Bases for the viewsets of GMP records, for every plant app to reuse.

A GMP record is never deleted (21 CFR 11.10(e): changes must not obscure what was recorded).
A viewset built on these bases answers DELETE with 405 and a body that says what to do instead,
even if a `destroy` slipped in through a mixin. Where a record can be withdrawn, the app offers
the void-with-reason command:

    class DeviationViewSet(VoidActionMixin, GmpReadOnlyViewSet):
        serializer_class = DeviationSerializer

        def get_queryset(self):
            return selectors.deviation_list(actor=self.request.user)

        def perform_void(self, *, instance, actor, reason):
            return services.deviation_void(deviation=instance, actor=actor, reason=reason)

        @extend_schema(request=DeviationCloseInputSerializer, responses=DeviationSerializer)
        @action(detail=True, methods=["post"])
        def close(self, request, pk=None):
            data = self.validated_input(DeviationCloseInputSerializer)
            deviation = services.deviation_close(
                deviation=self.get_object(), actor=request.user, **data
            )
            return Response(self.get_serializer(deviation).data)

`POST <record>/void/ {"reason": "..."}` then calls the app's service, which checks the rules,
records the reason and marks the record void (it stays readable, with its audit trail).
"""

from typing import Any, NoReturn

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

DELETE_REFUSED_DETAIL = (
    "GMP records are never deleted. If this record must be withdrawn, void it with a reason "
    '(POST .../void/ with {"reason": ...}) where the record offers that.'
)


class GmpViewSetMixin:
    """Refuses DELETE with 405 (code `method_not_allowed`); adds `validated_input()`."""

    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    delete_refused_detail = DELETE_REFUSED_DETAIL

    def http_method_not_allowed(self, request: Request, *args: Any, **kwargs: Any) -> NoReturn:
        if request.method == "DELETE":
            raise exceptions.MethodNotAllowed("DELETE", detail=self.delete_refused_detail)
        raise exceptions.MethodNotAllowed(request.method)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> NoReturn:
        raise exceptions.MethodNotAllowed("DELETE", detail=self.delete_refused_detail)

    def validated_input(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        """Validate the request body with a `<Entity><Verb>InputSerializer`; a failure becomes
        400 `invalid_input` with `errors` by field."""
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())  # type: ignore[attr-defined]
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class GmpGenericViewSet(GmpViewSetMixin, viewsets.GenericViewSet):
    """A GMP viewset with only the routes and actions you add."""


class GmpReadOnlyViewSet(GmpViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve (through a selector in `get_queryset()`), commands as `@action`s."""


class VoidInputSerializer(serializers.Serializer):
    reason = serializers.CharField(
        min_length=3,
        max_length=1000,
        help_text="Why the record is withdrawn; kept with the record and in the audit trail.",
    )


class VoidActionMixin:
    """`POST <record>/void/ {"reason": ...}`: withdraws a record without deleting it.
    Implement `perform_void(*, instance, actor, reason)` by calling the app's service; it
    returns the record, which is answered serialized (200)."""

    @extend_schema(request=VoidInputSerializer, summary="Void the record, with a reason")
    @action(detail=True, methods=["post"])
    def void(self, request: Request, pk: Any = None) -> Response:
        instance = self.get_object()  # type: ignore[attr-defined]
        data = self.validated_input(VoidInputSerializer)  # type: ignore[attr-defined]
        instance = self.perform_void(instance=instance, actor=request.user, reason=data["reason"])
        return Response(self.get_serializer(instance).data)  # type: ignore[attr-defined]

    def perform_void(self, *, instance: Any, actor: Any, reason: str) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement perform_void()")

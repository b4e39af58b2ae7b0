"""Recipes API: reads through selectors, every change through one service.

GET    /api/v1/recipes/master-recipes/                 list (?q=)
POST   /api/v1/recipes/master-recipes/                 create (with version 1 as a draft)
PATCH  /api/v1/recipes/master-recipes/{id}/            rename / describe
POST   /api/v1/recipes/master-recipes/{id}/new-version/   copy into draft N+1
GET    /api/v1/recipes/versions/                       list (?recipe=, ?status=)
GET    /api/v1/recipes/versions/{id}/                  version with content and signatures
PATCH  /api/v1/recipes/versions/{id}/                  header of a draft
GET|PUT /api/v1/recipes/versions/{id}/tree/            the content tree (PUT: drafts only)
GET    /api/v1/recipes/versions/{id}/problems/         what blocks a submission
GET    /api/v1/recipes/versions/{id}/diff/?against=ID  field-level diff (default: baseline)
GET    /api/v1/recipes/versions/{id}/scale/?batch_size=4000[&uom=kg]   control recipe
POST   /api/v1/recipes/versions/{id}/submit|approve|reject|obsolete/
       {"username", "password", "reason"}: each a signed transition
"""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from mes.api.viewsets import GmpReadOnlyViewSet
from mes.esign.services import signer_authenticate
from mes.exceptions import InvalidInput, NotFound
from recipes import selectors, services
from recipes.api import serializers as s
from recipes.content import version_content
from recipes.diff import diff_counts, diff_versions
from recipes.models import RecipeVersion
from recipes.scaling import scale_version


class MasterRecipeViewSet(GmpReadOnlyViewSet):
    serializer_class = s.MasterRecipeSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.recipe_list(
            actor=self.request.user, q=self.request.query_params.get("q", "")
        )

    @extend_schema(request=s.MasterRecipeCreateInputSerializer, responses=s.MasterRecipeSerializer)
    def create(self, request: Request) -> Response:
        data = self.validated_input(s.MasterRecipeCreateInputSerializer)
        recipe = services.master_recipe_create(
            actor=request.user,
            code=data["code"],
            name=data["name"],
            product=data["product"],
            description=data.get("description") or "",
            batch_size_min=data["batch_size_min"],
            batch_size_max=data["batch_size_max"],
            batch_size_reference=data["batch_size_reference"],
            batch_size_uom=data.get("batch_size_uom") or None,
        )
        recipe = selectors.recipe_get(actor=request.user, pk=recipe.pk)
        return Response(self.get_serializer(recipe).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MasterRecipeUpdateInputSerializer, responses=s.MasterRecipeSerializer)
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        recipe = self.get_object()
        data = self.validated_input(s.MasterRecipeUpdateInputSerializer)
        services.master_recipe_update(
            actor=request.user,
            recipe=recipe,
            name=data.get("name"),
            description=data.get("description"),
        )
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=s.NewVersionInputSerializer, responses=s.RecipeVersionSerializer)
    @action(detail=True, methods=["post"], url_path="new-version")
    def new_version(self, request: Request, pk: Any = None) -> Response:
        recipe = self.get_object()
        data = self.validated_input(s.NewVersionInputSerializer)
        based_on = None
        if data.get("based_on") is not None:
            based_on = recipe.versions.filter(number=data["based_on"]).first()
            if based_on is None:
                raise NotFound(f"{recipe.code} has no version {data['based_on']}.")
        version = services.recipe_version_create_next(
            actor=request.user, recipe=recipe, based_on=based_on
        )
        version = selectors.recipe_version_get(actor=request.user, pk=version.pk)
        return Response(
            s.RecipeVersionDetailSerializer(version).data, status=status.HTTP_201_CREATED
        )


class RecipeVersionViewSet(GmpReadOnlyViewSet):
    serializer_class = s.RecipeVersionSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        params = self.request.query_params
        qs = selectors.recipe_version_list(
            actor=self.request.user, status=params.get("status") or None
        ).select_related("based_on", "superseded_by", "obsoleted_by")
        recipe = params.get("recipe")
        if recipe:
            qs = (
                qs.filter(recipe__pk=recipe)
                if recipe.isdigit()
                else qs.filter(recipe__code__iexact=recipe)
            )
        return qs

    def get_serializer_class(self):  # type: ignore[no-untyped-def]
        if self.action == "retrieve":
            return s.RecipeVersionDetailSerializer
        return s.RecipeVersionSerializer

    def _detail(self, version: RecipeVersion, code: int = status.HTTP_200_OK) -> Response:
        version = selectors.recipe_version_get(actor=self.request.user, pk=version.pk)
        return Response(s.RecipeVersionDetailSerializer(version).data, status=code)

    @extend_schema(
        request=s.VersionHeaderInputSerializer, responses=s.RecipeVersionDetailSerializer
    )
    def partial_update(self, request: Request, pk: Any = None) -> Response:
        version = self.get_object()
        data = self.validated_input(s.VersionHeaderInputSerializer)
        services.recipe_version_update(actor=request.user, version=version, changes=data)
        return self._detail(version)

    @extend_schema(
        methods=["PUT"],
        request=s.VersionTreeInputSerializer,
        responses=s.RecipeVersionDetailSerializer,
    )
    @action(detail=True, methods=["get", "put"])
    def tree(self, request: Request, pk: Any = None) -> Response:
        version = self.get_object()
        if request.method == "GET":
            return Response(version_content(version))
        data = s.plain(self.validated_input(s.VersionTreeInputSerializer))
        services.recipe_version_tree_replace(actor=request.user, version=version, tree=data)
        return self._detail(version)

    @action(detail=True, methods=["get"])
    def problems(self, request: Request, pk: Any = None) -> Response:
        version = self.get_object()
        return Response({"problems": selectors.recipe_version_problems(version)})

    @extend_schema(
        parameters=[OpenApiParameter("against", int, description="Version id to compare with")]
    )
    @action(detail=True, methods=["get"])
    def diff(self, request: Request, pk: Any = None) -> Response:
        version = self.get_object()
        against = request.query_params.get("against")
        if against:
            if not against.isdigit():
                raise InvalidInput("`against` is the id of a recipe version.")
            base = selectors.recipe_version_get(actor=request.user, pk=int(against))
        else:
            base = selectors.recipe_version_baseline(version)
            if base is None:
                raise InvalidInput(
                    f"{version.title} has no earlier version to compare with; give ?against=."
                )
        changes = diff_versions(base, version)
        return Response(
            {
                "from": {"id": base.pk, "recipe": base.recipe.code, "number": base.number},
                "to": {"id": version.pk, "recipe": version.recipe.code, "number": version.number},
                "counts": diff_counts(changes),
                "changes": s.ChangeSerializer([c.as_dict() for c in changes], many=True).data,
            }
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("batch_size", str, required=True),
            OpenApiParameter("uom", str, description="Unit of batch_size (default: the version's)"),
        ]
    )
    @action(detail=True, methods=["get"])
    def scale(self, request: Request, pk: Any = None) -> Response:
        version = self.get_object()
        return Response(
            scale_version(
                version,
                request.query_params.get("batch_size"),
                batch_size_uom=request.query_params.get("uom") or None,
            )
        )

    # --- signed transitions --------------------------------------------------------------

    def _signed(self, request: Request, service: Any) -> Response:
        version = self.get_object()
        data = self.validated_input(s.SignInputSerializer)
        signer = signer_authenticate(
            request=request,
            actor=request.user,
            username=data["username"],
            password=data["password"],
        )
        service(actor=request.user, version=version, signer=signer, reason=data.get("reason", ""))
        return self._detail(version)

    @extend_schema(request=s.SignInputSerializer, responses=s.RecipeVersionDetailSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: Any = None) -> Response:
        return self._signed(request, services.recipe_version_submit)

    @extend_schema(request=s.SignInputSerializer, responses=s.RecipeVersionDetailSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: Any = None) -> Response:
        return self._signed(request, services.recipe_version_approve)

    @extend_schema(request=s.SignInputSerializer, responses=s.RecipeVersionDetailSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: Any = None) -> Response:
        return self._signed(request, services.recipe_version_reject)

    @extend_schema(request=s.SignInputSerializer, responses=s.RecipeVersionDetailSerializer)
    @action(detail=True, methods=["post"])
    def obsolete(self, request: Request, pk: Any = None) -> Response:
        return self._signed(request, services.recipe_version_make_obsolete)

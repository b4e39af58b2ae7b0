from django.urls import path
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response


@api_view(["GET"])
def whoami(request: Request) -> Response:
    user = request.user
    return Response(
        {
            "username": user.get_username(),
            "printed_name": user.printed_name,
            "roles": sorted(user.role_names),
        }
    )


urlpatterns = [path("me/", whoami, name="api-me")]

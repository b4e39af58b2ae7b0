from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def _user_roles(request: HttpRequest) -> list[str]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return sorted(user.role_names)


def platform(request: HttpRequest) -> dict:
    return {
        "MES_SITE_NAME": settings.MES_SITE_NAME,
        "MES_APP_VERSION": settings.MES_APP_VERSION,
        "MES_DATABASE_IS_GMP_GRADE": settings.MES_DATABASE_IS_GMP_GRADE,
        # the roles shown next to the user's printed name (queried only if a page shows them)
        "MES_USER_ROLES": SimpleLazyObject(lambda: _user_roles(request)),
    }

from django.conf import settings
from django.http import HttpRequest


def platform(request: HttpRequest) -> dict:
    return {
        "MES_SITE_NAME": settings.MES_SITE_NAME,
        "MES_APP_VERSION": settings.MES_APP_VERSION,
        "MES_DATABASE_IS_GMP_GRADE": settings.MES_DATABASE_IS_GMP_GRADE,
    }

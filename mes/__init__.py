"""The MES project package and platform kernel (layer 0)."""

from mes.celery import app as celery_app

__all__ = ("celery_app",)

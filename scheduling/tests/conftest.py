"""Fixtures of the scheduling tests: a small plant (two reactors in a process cell, the
packaging line's work centers), released work orders and batch orders, made through the
lower apps' factories and services."""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from batches.tests import factories as bf
from equipment.tests.factories import ProcessCellFactory, SiteFactory
from workorders import services as wo_services
from workorders.tests.factories import (
    approved_versions,
    kit_materials,
    kit_operations,
    work_centers,
)


@pytest.fixture
def plant(db: Any, planner: Any, operator: Any, supervisor: Any, recipe_author: Any, qa_user: Any):
    site = SiteFactory()
    cell = ProcessCellFactory()
    r1 = bf.reactor(
        cleaned_by=operator,
        verified_by=supervisor,
        code="R-1",
        process_cell=cell,
        working_volume_l=Decimal("4000"),
    )
    r2 = bf.reactor(
        cleaned_by=operator,
        verified_by=supervisor,
        code="R-2",
        process_cell=cell,
        working_volume_l=Decimal("2500"),
    )
    version = bf.recipe(author=recipe_author, reviewer=qa_user)
    centers = work_centers()
    materials = kit_materials()
    bom, routing = approved_versions(
        item=materials["kit"],
        lines=[{"component": materials["label"], "quantity_per": "2", "operation_seq": 30}],
        operations=kit_operations(centers),
        author=planner,
        approver=qa_user,
    )
    return SimpleNamespace(
        site=site,
        cell=cell,
        r1=r1,
        r2=r2,
        version=version,
        centers=centers,
        kit=materials["kit"],
        bom=bom,
        routing=routing,
    )


def make_work_order(plant: Any, planner: Any, *, quantity: int = 3, days: int = 3) -> Any:
    wo = wo_services.work_order_create(
        actor=planner,
        item=plant.kit,
        quantity=quantity,
        due_date=timezone.localdate() + timedelta(days=days),
    )
    return wo_services.work_order_release(actor=planner, work_order=wo)


def make_batch(plant: Any, planner: Any, size: str = "2000", number: str | None = None) -> Any:
    return bf.batch_order(planner=planner, version=plant.version, batch_size=size, number=number)


@pytest.fixture
def demand(plant: Any, planner: Any):
    return SimpleNamespace(
        orders=[make_work_order(plant, planner, days=d) for d in (1, 2)],
        batches=[make_batch(plant, planner, number=f"B-{n}") for n in (1, 2, 3)],
    )

"""Factories of the equipment app (master data only: records are made through services)."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from equipment.choices import InstrumentKind, MaintenanceTrigger
from equipment.models import (
    Area,
    Capability,
    CleaningRule,
    EquipmentClass,
    Instrument,
    MaintenancePlan,
    ProcessCell,
    Site,
    Unit,
    WorkCenter,
)


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = "RPP"
    name = "Resin & Packaging Plant"


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Area
        django_get_or_create = ("site", "code")

    site = factory.SubFactory(SiteFactory)
    code = "RX"
    name = factory.LazyAttribute(lambda o: f"Area {o.code}")
    kind = Area.Kind.PROCESS


class EquipmentClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EquipmentClass
        django_get_or_create = ("name",)

    name = "reactor"


class CapabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Capability
        django_get_or_create = ("code",)

    code = "glass-lined"
    name = factory.LazyAttribute(lambda o: o.code.title())


class ProcessCellFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProcessCell
        django_get_or_create = ("area", "code")

    area = factory.SubFactory(AreaFactory)
    code = "RX-C1"
    name = "Resin cell 1"


class WorkCenterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkCenter
        django_get_or_create = ("area", "code")

    area = factory.SubFactory(AreaFactory, code="PK", kind=Area.Kind.DISCRETE)
    code = "PK-FIL"
    name = "Filling"
    capacity_per_hour = Decimal("1200")


class UnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Unit
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"R-{101 + n}")
    name = factory.LazyAttribute(lambda o: f"Reactor {o.code}")
    area = factory.SubFactory(AreaFactory)
    equipment_class = factory.SubFactory(EquipmentClassFactory)
    working_volume_l = Decimal("4000")

    @factory.post_generation
    def capabilities(self, create, extracted, **kwargs):
        if create and extracted:
            self.capabilities.set([CapabilityFactory(code=code) for code in extracted])


class InstrumentFactory(factory.django.DjangoModelFactory):
    """Calibrated yesterday, due in `calibration_interval_days - 1` days unless told."""

    class Meta:
        model = Instrument

    code = factory.Sequence(lambda n: f"TT-{201 + n}")
    name = factory.LazyAttribute(lambda o: f"Probe {o.code}")
    kind = InstrumentKind.TEMPERATURE_PROBE
    area = factory.SubFactory(AreaFactory)
    uom = "°C"
    tolerance = Decimal("0.5")
    calibration_interval_days = 90
    last_calibrated_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    next_calibration_due_at = factory.LazyAttribute(
        lambda o: (
            o.last_calibrated_at + timedelta(days=o.calibration_interval_days)
            if o.last_calibrated_at
            else None
        )
    )


class CleaningRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CleaningRule

    equipment_class = factory.SubFactory(EquipmentClassFactory)
    product_code = ""
    clean_hold_hours = 72
    dirty_hold_hours = 24


class MaintenancePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MaintenancePlan

    code = factory.Sequence(lambda n: f"PM-{n:03d}")
    name = "Agitator seal inspection"
    unit = factory.SubFactory(UnitFactory)
    trigger = MaintenanceTrigger.CALENDAR
    interval_days = 30
    starts_at = factory.LazyFunction(timezone.now)

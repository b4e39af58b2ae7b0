"""Bulk load of lot history from a CSV file (`manage.py import_genealogy FILE.csv`).

The whole file is validated first, in order, against the database and against itself (the
same rules as the services: materials exist and are lot-controlled, quantities never go
negative, splits and merges conserve quantity, a consumption never closes a cycle, ...). The
first bad line refuses the file (`line N: reason`) and NOTHING is loaded. A good file is
written in one transaction: on PostgreSQL with COPY (the audit trigger still records every
row: the audit context is set for the transaction), elsewhere with batched INSERTs.

The format is FORMAT_HELP below (also in genealogy/README.md).
"""

import csv
import io
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from genealogy.choices import (
    UOM_DIMENSIONS,
    ContextKind,
    EventType,
    LinkKind,
    LotStatus,
    NodeKind,
)
from genealogy.exceptions import ImportRefused
from genealogy.models import Link, Lot, LotEvent, Material
from genealogy.quantities import MAX_QUANTITY, PLACES
from mes.accounts.models import User
from mes.audit.context import acting_as, current_context
from mes.exceptions import DomainError

FORMAT_HELP = """\
CSV, UTF-8, comma-separated, one header line, then one line per event, in the order they
happened. Column order is free; unknown columns refuse the file.

Columns (required: event_type, lot_number, material_code, occurred_at):
  event_type          receive | produce | rework | unit | consume | split | merge |
                      transfer | ship | adjust
  lot_number          the lot this line is about (the serial number for `unit`)
  material_code       its material (must exist in the material master)
  quantity            decimal, '.' as separator, at most 6 places (see below per type)
  uom                 unit of `quantity` (default: the material's unit); kg g t L mL m3 m ea
  parent_lot_numbers  ';'-separated parents: LOT[@MATERIAL]=QUANTITY (the quantity taken
                      from the parent, in the parent's unit; @MATERIAL when the lot number
                      exists for several materials)
  into_lot_number     consume: LOT[@MATERIAL] the material went into (optional)
  supplier            receive: the supplier (required)
  supplier_lot        receive: the supplier's lot number (required)
  customer            ship: the customer (required)
  shipment_ref        ship: the shipment reference (required)
  occurred_at         ISO 8601 date-time WITH zone, e.g. 2024-03-01T08:30:00+01:00
  reference_kind      batch | batch_phase | work_order | wo_operation | packaging | import
                      | other (default: import)
  reference           the batch, phase, work order or operation (e.g. B-1001/phase 3)
  reference_url       a link to it (a path or an http(s) address; optional)
  expires_at          ISO date, receive/produce/rework/merge (optional)
  status              the disposition carried over from the old system for a NEW lot:
                      quarantine (default) | released | rejected | on_hold
  location, container optional places (transfer: location required)
  reason              adjust: required

Per event_type (NEW = the lot must not exist yet; EXISTING = it must exist, in the database
or earlier in the file):
  receive   NEW lot of quantity; supplier and supplier_lot required. A serialized material
            is received as one unit (quantity 1).
  produce   NEW lot of quantity made by reference (a batch or work order); each parent is
            consumed into it (links of kind consumed).
  rework    like produce, the parents are reworked into it (links of kind reworked).
  unit      NEW serialized unit (quantity 1, material serialized); parents are its
            components (consumed into it).
  consume   EXISTING lot loses quantity in reference (a batch phase or operation), into
            into_lot_number if given (which must not be an ancestor of the lot).
  split     NEW sub-lot of quantity taken from ONE parent (the source lot, same material).
  merge     NEW lot from parents of the same material; quantity (if given) must equal the
            sum of the parent quantities.
  transfer  EXISTING lot moves to location (and container).
  ship      EXISTING lot (or unit) ships to customer under shipment_ref; quantity (default:
            all of it).
  adjust    EXISTING lot changes by a SIGNED quantity; reason required.
No lot may ever go below zero.
"""

COLUMNS = (
    "event_type",
    "lot_number",
    "material_code",
    "quantity",
    "uom",
    "parent_lot_numbers",
    "into_lot_number",
    "supplier",
    "supplier_lot",
    "customer",
    "shipment_ref",
    "occurred_at",
    "reference_kind",
    "reference",
    "reference_url",
    "expires_at",
    "status",
    "location",
    "container",
    "reason",
)
REQUIRED_COLUMNS = ("event_type", "lot_number", "material_code", "occurred_at")
CREATING = {"receive", "produce", "rework", "unit", "split", "merge"}
CHANGING = {"consume", "transfer", "ship", "adjust"}
EVENT_TYPES = CREATING | CHANGING
ID_BLOCK = 65536
# plain strings (the enum members would reach the database drivers as str subclasses)
RECEIVED, PRODUCED, CONSUMED = (
    EventType.RECEIVED.value,
    EventType.PRODUCED.value,
    EventType.CONSUMED.value,
)
SPLIT, MERGED, TRANSFERRED = (
    EventType.SPLIT.value,
    EventType.MERGED.value,
    EventType.TRANSFERRED.value,
)
SHIPPED, ADJUSTED = EventType.SHIPPED.value, EventType.ADJUSTED.value
LINK_CONSUMED, LINK_SPLIT, LINK_MERGED = (
    LinkKind.CONSUMED.value,
    LinkKind.SPLIT.value,
    LinkKind.MERGED.value,
)
LINK_COMPONENT, LINK_REWORKED = LinkKind.COMPONENT.value, LinkKind.REWORKED.value
LOT, SUBLOT, UNIT = NodeKind.LOT.value, NodeKind.SUBLOT.value, NodeKind.UNIT.value
QUARANTINE = LotStatus.QUARANTINE.value
IMPORT = ContextKind.IMPORT.value
STATUSES = frozenset(LotStatus.values)
CONTEXT_KINDS = frozenset(ContextKind.values)


class _Refuse(Exception):
    """Internal: the current line is bad (the line number is added by the reader)."""


class _Lot:
    """The import's view of one lot while it walks the file."""

    __slots__ = (
        "container",
        "dirty",
        "expires_at",
        "id",
        "is_new",
        "kind",
        "location",
        "lot_number",
        "material",
        "parent_lot_id",
        "quantity",
        "retest_at",
        "source_kind",
        "source_ref",
        "source_url",
        "status",
        "supplier",
        "supplier_lot",
        "uom",
    )

    def __init__(self, **values: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))


class _Material:
    __slots__ = ("code", "id", "is_active", "is_lot_controlled", "is_serialized", "kind", "uom")

    def __init__(self, m: Material) -> None:
        self.id, self.code, self.uom, self.kind = m.pk, m.code, m.uom, m.kind
        self.is_active = m.is_active
        self.is_lot_controlled = m.is_lot_controlled
        self.is_serialized = m.is_serialized


@dataclass
class ImportResult:
    path: str
    lines: int = 0
    lots_created: int = 0
    units_created: int = 0
    lots_updated: int = 0
    events: int = 0
    links: int = 0
    dry_run: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    def as_text(self) -> str:
        verb = "validated (dry run, nothing written)" if self.dry_run else "loaded"
        times = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
        return (
            f"{self.path}: {self.lines} line(s) {verb}: {self.lots_created} lot(s) and "
            f"{self.units_created} unit(s) created, {self.lots_updated} existing lot(s) "
            f"changed, {self.events} event(s), {self.links} link(s). [{times}]"
        )


# --- value parsing ---------------------------------------------------------------------------


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise _Refuse(f"{what} {text!r} is not a number") from None
    if not value.is_finite() or value != value.quantize(PLACES) or abs(value) > MAX_QUANTITY:
        raise _Refuse(f"{what} {text!r} is not a finite number of at most 6 decimal places")
    return value.quantize(PLACES)


def _convert(value: Decimal, from_uom: str, to_uom: str) -> Decimal:
    if from_uom == to_uom:
        return value
    if from_uom not in UOM_DIMENSIONS:
        raise _Refuse(f"unknown unit of measure {from_uom!r}")
    dim_from, f_from = UOM_DIMENSIONS[from_uom]
    dim_to, f_to = UOM_DIMENSIONS[to_uom]
    if dim_from != dim_to:
        raise _Refuse(f"cannot convert {from_uom} to {to_uom}")
    converted = value * f_from / f_to
    if converted != converted.quantize(PLACES):
        raise _Refuse(f"{value} {from_uom} in {to_uom} needs more than 6 decimal places")
    return converted.quantize(PLACES)


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _Refuse(f"occurred_at {text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is None:
        raise _Refuse(f"occurred_at {text!r} has no time zone")
    return value


def _day(text: str, what: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Refuse(f"{what} {text!r} is not an ISO date") from None


def _ref(text: str) -> tuple[str, str]:
    number, _, material = text.partition("@")
    number = number.strip()
    if not number:
        raise _Refuse(f"empty lot reference in {text!r}")
    return number, material.strip()


def _parents(text: str) -> list[tuple[str, str, str]]:
    found = []
    for token in text.split(";"):
        token = token.strip()
        if not token:
            continue
        ref, sep, qty = token.rpartition("=")
        if not sep:
            ref, qty = token, ""
        number, material = _ref(ref)
        found.append((number, material, qty.strip()))
    return found


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    text = value if value.__class__ is str else str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _esc(text: str) -> str:
    """COPY text format for a user-supplied string."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return _copy_text(text)
    return text


# --- where validated rows go -----------------------------------------------------------------

EVENT_COLUMNS = (
    "id",
    "type",
    "lot_id",
    "quantity_delta",
    "quantity_after",
    "uom",
    "operation_id",
    "occurred_at",
    "actor_id",
    "context_kind",
    "context_ref",
    "context_url",
    "customer",
    "shipment_ref",
    "reason",
    "data",
    "request_id",
)
LINK_COLUMNS = (
    "parent_id",
    "child_id",
    "kind",
    "quantity",
    "uom",
    "event_id",
    "context_kind",
    "context_ref",
    "context_url",
)
LOT_COLUMNS = (
    "id",
    "kind",
    "material_id",
    "lot_number",
    "parent_lot_id",
    "quantity",
    "uom",
    "status",
    "supplier",
    "supplier_lot_number",
    "expires_at",
    "retest_at",
    "container",
    "location",
    "source_kind",
    "source_ref",
    "source_url",
    "updated_at",
)
HISTORY_COLUMNS = (
    "id",
    "kind",
    "material_id",
    "lot_number",
    "parent_lot_id",
    "quantity",
    "uom",
    "status",
    "supplier",
    "supplier_lot_number",
    "expires_at",
    "retest_at",
    "container",
    "location",
    "source_kind",
    "source_ref",
    "source_url",
    "updated_at",
    "history_date",
    "history_change_reason",
    "history_type",
    "history_user_id",
)


class _Sink:
    """Collects validated rows; `flush` writes them (nothing is written before)."""

    def __init__(self) -> None:
        self.events = 0
        self.links = 0

    def event(self, row: tuple) -> None:
        self.events += 1

    def link(self, row: tuple) -> None:
        self.links += 1

    def flush(self, lots: list[tuple], history: list[tuple], updates: list[tuple]) -> None:
        return None

    def close(self) -> None:
        return None


class _CopySink(_Sink):
    """PostgreSQL: rows are spooled to temporary files in COPY text format during
    validation, then COPied in the import's transaction."""

    def __init__(self) -> None:
        super().__init__()
        self._events = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        self._links = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115

    def event(self, row: tuple) -> None:
        # id, type, lot, delta, after, uom, operation, occurred, actor: never need escaping
        self.events += 1
        (
            event_id,
            etype,
            lot_id,
            delta,
            after,
            uom,
            op,
            occurred,
            actor,
            ck,
            cr,
            cu,
            customer,
            shipment,
            reason,
            data,
            request_id,
        ) = row
        self._events.write(
            f"{event_id}\t{etype}\t{lot_id}\t{delta}\t{after}\t{uom}\t{op}\t{occurred}\t"
            f"{actor}\t{ck}\t{_esc(cr)}\t{_esc(cu)}\t{_esc(customer)}\t{_esc(shipment)}\t"
            f"{_esc(reason)}\t{data}\t{request_id}\n"
        )

    def link(self, row: tuple) -> None:
        self.links += 1
        parent, child, kind, quantity, uom, event_id, ck, cr, cu = row
        self._links.write(
            f"{parent}\t{child}\t{kind}\t{quantity}\t{uom}\t{event_id}\t{ck}\t"
            f"{_esc(cr)}\t{_esc(cu)}\n"
        )

    @staticmethod
    def _copy(cursor: Any, table: str, columns: tuple[str, ...], source: Any) -> None:
        source.seek(0)
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", source, size=1 << 20)

    def flush(self, lots: list[tuple], history: list[tuple], updates: list[tuple]) -> None:
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor  # the driver's cursor (COPY)
            for table, columns, rows in (
                (Lot._meta.db_table, LOT_COLUMNS, lots),
                (Lot.history.model._meta.db_table, HISTORY_COLUMNS, history),
            ):
                buffer = io.StringIO()
                for row in rows:
                    buffer.write("\t".join(map(_copy_text, row)) + "\n")
                self._copy(cursor, table, columns, buffer)
                del buffer
            if updates:
                _update_existing(wrapper, updates)
            self._copy(cursor, LotEvent._meta.db_table, EVENT_COLUMNS, self._events)
            self._copy(cursor, Link._meta.db_table, LINK_COLUMNS, self._links)

    def close(self) -> None:
        self._events.close()
        self._links.close()


class _InsertSink(_Sink):
    """Other databases (SQLite): batched INSERTs."""

    BATCH = 2000

    def __init__(self) -> None:
        super().__init__()
        self._event_rows: list[tuple] = []
        self._link_rows: list[tuple] = []
        ops = connection.ops
        self._adapt: dict[type, Callable[[Any], Any]] = {
            Decimal: ops.adapt_decimalfield_value,
            datetime: ops.adapt_datetimefield_value,
            date: ops.adapt_datefield_value,
            uuid.UUID: lambda v: v.hex,
        }

    def _row(self, row: tuple) -> tuple:
        adapt = self._adapt
        return tuple(adapt[v.__class__](v) if v.__class__ in adapt else v for v in row)

    def event(self, row: tuple) -> None:
        self.events += 1
        self._event_rows.append(self._row(row))

    def link(self, row: tuple) -> None:
        self.links += 1
        self._link_rows.append(self._row(row))

    @classmethod
    def _insert(cls, cursor: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        for start in range(0, len(rows), cls.BATCH):
            cursor.executemany(sql, rows[start : start + cls.BATCH])

    def flush(self, lots: list[tuple], history: list[tuple], updates: list[tuple]) -> None:
        with connection.cursor() as cursor:
            self._insert(cursor, Lot._meta.db_table, LOT_COLUMNS, [self._row(r) for r in lots])
            self._insert(
                cursor,
                Lot.history.model._meta.db_table,
                HISTORY_COLUMNS,
                [self._row(r) for r in history],
            )
            if updates:
                _update_existing(cursor, [self._row(r) for r in updates])
            self._insert(cursor, LotEvent._meta.db_table, EVENT_COLUMNS, self._event_rows)
            self._insert(cursor, Link._meta.db_table, LINK_COLUMNS, self._link_rows)


def _update_existing(cursor: Any, updates: list[tuple]) -> None:
    cursor.executemany(
        f"UPDATE {Lot._meta.db_table} SET quantity = %s, location = %s, container = %s, "
        "updated_at = %s WHERE id = %s",
        updates,
    )


class _Ids:
    """Ids for new rows, known during validation (links and events refer to them)."""

    def __init__(self, table: str, *, reserve: bool) -> None:
        self.table = table
        self.reserve = reserve
        self._next = 0
        self._end = -1
        if not reserve:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
                self._next = cursor.fetchone()[0] + 1
                self._end = 1 << 62

    def next(self) -> int:
        if self._next > self._end:
            with connection.cursor() as cursor:
                # the table is locked (EXCLUSIVE) for the import: no one else draws ids now
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    "nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
                    [self.table, self.table, ID_BLOCK],
                )
                self._end = cursor.fetchone()[0]
                self._next = self._end - ID_BLOCK + 1
        value = self._next
        self._next += 1
        return value


# --- the import ------------------------------------------------------------------------------


class _Importer:
    def __init__(self, path: Path, actor: User, *, dry_run: bool) -> None:
        self.path = path
        self.actor = actor
        self.dry_run = dry_run
        self.on_postgres = connection.vendor == "postgresql"
        self.materials: dict[str, _Material] = {}
        self.lots: dict[tuple[int, str], _Lot] = {}
        self.by_number: dict[str, Any] = {}  # number -> _Lot, or a tuple of _Lot when several
        self.new_lots: list[_Lot] = []
        self.parents_of: dict[int, list[int]] | None = None
        self.db_ids: set[int] = set()
        self.request_id = ""
        self.operation_base = uuid.uuid4().int
        self.copy_text = self.on_postgres and not dry_run
        self.now = timezone.now()
        self.result = ImportResult(path=str(path), dry_run=dry_run)

    # reading

    def _rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        try:
            handle = self.path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise ImportRefused(0, f"cannot read the file: {exc.strerror}") from exc
        with handle:
            reader = csv.reader(handle)
            try:
                header = next(reader, None)
            except (csv.Error, UnicodeDecodeError) as exc:
                raise ImportRefused(1, f"not a readable CSV header ({exc})") from exc
            if not header:
                raise ImportRefused(1, "the file is empty (a header line is required)")
            names = [h.strip().lower() for h in header]
            unknown = [n for n in names if n not in COLUMNS]
            if unknown:
                raise ImportRefused(1, f"unknown column(s): {', '.join(unknown)}")
            if len(set(names)) != len(names):
                raise ImportRefused(1, "a column appears twice in the header")
            missing = [c for c in REQUIRED_COLUMNS if c not in names]
            if missing:
                raise ImportRefused(1, f"missing required column(s): {', '.join(missing)}")
            width = len(names)
            empty = dict.fromkeys(COLUMNS, "")
            while True:
                try:
                    values = next(reader)
                except StopIteration:
                    return
                except (csv.Error, UnicodeDecodeError) as exc:
                    raise ImportRefused(reader.line_num + 1, f"unreadable CSV ({exc})") from exc
                line = reader.line_num
                if not values or (len(values) == 1 and not values[0].strip()):
                    continue
                if len(values) != width:
                    raise ImportRefused(
                        line, f"{len(values)} field(s) where the header has {width}"
                    )
                row = dict(empty)
                row.update(zip(names, (v.strip() for v in values), strict=True))
                yield line, row

    def _prefetch(self) -> None:
        """Materials, and the database lots whose numbers the file mentions."""
        for material in Material.objects.all():
            self.materials[material.code] = _Material(material)
        # an empty lot table (a first load: the table is locked, nobody adds lots meanwhile)
        # has nothing to look up
        in_database = Lot.objects.exists()
        numbers: set[str] = set()
        for _line, row in self._rows():
            if (
                row["event_type"] == "consume"
                and row["into_lot_number"]
                and self.parents_of is None
            ):
                self.parents_of = {}  # a consumption into an existing lot: watch for cycles
            if not in_database:
                continue
            numbers.add(row["lot_number"])
            for token in row["parent_lot_numbers"].split(";"):
                if token.strip():
                    ref = token.rpartition("=")[0] if "=" in token else token
                    numbers.add(ref.partition("@")[0].strip())
            if row["into_lot_number"]:
                numbers.add(row["into_lot_number"].partition("@")[0].strip())
        by_id = {m.id: m for m in self.materials.values()}
        chunk = sorted(numbers)
        size = 20000 if self.on_postgres else 5000
        fields = (
            "id",
            "kind",
            "material_id",
            "lot_number",
            "parent_lot_id",
            "quantity",
            "uom",
            "status",
            "supplier",
            "supplier_lot_number",
            "expires_at",
            "retest_at",
            "container",
            "location",
            "source_kind",
            "source_ref",
            "source_url",
        )
        for start in range(0, len(chunk), size):
            for values in Lot.objects.filter(
                lot_number__in=chunk[start : start + size]
            ).values_list(*fields):
                data = dict(zip(fields, values, strict=True))
                lot = _Lot(
                    id=data["id"],
                    kind=data["kind"],
                    material=by_id[data["material_id"]],
                    lot_number=data["lot_number"],
                    parent_lot_id=data["parent_lot_id"],
                    quantity=data["quantity"],
                    uom=data["uom"],
                    status=data["status"],
                    supplier=data["supplier"],
                    supplier_lot=data["supplier_lot_number"],
                    expires_at=data["expires_at"],
                    retest_at=data["retest_at"],
                    container=data["container"],
                    location=data["location"],
                    source_kind=data["source_kind"],
                    source_ref=data["source_ref"],
                    source_url=data["source_url"],
                    is_new=False,
                    dirty=False,
                )
                self._remember(lot)
                self.db_ids.add(lot.id)

    def _operation_id(self, line: int) -> Any:
        """One id per line (the events of one line are one operation): the import's random
        base + the line number; text for COPY, a UUID for INSERT."""
        value = (self.operation_base + line) % (1 << 128)
        return f"{value:032x}" if self.copy_text else uuid.UUID(int=value)

    def _remember(self, lot: _Lot) -> None:
        self.lots[(lot.material.id, lot.lot_number)] = lot
        known = self.by_number.get(lot.lot_number)
        if known is None:
            self.by_number[lot.lot_number] = lot
        elif isinstance(known, tuple):
            self.by_number[lot.lot_number] = (*known, lot)
        else:
            self.by_number[lot.lot_number] = (known, lot)

    # lookups

    def _material(self, code: str) -> _Material:
        if not code:
            raise _Refuse("material_code is empty")
        material = self.materials.get(code)
        if material is None:
            raise _Refuse(f"unknown material {code!r}")
        if not material.is_active:
            raise _Refuse(f"material {code} is inactive")
        if not material.is_lot_controlled:
            raise _Refuse(f"material {code} is not lot-controlled")
        return material

    def _existing(self, number: str, material_code: str) -> _Lot:
        if material_code:
            material = self.materials.get(material_code)
            lot = self.lots.get((material.id, number)) if material else None
            if lot is None:
                raise _Refuse(f"no lot {number} of {material_code} (in the database or above)")
            return lot
        found = self.by_number.get(number)
        if found is None:
            raise _Refuse(f"no lot {number} (in the database or above)")
        if isinstance(found, tuple):
            raise _Refuse(
                f"lot number {number} exists for several materials: write {number}@MATERIAL"
            )
        return found

    def _new(self, material: _Material, number: str) -> None:
        if not number:
            raise _Refuse("lot_number is empty")
        if len(number) > 64:
            raise _Refuse("lot_number is longer than 64 characters")
        if (material.id, number) in self.lots:
            raise _Refuse(f"{material.code} lot {number} already exists")

    # writing (validated rows)

    def _event(
        self,
        sink: _Sink,
        ids: _Ids,
        *,
        type: str,
        lot: _Lot,
        delta: Decimal,
        operation_id: uuid.UUID,
        occurred_at: Any,
        line: int,
        ctx: tuple[str, str, str] = ("", "", ""),
        customer: str = "",
        shipment_ref: str = "",
        reason: str = "",
    ) -> int:
        after = lot.quantity + delta
        if after < 0:
            raise _Refuse(
                f"lot {lot.lot_number} holds {lot.quantity} {lot.uom}; {-delta} cannot be taken"
            )
        lot.quantity = after
        if not lot.is_new:
            lot.dirty = True
        event_id = ids.next()
        sink.event(
            (
                event_id,
                type,
                lot.id,
                delta,
                after,
                lot.uom,
                operation_id,
                occurred_at,
                self.actor.pk,
                *ctx,
                customer,
                shipment_ref,
                reason,
                f'{{"line": {line}}}',
                self.request_id,
            )
        )
        return event_id

    def _link(
        self,
        sink: _Sink,
        *,
        parent: _Lot,
        child: _Lot,
        kind: str,
        quantity: Decimal,
        event_id: int,
        ctx: tuple[str, str, str],
    ) -> None:
        if self.parents_of is not None:
            self.parents_of.setdefault(child.id, []).append(parent.id)
        sink.link((parent.id, child.id, kind, quantity, parent.uom, event_id, *ctx))

    def _is_ancestor(self, ancestor: int, of: int) -> bool:
        seen = {of}
        frontier = [of]
        parents_of = self.parents_of or {}
        while frontier:
            nxt: list[int] = []
            db_nodes = [n for n in frontier if n in self.db_ids]
            for node in frontier:
                nxt.extend(parents_of.get(node, ()))
            if db_nodes:
                nxt.extend(
                    Link.objects.filter(child_id__in=db_nodes).values_list("parent_id", flat=True)
                )
            frontier = []
            for node in nxt:
                if node == ancestor:
                    return True
                if node not in seen:
                    seen.add(node)
                    frontier.append(node)
        return False

    def _create(self, lot_ids: _Ids, **values: Any) -> _Lot:
        lot = _Lot(id=lot_ids.next(), is_new=True, dirty=False, **values)
        self._remember(lot)
        self.new_lots.append(lot)
        return lot

    def _line(
        self, sink: _Sink, lot_ids: _Ids, event_ids: _Ids, line: int, row: dict[str, str]
    ) -> None:
        etype = row["event_type"].lower()
        if etype not in EVENT_TYPES:
            raise _Refuse(f"unknown event_type {row['event_type']!r}")
        material = self._material(row["material_code"])
        number = row["lot_number"]
        if not row["occurred_at"]:
            raise _Refuse("occurred_at is empty")
        occurred_at = _when(row["occurred_at"])
        uom = row["uom"] or material.uom
        if uom not in UOM_DIMENSIONS:
            raise _Refuse(f"unknown unit of measure {uom!r}")
        ref_kind = row["reference_kind"] or IMPORT
        if ref_kind not in CONTEXT_KINDS:
            raise _Refuse(f"unknown reference_kind {ref_kind!r}")
        url = row["reference_url"]
        if url and not (
            (url.startswith("/") and not url.startswith("//"))
            or url.startswith(("https://", "http://"))
        ):
            raise _Refuse("reference_url must be a path or an http(s) address")
        if len(row["reference"]) > 200 or len(url) > 500:
            raise _Refuse("reference or reference_url is too long")
        ctx = (ref_kind, row["reference"], url) if (row["reference"] or url) else ("", "", "")
        status = row["status"]
        if status and status not in STATUSES:
            raise _Refuse(f"unknown status {status!r}")
        if status and etype not in CREATING:
            raise _Refuse("status is only given for a new lot")
        operation_id = self._operation_id(line)
        qty = (
            _convert(_decimal(row["quantity"], "quantity"), uom, material.uom)
            if row["quantity"]
            else None
        )
        common = {
            "sink": sink,
            "ids": event_ids,
            "operation_id": operation_id,
            "occurred_at": occurred_at.isoformat() if self.copy_text else occurred_at,
            "line": line,
        }

        if etype in CHANGING:
            lot = self._existing(number, material.code)
            if etype == "consume":
                if qty is None or qty <= 0:
                    raise _Refuse("consume needs a positive quantity")
                if not row["reference"]:
                    raise _Refuse("consume needs a reference (the batch phase or operation)")
                into = None
                if row["into_lot_number"]:
                    into = self._existing(*_ref(row["into_lot_number"]))
                    if into.id == lot.id:
                        raise _Refuse("a lot cannot be consumed into itself")
                    if self._is_ancestor(into.id, lot.id):
                        raise _Refuse(
                            f"consuming {lot.lot_number} into {into.lot_number} makes a cycle: "
                            f"{into.lot_number} is already an ancestor of {lot.lot_number}"
                        )
                event_id = self._event(**common, type=CONSUMED, lot=lot, delta=-qty, ctx=ctx)
                if into is not None:
                    kind = LINK_COMPONENT if into.kind == UNIT else LINK_CONSUMED
                    self._link(
                        sink,
                        parent=lot,
                        child=into,
                        kind=kind,
                        quantity=qty,
                        event_id=event_id,
                        ctx=ctx,
                    )
            elif etype == "transfer":
                location = row["location"]
                if not location:
                    raise _Refuse("transfer needs a location")
                lot.location = location[:100]
                if row["container"]:
                    lot.container = row["container"][:100]
                lot.dirty = lot.dirty or not lot.is_new
                self._event(**common, type=TRANSFERRED, lot=lot, delta=Decimal(0))
            elif etype == "ship":
                if not row["customer"] or not row["shipment_ref"]:
                    raise _Refuse("ship needs customer and shipment_ref")
                if len(row["customer"]) > 200 or len(row["shipment_ref"]) > 100:
                    raise _Refuse("customer or shipment_ref is too long")
                amount = lot.quantity if qty is None else qty
                if amount <= 0:
                    raise _Refuse(f"lot {lot.lot_number} has nothing to ship")
                self._event(
                    **common,
                    type=SHIPPED,
                    lot=lot,
                    delta=-amount,
                    customer=row["customer"],
                    shipment_ref=row["shipment_ref"],
                )
            else:  # adjust
                if qty is None or qty == 0:
                    raise _Refuse("adjust needs a non-zero signed quantity")
                if not row["reason"]:
                    raise _Refuse("adjust needs a reason")
                self._event(**common, type=ADJUSTED, lot=lot, delta=qty, reason=row["reason"])
            return

        # lines that create a lot
        self._new(material, number)
        expires_at = _day(row["expires_at"], "expires_at")
        parents = _parents(row["parent_lot_numbers"])
        base = {
            "material": material,
            "lot_number": number,
            "parent_lot_id": None,
            "quantity": Decimal(0),
            "uom": material.uom,
            "supplier": "",
            "supplier_lot": "",
            "expires_at": expires_at,
            "retest_at": None,
            "container": row["container"][:100],
            "location": row["location"][:100],
            "source_kind": "",
            "source_ref": "",
            "source_url": "",
        }
        if etype == "receive":
            if parents:
                raise _Refuse("receive has no parents")
            if not row["supplier"] or not row["supplier_lot"]:
                raise _Refuse("receive needs supplier and supplier_lot")
            if qty is None or qty <= 0:
                raise _Refuse("receive needs a positive quantity")
            if material.is_serialized and qty != 1:
                raise _Refuse(f"{material.code} is serialized: receive one unit per line")
            lot = self._create(
                lot_ids,
                **{
                    **base,
                    "kind": UNIT if material.is_serialized else LOT,
                    "status": status or QUARANTINE,
                    "supplier": row["supplier"][:200],
                    "supplier_lot": row["supplier_lot"][:100],
                },
            )
            self._event(**common, type=RECEIVED, lot=lot, delta=qty)
            return

        if etype in ("produce", "rework", "unit"):
            if etype == "unit":
                if not material.is_serialized:
                    raise _Refuse(f"{material.code} is not serialized: use produce")
                if qty is not None and qty != 1:
                    raise _Refuse("a unit has quantity 1")
                qty = Decimal(1).quantize(PLACES)
            else:
                if material.is_serialized:
                    raise _Refuse(f"{material.code} is serialized: use unit")
                if qty is None or qty <= 0:
                    raise _Refuse(f"{etype} needs a positive quantity")
                if not row["reference"]:
                    raise _Refuse(f"{etype} needs a reference (the batch or work order)")
                if etype == "rework" and not parents:
                    raise _Refuse("rework needs the reworked parent lot(s)")
            inputs = self._inputs(parents)
            lot = self._create(
                lot_ids,
                **{
                    **base,
                    "kind": UNIT if etype == "unit" else LOT,
                    "status": status or QUARANTINE,
                    "source_kind": ctx[0],
                    "source_ref": ctx[1],
                    "source_url": ctx[2],
                },
            )
            link_kind = {
                "produce": LINK_CONSUMED,
                "rework": LINK_REWORKED,
                "unit": LINK_COMPONENT,
            }[etype]
            for parent, amount in inputs:
                event_id = self._event(**common, type=CONSUMED, lot=parent, delta=-amount, ctx=ctx)
                self._link(
                    sink,
                    parent=parent,
                    child=lot,
                    kind=link_kind,
                    quantity=amount,
                    event_id=event_id,
                    ctx=ctx,
                )
            self._event(**common, type=PRODUCED, lot=lot, delta=qty, ctx=ctx)
            return

        if etype == "split":
            if len(parents) != 1:
                raise _Refuse("split needs exactly one parent (the source lot)")
            number_p, material_p, qty_p = parents[0]
            source = self._existing(number_p, material_p)
            if source.material.id != material.id:
                raise _Refuse("a sub-lot has the material of its source lot")
            if source.kind == UNIT:
                raise _Refuse("a serialized unit cannot be split")
            amount = _decimal(qty_p, "parent quantity") if qty_p else qty
            if amount is None or amount <= 0:
                raise _Refuse("split needs a positive quantity")
            if qty is not None and qty != amount:
                raise _Refuse(f"quantity {qty} differs from the quantity taken {amount}")
            if status:
                raise _Refuse("a sub-lot keeps the status of its source lot")
            lot = self._create(
                lot_ids,
                **{
                    **base,
                    "kind": SUBLOT,
                    "parent_lot_id": source.id,
                    "status": source.status,
                    "supplier": source.supplier,
                    "supplier_lot": source.supplier_lot,
                    "expires_at": expires_at or source.expires_at,
                    "retest_at": source.retest_at,
                    "location": base["location"] or source.location,
                    "source_kind": source.source_kind,
                    "source_ref": source.source_ref,
                    "source_url": source.source_url,
                },
            )
            event_id = self._event(**common, type=SPLIT, lot=source, delta=-amount)
            self._link(
                sink,
                parent=source,
                child=lot,
                kind=LINK_SPLIT,
                quantity=amount,
                event_id=event_id,
                ctx=("", "", ""),
            )
            self._event(**common, type=SPLIT, lot=lot, delta=amount)
            return

        # merge
        inputs = self._inputs(parents)
        if len(inputs) < 2:
            raise _Refuse("merge needs at least two parent lots")
        if any(p.material.id != material.id for p, _ in inputs):
            raise _Refuse("only lots of one material can be merged")
        if any(p.kind == UNIT for p, _ in inputs):
            raise _Refuse("serialized units cannot be merged")
        total = sum((a for _, a in inputs), Decimal(0))
        if qty is not None and qty != total:
            raise _Refuse(f"quantity {qty} differs from the sum of the parents {total}")
        statuses = {p.status for p, _ in inputs}
        expiries = [p.expires_at for p, _ in inputs if p.expires_at]
        supplier_lots = {p.supplier_lot for p, _ in inputs}
        lot = self._create(
            lot_ids,
            **{
                **base,
                "kind": LOT,
                "status": status or (statuses.pop() if len(statuses) == 1 else QUARANTINE),
                "supplier_lot": supplier_lots.pop() if len(supplier_lots) == 1 else "",
                "expires_at": expires_at or (min(expiries) if expiries else None),
            },
        )
        for parent, amount in inputs:
            event_id = self._event(**common, type=MERGED, lot=parent, delta=-amount)
            self._link(
                sink,
                parent=parent,
                child=lot,
                kind=LINK_MERGED,
                quantity=amount,
                event_id=event_id,
                ctx=("", "", ""),
            )
        self._event(**common, type=MERGED, lot=lot, delta=total)

    def _inputs(self, parents: list[tuple[str, str, str]]) -> list[tuple[_Lot, Decimal]]:
        inputs = []
        seen = set()
        for number, material_code, qty_text in parents:
            parent = self._existing(number, material_code)
            if parent.id in seen:
                raise _Refuse(f"parent {number} is listed twice")
            seen.add(parent.id)
            if not qty_text:
                raise _Refuse(f"parent {number} needs a quantity (LOT=QUANTITY)")
            amount = _decimal(qty_text, f"quantity of parent {number}")
            if amount <= 0:
                raise _Refuse(f"the quantity taken from {number} must be positive")
            inputs.append((parent, amount))
        return inputs

    # the run

    def run(self) -> ImportResult:
        t0 = time.perf_counter()
        ctx = current_context()
        self.request_id = ctx.request_id if ctx is not None else uuid.uuid4().hex
        reserve = self.on_postgres and not self.dry_run
        if reserve:
            with connection.cursor() as cursor:
                payload = ctx.as_json() if ctx is not None else None
                if payload:
                    cursor.execute("SELECT set_config('mes.ctx', %s, true)", [payload])
                cursor.execute(
                    f"LOCK TABLE {Lot._meta.db_table}, {LotEvent._meta.db_table}, "
                    f"{Link._meta.db_table} IN EXCLUSIVE MODE"
                )
        self._prefetch()
        t1 = time.perf_counter()
        self.result.timings["read"] = t1 - t0
        sink: _Sink = (
            _Sink() if self.dry_run else (_CopySink() if self.on_postgres else _InsertSink())
        )
        try:
            lot_ids = _Ids(Lot._meta.db_table, reserve=reserve)
            event_ids = _Ids(LotEvent._meta.db_table, reserve=reserve)
            lines = 0
            for line, row in self._rows():
                try:
                    self._line(sink, lot_ids, event_ids, line, row)
                except _Refuse as exc:
                    raise ImportRefused(line, str(exc)) from None
                except DomainError as exc:
                    raise ImportRefused(line, exc.detail) from None
                lines += 1
            if lines == 0:
                raise ImportRefused(2, "the file has no event lines")
            t2 = time.perf_counter()
            self.result.timings["validate"] = t2 - t1
            now = self.now
            reason = f"import_genealogy {self.path.name}"
            lot_rows, history_rows = [], []
            for lot in self.new_lots:
                values = (
                    lot.id,
                    lot.kind,
                    lot.material.id,
                    lot.lot_number,
                    lot.parent_lot_id,
                    lot.quantity,
                    lot.uom,
                    lot.status,
                    lot.supplier,
                    lot.supplier_lot,
                    lot.expires_at,
                    lot.retest_at,
                    lot.container,
                    lot.location,
                    lot.source_kind,
                    lot.source_ref,
                    lot.source_url,
                    now,
                )
                lot_rows.append(values)
                history_rows.append((*values, now, reason, "+", self.actor.pk))
            updates = []
            for lot in self.lots.values():
                if lot.dirty:
                    updates.append((lot.quantity, lot.location, lot.container, now, lot.id))
            self.result.lines = lines
            self.result.lots_created = sum(1 for lot in self.new_lots if lot.kind != UNIT)
            self.result.units_created = len(self.new_lots) - self.result.lots_created
            self.result.lots_updated = len(updates)
            self.result.events = sink.events
            self.result.links = sink.links
            if not self.dry_run:
                sink.flush(lot_rows, history_rows, updates)
                if updates:
                    self._history_for_updates([u[-1] for u in updates], reason)
            self.result.timings["write"] = time.perf_counter() - t2
        finally:
            sink.close()
        return self.result

    def _history_for_updates(self, ids: list[int], reason: str) -> None:
        columns = ", ".join(c for c in LOT_COLUMNS)
        with connection.cursor() as cursor:
            for start in range(0, len(ids), 5000):
                chunk = ids[start : start + 5000]
                cursor.execute(
                    f"INSERT INTO {Lot.history.model._meta.db_table} "
                    f"({columns}, created_at, history_date, history_change_reason, history_type, "
                    f"history_user_id) "
                    f"SELECT {columns}, created_at, %s, %s, '~', %s FROM {Lot._meta.db_table} "
                    f"WHERE id IN ({', '.join(['%s'] * len(chunk))})",
                    [self.now, reason, self.actor.pk, *chunk],
                )


def load_file(*, actor: User, path: Path | str, dry_run: bool = False) -> ImportResult:
    """Validate the whole file, then load it in one transaction (or refuse it: ImportRefused
    with the first bad line; nothing is written). Called by `services.genealogy_import`."""
    path = Path(path)
    with transaction.atomic(), acting_as(actor, reason=f"import_genealogy {path.name}"):
        result = _Importer(path, actor, dry_run=dry_run).run()
        if dry_run:
            transaction.set_rollback(True)
    return result

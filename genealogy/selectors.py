"""Reads of genealogy: lots, the ledger, and the traces.

A trace is ONE recursive query: the recursive part walks only node ids over the covering
index of the link table with `UNION` (so a node reached twice, a diamond, is expanded once),
and the final part joins each reached node's links with the node on the other side. Nothing
is instantiated per level; the rows become light tuples (`TraceNode`, `TraceEdge`).
"""

import contextlib
import functools
import gc
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet

from genealogy.choices import Direction, EventType, MaterialKind, NodeKind
from genealogy.exceptions import LotNotFound
from genealogy.models import Link, Lot, LotEvent, Material
from mes.exceptions import InvalidInput
from mes.prepared import columns, instances, prepared

PLACES = Decimal("0.000001")

# (the side we stand on, the side we walk to) for each direction
_SIDES = {
    Direction.FORWARD: ("parent_id", "child_id"),
    Direction.BACKWARD: ("child_id", "parent_id"),
}


class TraceNode(NamedTuple):
    id: int
    kind: str
    lot_number: str
    material_code: str
    material_kind: str
    status: str
    quantity: Decimal
    uom: str
    source_kind: str
    source_ref: str
    source_url: str


class TraceEdge(NamedTuple):
    parent_id: int
    child_id: int
    kind: str
    quantity: Decimal
    uom: str
    context_kind: str
    context_ref: str
    context_url: str


@dataclass
class Trace:
    """The reachable part of the genealogy from `root` in one direction: every node and
    every link between them (with quantities and the context where material moved)."""

    direction: str
    root: TraceNode
    nodes: dict[int, TraceNode]
    edges: list[TraceEdge]
    truncated: bool = False

    @property
    def count(self) -> int:
        """Nodes reached, the root excluded."""
        return len(self.nodes) - 1

    def next_of(self) -> dict[int, list[TraceEdge]]:
        """Edges leaving each node in the trace's direction."""
        side = 0 if self.direction == Direction.FORWARD else 1
        out: dict[int, list[TraceEdge]] = {}
        for edge in self.edges:
            out.setdefault(edge[side], []).append(edge)
        return out

    def depths(self) -> dict[int, int]:
        """Shortest number of links from the root to each node."""
        nxt = self.next_of()
        far = 1 if self.direction == Direction.FORWARD else 0
        depth = {self.root.id: 0}
        queue = deque([self.root.id])
        while queue:
            node = queue.popleft()
            for edge in nxt.get(node, ()):
                other = edge[far]
                if other not in depth:
                    depth[other] = depth[node] + 1
                    queue.append(other)
        return depth


def _node_from_lot(lot: Lot) -> TraceNode:
    return TraceNode(
        lot.pk,
        lot.kind,
        lot.lot_number,
        lot.material.code,
        lot.material.kind,
        lot.status,
        lot.quantity,
        lot.uom,
        lot.source_kind,
        lot.source_ref,
        lot.source_url,
    )


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value)).quantize(PLACES)


_TRACE_COLUMNS = """
        l.parent_id, l.child_id, l.kind, l.quantity, l.uom,
        l.context_kind, l.context_ref, l.context_url,
        n.id, n.kind, n.lot_number, m.code, m.kind, n.status, n.quantity,
        n.uom, n.source_kind, n.source_ref, n.source_url"""


def trace_sql(direction: str, *, limit: int | None = None, vendor: str | None = None) -> str:
    """The trace as one statement: parameter 1 is the root id.

    On PostgreSQL the final part is written as LATERAL lookups behind `OFFSET 0` fences, so
    each reached node costs two index probes whatever the planner guesses about the size of
    the recursive part (it cannot know it: with a guess of hundreds of rows it would hash the
    whole link table for a 10-node trace). SQLite (no LATERAL) joins by index anyway."""
    near, far = _SIDES[Direction(direction)]
    reach = f"""
        WITH RECURSIVE reach(id) AS (
            SELECT CAST(%s AS BIGINT)
            UNION
            SELECT l.{far} FROM genealogy_link l JOIN reach r ON l.{near} = r.id
        )"""
    if (vendor or connection.vendor) == "postgresql":
        sql = f"""{reach}
        SELECT t.parent_id, t.child_id, t.link_kind, t.link_quantity, t.link_uom,
               t.context_kind, t.context_ref, t.context_url,
               t.id, t.kind, t.lot_number, m.code, m.kind, t.status, t.quantity, t.uom,
               t.source_kind, t.source_ref, t.source_url
        FROM (
            SELECT l.parent_id, l.child_id, l.kind AS link_kind, l.quantity AS link_quantity,
                   l.uom AS link_uom, l.context_kind, l.context_ref, l.context_url, n.*
            FROM reach r
            CROSS JOIN LATERAL (
                SELECT parent_id, child_id, kind, quantity, uom, context_kind, context_ref,
                       context_url
                FROM genealogy_link WHERE {near} = r.id OFFSET 0
            ) l
            CROSS JOIN LATERAL (
                SELECT x.id, x.kind, x.lot_number, x.material_id, x.status, x.quantity,
                       x.uom, x.source_kind, x.source_ref, x.source_url
                FROM genealogy_lot x WHERE x.id = l.{far} OFFSET 0
            ) n
            OFFSET 0
        ) t
        JOIN genealogy_material m ON m.id = t.material_id"""
    else:
        sql = f"""{reach}
        SELECT {_TRACE_COLUMNS}
        FROM reach r
        JOIN genealogy_link l ON l.{near} = r.id
        JOIN genealogy_lot n ON n.id = l.{far}
        JOIN genealogy_material m ON m.id = n.material_id"""
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql


# PostgreSQL's JIT compiles a query whose estimated cost is high; the planner cannot know the
# size of a recursive CTE, so a 10-node trace can be estimated above jit_above_cost and pay
# ~15 ms of compilation for a 0.5 ms query. Traces switch it off for their statement (the
# SET LOCAL and the query travel in one message: one implicit transaction).
NO_JIT = "SET LOCAL jit = off; "


def _execute(cursor: Any, sql: str, params: Sequence[Any]) -> None:
    if connection.vendor == "postgresql":
        sql = NO_JIT + sql
    cursor.execute(sql, params)


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Fetch and build many small tuples without the cyclic garbage collector: they hold no
    cycles, and the collector, triggered every 700 allocations, would walk every live object
    of the process again and again (it doubled the time of a 16,000-row recall)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def lot_trace(*, lot: Lot, direction: str, max_edges: int | None = None) -> Trace:
    """Backward (everything that went into `lot`) or forward (everything made from it)."""
    if direction not in Direction.values:
        raise InvalidInput(f"direction must be backward or forward, not {direction!r}.")
    root = _node_from_lot(lot)
    limit = max_edges + 1 if max_edges is not None else None
    with no_gc():
        with connection.cursor() as cursor:
            _execute(cursor, trace_sql(direction, limit=limit), [lot.pk])
            rows = cursor.fetchall()
        truncated = limit is not None and len(rows) >= limit
        if truncated:
            rows = rows[:max_edges]
        make_edge, make_node = TraceEdge._make, TraceNode._make
        nodes = {root.id: root}
        edges = []
        if connection.vendor == "sqlite":
            rows = [(*r[:3], _decimal(r[3]), *r[4:14], _decimal(r[14]), *r[15:]) for r in rows]
        for row in rows:
            edges.append(make_edge(row[:8]))
            if row[8] not in nodes:
                nodes[row[8]] = make_node(row[8:])
    return Trace(direction=direction, root=root, nodes=nodes, edges=edges, truncated=truncated)


def lot_trace_backward(*, lot: Lot, max_edges: int | None = None) -> Trace:
    return lot_trace(lot=lot, direction=Direction.BACKWARD, max_edges=max_edges)


def lot_trace_forward(*, lot: Lot, max_edges: int | None = None) -> Trace:
    return lot_trace(lot=lot, direction=Direction.FORWARD, max_edges=max_edges)


def lot_is_ancestor(*, ancestor_id: int, of_id: int) -> bool:
    """Is `ancestor_id` reachable backward from `of_id`? (Walks the usually small upstream
    side; stops at the first hit.)"""
    sql = """
        WITH RECURSIVE up(id) AS (
            SELECT CAST(%s AS BIGINT)
            UNION
            SELECT l.parent_id FROM genealogy_link l JOIN up u ON l.child_id = u.id
        )
        SELECT 1 FROM up WHERE id = %s LIMIT 1
    """
    with connection.cursor() as cursor:
        _execute(cursor, sql, [of_id, ancestor_id])
        return cursor.fetchone() is not None


# --- recall scope ----------------------------------------------------------------------------


class RecallLot(NamedTuple):
    id: int
    kind: str
    lot_number: str
    material_code: str
    material_kind: str
    status: str
    quantity: Decimal
    uom: str


class RecallShipment(NamedTuple):
    lot_id: int
    kind: str
    lot_number: str
    material_code: str
    customer: str
    shipment_ref: str
    quantity: Decimal
    uom: str
    shipped_at: datetime | None


@dataclass
class RecallScope:
    """What a recall of `subject` reaches: every finished lot, unit, shipment and customer.

    A preview (`limit` given) holds the first `limit` rows of each list, sorted, and the
    true totals in `totals`; a full scope holds every row (`totals` is None)."""

    subject: str
    root_ids: list[int]
    affected_count: int = 0
    finished_lots: list[RecallLot] = field(default_factory=list)
    units: list[RecallLot] = field(default_factory=list)
    shipments: list[RecallShipment] = field(default_factory=list)
    limit: int | None = None
    totals: dict[str, Any] | None = None

    @property
    def is_preview(self) -> bool:
        return self.totals is not None

    @property
    def customers(self) -> list[str]:
        if self.totals is not None:
            return self.totals["customers"]
        return sorted({s.customer for s in self.shipments})

    @property
    def shipment_refs(self) -> list[str]:
        return sorted({s.shipment_ref for s in self.shipments})

    def summary(self) -> dict[str, Any]:
        counts = self.totals or {
            "finished_lot_count": len(self.finished_lots),
            "unit_count": len(self.units),
            "shipment_count": len(self.shipment_refs),
            "shipped_line_count": len(self.shipments),
        }
        return {
            "subject": self.subject,
            "root_ids": self.root_ids,
            "affected_count": self.affected_count,
            "finished_lot_count": counts["finished_lot_count"],
            "unit_count": counts["unit_count"],
            "shipment_count": counts["shipment_count"],
            "shipped_line_count": counts["shipped_line_count"],
            "customer_count": len(self.customers),
            "customers": self.customers,
        }


def recall_sql(root_count: int) -> str:
    """Recall scope as one statement over the forward reach of the roots. One row per reached
    node that is a unit or a finished lot or was shipped (with its shipment, if any; a node
    shipped twice gives two rows), and a last row with the number of nodes reached.

    Unlike the trace, no LATERAL fences here: a recall reaches thousands of nodes, and the
    planner's choice (index-only probes through genealogy_lot_recall_idx and the covering
    shipped-event index, or hash joins for a very large reach) measured as fast or faster at
    1,000,000 lots (see benchmarks/genealogy.py)."""
    placeholders = ", ".join(["%s"] * root_count)
    return f"""
        WITH RECURSIVE reach(id) AS (
            SELECT id FROM genealogy_lot WHERE id IN ({placeholders})
            UNION
            SELECT l.child_id FROM genealogy_link l JOIN reach r ON l.parent_id = r.id
        )
        SELECT n.id, n.kind, n.lot_number, m.code, m.kind, n.status, n.quantity, n.uom,
               e.customer, e.shipment_ref, -e.quantity_delta, e.uom, e.occurred_at
        FROM reach r
        JOIN genealogy_lot n ON n.id = r.id
        JOIN genealogy_material m ON m.id = n.material_id
        LEFT JOIN genealogy_lotevent e ON e.lot_id = n.id AND e.type = '{EventType.SHIPPED}'
        WHERE n.kind = '{NodeKind.UNIT}' OR m.kind = '{MaterialKind.FINISHED}'
              OR e.customer IS NOT NULL
        UNION ALL
        SELECT COUNT(*), '', '', '', '', '', NULL, '', NULL, NULL, NULL, NULL, NULL FROM reach
    """


def recall_scope(*, lot_ids: Sequence[int], subject: str, limit: int | None = None) -> RecallScope:
    """Every affected finished lot, unit, shipment and customer downstream of `lot_ids`;
    with `limit`, a preview: the true totals and customers, and the first `limit` rows of
    each list (what a screen or an API page shows, without shipping every row)."""
    scope = RecallScope(subject=subject, root_ids=sorted(set(lot_ids)), limit=limit)
    if not scope.root_ids:
        if limit is not None:
            scope.totals = {
                "unit_count": 0,
                "finished_lot_count": 0,
                "shipment_count": 0,
                "shipped_line_count": 0,
                "customers": [],
            }
        return scope
    if limit is not None and limit < 0:
        raise InvalidInput("limit must not be negative.")
    with no_gc():
        with connection.cursor() as cursor:
            if limit is None:
                _execute(cursor, recall_sql(len(scope.root_ids)), scope.root_ids)
            else:
                _execute(cursor, recall_preview_sql(len(scope.root_ids), limit), scope.root_ids)
            rows = cursor.fetchall()
        (_fill_scope if limit is None else _fill_preview)(scope, rows)
    return scope


def recall_preview_sql(root_count: int, limit: int) -> str:
    """The recall scope's totals, its customers and the first `limit` rows of each list
    (sorted), computed in the database: for a large scope, only a page of rows travels.
    Every branch has the row shape of recall_sql, behind a one-letter part name."""
    placeholders = ", ".join(["%s"] * root_count)
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    limit = int(limit)
    text, num = "CAST(NULL AS TEXT)", "CAST(NULL AS NUMERIC)"
    ts = "CAST(NULL AS TIMESTAMP WITH TIME ZONE)"
    no_lot = f"{text}, {text}, {text}, {text}, {text}, {num}, {text}"  # kind .. uom
    no_shipment = f"{text}, {text}, {num}, {text}, {ts}"
    lot_cols = "id, kind, lot_number, material_code, material_kind, status, quantity, uom"
    unit, finished = NodeKind.UNIT.value, MaterialKind.FINISHED.value
    return f"""
        WITH RECURSIVE reach(id) AS (
            SELECT id FROM genealogy_lot WHERE id IN ({placeholders})
            UNION
            SELECT l.child_id FROM genealogy_link l JOIN reach r ON l.parent_id = r.id
        ),
        nodes AS {materialized}(
            SELECT n.id, n.kind, n.lot_number, m.code AS material_code,
                   m.kind AS material_kind, n.status, n.quantity, n.uom
            FROM reach r
            JOIN genealogy_lot n ON n.id = r.id
            JOIN genealogy_material m ON m.id = n.material_id
        ),
        ships AS {materialized}(
            SELECT n.id, n.kind, n.lot_number, n.material_code, e.customer, e.shipment_ref,
                   -e.quantity_delta AS shipped, e.uom AS shipped_uom, e.occurred_at
            FROM nodes n
            JOIN genealogy_lotevent e ON e.lot_id = n.id AND e.type = '{EventType.SHIPPED}'
        )
        SELECT 'n', (SELECT COUNT(*) FROM nodes), {no_lot}, {no_shipment}
        UNION ALL
        SELECT 't', (SELECT COUNT(*) FROM nodes WHERE kind = '{unit}'),
               CAST((SELECT COUNT(*) FROM nodes
                     WHERE kind <> '{unit}' AND material_kind = '{finished}') AS TEXT),
               CAST((SELECT COUNT(*) FROM (SELECT shipment_ref FROM ships
                                           GROUP BY shipment_ref) x) AS TEXT),
               CAST((SELECT COUNT(*) FROM ships) AS TEXT),
               {text}, {text}, {num}, {text}, {no_shipment}
        UNION ALL
        SELECT * FROM (
            SELECT 'k', CAST(NULL AS BIGINT), {no_lot}, customer, {text}, {num}, {text}, {ts}
            FROM ships GROUP BY customer
        ) k
        UNION ALL
        SELECT * FROM (
            SELECT 'u', {lot_cols}, {no_shipment} FROM nodes WHERE kind = '{unit}'
            ORDER BY 4 LIMIT {limit}
        ) u
        UNION ALL
        SELECT * FROM (
            SELECT 'f', {lot_cols}, {no_shipment} FROM nodes
            WHERE kind <> '{unit}' AND material_kind = '{finished}'
            ORDER BY 4 LIMIT {limit}
        ) f
        UNION ALL
        SELECT * FROM (
            SELECT 's', id, kind, lot_number, material_code, {text}, {text}, {num}, {text},
                   customer, shipment_ref, shipped, shipped_uom, occurred_at
            FROM ships
            ORDER BY 10, 11, 4 LIMIT {limit}
        ) s
    """


def _fill_preview(scope: RecallScope, rows: list[tuple]) -> None:
    sqlite = connection.vendor == "sqlite"
    customers = []
    for row in rows:
        part = row[0]
        if part == "n":
            scope.affected_count = int(row[1])
        elif part == "t":
            scope.totals = {
                "unit_count": int(row[1]),
                "finished_lot_count": int(row[2]),
                "shipment_count": int(row[3]),
                "shipped_line_count": int(row[4]),
            }
        elif part == "k":
            customers.append(row[9])
        elif part in ("u", "f"):
            qty = _decimal(row[7]) if sqlite else row[7]
            line = RecallLot(row[1], row[2], row[3], row[4], row[5], row[6], qty, row[8])
            (scope.units if part == "u" else scope.finished_lots).append(line)
        else:
            r = _sqlite_row(row[1:]) if sqlite else row[1:]
            scope.shipments.append(
                RecallShipment(r[0], r[1], r[2], r[3], r[8], r[9], r[10], r[11], r[12])
            )
    if scope.totals is not None:
        scope.totals["customers"] = sorted(customers)
    by_number = itemgetter(2)
    scope.units.sort(key=by_number)
    scope.finished_lots.sort(key=by_number)
    scope.shipments.sort(key=itemgetter(4, 5, 2))


def _sqlite_row(row: tuple) -> tuple:
    """SQLite gives floats for decimals and naive (or text) UTC datetimes."""
    shipped_at = row[12]
    if shipped_at is not None:
        if isinstance(shipped_at, str):
            shipped_at = datetime.fromisoformat(shipped_at)
        if shipped_at.tzinfo is None:
            shipped_at = shipped_at.replace(tzinfo=UTC)
    quantity = None if row[6] is None else _decimal(row[6])
    shipped = None if row[10] is None else _decimal(row[10])
    return (*row[:6], quantity, row[7], row[8], row[9], shipped, row[11], shipped_at)


_UNIT, _FINISHED = NodeKind.UNIT.value, MaterialKind.FINISHED.value


def _fill_scope(scope: RecallScope, rows: list[tuple]) -> None:
    """Rows of recall_sql -> the scope's sorted lists (comprehensions: ~1 us a row)."""
    *nodes, last = rows
    scope.affected_count = int(last[0])
    if connection.vendor == "sqlite":
        nodes = [_sqlite_row(r) for r in nodes]
    # one entry per node (a node shipped twice comes in two rows)
    lots = {r[0]: r for r in nodes if r[1] == _UNIT or r[4] == _FINISHED}
    make = RecallLot._make
    by_number = itemgetter(2)  # lot (serial) number: a plain string key sorts 5x faster
    scope.units = sorted((make(r[:8]) for r in lots.values() if r[1] == _UNIT), key=by_number)
    scope.finished_lots = sorted(
        (make(r[:8]) for r in lots.values() if r[1] != _UNIT), key=by_number
    )
    scope.shipments = sorted(
        (
            RecallShipment(r[0], r[1], r[2], r[3], r[8], r[9], r[10], r[11], r[12])
            for r in nodes
            if r[8] is not None
        ),
        key=itemgetter(4, 5, 2),  # customer, shipment, lot number
    )


def recall_scope_for_lot(*, lot: Lot, limit: int | None = None) -> RecallScope:
    return recall_scope(
        lot_ids=[lot.pk], subject=f"{lot.material.code} lot {lot.lot_number}", limit=limit
    )


def lots_by_supplier_lot(*, supplier_lot_number: str, supplier: str = "") -> QuerySet[Lot]:
    qs = Lot.objects.filter(supplier_lot_number=supplier_lot_number).select_related("material")
    return qs.filter(supplier=supplier) if supplier else qs


def recall_scope_for_supplier_lot(
    *, supplier_lot_number: str, supplier: str = "", limit: int | None = None
) -> RecallScope:
    supplier_lot_number = (supplier_lot_number or "").strip()
    if not supplier_lot_number:
        raise InvalidInput("Give a supplier lot number.")
    ids = list(
        lots_by_supplier_lot(
            supplier_lot_number=supplier_lot_number, supplier=supplier
        ).values_list("id", flat=True)
    )
    if not ids:
        raise LotNotFound(f"No lot carries supplier lot number {supplier_lot_number!r}.")
    return recall_scope(lot_ids=ids, subject=f"supplier lot {supplier_lot_number}", limit=limit)


# --- one level at a time (the graph page) ----------------------------------------------------


@dataclass(frozen=True)
class Neighbour:
    link: Link
    node: Lot
    has_more: bool


def lot_neighbours(*, lot_id: int, direction: str, limit: int | None = None) -> list[Neighbour]:
    """The links one step away from `lot_id` (the first `limit` of them), with the node on
    the other side and whether that node leads further."""
    if direction not in Direction.values:
        raise InvalidInput(f"direction must be backward or forward, not {direction!r}.")
    if direction == Direction.FORWARD:
        links = (
            Link.objects.filter(parent_id=lot_id)
            .select_related("child__material")
            .annotate(has_more=Exists(Link.objects.filter(parent_id=OuterRef("child_id"))))
            .order_by("id")
        )
        return [Neighbour(link, link.child, link.has_more) for link in links[:limit]]
    links = (
        Link.objects.filter(child_id=lot_id)
        .select_related("parent__material")
        .annotate(has_more=Exists(Link.objects.filter(child_id=OuterRef("parent_id"))))
        .order_by("id")
    )
    return [Neighbour(link, link.parent, link.has_more) for link in links[:limit]]


def lot_neighbour_count(*, lot_id: int, direction: str) -> int:
    side = "parent_id" if direction == Direction.FORWARD else "child_id"
    return Link.objects.filter(**{side: lot_id}).count()


# --- lots, materials, the ledger -------------------------------------------------------------


def material_list(*, active_only: bool = False) -> QuerySet[Material]:
    qs = Material.objects.all()
    return qs.filter(is_active=True) if active_only else qs


def lot_list(
    *,
    search: str = "",
    material_code: str = "",
    kind: str = "",
    status: str = "",
) -> QuerySet[Lot]:
    qs = Lot.objects.select_related("material")
    if search:
        qs = qs.filter(Q(lot_number=search) | Q(supplier_lot_number=search))
    if material_code:
        qs = qs.filter(material__code=material_code)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


def lot_get(*, pk: int) -> Lot:
    try:
        return Lot.objects.select_related("material", "parent_lot").get(pk=pk)
    except Lot.DoesNotExist as exc:
        raise LotNotFound(f"No lot #{pk}.") from exc


def lot_find(*, lot_number: str, material_code: str = "") -> Lot:
    """A lot by its number (and material, when the number is not unique across materials)."""
    qs = Lot.objects.select_related("material").filter(lot_number=lot_number)
    if material_code:
        qs = qs.filter(material__code=material_code)
    found = list(qs[:2])
    if not found:
        raise LotNotFound(
            f"No lot {lot_number}" + (f" of {material_code}." if material_code else ".")
        )
    if len(found) > 1:
        raise InvalidInput(f"Lot number {lot_number} exists for several materials: name one.")
    return found[0]


@functools.lru_cache(maxsize=32)
def _lots_sql(column: str, count: int, *, newest_first: bool, lock: bool) -> str:
    q = connection.ops.quote_name
    lot, item = q(Lot._meta.db_table), q(Material._meta.db_table)
    locking = lock and connection.features.has_select_for_update_of
    return (
        f"SELECT {columns(Lot)}, {columns(Material)} FROM {lot} "
        f"INNER JOIN {item} ON {item}.id = {lot}.material_id "
        f"WHERE {lot}.{q(column)} IN ({', '.join(['%s'] * count)}) "
        f"ORDER BY {lot}.id{' DESC' if newest_first else ''}"
        + (f" FOR UPDATE OF {lot}" if locking else "")
    )


def lots_with_material(
    *, column: str, values: Sequence[Any], newest_first: bool = False, lock: bool = False
) -> list[Lot]:
    """The lots whose `column` ("id" or "lot_number") is one of `values`, each with its
    material, in id order (`newest_first`: reversed); `lock`: FOR UPDATE of the lot rows. One
    statement written by hand, prepared when it asks for one value: the terminal's component
    scan finds the lots of a scanned number and locks the one it consumes (mes/prepared.py)."""
    if column not in ("id", "lot_number"):
        raise ValueError(f"lots are read by id or lot_number, not {column!r}")
    if not values:
        return []
    sql = _lots_sql(column, len(values), newest_first=newest_first, lock=lock)
    one = prepared(f"mes_gen_lots_by_{column}") if len(values) == 1 else contextlib.nullcontext()
    found = []
    with one, connection.cursor() as cursor:
        cursor.execute(sql, list(values))
        for row in cursor.fetchall():
            lot, lot.material = instances(row, Lot, Material)
            found.append(lot)
    return found


def lot_events(*, lot: Lot) -> QuerySet[LotEvent]:
    return lot.events.select_related("actor", "approved_by").order_by("occurred_at", "id")


def lot_quantity_from_events(*, lot: Lot) -> Decimal:
    """What the ledger says the lot holds (must equal `lot.quantity`)."""
    total = sum(
        (_decimal(v) for v in lot.events.values_list("quantity_delta", flat=True)), Decimal(0)
    )
    return total.quantize(PLACES)


def lots_with_ledger_mismatch(*, lot_ids: Sequence[int] | None = None) -> list[int]:
    """Ids of lots whose quantity differs from the sum of their events (should be none)."""
    sql = """
        SELECT n.id FROM genealogy_lot n
        LEFT JOIN (
            SELECT lot_id, SUM(quantity_delta) AS total FROM genealogy_lotevent GROUP BY lot_id
        ) e ON e.lot_id = n.id
        WHERE ABS(n.quantity - COALESCE(e.total, 0)) > 0.0000005
    """
    params: list[Any] = []
    if lot_ids is not None:
        if not lot_ids:
            return []
        sql += f" AND n.id IN ({', '.join(['%s'] * len(lot_ids))})"
        params = list(lot_ids)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY n.id", params)
        return [row[0] for row in cursor.fetchall()]

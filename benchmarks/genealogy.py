"""Lot genealogy at plant scale: load, trace and recall on PostgreSQL.

    .venv/bin/python benchmarks/genealogy.py --lots 1000000
    .venv/bin/python benchmarks/genealogy.py --lots 20000 --samples 50      # quick

1. generates a realistic genealogy as an import file (benchmarks/data/genealogy_<N>.csv):
   raw-material lots received from suppliers (some supplier lots delivered twice), consumed
   by batches (six raw lots each, popular materials more often; one widely used lot in ~3 %
   of the batches, one in a quarter of them), intermediate batches consumed by finished
   batches, batch lots split into sub-lots, some merged, some reworked, sub-lots packaged into
   serialized pails (with pail, lid and sometimes label lots as components) and shipped to
   customers;
2. loads it into a fresh database (default mes_bench_gen) with `import_genealogy`;
3. prints median and p95 of backward and forward traces of typical lots through the service
   (genealogy.selectors.lot_trace), through the API (GET .../lots/{id}/trace/), as the bare
   recursive SQL (same statement, raw driver cursor: the floor; and ids only) and as naive
   per-level ORM queries; then the recall scope of the widely used lot and of the quarter
   lot, the same ways, as ratios to the floor.
Goals (issue 3): API median < 10 ms, p95 < 50 ms; 50,000-descendant recall < 250 ms; 40 %
recall < 2 s (offered as a background job); load < 5 min; service within 1.5x of the bare
query.
"""

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "benchmarks" / "data"
COLUMNS = [
    "event_type",
    "lot_number",
    "material_code",
    "quantity",
    "uom",
    "parent_lot_numbers",
    "supplier",
    "supplier_lot",
    "customer",
    "shipment_ref",
    "occurred_at",
    "reference_kind",
    "reference",
    "reference_url",
    "status",
]

RAW_MATERIALS = 150
INTERMEDIATES = 40
FINISHED = 60
PER_USE_KG = 50  # raw material per batch
BATCH_KG = 1000
SUBLOTS = 4
UNIT_KG = 20
INTERMEDIATE_USE_KG = 100
HOT_SHARE = 0.03  # the widely used lot: in ~3 % of the batches
QUARTER_SHARE = 0.25  # the quarter lot: in a quarter of the batches
NODES_PER_BATCH = 35.4  # measured shape of this generator, to size the batch count


# --- generation -----------------------------------------------------------------------------


class Generator:
    """Writes the genealogy as import lines in time order."""

    def __init__(self, lots: int, seed: int, out: Path) -> None:
        self.rng = random.Random(seed)
        self.batches = max(20, int(lots / NODES_PER_BATCH))
        self.out = out
        self.t = datetime(2019, 1, 1, 6, 0, tzinfo=UTC)
        self.counter = 0
        self.nodes = 0
        self.links = 0
        self.raw_current: dict[int, list] = {}  # material -> [lot, uses left]
        self.pack_current: dict[str, list] = {}  # PAIL/LID/LABEL -> [lot, units left]
        self.intermediate_pool: dict[int, list] = {}  # family -> [[sublot, kg left], ...]
        self.offspec: list[tuple[str, str]] = []
        self.shipment: list = []  # [ref, customer, count]
        self.hot = ("RAW-HOT-0001", "RAW-HOT")
        self.quarter = ("RAW-QTR-0001", "RAW-QTR")
        # Zipf-like popularity of raw materials
        weights = [1 / (i + 1) ** 0.9 for i in range(RAW_MATERIALS)]
        self.raw_weights = weights

    def materials(self) -> list[dict]:
        found = [
            {"code": f"RAW-{i:03d}", "name": f"Raw material {i}", "kind": "raw", "uom": "kg"}
            for i in range(RAW_MATERIALS)
        ]
        found += [
            {"code": "RAW-HOT", "name": "Widely used solvent", "kind": "raw", "uom": "kg"},
            {"code": "RAW-QTR", "name": "Common initiator", "kind": "raw", "uom": "kg"},
            {"code": "PAIL", "name": "20 L pail", "kind": "packaging", "uom": "ea"},
            {"code": "LID", "name": "Pail lid", "kind": "packaging", "uom": "ea"},
            {"code": "LABEL", "name": "GHS label", "kind": "packaging", "uom": "ea"},
        ]
        found += [
            {
                "code": f"INT-{i:02d}",
                "name": f"Intermediate {i}",
                "kind": "intermediate",
                "uom": "kg",
            }
            for i in range(INTERMEDIATES)
        ]
        found += [
            {"code": f"FG-{i:02d}", "name": f"Finished resin {i}", "kind": "finished", "uom": "kg"}
            for i in range(FINISHED)
        ]
        found += [
            {
                "code": f"PAIL-FG-{i:02d}",
                "name": f"Finished resin {i}, 20 kg pail",
                "kind": "finished",
                "uom": "ea",
                "is_serialized": True,
            }
            for i in range(FINISHED)
        ]
        return found

    def _tick(self, minutes: float) -> str:
        self.t += timedelta(minutes=minutes)
        return self.t.isoformat()

    def _number(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter:08d}"

    def _write(self, w: csv.writer, **row: str) -> None:
        w.writerow([row.get(c, "") for c in COLUMNS])

    def _receive(self, w: csv.writer, material: str, qty: float, number: str | None = None) -> str:
        number = number or self._number("R")
        supplier = f"Supplier {self.rng.randrange(40):02d}"
        # one supplier lot in ten is delivered twice (recall by supplier lot finds both)
        if self.rng.random() < 0.1 and hasattr(self, "_last_supplier_lot"):
            supplier_lot = self._last_supplier_lot
        else:
            supplier_lot = f"S{self.rng.randrange(10**9):09d}"
        self._last_supplier_lot = supplier_lot
        self._write(
            w,
            event_type="receive",
            lot_number=number,
            material_code=material,
            quantity=f"{qty:.0f}",
            supplier=supplier,
            supplier_lot=supplier_lot,
            occurred_at=self._tick(1),
            status="released",
        )
        self.nodes += 1
        return number

    def _raw_lot(self, w: csv.writer, m: int) -> str:
        current = self.raw_current.get(m)
        if current is None or current[1] == 0:
            uses = self.rng.randint(2, 7)
            number = self._receive(w, f"RAW-{m:03d}", uses * PER_USE_KG)
            current = self.raw_current[m] = [number, uses]
        current[1] -= 1
        return current[0]

    def _pack_lot(self, w: csv.writer, code: str) -> str:
        current = self.pack_current.get(code)
        if current is None or current[1] == 0:
            number = self._receive(w, code, 500)
            current = self.pack_current[code] = [number, 500]
        current[1] -= 1
        return current[0]

    def _ship(self, w: csv.writer, serial: str, material: str) -> None:
        if not self.shipment or self.shipment[2] == 0:
            customer = f"Customer {int(self.rng.paretovariate(1.2)) % 400:03d}"
            self.shipment = [self._number("SH"), customer, self.rng.randint(10, 60)]
        self.shipment[2] -= 1
        self._write(
            w,
            event_type="ship",
            lot_number=serial,
            material_code=material,
            customer=self.shipment[1],
            shipment_ref=self.shipment[0],
            occurred_at=self._tick(0.01),
        )

    def _package(self, w: csv.writer, lot: str, material_idx: int, kg: int, ref: str) -> None:
        material = f"FG-{material_idx:02d}"
        serialized = f"PAIL-FG-{material_idx:02d}"
        for _ in range(kg // UNIT_KG):
            parents = [
                f"{lot}@{material}={UNIT_KG}",
                f"{self._pack_lot(w, 'PAIL')}=1",
                f"{self._pack_lot(w, 'LID')}=1",
            ]
            if self.rng.random() < 0.3:
                parents.append(f"{self._pack_lot(w, 'LABEL')}=1")
            serial = self._number("SN")
            self._write(
                w,
                event_type="unit",
                lot_number=serial,
                material_code=serialized,
                parent_lot_numbers=";".join(parents),
                occurred_at=self._tick(0.02),
                reference_kind="packaging",
                reference=f"{ref}/packaging",
                reference_url=f"/batches/{ref}/",
                status="released",
            )
            self.nodes += 1
            self.links += len(parents)
            self._ship(w, serial, serialized)

    def _split(self, w: csv.writer, lot: str, material: str) -> list[str]:
        subs = []
        for k in range(SUBLOTS):
            sub = f"{lot}-{k + 1:02d}"
            self._write(
                w,
                event_type="split",
                lot_number=sub,
                material_code=material,
                quantity=str(BATCH_KG // SUBLOTS),
                parent_lot_numbers=f"{lot}@{material}",
                occurred_at=self._tick(0.5),
            )
            subs.append(sub)
        self.nodes += SUBLOTS
        self.links += SUBLOTS
        return subs

    def _batch(self, w: csv.writer, b: int) -> None:
        rng = self.rng
        intermediate = rng.random() < 0.4
        family = rng.randrange(INTERMEDIATES if intermediate else FINISHED)
        ref = f"B-{b:07d}"
        picks: set[int] = set()
        while len(picks) < 6:
            picks.add(rng.choices(range(RAW_MATERIALS), weights=self.raw_weights)[0])
        parents = [f"{self._raw_lot(w, m)}={PER_USE_KG}" for m in sorted(picks)]
        if rng.random() < HOT_SHARE:
            parents.append(f"{self.hot[0]}={PER_USE_KG}")
        if rng.random() < QUARTER_SHARE:
            parents.append(f"{self.quarter[0]}=1")
        if not intermediate and rng.random() < 0.5:
            pool = self.intermediate_pool.get(family % INTERMEDIATES)
            if pool:
                sub = pool[0]
                parents.append(f"{sub[0]}={INTERMEDIATE_USE_KG}")
                sub[1] -= INTERMEDIATE_USE_KG
                if sub[1] < INTERMEDIATE_USE_KG:
                    pool.pop(0)
        material = f"INT-{family:02d}" if intermediate else f"FG-{family:02d}"
        lot = f"L{b:07d}"
        self._write(
            w,
            event_type="produce",
            lot_number=lot,
            material_code=material,
            quantity=str(BATCH_KG),
            parent_lot_numbers=";".join(parents),
            occurred_at=self._tick(45),
            reference_kind="batch",
            reference=ref,
            reference_url=f"/batches/{ref}/",
            status="released",
        )
        self.nodes += 1
        self.links += len(parents)
        subs = self._split(w, lot, material)
        if intermediate:
            self.intermediate_pool.setdefault(family, []).extend(
                [s, BATCH_KG // SUBLOTS] for s in subs
            )
            return
        packable = []
        for sub in subs:
            if rng.random() < 0.02:
                self.offspec.append((sub, material))  # reworked later
            else:
                packable.append((sub, BATCH_KG // SUBLOTS))
        if len(packable) >= 2 and rng.random() < 0.2:
            (a, qa), (b2, qb) = packable[:2]
            merged = f"{lot}-M"
            self._write(
                w,
                event_type="merge",
                lot_number=merged,
                material_code=material,
                parent_lot_numbers=f"{a}@{material}={qa};{b2}@{material}={qb}",
                occurred_at=self._tick(1),
            )
            self.nodes += 1
            self.links += 2
            packable = [(merged, qa + qb), *packable[2:]]
        for sub, kg in packable:
            self._package(w, sub, family, kg - 10, ref)
        if self.offspec and rng.random() < 0.5:
            old, old_material = self.offspec.pop(0)
            new = f"{old}-RW"
            self._write(
                w,
                event_type="rework",
                lot_number=new,
                material_code=old_material,
                quantity=str(BATCH_KG // SUBLOTS),
                parent_lot_numbers=f"{old}@{old_material}={BATCH_KG // SUBLOTS}",
                occurred_at=self._tick(30),
                reference_kind="batch",
                reference=f"RW-{b:07d}",
                reference_url=f"/batches/RW-{b:07d}/",
                status="released",
            )
            self.nodes += 1
            self.links += 1
            self._package(w, new, int(old_material[3:]), BATCH_KG // SUBLOTS - 10, f"RW-{b:07d}")

    def run(self) -> None:
        with self.out.open("w", newline="", encoding="utf-8") as handle:
            w = csv.writer(handle)
            w.writerow(COLUMNS)
            hot_uses = int(self.batches * HOT_SHARE * 2) + 10
            self._receive(w, self.hot[1], hot_uses * PER_USE_KG, number=self.hot[0])
            self._receive(w, self.quarter[1], self.batches, number=self.quarter[0])
            for b in range(self.batches):
                self._batch(w, b)


# --- measurement ----------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fmt(values: list[float]) -> str:
    return f"median {statistics.median(values):7.2f} ms  p95 {pct(values, 95):7.2f} ms"


def timed(fn, *args, **kwargs) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return (time.perf_counter() - start) * 1000, result


GENEALOGY_TABLES = ("genealogy_lot", "genealogy_lotevent", "genealogy_link")


def _capture_triggers(enable: bool) -> None:
    """Measurement only, in the benchmark's own database: switch the audit CAPTURE trigger of
    the three genealogy tables off for the bulk load (see --audit)."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in GENEALOGY_TABLES:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass "
                "AND tgname = 'audit_capture'",
                [table],
            )
            if cursor.fetchone()[0]:
                verb = "ENABLE ALWAYS" if enable else "DISABLE"
                cursor.execute(f"ALTER TABLE {table} {verb} TRIGGER audit_capture")


def _load(path: Path, materials: list[dict], *, audit: bool) -> dict[str, float]:
    """Create the materials, load the file with import_genealogy; returns timings (s)."""
    from django.core.management import call_command
    from django.db import connection

    from genealogy import services
    from mes.accounts.models import User
    from mes.audit.context import system_context

    with system_context("benchmark", reason="benchmark materials"):
        actor = User.objects.get(username="system")
        for m in materials:
            services.material_create(actor=actor, **m)
    if not audit:
        _capture_triggers(False)
    try:
        start = time.perf_counter()
        call_command("import_genealogy", str(path), "--user", "system")
        load = time.perf_counter() - start
    finally:
        if not audit:
            _capture_triggers(True)
    start = time.perf_counter()
    with connection.cursor() as cursor:
        # what autovacuum does after a bulk load: statistics, and the visibility map that
        # lets the traces use index-only scans
        cursor.execute("VACUUM ANALYZE genealogy_lot, genealogy_link, genealogy_lotevent")
    return {"load": load, "analyze": time.perf_counter() - start}


def _fresh_database(args: argparse.Namespace, name: str) -> None:
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *base, "--if-exists", name], check=True)
    subprocess.run(["createdb", *base, name], check=True)


def audit_probe(args: argparse.Namespace) -> None:
    """Load small files THROUGH the audit trail, each into a fresh database, to show what the
    trail costs per row and how its commit-time seal grows (run in a subprocess per size)."""
    for size in args.audit_probe:
        probe = DATA / f"genealogy_{size}_{args.seed}.csv"
        if not probe.exists():
            Generator(size, args.seed, probe).run()
        name = f"{args.database}_probe"
        _fresh_database(args, name)
        env = {**os.environ, "DATABASE_URL": f"{args.pg}/{name}"}
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--lots",
                str(size),
                "--seed",
                str(args.seed),
                "--database",
                name,
                "--pg",
                args.pg,
                "--probe-child",
            ],
            check=True,
            env=env,
        )


def probe_child(args: argparse.Namespace, path: Path, materials: list[dict]) -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_event")
        before = cursor.fetchone()[0]
    timings = _load(path, materials, audit=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_event")
        audited = cursor.fetchone()[0] - before
        cursor.execute("SELECT count(*) FROM genealogy_lot")
        lots = cursor.fetchone()[0]
    print(
        f"  trail ON: {lots:>7,} lots, {audited:>9,} audit events: load "
        f"{timings['load']:7.1f} s ({timings['load'] / max(audited, 1) * 1e6:6.0f} us per audited row)"
    )


def _sample(kind_sql: str, n: int, exclude: list[int]) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT n.id FROM genealogy_lot n JOIN genealogy_material m ON m.id = n.material_id "
            f"WHERE {kind_sql} AND n.id <> ALL(%s) ORDER BY random() LIMIT %s",
            [exclude, n],
        )
        return [row[0] for row in cursor.fetchall()]


def naive_trace(lot_id: int, direction: str) -> int:
    """What peers do: one ORM query per level, model instances for every link and node."""
    from genealogy.models import Link

    seen = {lot_id}
    frontier = [lot_id]
    edges = 0
    while frontier:
        found = []
        for start in range(0, len(frontier), 5000):
            chunk = frontier[start : start + 5000]
            if direction == "forward":
                links = Link.objects.filter(parent_id__in=chunk).select_related("child__material")
                found += [(link, link.child) for link in links]
            else:
                links = Link.objects.filter(child_id__in=chunk).select_related("parent__material")
                found += [(link, link.parent) for link in links]
        frontier = []
        for _link, node in found:
            edges += 1
            if node.pk not in seen:
                seen.add(node.pk)
                frontier.append(node.pk)
    return len(seen) - 1


def naive_recall(lot_id: int) -> int:
    from genealogy.models import Lot, LotEvent

    seen = {lot_id}
    frontier = [lot_id]
    from genealogy.models import Link

    while frontier:
        nxt = []
        for start in range(0, len(frontier), 5000):
            for link in Link.objects.filter(parent_id__in=frontier[start : start + 5000]):
                if link.child_id not in seen:
                    seen.add(link.child_id)
                    nxt.append(link.child_id)
        frontier = nxt
    ids = list(seen)
    rows = 0
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        rows += len(
            [
                lot
                for lot in Lot.objects.filter(pk__in=chunk).select_related("material")
                if lot.kind == "unit" or lot.material.kind == "finished"
            ]
        )
        rows += len(list(LotEvent.objects.filter(lot_id__in=chunk, type="lot.shipped")))
    return rows


def recall_floor(raw, lot_id: int) -> int:  # type: ignore[no-untyped-def]
    from genealogy import selectors

    with selectors.no_gc():
        raw.execute(selectors.NO_JIT + selectors.recall_sql(1), [lot_id])
        return len(raw.fetchall())


IDS_SQL = {
    direction: f"""
        WITH RECURSIVE reach(id) AS (
            SELECT CAST(%s AS BIGINT)
            UNION
            SELECT l.{far} FROM genealogy_link l JOIN reach r ON l.{near} = r.id
        ) SELECT count(*) FROM reach"""
    for direction, near, far in (
        ("forward", "parent_id", "child_id"),
        ("backward", "child_id", "parent_id"),
    )
}


def measure(args: argparse.Namespace, path: Path, materials: list[dict]) -> None:
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from genealogy import selectors, services
    from genealogy.models import Lot
    from mes.accounts.models import User
    from mes.accounts.services import user_create
    from mes.audit.context import system_context

    results: list[tuple[str, str, str]] = []  # (measure, value, goal/verdict)

    def report(name: str, value: str, goal: str = "") -> None:
        results.append((name, value, goal))
        print(f"{name:<58} {value:<40} {goal}")

    if not args.reuse:
        call_command("migrate", verbosity=0)
        if not args.audit:
            print("!! audit CAPTURE triggers of genealogy_lot/lotevent/link are DISABLED for the")
            print("!! load in this benchmark database only (measurement; see --audit-probe)")
        timings = _load(path, materials, audit=args.audit)
        goal = "goal < 300 s: " + ("met" if timings["load"] < 300 else "MISSED")
        report(
            f"load ({'through' if args.audit else 'WITHOUT'} the audit trail)",
            f"{timings['load']:.1f} s",
            goal,
        )
        report("vacuum analyze after load", f"{timings['analyze']:.1f} s")
    with connection.cursor() as cursor:
        counts = {}
        for table in ("genealogy_lot", "genealogy_link", "genealogy_lotevent"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cursor.fetchone()[0]
    report(
        "graph",
        f"{counts['genealogy_lot']:,} lots/units, {counts['genealogy_link']:,} links, "
        f"{counts['genealogy_lotevent']:,} events, {size}",
    )

    with system_context("benchmark", reason="benchmark user"):
        qa = User.objects.filter(username="bench.qa").first() or user_create(
            actor=None,
            username="bench.qa",
            full_name="Bench QA",
            roles=["QA Reviewer"],
            password="bench-password-9",
            must_change_password=False,
        )
    client = APIClient()
    client.force_authenticate(qa)
    raw = connection.cursor().cursor  # the driver's cursor (the floor)
    hot = Lot.objects.select_related("material").get(lot_number="RAW-HOT-0001")
    quarter = Lot.objects.select_related("material").get(lot_number="RAW-QTR-0001")
    per_kind = max(1, args.samples // 4)
    kinds = {
        "raw lot": "m.kind = 'raw'",
        "batch lot": "n.kind = 'lot' AND n.source_kind = 'batch'",
        "sub-lot": "n.kind = 'sublot'",
        "unit": "n.kind = 'unit'",
    }
    samples = []
    for label, sql in kinds.items():
        samples += [(label, i) for i in _sample(sql, per_kind, [hot.pk, quarter.pk])]
    lots = {
        lot.pk: lot
        for lot in Lot.objects.select_related("material").filter(pk__in=[i for _, i in samples])
    }

    def ms(fn, *a, **k):  # type: ignore[no-untyped-def]
        return timed(fn, *a, **k)[0]

    def floor(lot_id: int, direction: str) -> int:
        with selectors.no_gc():  # the same interpreter conditions as the service
            raw.execute(selectors.NO_JIT + selectors.trace_sql(direction), [lot_id])
            return len(raw.fetchall())

    def ids_only(lot_id: int, direction: str) -> int:
        raw.execute(selectors.NO_JIT + IDS_SQL[direction], [lot_id])
        return raw.fetchone()[0]

    def api(lot_id: int, direction: str) -> int:
        response = client.get(f"/api/v1/genealogy/lots/{lot_id}/trace/?direction={direction}")
        if response.status_code != 200:
            raise RuntimeError(f"API answered {response.status_code}: {response.content[:200]!r}")
        return len(response.content)

    print(
        f"\ntypical traces: {len(samples)} lots ({per_kind} per kind: {', '.join(kinds)}), both directions"
    )
    for direction in ("backward", "forward"):
        rows: dict[str, list[float]] = {k: [] for k in ("service", "api", "floor", "ids", "naive")}
        sizes = []
        for _label, lot_id in samples:
            lot = lots[lot_id]
            selectors.lot_trace(lot=lot, direction=direction)  # warm the pages
            rows["floor"].append(ms(floor, lot_id, direction))
            rows["ids"].append(ms(ids_only, lot_id, direction))
            t, trace = timed(selectors.lot_trace, lot=lot, direction=direction)
            rows["service"].append(t)
            sizes.append(trace.count)
            rows["api"].append(ms(api, lot_id, direction))
            rows["naive"].append(ms(naive_trace, lot_id, direction))
        med_floor = statistics.median(rows["floor"])
        report(
            f"{direction} trace size (lots reached)",
            f"median {statistics.median(sizes):.0f}, p95 {pct(sizes, 95):.0f}, max {max(sizes)}",
        )
        api_goal = "goal median < 10 ms, p95 < 50 ms: " + (
            "met" if statistics.median(rows["api"]) < 10 and pct(rows["api"], 95) < 50 else "MISSED"
        )
        report(f"{direction} via API", fmt(rows["api"]), api_goal)
        ratio = statistics.median(rows["service"]) / med_floor
        report(
            f"{direction} via service",
            fmt(rows["service"]),
            f"{ratio:.2f}x floor (goal <= 1.5x: {'met' if ratio <= 1.5 else 'MISSED'})",
        )
        report(f"{direction} floor: same SQL, raw cursor", fmt(rows["floor"]), "1.00x")
        report(
            f"{direction} bare recursive ids (count)",
            fmt(rows["ids"]),
            f"{statistics.median(rows['ids']) / med_floor:.2f}x floor",
        )
        report(
            f"{direction} naive per-level ORM",
            fmt(rows["naive"]),
            f"{statistics.median(rows['naive']) / med_floor:.2f}x floor",
        )

    for label, lot, goal_ms in (
        ("widely used lot", hot, 250),
        ("quarter lot", quarter, 2000),
    ):
        print()
        runs = []
        scope = None
        for _ in range(args.recall_runs):
            t, scope = timed(selectors.recall_scope_for_lot, lot=lot)
            runs.append(t)
        best = statistics.median(runs)
        floor_runs = []
        for _ in range(args.recall_runs):
            floor_runs.append(ms(recall_floor, raw, lot.pk))
        ids_runs = [ms(ids_only, lot.pk, "forward") for _ in range(args.recall_runs)]
        med_floor = statistics.median(floor_runs)
        share = scope.affected_count / counts["genealogy_lot"] * 100
        report(
            f"recall {label}: reached",
            f"{scope.affected_count:,} lots/units ({share:.0f} % of the graph): "
            f"{len(scope.finished_lots):,} finished lots, {len(scope.units):,} units, "
            f"{len(scope.shipment_refs):,} shipments, {len(scope.customers)} customers",
        )
        report(
            f"recall {label} every row, service",
            f"median {best:.0f} ms",
            f"{best / med_floor:.2f}x floor; goal < {goal_ms} ms: {'met' if best < goal_ms else 'MISSED'}",
        )
        report(f"recall {label} floor: same SQL, raw cursor", f"median {med_floor:.0f} ms", "1.00x")
        report(
            f"recall {label} bare recursive ids (count)",
            f"median {statistics.median(ids_runs):.0f} ms",
            f"{statistics.median(ids_runs) / med_floor:.2f}x floor",
        )
        t_preview = statistics.median(
            [
                ms(selectors.recall_scope_for_lot, lot=lot, limit=100)
                for _ in range(args.recall_runs)
            ]
        )
        report(
            f"recall {label} totals + first 100 rows, service",
            f"median {t_preview:.0f} ms",
            f"goal < {goal_ms} ms: {'met' if t_preview < goal_ms else 'MISSED'}",
        )
        t_api = statistics.median(
            [
                ms(client.get, f"/api/v1/genealogy/lots/{lot.pk}/recall-scope/?limit=100")
                for _ in range(args.recall_runs)
            ]
        )
        report(f"recall {label} totals + first 100 rows, API", f"median {t_api:.0f} ms")
        t_trace = statistics.median(
            [ms(selectors.lot_trace, lot=lot, direction="forward") for _ in range(args.recall_runs)]
        )
        t_trace_floor = statistics.median(
            [ms(floor, lot.pk, "forward") for _ in range(args.recall_runs)]
        )
        report(
            f"forward trace {label} via service",
            f"median {t_trace:.0f} ms",
            f"{t_trace / t_trace_floor:.2f}x its floor ({t_trace_floor:.0f} ms)",
        )
        if scope.affected_count <= args.naive_limit:
            t_naive = ms(naive_recall, lot.pk)
            report(
                f"recall {label} naive per-level ORM",
                f"{t_naive:.0f} ms",
                f"{t_naive / med_floor:.1f}x floor",
            )
        else:
            report(
                f"recall {label} naive per-level ORM",
                "skipped",
                f"> --naive-limit {args.naive_limit:,}",
            )
        if label == "quarter lot" and not args.skip_job:
            with system_context("benchmark", reason="recall job"):
                job = services.recall_job_start(actor=qa, lot=lot)  # eager Celery: runs now
                job.refresh_from_db()
                if job.status == "queued":
                    job = services.recall_job_run(job_id=job.pk)
            trace_ms = int(job.summary.get("trace_ms", 0))
            report(
                "recall quarter lot as a background job",
                f"{job.duration_ms / 1000:.1f} s total, status {job.status}",
                f"scope {trace_ms / 1000:.1f} s + CSV and PDF "
                f"{(job.duration_ms - trace_ms) / 1000:.1f} s; "
                f"PDF {Path(job.pdf_path).stat().st_size / 1e6:.0f} MB"
                if job.pdf_path
                else job.error,
            )
    print("\nsummary")
    for name, value, goal in results:
        print(f"  {name:<58} {value:<40} {goal}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--samples", type=int, default=200, help="typical lots per direction")
    parser.add_argument("--database", default="mes_bench_gen")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    parser.add_argument(
        "--naive-limit",
        type=int,
        default=60_000,
        help="skip the naive ORM recall above this many descendants",
    )
    parser.add_argument("--recall-runs", type=int, default=3)
    parser.add_argument("--skip-job", action="store_true", help="do not run the recall job")
    parser.add_argument(
        "--audit",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="load through the audit trail (default); --no-audit switches the genealogy "
        "tables' capture trigger off during the load, in this benchmark database only",
    )
    parser.add_argument(
        "--audit-probe",
        type=int,
        nargs="*",
        default=[],
        help="also load these (small) sizes THROUGH the trail, each in a fresh database",
    )
    parser.add_argument("--probe-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"genealogy_{args.lots}_{args.seed}.csv"
    if not path.exists():
        start = time.perf_counter()
        gen = Generator(args.lots, args.seed, path)
        gen.run()
        print(
            f"generated {path.name}: {gen.nodes:,} lots/units, {gen.links:,} links, "
            f"{path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - start:.1f} s"
        )
    os.environ["DATABASE_URL"] = f"{args.pg}/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings.test")
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ.pop("DEBUG", None)
    materials = Generator(args.lots, args.seed, path).materials()
    if args.probe_child:
        import django

        django.setup()
        probe_child(args, path, materials)
        return
    if args.audit_probe:
        print("load through the audit trail (fresh database per size):")
        audit_probe(args)
    if not args.reuse:
        _fresh_database(args, args.database)

    import django

    django.setup()
    measure(args, path, materials)


if __name__ == "__main__":
    main()

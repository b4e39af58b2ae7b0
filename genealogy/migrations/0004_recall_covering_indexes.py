"""PostgreSQL: covering indexes for the recall scope, so that each node it reaches costs
index-only probes (no heap visit once the visibility map is set by (auto)vacuum):
- genealogy_lot_recall_idx (id) INCLUDE (kind, material_id, status, quantity, uom, lot_number)
- genealogy_event_shipped_idx (lot_id) WHERE type = 'lot.shipped', now INCLUDE-ing every
  column the recall reads (customer, shipment_ref, quantity_delta, uom, occurred_at).
Kept out of the model state (SQLite has no INCLUDE); SQLite keeps its plain indexes."""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS genealogy_lot_recall_idx ON genealogy_lot (id) "
    "INCLUDE (kind, material_id, status, quantity, uom, lot_number)",
    "DROP INDEX IF EXISTS genealogy_event_shipped_idx",
    "CREATE INDEX genealogy_event_shipped_idx ON genealogy_lotevent (lot_id) "
    "INCLUDE (customer, shipment_ref, quantity_delta, uom, occurred_at) "
    "WHERE type = 'lot.shipped'",
]
BACKWARD = [
    "DROP INDEX IF EXISTS genealogy_lot_recall_idx",
    "DROP INDEX IF EXISTS genealogy_event_shipped_idx",
    "CREATE INDEX genealogy_event_shipped_idx ON genealogy_lotevent (lot_id) "
    "INCLUDE (customer, shipment_ref) WHERE type = 'lot.shipped'",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("genealogy", "0003_covering_indexes_and_adjustment_policy")]
    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]

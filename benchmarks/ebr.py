"""The EBR of a long batch: render time of the PDF and the JSON export of a record of N phases.

    .venv/bin/python benchmarks/ebr.py                    # 300 phases, fresh SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mes_bench_ebr .venv/bin/python benchmarks/ebr.py

Builds (through the services) an approved recipe of N phases (30 operations of N/30 phases,
two parameters each, one of them out of limits and corrected every 50th phase), a batch of
it with every phase executed and signed "performed", then prints the seconds and database
queries of: the JSON export, the PDF (pages counted), and the canonical content hash.
Goal: 300 phases render in well under 10 s (one small table per phase, never one giant table).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phases", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mes.settings.base")
    os.environ.setdefault("DEBUG", "1")
    if "DATABASE_URL" not in os.environ:
        path = Path(tempfile.gettempdir()) / "mes_bench_ebr.sqlite3"
        path.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from batches import ebr, services
    from batches.tests.factories import batch_order, reactor
    from mes.accounts.tests.factories import UserFactory
    from mes.audit.context import system_context
    from mes.esign.services import signer_for_system_command
    from recipes.tests.factories import approved

    per_op = 10
    ops = max(1, args.phases // per_op)
    with system_context("benchmark"):
        author = UserFactory(username="bench.author", roles=["Recipe Author"])
        qa = UserFactory(username="bench.qa", roles=["QA Reviewer"])
        planner = UserFactory(username="bench.planner", roles=["Planner"])
        operator = UserFactory(username="bench.operator", roles=["Operator"])
        supervisor = UserFactory(username="bench.supervisor", roles=["Supervisor"])

        def phase(n: int, last: bool) -> dict:
            return {
                "name": f"Step {n}",
                "instructions": f"Do step {n} as per SOP.",
                "parameters": [
                    {
                        "name": "Temperature",
                        "unit": "°C",
                        "data_type": "number",
                        "low_limit": "20",
                        "high_limit": "30",
                    },
                    {
                        "name": "Pressure",
                        "unit": "bar",
                        "data_type": "number",
                        "low_limit": "1",
                        "high_limit": "2",
                    },
                ],
                "outputs": [
                    {
                        "material": "RESIN-T",
                        "kind": "product",
                        "expected_quantity": "2450",
                        "yield_low_pct": "90",
                        "yield_high_pct": "105",
                    }
                ]
                if last
                else [],
            }

        tree = {
            "unit_procedures": [
                {
                    "name": "Long procedure",
                    "description": "",
                    "operations": [
                        {
                            "name": f"Operation {o + 1}",
                            "description": "",
                            "phases": [
                                phase(o * per_op + p + 1, o == ops - 1 and p == per_op - 1)
                                for p in range(per_op)
                            ],
                        }
                        for o in range(ops)
                    ],
                }
            ]
        }
        from recipes.tests.factories import draft_recipe

        started = time.perf_counter()
        version = approved(draft_recipe(author=author, tree=tree), author=author, reviewer=qa)
        batch = batch_order(planner=planner, version=version, batch_size="2500")
        unit = reactor(cleaned_by=operator, verified_by=supervisor)
        batch = services.batch_start(actor=operator, batch=batch, unit=unit)
        for ph in batch.phases.order_by("sequence"):
            ph = services.phase_start(actor=operator, phase=ph)
            t = services.parameter_value_record(
                actor=operator,
                phase=ph,
                name="Temperature",
                value="35" if ph.sequence % 50 == 0 else "25",
            )
            if ph.sequence % 50 == 0:
                services.parameter_value_correct(
                    actor=operator, value=t, new_value="26", reason="misread"
                )
            services.parameter_value_record(actor=operator, phase=ph, name="Pressure", value="1.5")
            services.phase_complete(
                actor=operator, phase=ph, signer=signer_for_system_command(user=operator)
            )
        built = time.perf_counter() - started

    batch.refresh_from_db()
    reset_queries()
    with CaptureQueriesContext(connection) as q_json:
        t0 = time.perf_counter()
        data = ebr.ebr_export(batch)
        t_json = time.perf_counter() - t0
    with CaptureQueriesContext(connection) as q_pdf:
        t0 = time.perf_counter()
        pdf = ebr.ebr_pdf(batch)
        t_pdf = time.perf_counter() - t0
    import re

    pages = int(re.search(rb"/Count (\d+)", pdf).group(1))
    print(f"database:          {connection.vendor}")
    print(f"phases:            {len(data['record']['phases'])}")
    print(f"built in:          {built:.1f} s (recipe, batch, every phase executed and signed)")
    print(f"JSON export:       {t_json:.2f} s, {len(q_json.captured_queries)} queries")
    print(
        f"PDF:               {t_pdf:.2f} s, {len(q_pdf.captured_queries)} queries, "
        f"{pages} pages, {len(pdf) // 1024} KiB"
    )
    print(f"content hash:      {data['content_hash']}")


if __name__ == "__main__":
    main()

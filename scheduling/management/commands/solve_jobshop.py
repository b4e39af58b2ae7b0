"""Solve a job-shop instance from a file in the standard format and print the makespan.

    python manage.py solve_jobshop FILE --time-limit SECONDS [--flexible] [--workers 2]

FILE: first line `jobs machines`, then one line per job of `machine time` pairs (machines from 0);
with --flexible, the Brandimarte flexible job-shop format. The schedule found is checked for
feasibility independently of the solver before it is reported.
"""

from django.core.management.base import BaseCommand, CommandError

from scheduling.solver import InvalidInstance, check_schedule, read_instance, solve


class Command(BaseCommand):
    help = "Solve a job-shop (or, with --flexible, a Brandimarte flexible job-shop) instance."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--time-limit", type=float, default=10.0, help="seconds (default 10)")
        parser.add_argument("--flexible", action="store_true", help="Brandimarte FJSP format")
        parser.add_argument("--workers", type=int, default=2, help="CP-SAT workers (default 2)")
        parser.add_argument("--schedule", action="store_true", help="also print every operation")

    def handle(self, *args, **options):
        try:
            instance = read_instance(options["file"], flexible=options["flexible"])
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {options['file']}") from exc
        except InvalidInstance as exc:
            raise CommandError(f"invalid instance: {exc.detail}") from exc
        if options["time_limit"] <= 0:
            raise CommandError("--time-limit must be positive")
        try:
            result = solve(
                instance, time_limit=options["time_limit"], num_workers=options["workers"]
            )
        except InvalidInstance as exc:
            raise CommandError(exc.detail) from exc
        check_schedule(instance, result.schedule)  # raises when infeasible
        out = self.stdout.write
        out(
            f"instance: {instance.name} ({len(instance.jobs)} jobs, {instance.num_machines} machines, "
            f"{instance.num_operations} operations{', flexible' if instance.flexible else ''})"
        )
        out(f"makespan: {result.makespan}")
        out("feasible: yes")
        out(f"lower bound: {result.lower_bound}")
        out(f"status: {result.status}")
        out(f"time: {result.wall_time:.2f} s")
        out(f"start: {result.start_makespan} ({result.start_source})")
        if options["schedule"]:
            for j, ops in enumerate(result.schedule.assignments):
                text = " ".join(f"m{a.machine}:{a.start}-{a.end}" for a in ops)
                out(f"job {j}: {text}")

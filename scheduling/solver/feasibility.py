"""An independent check of a schedule against its instance (it trusts nothing the solver says)."""

from __future__ import annotations

from scheduling.solver.instance import Instance, InvalidInstance, Schedule


class InfeasibleSchedule(InvalidInstance):
    code = "infeasible_schedule"


def schedule_violations(instance: Instance, schedule: Schedule) -> list[str]:
    """Every broken rule, in words; empty when the schedule is feasible."""
    problems: list[str] = []
    if len(schedule.assignments) != len(instance.jobs):
        return [
            f"{len(schedule.assignments)} jobs scheduled, the instance has {len(instance.jobs)}"
        ]
    by_machine: dict[int, list[tuple[int, int, str]]] = {}
    for j, job in enumerate(instance.jobs):
        ops = schedule.assignments[j]
        if len(ops) != len(job.operations):
            problems.append(
                f"job {j}: {len(ops)} operations scheduled, it has {len(job.operations)}"
            )
            continue
        previous_end = None
        for k, (op, a) in enumerate(zip(job.operations, ops, strict=True)):
            name = instance.op_name(j, k)
            duration = op.duration_on(a.machine)
            if duration is None:
                problems.append(f"{name} runs on machine {a.machine}, which it may not use")
            elif a.end - a.start != duration:
                problems.append(
                    f"{name} lasts {a.end - a.start} on machine {a.machine}, its time there is {duration}"
                )
            earliest = max(job.release, op.release)
            if a.start < earliest:
                problems.append(f"{name} starts at {a.start}, before its release at {earliest}")
            if op.fixed_start is not None and a.start != op.fixed_start:
                problems.append(f"{name} is frozen at {op.fixed_start} but starts at {a.start}")
            if previous_end is not None and a.start < previous_end:
                problems.append(
                    f"{name} starts at {a.start}, before its preceding operation ends at {previous_end}"
                )
            previous_end = a.end
            by_machine.setdefault(a.machine, []).append((a.start, a.end, name))
    for machine, spans in sorted(by_machine.items()):
        spans.sort()
        latest_end, latest_name = None, None
        for start, end, name in spans:
            if latest_end is not None and start < latest_end and end > start:
                problems.append(f"machine {machine}: {latest_name} and {name} overlap")
            if latest_end is None or end > latest_end:
                latest_end, latest_name = end, name
    return problems


def check_schedule(instance: Instance, schedule: Schedule) -> None:
    """Raise InfeasibleSchedule naming the first violations, if any."""
    problems = schedule_violations(instance, schedule)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InfeasibleSchedule("; ".join(problems[:3]) + more)

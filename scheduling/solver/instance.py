"""The job-shop problem as plain data: jobs of ordered operations, each operation runnable on
one of its alternative machines with a machine-dependent processing time.

Pure Python, no Django: the planner's services translate work-order routings (work centers,
setup + run time, release and due dates, frozen and locked operations) into an `Instance`,
and the `solve_jobshop` command builds one from the standard benchmark formats.

Times are integers in one unit of the caller's choice (benchmark time units, minutes, ...).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from mes.exceptions import InvalidInput


class InvalidInstance(InvalidInput):
    """The problem cannot be scheduled as stated; `detail` names the job and operation."""

    code = "invalid_schedule_input"


@dataclass(frozen=True)
class Alternative:
    """One machine an operation may run on, with its processing time there."""

    machine: int
    duration: int


@dataclass
class Operation:
    alternatives: list[Alternative]
    release: int = 0
    """Earliest start of this operation (material availability, a shift start, ...)."""
    fixed_start: int | None = None
    """Frozen: the operation has started (or is otherwise pinned) at this time."""
    locked_machine: int | None = None
    """Locked: the planner pinned the operation to this machine."""
    label: str = ""

    def allowed(self) -> list[Alternative]:
        """The alternatives the solver may use (only the locked one when locked)."""
        if self.locked_machine is None:
            return list(self.alternatives)
        return [a for a in self.alternatives if a.machine == self.locked_machine]

    def min_duration(self) -> int:
        return min((a.duration for a in self.allowed()), default=0)

    def duration_on(self, machine: int) -> int | None:
        for a in self.allowed():
            if a.machine == machine:
                return a.duration
        return None


@dataclass
class Job:
    operations: list[Operation]
    release: int = 0
    due: int | None = None
    weight: int = 1
    label: str = ""


@dataclass
class Instance:
    num_machines: int
    jobs: list[Job]
    name: str = ""

    @property
    def flexible(self) -> bool:
        return any(len(op.alternatives) > 1 for job in self.jobs for op in job.operations)

    @property
    def num_operations(self) -> int:
        return sum(len(job.operations) for job in self.jobs)

    def operations(self):
        """Yield (job index, operation index, job, operation)."""
        for j, job in enumerate(self.jobs):
            for k, op in enumerate(job.operations):
                yield j, k, job, op

    def op_name(self, j: int, k: int) -> str:
        job, op = self.jobs[j], self.jobs[j].operations[k]
        return f"job {job.label or j} operation {op.label or k}"

    def validate(self) -> None:
        """Refuse what no schedule can satisfy, naming the culprit (raises InvalidInstance)."""
        if self.num_machines <= 0:
            raise InvalidInstance("the instance has no machine")
        frozen_by_machine: dict[int, list[tuple[int, int, str]]] = {}
        for j, job in enumerate(self.jobs):
            if job.weight < 0:
                raise InvalidInstance(f"job {job.label or j} has a negative weight")
            previous_end: int | None = None
            for k, op in enumerate(job.operations):
                name = self.op_name(j, k)
                if not op.alternatives:
                    raise InvalidInstance(f"{name} has no allowed machine")
                for alt in op.alternatives:
                    if not 0 <= alt.machine < self.num_machines:
                        raise InvalidInstance(
                            f"{name} names machine {alt.machine}, "
                            f"the instance has machines 0-{self.num_machines - 1}"
                        )
                    if alt.duration < 0:
                        raise InvalidInstance(
                            f"{name} has a negative time on machine {alt.machine}"
                        )
                if op.locked_machine is not None and not op.allowed():
                    raise InvalidInstance(
                        f"{name} is locked to machine {op.locked_machine}, "
                        "which is not one of its allowed machines"
                    )
                if op.fixed_start is not None:
                    allowed = op.allowed()
                    if len(allowed) != 1:
                        raise InvalidInstance(
                            f"{name} is frozen at {op.fixed_start} but its machine is not "
                            "determined: lock it to one machine"
                        )
                    alt = allowed[0]
                    earliest = max(job.release, op.release)
                    if op.fixed_start < earliest:
                        raise InvalidInstance(
                            f"{name} is frozen at {op.fixed_start}, before its release at {earliest}"
                        )
                    if previous_end is not None and op.fixed_start < previous_end:
                        raise InvalidInstance(
                            f"{name} is frozen at {op.fixed_start}, before its preceding "
                            f"operation can end (at {previous_end} at the earliest)"
                        )
                    end = op.fixed_start + alt.duration
                    frozen_by_machine.setdefault(alt.machine, []).append(
                        (op.fixed_start, end, name)
                    )
                    previous_end = end
                else:
                    start = max(job.release, op.release, previous_end or 0)
                    previous_end = start + op.min_duration()
        for machine, spans in frozen_by_machine.items():
            spans.sort()
            for (s1, e1, n1), (s2, e2, n2) in itertools.pairwise(spans):
                if s2 < e1:
                    raise InvalidInstance(
                        f"frozen operations overlap on machine {machine}: "
                        f"{n1} [{s1}, {e1}) and {n2} [{s2}, {e2})"
                    )


@dataclass(frozen=True)
class Assignment:
    machine: int
    start: int
    end: int


@dataclass
class Schedule:
    """assignments[j][k] is where and when operation k of job j runs."""

    assignments: list[list[Assignment]]

    @property
    def makespan(self) -> int:
        return max((ops[-1].end for ops in self.assignments if ops), default=0)

    def completion(self, j: int) -> int:
        ops = self.assignments[j]
        return ops[-1].end if ops else 0


@dataclass
class Objective:
    """What the solver minimises: makespan_weight * makespan + tardiness_weight * sum(w_j T_j)."""

    makespan_weight: int = 1
    tardiness_weight: int = 0

    @property
    def makespan_only(self) -> bool:
        return self.tardiness_weight == 0


@dataclass
class ScheduleMetrics:
    makespan: int
    total_tardiness: int
    weighted_tardiness: int
    late_jobs: int
    utilization: float
    """Busy time over (machines x makespan)."""
    per_machine_busy: list[int] = field(default_factory=list)


def schedule_metrics(instance: Instance, schedule: Schedule) -> ScheduleMetrics:
    makespan = schedule.makespan
    busy = [0] * instance.num_machines
    for ops in schedule.assignments:
        for a in ops:
            busy[a.machine] += a.end - a.start
    total = weighted = late = 0
    for j, job in enumerate(instance.jobs):
        if job.due is None:
            continue
        t = max(0, schedule.completion(j) - job.due)
        total += t
        weighted += job.weight * t
        late += t > 0
    capacity = instance.num_machines * makespan
    return ScheduleMetrics(
        makespan=makespan,
        total_tardiness=total,
        weighted_tardiness=weighted,
        late_jobs=late,
        utilization=(sum(busy) / capacity) if capacity else 0.0,
        per_machine_busy=busy,
    )


def objective_value(instance: Instance, schedule: Schedule, objective: Objective) -> int:
    m = schedule_metrics(instance, schedule)
    return (
        objective.makespan_weight * m.makespan + objective.tardiness_weight * m.weighted_tardiness
    )

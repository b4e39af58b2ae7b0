"""Job-shop and flexible job-shop scheduling with OR-Tools CP-SAT (pure Python, no Django).

instance = read_instance("ft06.txt")           # or build Instance/Job/Operation yourself
result = solve(instance, time_limit=5)
result.makespan, result.lower_bound, result.status
"""

from scheduling.solver.bounds import makespan_lower_bound
from scheduling.solver.cpsat import NoScheduleFound, Progress, SolveResult, solve
from scheduling.solver.feasibility import InfeasibleSchedule, check_schedule, schedule_violations
from scheduling.solver.greedy import greedy_schedule
from scheduling.solver.instance import (
    Alternative,
    Assignment,
    Instance,
    InvalidInstance,
    Job,
    Objective,
    Operation,
    Schedule,
    ScheduleMetrics,
    objective_value,
    schedule_metrics,
)
from scheduling.solver.parsers import parse_fjsp, parse_jsp, read_instance

__all__ = [
    "Alternative",
    "Assignment",
    "InfeasibleSchedule",
    "Instance",
    "InvalidInstance",
    "Job",
    "NoScheduleFound",
    "Objective",
    "Operation",
    "Progress",
    "Schedule",
    "ScheduleMetrics",
    "SolveResult",
    "check_schedule",
    "greedy_schedule",
    "makespan_lower_bound",
    "objective_value",
    "parse_fjsp",
    "parse_jsp",
    "read_instance",
    "schedule_metrics",
    "schedule_violations",
    "solve",
]

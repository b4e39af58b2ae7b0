"""Readers for the standard benchmark formats.

- JSP (Taillard/OR-Library "standard" form): first line `jobs machines`, then one line per job of
  `machine time` pairs, machines numbered from 0.
- FJSP (Brandimarte): first line `jobs machines [average machines per operation]`, then per job
  a line: the number of operations, then per operation the number k of eligible machines
  followed by k `machine time` pairs. Machines are numbered from 1 in the original files and
  from 0 in the SchedulingLab copies; `machine_base` says which (default: detect).
"""

from __future__ import annotations

from pathlib import Path

from scheduling.solver.instance import Alternative, Instance, InvalidInstance, Job, Operation


def _lines(text: str) -> list[list[int]]:
    rows = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            rows.append([int(float(tok)) for tok in line.split()])
        except ValueError as exc:
            raise InvalidInstance(f"not a number in line {raw!r}") from exc
    return rows


def parse_jsp(text: str, *, name: str = "") -> Instance:
    rows = _lines(text)
    if not rows or len(rows[0]) < 2:
        raise InvalidInstance("the first line must be `jobs machines`")
    n_jobs, n_machines = rows[0][0], rows[0][1]
    if len(rows) - 1 < n_jobs:
        raise InvalidInstance(f"the header announces {n_jobs} jobs, the file has {len(rows) - 1}")
    jobs = []
    for j, row in enumerate(rows[1 : 1 + n_jobs]):
        if len(row) % 2:
            raise InvalidInstance(f"job {j}: an odd number of values (expected machine time pairs)")
        ops = [
            Operation(alternatives=[Alternative(machine=row[i], duration=row[i + 1])])
            for i in range(0, len(row), 2)
        ]
        jobs.append(Job(operations=ops))
    instance = Instance(num_machines=n_machines, jobs=jobs, name=name)
    instance.validate()
    return instance


def parse_fjsp(text: str, *, name: str = "", machine_base: int | None = None) -> Instance:
    rows = _lines(text)
    if not rows or len(rows[0]) < 2:
        raise InvalidInstance("the first line must be `jobs machines [average]`")
    n_jobs, n_machines = rows[0][0], rows[0][1]
    if len(rows) - 1 < n_jobs:
        raise InvalidInstance(f"the header announces {n_jobs} jobs, the file has {len(rows) - 1}")
    raw_jobs: list[list[list[tuple[int, int]]]] = []
    for j, row in enumerate(rows[1 : 1 + n_jobs]):
        pos, ops = 1, []
        for _k in range(row[0]):
            if pos >= len(row):
                raise InvalidInstance(f"job {j}: the line ends before its operations do")
            count = row[pos]
            pairs = row[pos + 1 : pos + 1 + 2 * count]
            if len(pairs) != 2 * count:
                raise InvalidInstance(f"job {j}: the line ends inside an operation")
            ops.append([(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)])
            pos += 1 + 2 * count
        if pos != len(row):
            raise InvalidInstance(f"job {j}: {len(row) - pos} values left after its operations")
        raw_jobs.append(ops)
    machines = [m for ops in raw_jobs for op in ops for m, _ in op]
    if machine_base is None:
        machine_base = 1 if machines and min(machines) >= 1 and max(machines) == n_machines else 0
    jobs = [
        Job(
            operations=[
                Operation(alternatives=[Alternative(m - machine_base, t) for m, t in op])
                for op in ops
            ]
        )
        for ops in raw_jobs
    ]
    instance = Instance(num_machines=n_machines, jobs=jobs, name=name)
    instance.validate()
    return instance


def read_instance(path: str | Path, *, flexible: bool = False) -> Instance:
    path = Path(path)
    text = path.read_text()
    parser = parse_fjsp if flexible else parse_jsp
    return parser(text, name=path.stem)

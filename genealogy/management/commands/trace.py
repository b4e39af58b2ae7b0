"""`manage.py trace LOT_NUMBER --direction forward|backward`: print the genealogy tree."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from genealogy import selectors
from genealogy.choices import Direction
from mes.exceptions import DomainError


def render_tree(trace: selectors.Trace, *, max_lines: int | None = None) -> list[str]:
    """The trace as an indented tree. A node reached again (a diamond) is printed once in
    full; later it says `(see above)`."""
    nxt = trace.next_of()
    far = 1 if trace.direction == Direction.FORWARD else 0
    arrow = "<-" if trace.direction == Direction.BACKWARD else "->"
    lines: list[str] = []

    def label(node: selectors.TraceNode) -> str:
        source = f" [{node.source_kind} {node.source_ref}]" if node.source_ref else ""
        return (
            f"{node.lot_number} ({node.material_code}, {node.kind}, {node.status}, "
            f"{node.quantity.normalize():f} {node.uom} left){source}"
        )

    lines.append(label(trace.root))
    shown = {trace.root.id}
    stack = [(edge, 1) for edge in sorted(nxt.get(trace.root.id, []), key=_order, reverse=True)]
    while stack:
        if max_lines is not None and len(lines) >= max_lines:
            lines.append(f"... (stopped after {max_lines} lines)")
            break
        edge, depth = stack.pop()
        node = trace.nodes[edge[far]]
        where = f" in {edge.context_kind} {edge.context_ref}" if edge.context_ref else ""
        how = f"{arrow} {edge.kind} {edge.quantity.normalize():f} {edge.uom}{where}: "
        if node.id in shown:
            lines.append(
                "  " * depth + how + f"{node.lot_number} ({node.material_code}) (see above)"
            )
            continue
        shown.add(node.id)
        lines.append("  " * depth + how + label(node))
        children = sorted(nxt.get(node.id, []), key=_order)
        stack.extend((child, depth + 1) for child in reversed(children))
    return lines


def _order(edge: selectors.TraceEdge) -> tuple:
    return (edge.parent_id, edge.child_id, edge.kind)


class Command(BaseCommand):
    help = "Print the genealogy of a lot (or unit) as a tree: backward or forward."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("lot_number", help="the lot number (or a unit's serial number)")
        parser.add_argument(
            "--direction", choices=Direction.values, default=Direction.BACKWARD.value
        )
        parser.add_argument(
            "--material", default="", help="material code, when the lot number is ambiguous"
        )
        parser.add_argument("--max-lines", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            lot = selectors.lot_find(
                lot_number=options["lot_number"], material_code=options["material"]
            )
            trace = selectors.lot_trace(lot=lot, direction=options["direction"])
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        for line in render_tree(trace, max_lines=options["max_lines"]):
            self.stdout.write(line)
        self.stdout.write(
            f"{options['direction']} trace of {lot.lot_number}: {trace.count} lot(s)/unit(s), "
            f"{len(trace.edges)} link(s)."
        )

"""What every printed GMP record shares (reportlab): "Page X of Y" on every page, next to a
footer naming the record (and, where it matters, who printed it and when)."""

from typing import Any


def numbered_canvas(footer: str, *, font_size: float = 7) -> type:
    """A canvas class for `doc.build(..., canvasmaker=...)` that keeps each page, then stamps
    the footer and "Page X of Y" once the total is known (two passes, linear in pages)."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab API)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont("Helvetica", font_size)
                width = self._pagesize[0]
                self.drawString(15 * mm, 8 * mm, footer)
                self.drawRightString(width - 15 * mm, 8 * mm, f"Page {self._pageNumber} of {total}")
                super().showPage()
            super().save()

    return NumberedCanvas

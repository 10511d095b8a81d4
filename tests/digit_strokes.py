"""Digits as pen strokes: the browser test's mouse paths, and pictures drawn with a round pen."""

import itertools

STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(0.5, 0.06), (0.25, 0.2), (0.18, 0.5), (0.25, 0.82), (0.5, 0.95), (0.75, 0.82),
         (0.82, 0.5), (0.75, 0.2), (0.5, 0.06)]],
    1: [[(0.4, 0.2), (0.58, 0.05), (0.56, 0.95)]],
    2: [[(0.2, 0.25), (0.35, 0.08), (0.65, 0.08), (0.8, 0.28), (0.7, 0.5), (0.2, 0.92),
         (0.85, 0.92)]],
    3: [[(0.2, 0.12), (0.75, 0.12), (0.45, 0.45), (0.75, 0.6), (0.75, 0.82), (0.5, 0.95),
         (0.2, 0.88)]],
    4: [[(0.6, 0.05), (0.15, 0.65), (0.85, 0.65)], [(0.62, 0.3), (0.62, 0.95)]],
    5: [[(0.8, 0.08), (0.3, 0.08), (0.25, 0.45), (0.6, 0.4), (0.8, 0.6), (0.7, 0.88),
         (0.4, 0.95), (0.2, 0.85)]],
    6: [[(0.7, 0.08), (0.35, 0.35), (0.22, 0.7), (0.4, 0.93), (0.7, 0.85), (0.72, 0.6),
         (0.45, 0.52), (0.25, 0.68)]],
    7: [[(0.15, 0.1), (0.85, 0.1), (0.4, 0.95)]],
    8: [[(0.5, 0.5), (0.25, 0.3), (0.5, 0.07), (0.75, 0.3), (0.5, 0.5), (0.22, 0.72),
         (0.5, 0.94), (0.78, 0.72), (0.5, 0.5)]],
    9: [[(0.75, 0.3), (0.5, 0.08), (0.25, 0.3), (0.5, 0.5), (0.75, 0.3), (0.7, 0.95)]],
}  # fmt: skip
"""Each digit's pen strokes, points in a unit square (x right, y down)."""


def stroke_points(
    digit: int, left: float, top: float, size: float, steps: int = 6
) -> list[list[tuple[float, float]]]:
    """``digit``'s strokes in a ``size`` box at (``left``, ``top``), ``steps`` moves a segment."""
    out = []
    for stroke in STROKES[digit]:
        points = [stroke[0]]
        for a, b in itertools.pairwise(stroke):
            points += [
                (a[0] + (b[0] - a[0]) * t / steps, a[1] + (b[1] - a[1]) * t / steps)
                for t in range(1, steps + 1)
            ]
        out.append([(left + x * size, top + y * size) for x, y in points])
    return out


def draw(
    digit: int,
    size: int = 200,
    pen: int = 16,
    ink: tuple[int, ...] = (20, 20, 30),
    paper: tuple[int, ...] = (245, 242, 230),
    mode: str = "RGB",
):
    """A picture of ``digit`` drawn with a round pen of ``pen`` pixels on ``paper``."""
    from PIL import Image, ImageDraw

    image = Image.new(mode, (size, size), paper)
    pen_draw = ImageDraw.Draw(image)
    margin = size * 0.15
    for stroke in stroke_points(digit, margin, margin, size - 2 * margin):
        pen_draw.line(stroke, fill=ink, width=pen, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            pen_draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=ink)
    return image

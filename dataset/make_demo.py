"""Draw the demo's source images: one reference sheet and three turnaround sheets of one character.

The demo dataset (dataset/demo.toml) crops 19 images out of these four files. They are drawn here,
not shipped as opaque art, so anyone can see how they were made and regenerate them:

    python dataset/make_demo.py               # writes dataset/sources/*.png
    python dataset/make_demo.py --out /tmp/x  # writes them somewhere else

The character, "Mira", is a simple cel-shaded drawing: twin tails, blue jacket, red scarf, navy skirt.
turnaround-b shows an alternate look (side ponytail on her left, yellow hoodie) on a transparent
background, so that flipping it deserves a warning and the builder's alpha compositing is exercised.

Every image is drawn at twice its size and scaled down (2x2 box average) for clean edges. Nothing is random
and no metadata is written, so the output is the same on every run (tests/test_demo_sources.py checks).
Needs Pillow only.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SS = 2  # supersampling factor: draw at 2x, then average 2x2 blocks

Point = tuple[float, float]
RGB = tuple[int, int, int]

VIEWS = ("front", "three-quarter", "side", "back")
EXPRESSIONS = ("neutral", "happy", "sad", "angry", "surprised")


@dataclass(frozen=True)
class Look:
    """One outfit and hairstyle: every colour the figure uses, and the hair style."""

    hair: RGB = (74, 52, 92)
    hair_shine: RGB = (120, 94, 146)
    hair_tie: RGB = (222, 60, 70)
    skin: RGB = (252, 221, 196)
    blush: RGB = (246, 170, 170)
    eye: RGB = (32, 150, 150)
    top: RGB = (52, 98, 186)  # jacket or hoodie
    top_shade: RGB = (36, 70, 140)
    shirt: RGB = (250, 250, 250)
    scarf: RGB = (214, 44, 56)
    skirt: RGB = (40, 44, 78)
    socks: RGB = (34, 36, 52)
    shoes: RGB = (120, 70, 42)
    line: RGB = (43, 34, 51)
    hairstyle: str = "twin tails"  # or "side ponytail" (on her left)
    scarf_on: bool = True


MAIN = Look()
WINTER = replace(MAIN, top=(236, 232, 222), top_shade=(196, 190, 178), skirt=(92, 60, 48), socks=(92, 60, 48))
CASUAL = replace(
    MAIN,
    hair=(150, 82, 48),
    hair_shine=(198, 128, 86),
    hair_tie=(48, 140, 90),
    top=(246, 196, 60),
    top_shade=(214, 156, 34),
    shirt=(246, 196, 60),
    skirt=(64, 98, 150),
    socks=(250, 250, 250),
    shoes=(230, 80, 80),
    hairstyle="side ponytail",
    scarf_on=False,
)


class Pen:
    """Draws in figure units: x = 0 is the figure's centre line, y = 0 the top of the hair, y = 1 the soles.

    Profile and three-quarter views are drawn turned to the viewer's left (x < 0 is "forward").
    """

    def __init__(self, draw: ImageDraw.ImageDraw, cx: float, top: float, height: float, look: Look) -> None:
        self.draw, self.cx, self.top, self.s, self.look = draw, cx, top, height, look

    def p(self, x: float, y: float) -> Point:
        return (self.cx + x * self.s, self.top + y * self.s)

    def w(self, units: float) -> int:
        return max(1, round(units * self.s))

    @property
    def lw(self) -> int:
        """Outline width: thick enough to survive a 256 px thumbnail."""
        return self.w(0.0042)

    def ellipse(self, x: float, y: float, rx: float, ry: float, fill: RGB | None, outline: bool = True) -> None:
        box = (*self.p(x - rx, y - ry), *self.p(x + rx, y + ry))
        self.draw.ellipse(box, fill=fill, outline=self.look.line if outline else None, width=self.lw if outline else 0)

    def poly(self, points: Sequence[Point], fill: RGB | None, outline: bool = True) -> None:
        xy = [self.p(x, y) for x, y in points]
        self.draw.polygon(xy, fill=fill, outline=self.look.line if outline else None, width=self.lw if outline else 0)

    def line(self, points: Sequence[Point], width: float, fill: RGB | None = None) -> None:
        self.draw.line([self.p(x, y) for x, y in points], fill=fill or self.look.line, width=self.w(width), joint="curve")

    def limb(self, points: Sequence[Point], width: float, fill: RGB) -> None:
        """A thick outlined stroke (arm, leg): the outline colour drawn wider underneath."""
        self.line(points, width + 2 * self.lw / self.s)
        for x, y in (points[0], points[-1]):
            self.ellipse(x, y, width / 2 + self.lw / self.s, width / 2 + self.lw / self.s, self.look.line, outline=False)
        self.line(points, width, fill)
        for x, y in (points[0], points[-1]):
            self.ellipse(x, y, width / 2, width / 2, fill, outline=False)

    def arc(self, x: float, y: float, rx: float, ry: float, start: float, end: float, width: float) -> None:
        """An arc in figure units; angles in degrees as Pillow counts them (clockwise from 3 o'clock)."""
        self.draw.arc((*self.p(x - rx, y - ry), *self.p(x + rx, y + ry)), start, end, fill=self.look.line,
                      width=self.w(width))


def _curve(points: Sequence[Point], steps: int = 8) -> list[Point]:
    """A smooth path through `points` (Catmull-Rom), so hair and cloth do not look like polygons."""
    pts = [points[0], *points, points[-1]]
    out: list[Point] = []
    for i in range(1, len(pts) - 2):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        for k in range(steps):
            out.append((_catmull_rom(p0[0], p1[0], p2[0], p3[0], k / steps),
                        _catmull_rom(p0[1], p1[1], p2[1], p3[1], k / steps)))
    out.append(points[-1])
    return out


def _catmull_rom(a: float, b: float, c: float, d: float, t: float) -> float:
    return 0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t * t + (-a + 3 * b - 3 * c + d) * t ** 3)


# --- hair ------------------------------------------------------------------------------------------

_TAIL = [(0.066, 0.05), (0.12, 0.05), (0.165, 0.12), (0.18, 0.24), (0.165, 0.36), (0.13, 0.46),
         (0.135, 0.38), (0.128, 0.27), (0.11, 0.15), (0.075, 0.1)]
_PONYTAIL = [(0.07, 0.035), (0.13, 0.02), (0.19, 0.08), (0.21, 0.2), (0.2, 0.32), (0.165, 0.42),
             (0.17, 0.32), (0.16, 0.2), (0.13, 0.11), (0.08, 0.09)]


def _tails(pen: Pen, sides: Sequence[int], drop: float = 0.0, far_squeeze: float = 1.0) -> None:
    """Hair tails hanging from the sides of the head; side +1 is the viewer's right.

    `far_squeeze` < 1 tucks the tail on the far side (x < 0) behind the head, as in a three-quarter view.
    """
    shape = _PONYTAIL if pen.look.hairstyle == "side ponytail" else _TAIL
    for side in sides:
        squeeze = far_squeeze if side < 0 else 1.0
        pts = [(x * side * squeeze, y + (drop if y > 0.12 else 0)) for x, y in shape]
        pen.poly(_curve(pts, 6), pen.look.hair)
        strand = [(x * side * squeeze, y + drop) for x, y in ((0.13, 0.12), (0.15, 0.24), (0.145, 0.34))]
        pen.line(_curve(strand, 4), 0.003, pen.look.hair_shine)


def _tail_sides(pen: Pen, view: str) -> list[int]:
    """Which sides (viewer's right = +1) the tails show on; a side ponytail is on her left only."""
    if pen.look.hairstyle != "side ponytail":
        return {"front": [-1, 1], "three-quarter": [-1, 1], "side": [1], "back": [-1, 1]}[view]
    # Her left is the viewer's right from the front, and stays on that side in the three-quarter and
    # side views (all turned to the viewer's left); from the back it is on the viewer's left.
    return {"front": [1], "three-quarter": [1], "side": [1], "back": [-1]}[view]


def _ties(pen: Pen, sides: Sequence[int], x: float = 0.08, far_x: float | None = None) -> None:
    for side in sides:
        pen.ellipse((far_x if side < 0 and far_x is not None else x) * side, 0.06, 0.018, 0.02, pen.look.hair_tie)


def _bangs(pen: Pen, shift: float = 0.0) -> None:
    pts = [(-0.09, 0.13), (-0.088, 0.05), (-0.05, 0.008), (0.0, -0.002), (0.05, 0.008), (0.088, 0.05),
           (0.09, 0.13), (0.074, 0.08), (0.056, 0.088), (0.036, 0.06), (0.014, 0.084), (-0.01, 0.058),
           (-0.034, 0.084), (-0.056, 0.062), (-0.076, 0.09)]
    pen.poly([(x + shift * (1 - abs(x) / 0.1), y) for x, y in pts], pen.look.hair)
    pen.line(_curve([(-0.05 + shift, 0.025), (-0.02 + shift, 0.014), (0.01 + shift, 0.016)], 4), 0.006, pen.look.hair_shine)


# --- face ------------------------------------------------------------------------------------------

def _eye(pen: Pen, x: float, y: float, rx: float, expression: str, side: int) -> None:
    """One eye; `side` is -1 for the eye on the figure's x < 0 side, so 'inner' means towards the nose."""
    if expression == "happy":  # closed, smiling eyes read at any size
        pen.arc(x, y + 0.008, rx, 0.016, 200, 340, 0.006)
        return
    ry = 0.025 if expression == "surprised" else 0.021
    pen.ellipse(x, y, rx, ry, (255, 255, 255), outline=False)
    iris = 0.55 if expression == "surprised" else 0.8
    pen.ellipse(x, y + 0.003, rx * iris, ry * iris * 0.95, pen.look.eye, outline=False)
    pen.ellipse(x, y + 0.005, rx * iris * 0.5, ry * iris * 0.5, pen.look.line, outline=False)
    pen.ellipse(x + rx * 0.3, y - ry * 0.3, rx * 0.26, ry * 0.2, (255, 255, 255), outline=False)
    inner, outer = x - side * rx * 1.15, x + side * rx * 1.15
    lid_inner, lid_outer = y - ry, y - ry
    if expression == "angry":  # a lid slanting down to the nose
        lid_inner, lid_outer = y - ry * 0.15, y - ry * 0.75
        pen.poly([(inner, y - ry * 1.4), (outer, y - ry * 1.4), (outer, lid_outer), (inner, lid_inner)],
                 pen.look.skin, outline=False)
    elif expression == "sad":  # a lid slanting down to the outside
        lid_inner, lid_outer = y - ry * 0.9, y - ry * 0.45
        pen.poly([(inner, y - ry * 1.4), (outer, y - ry * 1.4), (outer, lid_outer), (inner, lid_inner)],
                 pen.look.skin, outline=False)
    mid = ((inner + outer) / 2, min(lid_inner, lid_outer) - 0.003)
    pen.line([(inner, lid_inner + 0.002), mid, (outer, lid_outer + 0.002)], 0.006)


_BROW_LIFT = {"sad": (-0.01, 0.004), "angry": (0.01, -0.006), "surprised": (-0.016, -0.012), "happy": (-0.004, -0.004)}


def _brows(pen: Pen, xs: tuple[float, float], rx: float, expression: str) -> None:
    """Two brows over eyes at `xs`; their slope carries most of the expression."""
    d_inner, d_outer = _BROW_LIFT.get(expression, (0.0, 0.0))
    for x, side in zip(xs, (-1, 1), strict=True):
        pen.line([(x - side * rx, 0.093 + d_inner), (x + side * rx, 0.093 + d_outer)], 0.0055)


def _mouth(pen: Pen, x: float, y: float, expression: str, width: float = 0.022) -> None:
    if expression == "happy":
        pen.poly(_curve([(x - width, y - 0.006), (x, y - 0.002), (x + width, y - 0.006), (x + width * 0.6, y + 0.014),
                         (x, y + 0.02), (x - width * 0.6, y + 0.014)], 4), (170, 40, 60))
        pen.ellipse(x, y + 0.013, width * 0.45, 0.005, (240, 120, 130), outline=False)
    elif expression == "sad":
        pen.arc(x, y + 0.01, width * 0.8, 0.01, 200, 340, 0.005)
    elif expression == "angry":
        pen.poly([(x - width, y + 0.006), (x - width * 0.4, y - 0.004), (x + width * 0.4, y - 0.004), (x + width, y + 0.006),
                  (x + width * 0.5, y + 0.012), (x - width * 0.5, y + 0.012)], (255, 255, 255))
        pen.line([(x - width * 0.8, y + 0.004), (x + width * 0.8, y + 0.004)], 0.0025)
    elif expression == "surprised":
        pen.ellipse(x, y + 0.004, width * 0.45, 0.013, (170, 40, 60))
    else:
        pen.arc(x, y - 0.006, width * 0.6, 0.008, 30, 150, 0.005)


def _tear(pen: Pen, x: float, y: float) -> None:
    pen.poly(_curve([(x, y), (x + 0.006, y + 0.014), (x, y + 0.02), (x - 0.006, y + 0.014), (x, y)], 4), (130, 190, 240))


def _front_face(pen: Pen, expression: str) -> None:
    pen.ellipse(0, 0.118, 0.078, 0.088, pen.look.skin)
    for side in (-1, 1):
        pen.ellipse(0.05 * side, 0.15, 0.014, 0.007, pen.look.blush, outline=False)
        _eye(pen, 0.033 * side, 0.13, 0.019, expression, side)
    _mouth(pen, 0, 0.172, expression)
    if expression == "sad":
        _tear(pen, -0.05, 0.14)


def _three_quarter_face(pen: Pen, expression: str) -> None:
    """Turned to the viewer's left: the far eye narrow near the edge, a nose tip, ear on the far side."""
    pen.ellipse(0.068, 0.13, 0.014, 0.02, pen.look.skin)
    pen.poly(_curve([(0.07, 0.06), (0.07, 0.16), (0.03, 0.2), (-0.02, 0.207), (-0.055, 0.185), (-0.075, 0.14),
                     (-0.078, 0.09), (-0.06, 0.04), (0.0, 0.03), (0.05, 0.04)], 6), pen.look.skin)
    pen.ellipse(0.025, 0.152, 0.015, 0.007, pen.look.blush, outline=False)
    _eye(pen, 0.006, 0.13, 0.019, expression, 1)
    _eye(pen, -0.053, 0.13, 0.011, expression, -1)
    pen.line([(-0.064, 0.145), (-0.068, 0.152), (-0.062, 0.154)], 0.003)
    _mouth(pen, -0.028, 0.174, expression, 0.017)


def _profile_face(pen: Pen, expression: str) -> None:
    """A profile facing the viewer's left: forehead, nose, lips, chin; one eye; the ear in the middle."""
    pen.poly(_curve([(0.05, 0.05), (-0.04, 0.035), (-0.07, 0.07), (-0.075, 0.105), (-0.09, 0.14), (-0.076, 0.148),
                     (-0.079, 0.164), (-0.072, 0.172), (-0.074, 0.18), (-0.062, 0.198), (-0.03, 0.205),
                     (0.02, 0.19), (0.05, 0.15)], 6), pen.look.skin)
    pen.ellipse(0.012, 0.13, 0.014, 0.02, pen.look.skin)
    pen.ellipse(-0.04, 0.152, 0.013, 0.007, pen.look.blush, outline=False)
    x, y = -0.05, 0.123
    if expression == "happy":
        pen.arc(x, y + 0.008, 0.011, 0.014, 200, 340, 0.006)
    else:
        pen.ellipse(x, y, 0.01, 0.02, (255, 255, 255), outline=False)
        pen.ellipse(x - 0.003, y + 0.003, 0.007, 0.015, pen.look.eye, outline=False)
        pen.ellipse(x - 0.004, y + 0.005, 0.004, 0.008, pen.look.line, outline=False)
        pen.line([(x + 0.012, y - 0.017), (x - 0.004, y - 0.022), (x - 0.013, y - 0.012)], 0.006)
    pen.line([(-0.04, 0.087), (-0.064, 0.09)], 0.0055, pen.look.hair)
    pen.line([(-0.074, 0.172), (-0.062, 0.171)], 0.003)


def _head(pen: Pen, view: str, expression: str) -> None:
    look = pen.look
    sides = _tail_sides(pen, view)
    if view == "back":
        pen.ellipse(0, 0.105, 0.092, 0.105, look.hair)
        for x in (-0.04, 0.0, 0.04):
            pen.line(_curve([(x * 0.5, 0.02), (x, 0.1), (x * 1.1, 0.19)], 4), 0.003, look.hair_shine)
        _tails(pen, sides)
        _ties(pen, sides)
        return
    if view == "side":
        _tails(pen, sides, drop=0.01)
        pen.ellipse(0.012, 0.1, 0.085, 0.1, look.hair)
        _profile_face(pen, expression)
        pen.poly(_curve([(-0.075, 0.1), (-0.07, 0.04), (-0.03, 0.005), (0.03, 0.0), (0.06, 0.03), (0.01, 0.06),
                         (-0.02, 0.06), (-0.045, 0.1), (-0.06, 0.075)], 5), look.hair)
        _ties(pen, [1], 0.06)
        return
    _tails(pen, sides, far_squeeze=0.72 if view == "three-quarter" else 1.0)
    pen.ellipse(0.014 if view == "three-quarter" else 0, 0.105, 0.09, 0.102, look.hair)
    if view == "three-quarter":
        _three_quarter_face(pen, expression)
        _bangs(pen, -0.012)
        _brows(pen, (-0.053, 0.006), 0.014, expression)
        _ties(pen, sides, 0.085, 0.065)
    else:
        _front_face(pen, expression)
        _bangs(pen)
        _brows(pen, (-0.033, 0.033), 0.017, expression)
        _ties(pen, sides)


# --- body ------------------------------------------------------------------------------------------

def _legs(pen: Pen, view: str) -> None:
    look = pen.look
    xs = {"front": (-0.035, 0.035), "three-quarter": (-0.03, 0.03), "side": (0.015, -0.02), "back": (-0.035, 0.035)}[view]
    for x in xs:
        foot = x - 0.002 * (1 if x > 0 else -1)
        pen.limb([(x, 0.6), (foot, 0.78)], 0.04, look.skin)
        pen.limb([(foot, 0.78), (foot, 0.915)], 0.042, look.socks)
        toe = {"front": 0.0, "back": 0.0, "three-quarter": -0.022, "side": -0.035}[view]
        if view == "back":
            pen.ellipse(foot, 0.948, 0.028, 0.028, look.shoes)
        else:
            pen.poly(_curve([(foot + 0.022, 0.925), (foot + 0.025, 0.975), (foot + toe - 0.03, 0.978),
                             (foot + toe - 0.032, 0.95), (foot + toe - 0.01, 0.925)], 4), look.shoes)
            if view != "side" and toe == 0:
                pen.line([(foot - 0.02, 0.975), (foot + 0.02, 0.975)], 0.006)


def _skirt(pen: Pen, view: str) -> None:
    look = pen.look
    half = 0.06 if view == "side" else 0.07
    pts = [(-half, 0.47), (half, 0.47), (half + 0.04, 0.625), (-half - 0.04, 0.625)]
    pen.poly(pts, look.skirt)
    for t in (-0.5, 0.0, 0.5):
        pen.line([(t * half, 0.49), (t * (half + 0.04), 0.62)], 0.0035)


_BODY: dict[str, list[Point]] = {
    "front": [(-0.085, 0.245), (0.085, 0.245), (0.08, 0.4), (0.09, 0.525), (-0.09, 0.525), (-0.08, 0.4)],
    # the far side narrower: she is turned away from it
    "three-quarter": [(-0.062, 0.245), (0.082, 0.245), (0.078, 0.4), (0.087, 0.525), (-0.068, 0.525), (-0.06, 0.4)],
    "side": [(-0.04, 0.24), (0.04, 0.24), (0.05, 0.4), (0.055, 0.52), (-0.06, 0.52), (-0.055, 0.4), (-0.065, 0.33)],
}
_BODY["back"] = _BODY["front"]


def _torso(pen: Pen, view: str) -> None:
    look = pen.look
    pen.poly([(-0.02, 0.18), (0.02, 0.18), (0.02, 0.245), (-0.02, 0.245)], look.skin)
    body = _BODY[view]
    pen.poly(body, look.top)
    open_x = {"front": 0.0, "three-quarter": -0.032, "side": None, "back": None}[view]
    if open_x is not None:
        if look.scarf_on:
            pen.poly([(open_x - 0.032, 0.245), (open_x + 0.032, 0.245), (open_x, 0.35)], look.shirt)
            pen.line([(open_x, 0.35), (open_x, 0.525)], 0.004)
            for y in (0.39, 0.45):
                pen.ellipse(open_x + 0.015, y, 0.006, 0.006, look.top_shade)
        else:  # hoodie: kangaroo pocket and drawstrings
            pen.poly([(open_x - 0.045, 0.42), (open_x + 0.045, 0.42), (open_x + 0.055, 0.5), (open_x - 0.055, 0.5)],
                     look.top_shade)
            for dx in (-0.015, 0.015):
                pen.line([(open_x + dx, 0.25), (open_x + dx, 0.32)], 0.004)
    if view == "back":
        pen.line([(0, 0.26), (0, 0.525)], 0.004, look.top_shade)


def _scarf(pen: Pen, view: str) -> None:
    look = pen.look
    if not look.scarf_on:  # the hoodie has a hood instead
        pen.poly(_curve([(-0.07, 0.255), (-0.04, 0.225), (0.04, 0.225), (0.07, 0.255), (0.04, 0.27), (-0.04, 0.27)], 4),
                 look.top_shade)
        return
    pen.poly(_curve([(-0.055, 0.215), (0.0, 0.205), (0.055, 0.215), (0.058, 0.245), (0.0, 0.258), (-0.058, 0.245)], 4),
             look.scarf)
    tail_x = {"front": 0.035, "three-quarter": 0.01, "side": 0.045, "back": 0.0}[view]
    tail = [(tail_x - 0.018, 0.24), (tail_x + 0.018, 0.24), (tail_x + 0.026, 0.37), (tail_x - 0.01, 0.37)]
    if view == "side":  # it streams back behind her
        tail = [(0.03, 0.225), (0.05, 0.235), (0.11, 0.33), (0.09, 0.345)]
    pen.poly(tail, look.scarf)
    end_a, end_b = tail[2], tail[3]
    for k in range(4):
        t = (k + 0.5) / 4
        x = end_b[0] + (end_a[0] - end_b[0]) * t
        y = end_b[1] + (end_a[1] - end_b[1]) * t
        pen.line([(x, y), (x, y + 0.015)], 0.004, look.scarf)


def _arm(pen: Pen, path: Sequence[Point]) -> None:
    pen.limb(path[:-1], 0.042, pen.look.top)
    x, y = path[-1]
    pen.ellipse(x, y, 0.021, 0.023, pen.look.skin)


def _arms(pen: Pen, view: str, pose: str, layer: str) -> None:
    """Arms behind the body (layer 'back') or in front of it ('front')."""
    if view == "side":
        if layer == "front":
            _arm(pen, [(0.005, 0.26), (0.01, 0.37), (-0.005, 0.47), (-0.01, 0.5)])
        return
    if view == "three-quarter":
        if layer == "back":
            _arm(pen, [(-0.045, 0.26), (-0.07, 0.37), (-0.078, 0.47), (-0.078, 0.5)])
        elif pose == "wave":
            _arm(pen, [(0.07, 0.26), (0.14, 0.3), (0.16, 0.2), (0.165, 0.165)])
        else:
            _arm(pen, [(0.08, 0.26), (0.108, 0.37), (0.112, 0.47), (0.11, 0.5)])
        return
    if layer == "back":
        return
    for side in (-1, 1):
        if pose == "hip" and side == 1 and view == "front":  # her left hand on her hip
            _arm(pen, [(0.08, 0.26), (0.135, 0.34), (0.12, 0.42), (0.085, 0.46)])
        else:
            _arm(pen, [(0.08 * side, 0.26), (0.105 * side, 0.37), (0.11 * side, 0.47), (0.11 * side, 0.5)])


def draw_figure(pen: Pen, view: str, expression: str = "neutral", pose: str = "stand") -> None:
    """The whole character in one view, back to front."""
    _arms(pen, view, pose, "back")
    _legs(pen, view)
    _skirt(pen, view)
    _torso(pen, view)
    if view == "back":
        _scarf(pen, view)
        _arms(pen, view, pose, "front")
        _head(pen, view, expression)
        return
    _scarf(pen, view)
    _head(pen, view, expression)
    _arms(pen, view, pose, "front")


# --- sheets ----------------------------------------------------------------------------------------

def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


def _label(draw: ImageDraw.ImageDraw, xy: Point, text: str, size: int, fill: RGB = (60, 56, 70)) -> None:
    draw.text(xy, text, fill=fill, font=_font(size), anchor="mm")


def _canvas(size: tuple[int, int], background: RGB | None) -> Image.Image:
    big = (size[0] * SS, size[1] * SS)
    return Image.new("RGBA", big, (0, 0, 0, 0)) if background is None else Image.new("RGB", big, background)


def _finish(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Downscale the 2x drawing. BOX averages each 2x2 block: exact pixel coverage for clean edges, with
    no LANCZOS ringing, which makes the PNGs a third the size. resize() premultiplies alpha, so the
    transparent sheet gets soft edges without dark fringes."""
    return img.resize(size, Image.Resampling.BOX)


def _figure_at(draw: ImageDraw.ImageDraw, look: Look, view: str, cx: float, top: float, height: float,
               expression: str = "neutral", pose: str = "stand") -> None:
    draw_figure(Pen(draw, cx * SS, top * SS, height * SS, look), view, expression, pose)


# Every colour white: the figure drawn on black shows its exact silhouette.
_WHITE = {name: (255, 255, 255) for name in ("hair", "hair_shine", "hair_tie", "skin", "blush", "eye", "top", "top_shade",
                                             "shirt", "scarf", "skirt", "socks", "shoes", "line")}


def _extent(look: Look, view: str, pose: str = "stand") -> tuple[float, float]:
    """How far the figure reaches left and right of its centre line, in figure units (drawn small to measure)."""
    height, cx = 400, 300
    img = Image.new("RGB", (600, 420), (0, 0, 0))
    draw_figure(Pen(ImageDraw.Draw(img), cx, 10, height, replace(look, **_WHITE)), view, "neutral", pose)
    left, _, right, _ = img.getbbox() or (cx, 0, cx, 0)
    return (left - cx) / height, (right - cx) / height


def _centred(look: Look, view: str, left: float, width: float, height: float, pose: str = "stand") -> float:
    """The centre-line x that puts the figure's extent in the middle of [left, left + width]."""
    lo, hi = _extent(look, view, pose)
    return left + width / 2 - (lo + hi) / 2 * height


def _face_panel(sheet: Image.Image, box: tuple[int, int, int, int], expression: str) -> None:
    """A framed close-up: the figure drawn huge, clipped to the panel."""
    left, top, right, bottom = (v * SS for v in box)
    panel = Image.new("RGB", (right - left, bottom - top), (255, 255, 255))
    height = (bottom - top) * 3.4
    draw_figure(Pen(ImageDraw.Draw(panel), (right - left) / 2, (bottom - top) * 0.06, height, MAIN), "front", expression)
    sheet.paste(panel, (left, top))
    ImageDraw.Draw(sheet).rectangle((left, top, right - 1, bottom - 1), outline=(60, 56, 70), width=3 * SS)


def make_ref_sheet() -> Image.Image:
    """2816x1536: four full-body views on the left two thirds, five expression panels on the right."""
    size = (2816, 1536)
    img = _canvas(size, (246, 243, 236))
    draw = ImageDraw.Draw(img)
    _label(draw, (940 * SS, 60 * SS), "MIRA  -  character reference", 54 * SS)
    poses = {"front": "hip", "three-quarter": "wave"}
    height, top = 1250, 140
    spans = [_extent(MAIN, view, poses.get(view, "stand")) for view in VIEWS]
    gap = (1880 - 40 - sum(hi - lo for lo, hi in spans) * height) / len(VIEWS)
    x = 20 + gap / 2
    for view, (lo, hi) in zip(VIEWS, spans, strict=True):
        cx = x - lo * height
        _figure_at(draw, MAIN, view, cx, top, height, "happy" if view == "three-quarter" else "neutral",
                   poses.get(view, "stand"))
        _label(draw, ((x + (hi - lo) * height / 2) * SS, 1460 * SS), view.upper(), 40 * SS)
        x += (hi - lo) * height + gap
    draw.line((1900 * SS, 120 * SS, 1900 * SS, 1480 * SS), fill=(190, 184, 176), width=4 * SS)
    for i, expression in enumerate(EXPRESSIONS):
        col, row = i % 2, i // 2
        x0, y0 = 1960 + col * 420, 120 + row * 470
        _face_panel(img, (x0, y0, x0 + 380, y0 + 400), expression)
        _label(draw, ((x0 + 190) * SS, (y0 + 430) * SS), expression, 36 * SS)
    _palette(draw, (2380, 1060), MAIN)
    return _finish(img, size)


def _palette(draw: ImageDraw.ImageDraw, origin: tuple[int, int], look: Look) -> None:
    """Colour swatches in the sheet's sixth slot, as real reference sheets have."""
    x0, y0 = origin
    _label(draw, ((x0 + 190) * SS, (y0 + 20) * SS), "palette", 36 * SS)
    colours = (look.hair, look.skin, look.eye, look.top, look.scarf, look.skirt, look.socks, look.shoes)
    for i, colour in enumerate(colours):
        cx, cy = x0 + 50 + (i % 4) * 95, y0 + 120 + (i // 4) * 120
        draw.ellipse(((cx - 38) * SS, (cy - 38) * SS, (cx + 38) * SS, (cy + 38) * SS), fill=colour,
                     outline=look.line, width=3 * SS)


def make_turnaround_a() -> Image.Image:
    """1024x1024: a row of front, three-quarter, side, back in the main outfit, on a floor line."""
    size = (1024, 1024)
    img = _canvas(size, (236, 240, 246))
    draw = ImageDraw.Draw(img)
    _label(draw, (512 * SS, 90 * SS), "turnaround", 40 * SS)
    draw.line((20 * SS, 850 * SS, 1004 * SS, 850 * SS), fill=(200, 206, 218), width=3 * SS)
    for i, view in enumerate(("front", "three-quarter", "side", "back")):
        _figure_at(draw, MAIN, view, _centred(MAIN, view, i * 256, 256, 660), 190, 660)
    return _finish(img, size)


def make_turnaround_b() -> Image.Image:
    """1024x1024 transparent: a grid of front, three-quarter / side, back in the casual look."""
    size = (1024, 1024)
    img = _canvas(size, None)
    draw = ImageDraw.Draw(img)
    cells = (("front", 0, 35), ("three-quarter", 512, 35), ("side", 0, 547), ("back", 512, 547))
    for view, left, top in cells:
        cx = _centred(CASUAL, view, left, 512, 450)
        _figure_at(draw, CASUAL, view, cx, top, 450, "happy" if view != "back" else "neutral")
    return _finish(img, size)


def make_turnaround_c() -> Image.Image:
    """1024x1024: front and back only, winter look (cream coat)."""
    size = (1024, 1024)
    img = _canvas(size, (247, 240, 230))
    draw = ImageDraw.Draw(img)
    for i, view in enumerate(("front", "back")):
        _figure_at(draw, WINTER, view, _centred(WINTER, view, 40 + i * 472, 472, 880), 70, 880)
    return _finish(img, size)


SHEETS: dict[str, Callable[[], Image.Image]] = {
    "ref-sheet.png": make_ref_sheet,
    "turnaround-a.png": make_turnaround_a,
    "turnaround-b.png": make_turnaround_b,
    "turnaround-c.png": make_turnaround_c,
}


def save(img: Image.Image, path: Path) -> None:
    """Fixed PNG settings and no metadata, so the bytes depend on the pixels only."""
    img.save(path, format="PNG", optimize=False, compress_level=9)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "sources",
                        help="folder to write the PNGs into (default: dataset/sources next to this script)")
    parser.add_argument("--only", choices=sorted(SHEETS), action="append", help="draw only this file (repeatable)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or SHEETS:
        path = args.out / name
        save(SHEETS[name](), path)
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Drawn character reference sheets with exact ground truth, for the figure detector (kohya_prep/init/detect.py).

Every figure is drawn into a transparent layer of its own (at 2x, box-averaged down), so its true box is the
bounding box of the layer's alpha: every pixel the figure touches, hair strands and floating hands included.
A framed panel's truth is the picture inside its frame. Then the sheet gets what real sheets have and the
detector must leave out: titles, labels under figures, colour swatches, logos, signatures, floor lines.

Nothing is random at run time: each sheet is drawn from a fixed seed, so the set is the same on every run.

    sheets = drawn_sheets()            # the test set: 20 sheets, 1 to 12 figures each
    sheet = big_sheet((4096, 2304))    # one large sheet for the speed measurement
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SS = 2  # figures are drawn at 2x and box-averaged down, for clean edges
RGB = tuple[int, int, int]
Point = tuple[float, float]


@dataclass(frozen=True)
class Truth:
    """One figure on a sheet: its exact box (left, top, width, height) and what it is."""

    box: tuple[int, int, int, int]
    kind: str  # "full body", "bust", "face" or "panel"


@dataclass
class Sheet:
    name: str
    image: Image.Image
    figures: list[Truth]
    background: str


# ---------------------------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Style:
    skin: RGB
    hair: RGB
    top: RGB
    shade: RGB
    bottom: RGB
    legs: RGB
    shoes: RGB
    eye: RGB
    line: RGB
    hair_style: str  # short, long, twin, pony, bun
    arms: str  # down, out, raised, hip
    skirt: bool
    width: float  # body width factor
    extras: tuple[str, ...] = ()  # scarf, scarf-end, strand, hands, staff, tail, cape, hat


def _colour(rng: random.Random, low: int = 20, high: int = 235) -> RGB:
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def random_style(rng: random.Random, line: RGB = (40, 32, 48), extras: Sequence[str] = ()) -> Style:
    top = _colour(rng, 40, 220)
    skins = [(252, 221, 196), (240, 200, 170), (200, 150, 110), (150, 100, 70), (255, 232, 214)]
    return Style(
        skin=rng.choice(skins), hair=_colour(rng, 20, 230), top=top, shade=tuple(int(c * 0.72) for c in top),  # type: ignore[arg-type]
        bottom=_colour(rng, 20, 200), legs=_colour(rng, 20, 240), shoes=_colour(rng, 30, 160), eye=_colour(rng, 20, 200),
        line=line, hair_style=rng.choice(["short", "long", "twin", "pony", "bun"]),
        arms=rng.choice(["down", "out", "raised", "hip"]), skirt=rng.random() < 0.5, width=rng.uniform(0.9, 1.15),
        extras=tuple(extras),
    )


class _Pen:
    """Draws in figure units: x = 0 is the centre line, y = 0 the top of the hair, y = 1 the soles."""

    def __init__(self, draw: ImageDraw.ImageDraw, cx: float, top: float, scale: float, style: Style) -> None:
        self.draw, self.cx, self.top, self.s, self.style = draw, cx, top, scale, style

    def p(self, x: float, y: float) -> Point:
        return (self.cx + x * self.s, self.top + y * self.s)

    @property
    def lw(self) -> int:
        return max(2, round(0.0045 * self.s))

    def ellipse(self, x: float, y: float, rx: float, ry: float, fill: RGB, outline: bool = True) -> None:
        box = (*self.p(x - rx, y - ry), *self.p(x + rx, y + ry))
        self.draw.ellipse(box, fill=fill, outline=self.style.line if outline else None, width=self.lw if outline else 0)

    def poly(self, points: Sequence[Point], fill: RGB, outline: bool = True) -> None:
        self.draw.polygon([self.p(x, y) for x, y in points], fill=fill, outline=self.style.line if outline else None,
                          width=self.lw if outline else 0)

    def line(self, points: Sequence[Point], width: float, colour: RGB) -> None:
        self.draw.line([self.p(x, y) for x, y in points], fill=colour, width=max(1, round(width * self.s)), joint="curve")

    def stroke(self, points: Sequence[Point], width: float, fill: RGB) -> None:
        """A thick outlined limb: the outline colour drawn wider underneath, round ends."""
        outer = width + 2 * self.lw / self.s
        self.line(points, outer, self.style.line)
        for x, y in (points[0], points[-1]):
            self.ellipse(x, y, outer / 2, outer / 2, self.style.line, outline=False)
        self.line(points, width, fill)
        for x, y in (points[0], points[-1]):
            self.ellipse(x, y, width / 2, width / 2, fill, outline=False)


_ARMS = {
    "down": [(0.085, 0.23), (0.11, 0.36), (0.115, 0.47)],
    "out": [(0.085, 0.23), (0.2, 0.27), (0.31, 0.3)],
    "raised": [(0.085, 0.23), (0.16, 0.14), (0.18, 0.04)],
    "hip": [(0.085, 0.23), (0.15, 0.33), (0.085, 0.42)],
}


def _back_hair(pen: _Pen) -> None:
    st = pen.style
    if st.hair_style == "long":
        pen.poly([(-0.1, 0.08), (0.1, 0.08), (0.12, 0.42), (-0.12, 0.42)], st.hair)
    elif st.hair_style == "twin":
        for side in (-1, 1):
            pen.poly([(0.07 * side, 0.05), (0.15 * side, 0.08), (0.19 * side, 0.3), (0.15 * side, 0.5),
                      (0.13 * side, 0.3), (0.09 * side, 0.12)], st.hair)
    elif st.hair_style == "pony":
        pen.poly([(0.06, 0.04), (0.16, 0.05), (0.22, 0.2), (0.19, 0.36), (0.16, 0.2), (0.1, 0.1)], st.hair)
    if "cape" in st.extras:
        pen.poly([(-0.09, 0.2), (0.09, 0.2), (0.2, 0.78), (-0.2, 0.78)], (150, 30, 40))
    if "tail" in st.extras:
        pen.poly([(0.05, 0.5), (0.1, 0.52), (0.26, 0.62), (0.3, 0.5), (0.33, 0.52), (0.29, 0.68), (0.08, 0.58)], st.hair)


def _legs_and_body(pen: _Pen) -> None:
    st, w = pen.style, pen.style.width
    for side in (-1, 1):
        pen.stroke([(0.04 * side * w, 0.6), (0.045 * side * w, 0.8), (0.05 * side * w, 0.94)], 0.045,
                   st.bottom if not st.skirt else st.legs)
        pen.ellipse(0.058 * side * w, 0.968, 0.042, 0.024, st.shoes)
    if st.skirt:
        pen.poly([(-0.075 * w, 0.42), (0.075 * w, 0.42), (0.13 * w, 0.63), (-0.13 * w, 0.63)], st.bottom)
    else:
        pen.poly([(-0.075 * w, 0.42), (0.075 * w, 0.42), (0.08 * w, 0.62), (-0.08 * w, 0.62)], st.bottom)
    pen.poly([(-0.085 * w, 0.2), (0.085 * w, 0.2), (0.075 * w, 0.45), (-0.075 * w, 0.45)], st.top)
    pen.poly([(0.02 * w, 0.22), (0.075 * w, 0.22), (0.068 * w, 0.44), (0.03 * w, 0.44)], st.shade, outline=False)


def _arms(pen: _Pen) -> None:
    st, w = pen.style, pen.style.width
    for side in (-1, 1):
        pose = st.arms if side == 1 else ("down" if st.arms in ("raised", "hip") else st.arms)
        path = [(x * side * (w if i == 0 else 1), y) for i, (x, y) in enumerate(_ARMS[pose])]
        pen.stroke(path, 0.04, st.top)
        (x1, y1), (x2, y2) = path[-2], path[-1]
        gap = 0.045 if "hands" in st.extras else 0.018
        length = max(1e-6, ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5)
        hx, hy = x2 + (x2 - x1) / length * gap, y2 + (y2 - y1) / length * gap
        pen.ellipse(hx, hy, 0.022, 0.024, st.skin)
        if "staff" in st.extras and side == -1:
            pen.line([(hx, hy - 0.25), (hx, min(hy + 0.5, 0.99))], 0.012, (110, 80, 50))
            pen.ellipse(hx, hy - 0.27, 0.03, 0.03, (80, 170, 230))


def _head(pen: _Pen) -> None:
    st = pen.style
    pen.poly([(-0.022, 0.17), (0.022, 0.17), (0.022, 0.215), (-0.022, 0.215)], st.skin)
    pen.ellipse(0, 0.095, 0.085, 0.085, st.hair)
    pen.ellipse(0, 0.11, 0.068, 0.078, st.skin)
    for side in (-1, 1):
        pen.ellipse(0.028 * side, 0.118, 0.014, 0.019, (255, 255, 255), outline=False)
        pen.ellipse(0.028 * side, 0.121, 0.01, 0.014, st.eye, outline=False)
        pen.ellipse(0.045 * side, 0.142, 0.012, 0.006, (246, 170, 170), outline=False)
    pen.line([(-0.015, 0.162), (0.0, 0.166), (0.015, 0.162)], 0.004, st.line)
    pen.poly([(-0.085, 0.1), (-0.07, 0.03), (0.0, 0.008), (0.07, 0.03), (0.085, 0.1), (0.05, 0.06), (0.02, 0.08),
              (-0.02, 0.06), (-0.05, 0.08)], st.hair)
    if st.hair_style == "bun":
        pen.ellipse(0, 0.0, 0.04, 0.035, st.hair)
    if "hat" in st.extras:
        pen.poly([(-0.11, 0.045), (0.11, 0.045), (0.06, -0.01), (-0.06, -0.01)], (60, 60, 90))
    if "strand" in st.extras:  # a lock of hair floating off the side of the head, not touching it
        pen.poly([(-0.1, 0.04), (-0.13, 0.02), (-0.16, 0.06), (-0.15, 0.13), (-0.125, 0.08)], st.hair)


def _scarf(pen: _Pen) -> None:
    st = pen.style
    if "scarf" not in st.extras and "scarf-end" not in st.extras:
        return
    pen.poly([(-0.06, 0.19), (0.06, 0.19), (0.065, 0.225), (-0.065, 0.225)], (214, 44, 56))
    drop = 0.02 if "scarf-end" in st.extras else 0.0  # the end blown loose: a separate part
    pen.poly([(0.02, 0.225 + drop), (0.05, 0.225 + drop), (0.07, 0.34 + drop), (0.04, 0.345 + drop)], (214, 44, 56))


def draw_figure(pen: _Pen) -> None:
    """The whole character, back to front."""
    _back_hair(pen)
    _legs_and_body(pen)
    _arms(pen)
    _scarf(pen)
    _head(pen)


def figure_layer(style: Style, height: int, kind: str = "full body") -> Image.Image:
    """A tight RGBA layer with one figure; a bust or a face is the top of a taller figure."""
    part = {"full body": 1.0, "bust": 0.46, "face": 0.235}[kind]
    if kind == "face":  # a close-up: no raised arm or staff reaching into it
        style = replace(style, arms="down", extras=tuple(e for e in style.extras if e != "staff"))
    full = height / part
    width = int(full * 0.8) + 8
    canvas = Image.new("RGBA", (width * SS, int(full * (part + 0.06) + 8) * SS), (0, 0, 0, 0))
    draw_figure(_Pen(ImageDraw.Draw(canvas), width * SS / 2, 0.03 * full * SS, full * SS, style))
    layer = canvas.resize((canvas.width // SS, canvas.height // SS), Image.Resampling.BOX)
    if part < 1.0:
        layer = layer.crop((0, 0, layer.width, int(0.03 * full + part * full)))
    bbox = layer.getchannel("A").getbbox()
    assert bbox is not None
    return layer.crop(bbox)


# ---------------------------------------------------------------------------------------------- sheets


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(max(8, size))


def background(size: tuple[int, int], kind: str, seed: int = 0) -> Image.Image:
    """white, cream, grey, vgradient, radial, paper, grid, transparent or dark."""
    width, height = size
    flat = {"white": (255, 255, 255), "cream": (246, 241, 228), "grey": (200, 202, 206), "dark": (28, 30, 38)}
    if kind in flat:
        return Image.new("RGB", size, flat[kind])
    if kind == "transparent":
        return Image.new("RGBA", size, (0, 0, 0, 0))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "vgradient":
        t = (ys / height)[..., None]
        pixels = (1 - t) * np.array([214, 230, 246], np.float32) + t * np.array([252, 250, 244], np.float32)
    elif kind == "radial":
        r = np.sqrt((xs - width / 2) ** 2 + (ys - height / 2) ** 2) / (0.5 * np.hypot(width, height))
        pixels = (1 - r[..., None]) * np.array([248, 248, 250], np.float32) + r[..., None] * np.array([176, 178, 190], np.float32)
    elif kind == "paper":
        rng = np.random.default_rng(seed)
        blotch = Image.fromarray(rng.normal(0, 1, (height // 64 + 1, width // 64 + 1)).astype(np.float32))
        low = np.asarray(blotch.resize(size, Image.Resampling.BICUBIC))
        pixels = np.array([240, 232, 214]) + (low * 4 + rng.normal(0, 5, (height, width)))[..., None]
    elif kind == "grid":
        pixels = np.full((height, width, 3), 255.0)
        pixels[(ys.astype(int) % 48 == 0) | (xs.astype(int) % 48 == 0)] = (222, 228, 240)
    else:
        raise ValueError(kind)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    if kind == "paper":  # fibres
        draw, rng2 = ImageDraw.Draw(image), random.Random(seed)
        for _ in range(width * height // 6000):
            x, y = rng2.uniform(0, width), rng2.uniform(0, height)
            draw.line((x, y, x + rng2.uniform(-12, 12), y + rng2.uniform(-12, 12)), fill=(222, 212, 192), width=1)
    return image


class Canvas:
    """A sheet being drawn: its image, the truth boxes so far, and the layers' masks for spacing checks."""

    def __init__(self, size: tuple[int, int], kind: str, seed: int) -> None:
        self.image = background(size, kind, seed).convert("RGBA")
        self.kind = kind
        self.figures: list[Truth] = []
        self.draw = ImageDraw.Draw(self.image)
        self.ink: RGB = (235, 235, 240) if kind == "dark" else (52, 48, 60)

    def put(self, layer: Image.Image, x: int, y: int, kind: str) -> tuple[int, int, int, int]:
        self.image.alpha_composite(layer, (x, y))
        box = (x, y, layer.width, layer.height)
        self.figures.append(Truth(box, kind))
        return box

    def text(self, centre: Point, words: str, size: int, fill: RGB | None = None) -> None:
        self.draw.text(centre, words, fill=fill or self.ink, font=_font(size), anchor="mm")

    def label_under(self, box: tuple[int, int, int, int], words: str, size: int, gap: int) -> None:
        self.text((box[0] + box[2] / 2, box[1] + box[3] + gap + size / 2), words, size)

    def swatches(self, x: int, y: int, size: int, colours: Sequence[RGB], square: bool = False) -> None:
        for i, colour in enumerate(colours):
            left = x + i * int(size * 1.4)
            shape = (left, y, left + size, y + size)
            (self.draw.rectangle if square else self.draw.ellipse)(shape, fill=colour, outline=self.ink, width=2)

    def logo(self, x: int, y: int, size: int) -> None:
        self.draw.ellipse((x, y, x + size, y + size), fill=(230, 90, 40), outline=(40, 40, 60), width=3)
        c, r = (x + size / 2, y + size / 2), size * 0.32
        star = [(c[0] + r * np.cos(a) * (1 if k % 2 == 0 else 0.45), c[1] + r * np.sin(a) * (1 if k % 2 == 0 else 0.45))
                for k, a in enumerate(np.linspace(-np.pi / 2, 3 * np.pi / 2, 10, endpoint=False))]
        self.draw.polygon(star, fill=(250, 220, 60))
        self.text((x + size * 2.0, y + size / 2), "KP", int(size * 0.6), (40, 90, 170))

    def signature(self, x: int, y: int, width: int) -> None:
        xs = np.linspace(0, width, 80)
        points = [(x + t, y + 14 * np.sin(t / width * 14) + 6 * np.cos(t / width * 37)) for t in xs]
        self.draw.line(points, fill=self.ink, width=3, joint="curve")
        self.text((x + width + 60, y + 4), "2024", 22)

    def frame(self, box: tuple[int, int, int, int], width: int) -> None:
        left, top, w, h = box
        self.draw.rectangle((left - width, top - width, left + w + width - 1, top + h + width - 1), outline=self.ink,
                            width=width)

    def panel(self, box: tuple[int, int, int, int], style: Style, frame: int = 4, fill: RGB = (255, 255, 255)) -> None:
        """A framed close-up: a face drawn larger than the panel, clipped to it, the frame drawn around."""
        left, top, w, h = box
        inside = Image.new("RGBA", (w, h), (*fill, 255))
        face = figure_layer(style, int(h * 1.25), "face")
        offset_x, offset_y = (w - face.width) // 2, int(h * 0.12)
        source = (max(0, -offset_x), 0, max(0, -offset_x) + min(face.width, w), min(face.height, h - offset_y))
        inside.alpha_composite(face, (max(0, offset_x), offset_y), source)
        self.image.alpha_composite(inside, (left, top))
        self.figures.append(Truth(box, "panel"))
        self.frame(box, frame)

    def finish(self, name: str) -> Sheet:
        image = self.image if self.kind == "transparent" else self.image.convert("RGB")
        return Sheet(name, image, self.figures, self.kind)


def _gap_right_of(left_layer: Image.Image, left_x: int, right_layer: Image.Image, gap: int, top_a: int, top_b: int) -> int:
    """The x for `right_layer` that leaves exactly `gap` clear pixels (in every direction) to `left_layer`."""
    a = np.asarray(left_layer.getchannel("A")) > 0
    b = np.asarray(right_layer.getchannel("A")) > 0
    need = -10**9
    for row in range(b.shape[0]):
        y = top_b + row - top_a
        cols_b = np.flatnonzero(b[row])
        band = a[max(0, y - gap): max(0, y + gap + 1)]
        if cols_b.size == 0 or band.size == 0 or not band.any():
            continue
        a_right = left_x + int(np.flatnonzero(band.any(axis=0)).max())
        need = max(need, a_right + gap + 1 - int(cols_b.min()))
    return need if need > -10**9 else left_x + left_layer.width + gap


def _row(canvas: Canvas, layers: Sequence[Image.Image], x0: int, x1: int, bottom: int, kind: str,
         gaps: Sequence[float] | None = None) -> list[tuple[int, int, int, int]]:
    """Layers side by side between x0 and x1, standing on `bottom`, spread by the relative `gaps` (even if None)."""
    free = (x1 - x0) - sum(layer.width for layer in layers)
    assert free >= 4 * len(layers), f"{len(layers)} layers are {4 * len(layers) - free} px too wide for {x1 - x0} px"
    weights = list(gaps) if gaps is not None else [1.0] * (len(layers) + 1)
    unit = free / sum(weights)
    x, boxes = x0 + weights[0] * unit, []
    for i, layer in enumerate(layers):
        boxes.append(canvas.put(layer, int(x), bottom - layer.height, kind))
        x += layer.width + weights[i + 1] * unit
    return boxes


def _styles(rng: random.Random, count: int, line: RGB = (40, 32, 48), extras: Sequence[Sequence[str]] = ()) -> list[Style]:
    return [random_style(rng, line, extras[i] if i < len(extras) else ()) for i in range(count)]


def sheet_turnaround(seed: int = 1) -> Sheet:
    """A row of five full-body views on white, a floor line under their feet, labels and a title."""
    rng, canvas = random.Random(seed), Canvas((2400, 1350), "white", seed)
    base = random_style(rng, extras=("scarf",))
    styles = [replace(base, arms=arms) for arms in ("down", "hip", "down", "raised", "down")]
    layers = [figure_layer(s, 1000) for s in styles]
    boxes = _row(canvas, layers, 40, 2360, 1180, "full body")
    canvas.draw.line((30, 1181, 2370, 1181), fill=(150, 150, 160), width=3)
    for box, word in zip(boxes, ("FRONT", "3/4", "SIDE", "BACK", "POSE"), strict=True):
        canvas.label_under(box, word, 34, 40)
    canvas.text((1200, 70), "Character turnaround", 64)
    return canvas.finish("turnaround-white")


def sheet_panels(seed: int = 2) -> Sheet:
    """Three full bodies on cream beside a 2x3 grid of framed faces, like the demo's reference sheet."""
    rng, canvas = random.Random(seed), Canvas((2816, 1536), "cream", seed)
    base = random_style(rng, extras=("scarf",))
    layers = [figure_layer(replace(base, arms=a), 1150) for a in ("hip", "down", "out")]
    boxes = _row(canvas, layers, 20, 1760, 1400, "full body")
    for box, word in zip(boxes, ("front", "relaxed", "arms out"), strict=True):
        canvas.label_under(box, word, 36, 30)
    canvas.draw.line((1800, 120, 1800, 1480), fill=(190, 184, 176), width=4)
    for i in range(6):
        col, row = i % 2, i // 2
        box = (1880 + col * 460, 130 + row * 460, 380, 380)
        canvas.panel(box, replace(base, eye=_colour(rng)), frame=5)
        canvas.text((box[0] + 190, box[1] + 410), f"expression {i + 1}", 30)
    canvas.text((900, 60), "REFERENCE SHEET", 60)
    return canvas.finish("panels-cream")


def sheet_uneven(seed: int = 3) -> Sheet:
    """Grey: two full bodies, a bust and a face at uneven gaps, a row of swatches."""
    rng, canvas = random.Random(seed), Canvas((2048, 1152), "grey", seed)
    s = _styles(rng, 4)
    layers = [figure_layer(s[0], 900), figure_layer(s[1], 760), figure_layer(s[2], 460, "bust"),
              figure_layer(s[3], 260, "face")]
    _row(canvas, layers, 30, 1700, 1000, "full body", gaps=[0.3, 0.2, 2.0, 0.6, 0.6])
    canvas.figures[2] = replace(canvas.figures[2], kind="bust")
    canvas.figures[3] = replace(canvas.figures[3], kind="face")
    canvas.swatches(1760, 200, 60, [s[0].hair, s[0].top, s[0].bottom, s[0].skin][:3])
    canvas.swatches(1760, 300, 60, [s[1].hair, s[1].top, s[1].bottom][:3], square=True)
    return canvas.finish("uneven-grey")


def sheet_touching(seed: int = 4) -> Sheet:
    """Four full bodies on white, each 3 px from the next (their boxes overlap), and a title."""
    rng, canvas = random.Random(seed), Canvas((2048, 1152), "white", seed)
    styles = _styles(rng, 4)
    styles = [replace(st, arms=a) for st, a in zip(styles, ("out", "hip", "out", "down"), strict=True)]
    layers = [figure_layer(st, 880) for st in styles]
    x, previous, previous_x = 60, None, 0
    for layer in layers:
        top = 1080 - layer.height
        if previous is not None:
            x = _gap_right_of(previous, previous_x, layer, 3, 1080 - previous.height, top)
        canvas.put(layer, x, top, "full body")
        previous, previous_x = layer, x
    canvas.text((1024, 70), "line-up", 56)
    return canvas.finish("touching-3px")


def sheet_gradient_rows(seed: int = 5) -> Sheet:
    """A soft vertical gradient: four full bodies above four busts, labels under the busts."""
    rng, canvas = random.Random(seed), Canvas((2400, 1700), "vgradient", seed)
    styles = _styles(rng, 8)
    _row(canvas, [figure_layer(st, 820) for st in styles[:4]], 60, 2340, 900, "full body")
    boxes = _row(canvas, [figure_layer(st, 560, "bust") for st in styles[4:]], 60, 2340, 1560, "bust")
    for i, box in enumerate(boxes):
        canvas.label_under(box, f"outfit {i + 1}", 30, 28)
    return canvas.finish("gradient-rows")


def sheet_paper(seed: int = 6) -> Sheet:
    """Paper texture: three figures, square swatches, a signature."""
    rng, canvas = random.Random(seed), Canvas((2048, 1400), "paper", seed)
    styles = _styles(rng, 3, extras=[("cape",), ("tail",), ("hat",)])
    _row(canvas, [figure_layer(st, 1050) for st in styles], 40, 1600, 1250, "full body")
    canvas.swatches(1660, 300, 70, [styles[0].hair, styles[0].top, styles[0].skin], square=True)
    canvas.swatches(1660, 420, 70, [styles[1].hair, styles[1].top, styles[1].bottom], square=True)
    canvas.signature(1640, 1300, 220)
    return canvas.finish("paper-texture")


def sheet_grid(seed: int = 7) -> Sheet:
    """A faint grid: five figures of mixed kinds with labels."""
    rng, canvas = random.Random(seed), Canvas((2048, 1152), "grid", seed)
    s = _styles(rng, 5)
    layers = [figure_layer(s[0], 800), figure_layer(s[1], 800), figure_layer(s[2], 480, "bust"),
              figure_layer(s[3], 800), figure_layer(s[4], 300, "face")]
    boxes = _row(canvas, layers, 40, 2008, 980, "full body")
    for i, kind in ((2, "bust"), (4, "face")):
        canvas.figures[i] = replace(canvas.figures[i], kind=kind)
    for box, word in zip(boxes, ("A", "B", "C", "D", "E"), strict=True):
        canvas.label_under(box, f"look {word}", 32, 36)
    return canvas.finish("faint-grid")


def sheet_transparent(seed: int = 8) -> Sheet:
    """Transparent background: four figures in a 2x2 grid."""
    rng, canvas = random.Random(seed), Canvas((1600, 1600), "transparent", seed)
    s = _styles(rng, 4)
    _row(canvas, [figure_layer(s[0], 700), figure_layer(s[1], 700)], 0, 1600, 760, "full body")
    _row(canvas, [figure_layer(s[2], 700), figure_layer(s[3], 700)], 0, 1600, 1560, "full body")
    return canvas.finish("transparent")


def sheet_dark(seed: int = 9) -> Sheet:
    """A dark background, light outlines: three figures and a light title."""
    rng, canvas = random.Random(seed), Canvas((2048, 1152), "dark", seed)
    styles = _styles(rng, 3, line=(236, 236, 244))
    _row(canvas, [figure_layer(st, 900) for st in styles], 100, 1948, 1080, "full body")
    canvas.text((1024, 60), "night version", 54)
    return canvas.finish("dark")


def sheet_twelve(seed: int = 10) -> Sheet:
    """Twelve busts in a 4x3 grid on white, a label under each."""
    rng, canvas = random.Random(seed), Canvas((2400, 1860), "white", seed)
    styles = _styles(rng, 12)
    for row in range(3):
        layers = [figure_layer(st, 440, "bust") for st in styles[row * 4:(row + 1) * 4]]
        boxes = _row(canvas, layers, 40, 2360, 560 + row * 610, "bust")
        for i, box in enumerate(boxes):
            canvas.label_under(box, f"#{row * 4 + i + 1}", 28, 18)
    return canvas.finish("twelve-busts")


def sheet_single(seed: int = 11) -> Sheet:
    """One full body on cream with a title, swatches, a logo and a signature."""
    rng, canvas = random.Random(seed), Canvas((1200, 1600), "cream", seed)
    style = random_style(rng, extras=("scarf-end", "strand"))
    layer = figure_layer(style, 1250)
    canvas.put(layer, 120, 1450 - layer.height, "full body")
    canvas.text((600, 70), "Aria - main outfit", 56)
    canvas.swatches(900, 400, 56, [style.hair, style.top, style.bottom, style.skin][:2])
    canvas.swatches(900, 500, 56, [style.legs, style.shoes])
    canvas.logo(40, 1500, 60)
    canvas.signature(860, 1540, 180)
    return canvas.finish("single-title")


def sheet_mixed(seed: int = 12) -> Sheet:
    """White: two full bodies and three busts, a logo in a corner, a signature."""
    rng, canvas = random.Random(seed), Canvas((2816, 1536), "white", seed)
    s = _styles(rng, 5, extras=[("staff",), ("hands",)])
    _row(canvas, [figure_layer(s[0], 1200), figure_layer(s[1], 1200)], 40, 1300, 1440, "full body")
    _row(canvas, [figure_layer(st, 520, "bust") for st in s[2:4]], 1360, 2776, 700, "bust")
    _row(canvas, [figure_layer(s[4], 520, "bust")], 1360, 2776, 1340, "bust")
    canvas.logo(2560, 1400, 80)
    canvas.signature(60, 1490, 240)
    return canvas.finish("mixed-logo")


def sheet_shared_frames(seed: int = 13) -> Sheet:
    """One full body beside a 3x3 table of faces whose frames share their lines."""
    rng, canvas = random.Random(seed), Canvas((2400, 1350), "white", seed)
    base = random_style(rng, extras=("scarf",))
    layer = figure_layer(base, 1150)
    canvas.put(layer, 80, 1290 - layer.height, "full body")
    cell, line, x0, y0 = 360, 4, 1100, 120
    for row in range(3):
        for col in range(3):
            box = (x0 + col * (cell + line) + line, y0 + row * (cell + line) + line, cell, cell)
            canvas.panel(box, replace(base, eye=_colour(rng)), frame=0)
    for k in range(4):
        offset = k * (cell + line)
        canvas.draw.rectangle((x0 + offset, y0, x0 + offset + line - 1, y0 + 3 * (cell + line) + line - 1), fill=canvas.ink)
        canvas.draw.rectangle((x0, y0 + offset, x0 + 3 * (cell + line) + line - 1, y0 + offset + line - 1), fill=canvas.ink)
    return canvas.finish("shared-frames")


def sheet_detached(seed: int = 14) -> Sheet:
    """Three figures made of separate parts (floating hands, hair locks, a loose scarf end, a staff), labels."""
    rng, canvas = random.Random(seed), Canvas((2048, 1152), "white", seed)
    extras = [("hands", "strand", "scarf-end"), ("hands", "staff", "strand"), ("scarf-end", "strand", "tail")]
    styles = [replace(st, arms=a) for st, a in zip(_styles(rng, 3, extras=extras), ("out", "down", "raised"), strict=True)]
    boxes = _row(canvas, [figure_layer(st, 900) for st in styles], 40, 2008, 1030, "full body")
    for box, word in zip(boxes, ("parts", "staff", "loose"), strict=True):
        canvas.label_under(box, word, 34, 40)
    return canvas.finish("detached-parts")


def sheet_radial(seed: int = 15) -> Sheet:
    """A radial vignette: a full body and six unframed faces in two rows."""
    rng, canvas = random.Random(seed), Canvas((1920, 1080), "radial", seed)
    styles = _styles(rng, 7)
    layer = figure_layer(styles[0], 940)
    canvas.put(layer, 80, 1040 - layer.height, "full body")
    _row(canvas, [figure_layer(st, 300, "face") for st in styles[1:4]], 700, 1880, 440, "face")
    _row(canvas, [figure_layer(st, 300, "face") for st in styles[4:]], 690, 1890, 940, "face")
    return canvas.finish("radial-faces")


def sheet_small(seed: int = 16) -> Sheet:
    """A small sheet: six little full bodies and a title."""
    rng, canvas = random.Random(seed), Canvas((1024, 768), "cream", seed)
    _row(canvas, [figure_layer(st, 330) for st in _styles(rng, 6)], 10, 1014, 720, "full body")
    canvas.text((512, 60), "mini sheet", 40)
    return canvas.finish("small-six")


def sheet_dark_lines(seed: int = 17) -> Sheet:
    """A dark background and outlines nearly its colour: each figure's fills are separated by the outlines."""
    rng, canvas = random.Random(seed), Canvas((2048, 1152), "dark", seed)
    _row(canvas, [figure_layer(st, 900) for st in _styles(rng, 3, line=(20, 20, 25))], 100, 1948, 1080, "full body")
    return canvas.finish("dark-lines")


def sheet_page_border(seed: int = 18) -> Sheet:
    """A border drawn round the whole sheet (no panel), a gradient inside, four figures and a label each."""
    rng, canvas = random.Random(seed), Canvas((2048, 1280), "vgradient", seed)
    canvas.draw.rectangle((12, 12, 2035, 1267), outline=(40, 40, 48), width=6)
    boxes = _row(canvas, [figure_layer(st, 760) for st in _styles(rng, 4)], 60, 1988, 1120, "full body")
    for i, box in enumerate(boxes):
        canvas.label_under(box, f"view {i + 1}", 30, 30)
    return canvas.finish("page-border")


def sheet_big_title(seed: int = 19) -> Sheet:
    """Six small figures under a title half their height, in solid letters."""
    rng, canvas = random.Random(seed), Canvas((2048, 1152), "white", seed)
    _row(canvas, [figure_layer(st, 300) for st in _styles(rng, 6)], 40, 2008, 1100, "full body")
    canvas.text((1024, 300), "BIG TITLE", 200)
    return canvas.finish("big-title")


def sheet_line_art(seed: int = 20) -> Sheet:
    """Uncoloured line art (white fills, dark lines) on rough paper: one colour, thin lines."""
    rng, canvas = random.Random(seed), Canvas((2048, 1152), "paper", seed)
    white = (250, 248, 242)
    styles = [replace(st, skin=white, hair=white, top=white, shade=white, bottom=white, legs=white, shoes=white,
                      eye=(40, 40, 40)) for st in _styles(rng, 4)]
    _row(canvas, [figure_layer(st, 900) for st in styles], 40, 2008, 1080, "full body")
    return canvas.finish("line-art")


SHEETS: tuple[Callable[[], Sheet], ...] = (
    sheet_turnaround, sheet_panels, sheet_uneven, sheet_touching, sheet_gradient_rows, sheet_paper, sheet_grid,
    sheet_transparent, sheet_dark, sheet_twelve, sheet_single, sheet_mixed, sheet_shared_frames, sheet_detached,
    sheet_radial, sheet_small, sheet_dark_lines, sheet_page_border, sheet_big_title, sheet_line_art,
)


def drawn_sheets() -> list[Sheet]:
    """The whole test set, drawn."""
    return [make() for make in SHEETS]


def big_sheet(size: tuple[int, int] = (4096, 2304), seed: int = 40) -> Sheet:
    """A large sheet for the speed measurement: six full bodies and six framed faces on cream, with labels."""
    rng, canvas = random.Random(seed), Canvas(size, "cream", seed)
    width, height = size
    base = random_style(rng, extras=("scarf",))
    layers = [figure_layer(replace(base, arms=a), int(height * 0.68)) for a in ("down", "hip", "out", "raised")]
    boxes = _row(canvas, layers, 80, int(width * 0.66), int(height * 0.9), "full body")
    for box in boxes:
        canvas.label_under(box, "view", int(height * 0.02), int(height * 0.02))
    cell = int(height * 0.24)
    for i in range(6):
        col, row = i % 2, i // 2
        box = (int(width * 0.69) + col * int(cell * 1.2), int(height * 0.1) + row * int(cell * 1.2), cell, cell)
        canvas.panel(box, replace(base, eye=_colour(rng)), frame=6)
    canvas.text((width * 0.33, height * 0.04), "BIG SHEET", int(height * 0.04))
    return canvas.finish("big")


# ---------------------------------------------------------------------------------------------- scoring


def iou(a: Sequence[int], b: Sequence[int]) -> float:
    ax1, ay1, ax2, ay2 = a[0], a[1], a[0] + a[2], a[1] + a[3]
    bx1, by1, bx2, by2 = b[0], b[1], b[0] + b[2], b[1] + b[3]
    inter = max(0, min(ax2, bx2) - max(ax1, bx1)) * max(0, min(ay2, by2) - max(ay1, by1))
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def contains(outer: Sequence[int], inner: Sequence[int]) -> bool:
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and outer[0] + outer[2] >= inner[0] + inner[2]
            and outer[1] + outer[3] >= inner[1] + inner[3])


@dataclass
class Score:
    """Detections against the truth: matched one to one by IoU, greedily from the best pair."""

    figures: int = 0
    boxes: int = 0
    matched: int = 0
    contained: int = 0  # matched boxes holding their whole figure
    out_of_bounds: int = 0
    kinds_right: int = 0  # matched boxes whose kind guess is the truth's (a panel counts as a face)

    def add(self, truth: Sequence[Truth], boxes: Sequence[Sequence[int]], size: tuple[int, int],
            threshold: float = 0.7, kinds: Sequence[str] = ()) -> list[str]:
        """Add one sheet; returns what went wrong on it, for a readable failure."""
        self.figures += len(truth)
        self.boxes += len(boxes)
        problems = []
        for box in boxes:
            if box[0] < 0 or box[1] < 0 or box[0] + box[2] > size[0] or box[1] + box[3] > size[1]:
                self.out_of_bounds += 1
                problems.append(f"box {list(box)} leaves the {size[0]}x{size[1]} image")
        pairs = sorted(((iou(t.box, b), i, j) for i, t in enumerate(truth) for j, b in enumerate(boxes)), reverse=True)
        used_t, used_b = set(), set()
        for value, i, j in pairs:
            if value < threshold or i in used_t or j in used_b:
                continue
            used_t.add(i)
            used_b.add(j)
            self.matched += 1
            if kinds and kinds[j] == ("face" if truth[i].kind == "panel" else truth[i].kind):
                self.kinds_right += 1
            if contains(boxes[j], truth[i].box):
                self.contained += 1
            else:
                problems.append(f"box {list(boxes[j])} cuts figure {list(truth[i].box)}")
        problems += [f"missed {t.kind} {list(t.box)}" for i, t in enumerate(truth) if i not in used_t]
        problems += [f"extra box {list(b)}" for j, b in enumerate(boxes) if j not in used_b]
        return problems

    @property
    def recall(self) -> float:
        return self.matched / self.figures if self.figures else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.boxes if self.boxes else 1.0

    @property
    def contained_share(self) -> float:
        return self.contained / self.matched if self.matched else 1.0

"""From components to groups: the parts of one figure together, lines of text kept apart.

Two rules join parts, both asymmetric so that two whole figures never join however close they stand
(3 px apart is still two figures): a part lying inside a larger part's box belongs to it (an eye, a
button, a logo on a shirt), and a small part just off a larger one belongs to it (a floating lock of hair,
a hand drawn apart from its sleeve, a loose scarf end). Letters in a row are a line of text first, so a
label under a figure is never taken for its part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kohya_prep.init.shapes import Component, Rect, colour_count

INSIDE = 0.75  # share of a part's box inside the other's box that makes it belong there
PART_PIXELS = 0.12  # a loose part has at most this share of the other's pixels ...
PART_HEIGHT = 0.3  # ... and at most this share of its height
PART_GAP = 0.03  # ... and lies within this share of the other's height (at least 3 px)
TEXT_HEIGHT = 0.15  # letters are at most this share of the tallest component


@dataclass
class Group:
    """One or more components taken as one thing on the sheet."""

    rect: Rect
    pixels: int
    colours: np.ndarray
    labels: list[int] = field(default_factory=list)
    text: bool = False
    parts_attached: int = 0  # parts joined because they were near, not inside: each a small doubt


def _text_lines(found: list[Component]) -> list[set[int]]:
    """Indices of components that form lines of text: three or more similar-height marks side by side."""
    if not found:
        return []
    tallest = max(c.rect.height for c in found)
    small = [i for i, c in enumerate(found) if c.rect.height <= TEXT_HEIGHT * tallest and colour_count(c.colours, 0.1) <= 2]
    links: dict[int, set[int]] = {i: set() for i in small}
    for a_pos, i in enumerate(small):
        a = found[i].rect
        for j in small[a_pos + 1:]:
            b = found[j].rect
            low, high = min(a.height, b.height), max(a.height, b.height)
            overlap = min(a.bottom, b.bottom) - max(a.top, b.top)
            gap = max(b.left - a.right, a.left - b.right)
            if overlap >= 0.5 * low and high <= 3 * low and -0.2 * low <= gap <= 1.2 * high:
                links[i].add(j)
                links[j].add(i)
    text: list[set[int]] = []
    seen: set[int] = set()
    for start in small:
        if start in seen:
            continue
        chain, todo = {start}, [start]
        while todo:
            for other in links[todo.pop()] - chain:
                chain.add(other)
                todo.append(other)
        seen |= chain
        width = max(found[i].rect.right for i in chain) - min(found[i].rect.left for i in chain)
        height = max(found[i].rect.bottom for i in chain) - min(found[i].rect.top for i in chain)
        if len(chain) >= 3 or (len(chain) == 2 and width >= 1.5 * height):
            text.append(chain)
    return text


def _belongs(part: Group, whole: Group) -> str | None:
    """'inside' or 'near' when `part` is a part of `whole`; None otherwise."""
    if part.pixels >= whole.pixels:
        return None
    if part.rect.intersection(whole.rect) >= INSIDE * part.rect.area:
        return "inside"
    if part.text:
        return None
    small = part.pixels <= PART_PIXELS * whole.pixels and part.rect.height <= PART_HEIGHT * whole.rect.height
    near = part.rect.gap(whole.rect) <= max(3, round(PART_GAP * whole.rect.height))
    return "near" if small and near else None


def _merge_once(groups: list[Group]) -> tuple[list[Group], bool]:
    """Join every group that is a part of another into the largest such other; report whether any joined."""
    order = sorted(range(len(groups)), key=lambda i: groups[i].pixels)
    target: dict[int, tuple[int, str]] = {}
    for i in order:
        best = None
        for j in range(len(groups)):
            if j == i or j in target:
                continue
            how = _belongs(groups[i], groups[j])
            if how and (best is None or groups[j].pixels > groups[best[0]].pixels):
                best = (j, how)
        if best is not None:
            target[i] = best
    if not target:
        return groups, False
    merged = [g for i, g in enumerate(groups) if i not in target]
    index = {id(g): k for k, g in enumerate(merged)}
    for i, (j, how) in target.items():
        while j in target:
            j = target[j][0]
        whole, part = merged[index[id(groups[j])]], groups[i]
        whole.rect = whole.rect.union(part.rect)
        whole.pixels += part.pixels
        whole.colours = whole.colours + part.colours
        whole.labels += part.labels
        whole.text = whole.text and part.text
        whole.parts_attached += part.parts_attached + (how == "near")
    return merged, True


def group_parts(found: list[Component]) -> list[Group]:
    """Every component in exactly one group; the groups as they stand once no more parts join."""
    lines = _text_lines(found)
    in_text = {i for line in lines for i in line}
    groups = [Group(c.rect, c.pixels, c.colours.copy(), [c.label]) for i, c in enumerate(found) if i not in in_text]
    for line in lines:
        members = [found[i] for i in sorted(line)]
        rect = members[0].rect
        for member in members[1:]:
            rect = rect.union(member.rect)
        groups.append(Group(rect, sum(m.pixels for m in members), np.sum([m.colours for m in members], axis=0),
                            [m.label for m in members], text=True))
    for _ in range(4):
        groups, changed = _merge_once(groups)
        if not changed:
            break
    return groups

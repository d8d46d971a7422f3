#!/usr/bin/env python3
"""Renders the step diagrams in this folder: every NAME.txt to NAME.svg.

usage: python3 docs/diagrams/render.py          # write the SVGs
       python3 docs/diagrams/render.py --check  # exit 1 if an SVG is out of date

Standard library only. A source is a list of lines (`#` starts a comment):

    title: One turn of a shard's loop
    subtitle: a line under the title
    lane: reactor #cfe2f3          a lane name and its colour, in legend order
    step: lane | what happens | code item | file | note
    footer: a line under the steps (repeatable)
    loop: next turn                draw an arrow from the last step back to the first

Each step is a box in its lane's colour: what happens on the first line,
the code item and its file on the second, the note (a cost, "per event")
to the right. Boxes follow each other top to bottom, joined by arrows.
The output is deterministic, so a diff of an SVG is a diff of its source.
"""
import os
import sys
from xml.sax.saxutils import escape

WIDTH = 900
LANE_X, LANE_W = 20, 84
BOX_X, BOX_W, BOX_H, GAP = 116, 640, 46, 18
NOTE_X = BOX_X + BOX_W + 14
TOP = 84
SANS = "system-ui, -apple-system, 'Segoe UI', sans-serif"
MONO = "ui-monospace, 'SFMono-Regular', Menlo, Consolas, monospace"


def parse(text):
    spec = {"title": "", "subtitle": "", "lanes": {}, "steps": [], "footer": [], "loop": None}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "title" or key == "subtitle":
            spec[key] = value
        elif key == "lane":
            name, colour = value.split()
            spec["lanes"][name] = colour
        elif key == "step":
            fields = [f.strip() for f in value.split("|")]
            if len(fields) != 5 or fields[0] not in spec["lanes"]:
                raise SystemExit(f"line {number}: a step is `lane | what | item | file | note`"
                                 f" with a declared lane: {raw!r}")
            spec["steps"].append(fields)
        elif key == "footer":
            spec["footer"].append(value)
        elif key == "loop":
            spec["loop"] = value
        else:
            raise SystemExit(f"line {number}: unknown key {key!r}")
    return spec


def text(x, y, s, size, family=SANS, weight="normal", fill="#222", anchor="start"):
    return (f'<text x="{x}" y="{y}" font-family="{family}" font-size="{size}" font-weight="{weight}" '
            f'fill="{fill}" text-anchor="{anchor}">{escape(s)}</text>')


def arrow(x1, y1, x2, y2):
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555" stroke-width="1.5" marker-end="url(#head)"/>'


def render(spec):
    steps = spec["steps"]
    bottom = TOP + len(steps) * (BOX_H + GAP) - GAP
    height = bottom + 30 + 18 * len(spec["footer"]) + (24 if spec["loop"] else 0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">',
        '<defs><marker id="head" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        text(20, 30, spec["title"], 18, weight="bold"),
        text(20, 52, spec["subtitle"], 12, fill="#555"),
    ]
    # Legend: the lanes, right-aligned on the title line.
    x = WIDTH - 20
    for name, colour in reversed(list(spec["lanes"].items())):
        w = 10 + 7 * len(name)
        x -= w
        out.append(f'<rect x="{x}" y="16" width="{w - 6}" height="18" rx="4" fill="{colour}"/>')
        out.append(text(x + (w - 6) / 2, 29, name, 11, anchor="middle"))
        x -= 6
    for i, (lane, what, item, path, note) in enumerate(steps):
        y = TOP + i * (BOX_H + GAP)
        colour = spec["lanes"][lane]
        out.append(f'<rect x="{LANE_X}" y="{y + 12}" width="{LANE_W}" height="22" rx="4" fill="{colour}"/>')
        out.append(text(LANE_X + LANE_W / 2, y + 27, lane, 11, anchor="middle"))
        out.append(f'<rect x="{BOX_X}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" '
                   f'fill="{colour}" stroke="#888" stroke-width="1"/>')
        out.append(text(BOX_X + 12, y + 19, what, 13))
        out.append(text(BOX_X + 12, y + 37, f"{item}  ·  {path}", 11, family=MONO, fill="#444"))
        if note:
            out.append(text(NOTE_X, y + 28, note, 13, weight="bold", fill="#333"))
        if i + 1 < len(steps):
            mid = BOX_X + BOX_W / 2
            out.append(arrow(mid, y + BOX_H, mid, y + BOX_H + GAP - 2))
    if spec["loop"] and steps:
        # Out of the last box's left side, down, along the left margin (clear
        # of the lane tags), and over the top into the first box.
        last_y = TOP + (len(steps) - 1) * (BOX_H + GAP) + BOX_H / 2
        left, entry = BOX_X - 8, BOX_X + 40
        out.append(f'<path d="M{BOX_X},{last_y} L{left},{last_y} L{left},{bottom + 16} '
                   f'L{8},{bottom + 16} L{8},{TOP - 14} L{entry},{TOP - 14} L{entry},{TOP - 2}" '
                   f'fill="none" stroke="#555" stroke-width="1.5" marker-end="url(#head)"/>')
        out.append(text(16, bottom + 32, spec["loop"], 12, fill="#555"))
    y = bottom + 30 + (24 if spec["loop"] else 0)
    for line in spec["footer"]:
        out.append(text(20, y, line, 12, fill="#555"))
        y += 18
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    check = "--check" in sys.argv[1:]
    stale = []
    for name in sorted(os.listdir(here)):
        if not name.endswith(".txt"):
            continue
        with open(os.path.join(here, name), encoding="utf-8") as f:
            svg = render(parse(f.read()))
        target = os.path.join(here, name[:-4] + ".svg")
        current = open(target, encoding="utf-8").read() if os.path.exists(target) else None
        if current == svg:
            continue
        if check:
            stale.append(target)
        else:
            with open(target, "w", encoding="utf-8") as f:
                f.write(svg)
            print(f"wrote {os.path.relpath(target)}")
    if stale:
        print("out of date (run python3 docs/diagrams/render.py):", *stale, sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()

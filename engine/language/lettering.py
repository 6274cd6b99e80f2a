"""Lettering for the workflow drawings: how wide a Chinese label is drawn, and where it breaks.

Widths are estimated, not measured (the font is the reader's: WenQuanYi on the server, YaHei on the
front desk's PCs): CJK characters a full em, Latin letters and digits ~0.6 em, which errs wide so
boxes fit their labels. Long labels wrap on two balanced lines, broken at punctuation when it can.
"""

from __future__ import annotations

__all__ = ["EDGE_ROOM", "FONT", "LINE", "PAD_X", "PAD_Y", "ROOM", "SMALL", "cut", "text_width", "wrap", "wrap_steps"]

FONT = 14
"""State labels, in px."""
SMALL = 13
"""Edge labels and notes, in px."""
LINE = 18
"""The height of one line of text."""
PAD_X, PAD_Y = 12, 8
ROOM = 11 * FONT
"""State labels wider than about eleven Chinese characters wrap onto two lines."""
EDGE_ROOM = 9 * SMALL
"""Edge labels and notes wider than about nine Chinese characters wrap onto two lines."""
_BREAK_BEFORE = "（(【[《"
_BREAK_AFTER = "，、；：）)】]》/ "


def text_width(text: str, size: float = FONT) -> float:
    """About how wide `text` is drawn: Chinese characters a full em, Latin letters and digits ~0.6."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


def wrap(text: str, size: float = FONT, room: float = ROOM) -> tuple[str, ...]:
    """`text` on one line, or two balanced lines (broken at punctuation when it can), each cut
    with … past 1.6 × `room` (the full text stays in the drawing's <title>)."""
    text = " ".join(text.split())
    if text_width(text, size) <= room:
        return (text,)
    best, best_cost = 1, float("inf")
    for i in range(1, len(text)):
        cost = max(text_width(text[:i], size), text_width(text[i:], size))
        if text[i - 1:i + 2] == " / " or text[i - 2:i + 1] == " / ":  # between two steps' labels
            cost -= size * 6
        elif text[i] in _BREAK_BEFORE or text[i - 1] in _BREAK_AFTER:
            cost -= size * 4
        if cost < best_cost:
            best, best_cost = i, cost
    return tuple(cut(part.strip(), size, room * 1.6) for part in (text[:best], text[best:]))


def wrap_steps(text: str, size: float = SMALL, room: float = 10 * SMALL, most: int = 4) -> tuple[str, ...]:
    """An edge's label: one label wrapped by `wrap`; branches joined by " / " one line each (cut with …),
    at most `most` lines, the last ending in … when some are left out."""
    parts = text.split(" / ")
    if len(parts) == 1:
        return wrap(text, size, room)
    lines = [cut(part.strip(), size, room * 2) for part in parts]
    if len(lines) > most:
        lines = [*lines[:most - 1], cut(lines[most - 1] + "…", size, room * 1.6)]
    return tuple(lines)


def cut(text: str, size: float, room: float) -> str:
    """`text`, shortened with … to fit `room`."""
    if text_width(text, size) <= room:
        return text
    while text and text_width(text + "…", size) > room:
        text = text[:-1]
    return text + "…"

"""Captions under figures: the protocol a figure was made with, stated on the figure."""

from __future__ import annotations

import textwrap


def add_caption(fig, text: str, width: int = 110) -> None:
    """``text`` wrapped under the axes (kept by ``bbox_inches='tight'`` when saving)."""
    if not text:
        return
    fig.text(
        0.0,
        -0.01,
        textwrap.fill(text, width, break_on_hyphens=False),
        ha="left",
        va="top",
        fontsize=7.5,
    )

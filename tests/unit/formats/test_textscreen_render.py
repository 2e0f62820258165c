"""The text console: layout, key handling, dirty rectangles, and pixels matching the font."""

from xo.formats import font
from xo.formats.textscreen import (
    CELL_H,
    CELL_W,
    KEY_BACKSPACE,
    KEY_RETURN,
    TEXT,
    TITLE_BACKGROUND,
    TextScreen,
    hostname_for,
)


def type_text(screen: TextScreen, text: str) -> None:
    for ch in text:
        screen.type_key(ord(ch))


def pixel(screen: TextScreen, x: int, y: int) -> tuple[int, int, int]:
    fb = screen.render()
    at = (y * screen.width + x) * 4
    return fb[at + 2], fb[at + 1], fb[at]  # BGRX -> RGB


def test_every_printable_ascii_character_has_its_own_glyph():
    glyphs = {chr(c): font.glyph(chr(c)) for c in range(0x20, 0x7F)}
    assert all(font.has_glyph(ch) for ch in glyphs)
    assert all(
        len(rows) == font.HEIGHT and all(r < 1 << font.WIDTH for r in rows)
        for rows in glyphs.values()
    )
    inked = {ch: rows for ch, rows in glyphs.items() if ch != " "}
    assert all(any(rows) for rows in inked.values())
    assert len(set(inked.values())) == len(inked)  # no two characters look the same
    assert font.glyph("\u00e9") == font.glyph("?")


def test_screen_shows_title_banner_and_prompt():
    screen = TextScreen("Web Server 01", cols=60, rows=12)
    text = screen.text()
    assert text[0].startswith(" Web Server 01") and text[0].endswith("text console")
    assert "web-server-01 login: root" in text
    assert text[-4] == "root@web-server-01:~#"  # after the banner (its long line wraps)
    assert (screen.width, screen.height) == (60 * CELL_W, 12 * CELL_H)
    assert pixel(screen, 1, 1) == TITLE_BACKGROUND
    assert hostname_for("  ") == "localhost"


def test_pixels_follow_the_font():
    screen = TextScreen("x", cols=20, rows=4)
    screen._print("A")  # noqa: SLF001 - place a known glyph at a known cell
    row = screen.text().index("A")
    rows = font.glyph("A")
    for gy, bits in enumerate(rows):
        for gx in range(font.WIDTH):
            on = bool(bits & (1 << (font.WIDTH - 1 - gx)))
            x, y = gx * 2, row * CELL_H + 2 + gy * 2
            for dx in (0, 1):
                for dy in (0, 1):
                    assert (pixel(screen, x + dx, y + dy) == TEXT) == on


def test_typing_return_runs_a_command_and_backspace_edits():
    screen = TextScreen("vm", cols=40, rows=10)
    type_text(screen, "whoamx")
    screen.type_key(KEY_BACKSPACE)
    type_text(screen, "i")
    screen.type_key(KEY_RETURN)
    text = screen.text()
    at = text.index("root@vm:~# whoami")
    assert text[at + 1] == "root"
    assert text[at + 2] == "root@vm:~#"
    type_text(screen, "frobnicate")
    screen.type_key(KEY_RETURN)
    assert "-bash: frobnicate: command not found" in screen.text()


def test_output_scrolls_and_clear_empties_the_screen():
    screen = TextScreen("vm", cols=30, rows=6)
    for n in range(8):
        type_text(screen, f"echo line{n}")
        screen.type_key(KEY_RETURN)
    text = screen.text()
    assert text[0].startswith(" vm")  # the title never scrolls
    assert text[-2] == "line7" and text[-1] == "root@vm:~#"
    type_text(screen, "clear")
    screen.take_dirty()
    screen.type_key(KEY_RETURN)
    assert screen.text()[1:] == ["root@vm:~#"] + [""] * 4
    rects = screen.take_dirty()
    assert sum(w * h for _, _, w, h in rects) >= 4 * 30 * CELL_W * CELL_H // 2


def test_dirty_rectangles_cover_exactly_the_changed_cells():
    screen = TextScreen("vm", cols=30, rows=6)
    screen.take_dirty()
    assert screen.take_dirty() == []
    before = screen.render()
    screen.type_key(ord("x"))
    rects = screen.take_dirty()
    after = screen.render()
    changed = {
        (i // 4 % screen.width, i // 4 // screen.width)
        for i in range(0, len(after), 4)
        if before[i : i + 4] != after[i : i + 4]
    }
    assert changed
    for x, y in changed:
        assert any(rx <= x < rx + w and ry <= y < ry + h for rx, ry, w, h in rects)
    assert sum(w * h for _, _, w, h in rects) == 2 * CELL_W * CELL_H  # typed cell + cursor
    x, y, w, h = rects[0]
    region = screen.region(x, y, w, h)
    assert region[: w * 4] == after[(y * screen.width + x) * 4 : (y * screen.width + x + w) * 4]

"""A fake text console: what a simulated VM's VNC console shows.

A ``cols`` x ``rows`` character grid drawn with our font (font.py, scaled 2x into 12x20-pixel
cells, so 80x25 is 960x500 pixels): a title bar with the VM name, a Debian-like login banner
and a root shell prompt. ``type_key(keysym)`` edits the command line (printable keys,
BackSpace, Return runs one of a few canned commands). Pixels are BGRX (rfb_messages.BGRX);
every change is drawn at once into the framebuffer and recorded as dirty, so ``take_dirty()``
tells the RFB server exactly which rectangles to send.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from xo.formats import font

SCALE = 2
CELL_W = (font.WIDTH + 1) * SCALE  # one blank column between glyphs
CELL_H = (font.HEIGHT + 1) * SCALE

KEY_RETURN, KEY_KP_ENTER, KEY_BACKSPACE = 0xFF0D, 0xFF8D, 0xFF08

Colour = tuple[int, int, int]
TEXT: Colour = (0xCC, 0xCC, 0xCC)
BACKGROUND: Colour = (0x00, 0x00, 0x00)
TITLE_TEXT: Colour = (0xFF, 0xFF, 0xFF)
TITLE_BACKGROUND: Colour = (0x1F, 0x4E, 0x79)
PROMPT: Colour = (0x55, 0xDD, 0x55)

KERNEL = "6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64"


def hostname_for(vm_name: str) -> str:
    """A plausible hostname from a VM name label ("Web server 01" -> "web-server-01")."""
    host = re.sub(r"[^a-z0-9]+", "-", vm_name.lower()).strip("-")
    return host[:20].strip("-") or "localhost"


class TextScreen:
    def __init__(
        self,
        vm_name: str,
        *,
        cols: int = 80,
        rows: int = 25,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if cols < 20 or rows < 4:
            raise ValueError("a text screen needs at least 20x4 characters")
        self.vm_name = vm_name
        self.hostname = hostname_for(vm_name)
        self.cols, self.rows = cols, rows
        self.width, self.height = cols * CELL_W, rows * CELL_H
        self._clock = clock
        self._fb = bytearray(self.width * self.height * 4)
        blank = (" ", TEXT, BACKGROUND)
        self._cells = [[blank] * cols for _ in range(rows)]
        self._dirty: set[tuple[int, int]] = set()
        self._glyph_cache: dict[tuple[str, Colour, Colour], list[bytes]] = {}
        self._row = 1  # where the next line of output goes (row 0 is the title)
        self._input = ""
        self._cursor: tuple[int, int] = (1, 0)
        for r in range(rows):
            for c in range(cols):
                self._draw(r, c)
        self._title()
        for line in (
            f"Debian GNU/Linux 12 {self.hostname} tty1", "",
            f"{self.hostname} login: root", "Password:",
            f"Linux {self.hostname} {KERNEL}", "",
        ):  # fmt: skip
            self._print(line)
        self._prompt()

    # -- public

    @property
    def prompt(self) -> str:
        return f"root@{self.hostname}:~# "

    def type_key(self, keysym: int) -> None:
        """A key pressed (call on key-down only)."""
        if keysym in (KEY_RETURN, KEY_KP_ENTER):
            command, self._input = self._input, ""
            self._set_cursor(None)
            self._newline()
            self._run(command.strip())
            self._prompt()
        elif keysym == KEY_BACKSPACE:
            if self._input:
                self._input = self._input[:-1]
                col = len(self.prompt) + len(self._input)
                self._put(self._row, col, " ", TEXT)
                self._set_cursor((self._row, col))
        elif 0x20 <= keysym <= 0x7E:
            col = len(self.prompt) + len(self._input)
            if col < self.cols - 1:  # no line wrapping: the command line ends at the edge
                self._input += chr(keysym)
                self._put(self._row, col, chr(keysym), TEXT)
                self._set_cursor((self._row, col + 1))

    def text(self) -> list[str]:
        """The characters on screen, one string per row (trailing blanks stripped)."""
        return ["".join(cell[0] for cell in row).rstrip() for row in self._cells]

    def render(self) -> bytes:
        """The whole framebuffer, BGRX."""
        return bytes(self._fb)

    def region(self, x: int, y: int, w: int, h: int) -> bytes:
        """BGRX pixels of a rectangle (clipped to the screen)."""
        x, y = max(0, x), max(0, y)
        w, h = max(0, min(w, self.width - x)), max(0, min(h, self.height - y))
        out = bytearray()
        for line in range(y, y + h):
            at = (line * self.width + x) * 4
            out += self._fb[at : at + w * 4]
        return bytes(out)

    def take_dirty(self) -> list[tuple[int, int, int, int]]:
        """Pixel rectangles (x, y, w, h) changed since the last call: one span per dirty row,
        consecutive rows with the same span merged."""
        spans: dict[int, tuple[int, int]] = {}
        for r, c in self._dirty:
            lo, hi = spans.get(r, (c, c))
            spans[r] = (min(lo, c), max(hi, c))
        self._dirty.clear()
        rects: list[tuple[int, int, int, int]] = []
        for r in sorted(spans):
            lo, hi = spans[r]
            x, w = lo * CELL_W, (hi - lo + 1) * CELL_W
            last = rects[-1] if rects else None
            if last and last[0] == x and last[2] == w and last[1] + last[3] == r * CELL_H:
                rects[-1] = (x, last[1], w, last[3] + CELL_H)
            else:
                rects.append((x, r * CELL_H, w, CELL_H))
        return rects

    # -- text layer

    def _title(self) -> None:
        left, right = f" {self.vm_name}", "text console "
        line = left[: self.cols - len(right) - 1].ljust(self.cols - len(right)) + right
        for c, ch in enumerate(line):
            self._put(0, c, ch, TITLE_TEXT, TITLE_BACKGROUND)

    def _print(self, line: str, colour: Colour = TEXT) -> None:
        """One line of output, wrapped at the right edge like a terminal."""
        for start in range(0, max(1, len(line)), self.cols):
            part = line[start : start + self.cols]
            for c in range(self.cols):
                self._put(self._row, c, part[c] if c < len(part) else " ", colour)
            self._newline()

    def _newline(self) -> None:
        self._row += 1
        if self._row >= self.rows:
            self._scroll()
            self._row = self.rows - 1

    def _scroll(self) -> None:
        for r in range(1, self.rows - 1):
            for c in range(self.cols):
                ch, fg, bg = self._cells[r + 1][c]
                self._put(r, c, ch, fg, bg)
        for c in range(self.cols):
            self._put(self.rows - 1, c, " ", TEXT)

    def _prompt(self) -> None:
        for c, ch in enumerate(self.prompt):
            self._put(self._row, c, ch, PROMPT)
        self._set_cursor((self._row, len(self.prompt)))

    def _run(self, command: str) -> None:
        name, _, args = command.partition(" ")
        if not name:
            return
        if name == "clear":
            for r in range(1, self.rows):
                for c in range(self.cols):
                    self._put(r, c, " ", TEXT)
            self._row = 1
            return
        for line in self._output(name, args.strip()):
            self._print(line)

    def _output(self, name: str, args: str) -> list[str]:
        host = self.hostname
        outputs: dict[str, Callable[[], list[str]]] = {
            "ls": lambda: ["backup.tar.gz  notes.txt  scripts"],
            "pwd": lambda: ["/root"],
            "whoami": lambda: ["root"],
            "hostname": lambda: [host],
            "uname": lambda: [f"Linux {host} {KERNEL} GNU/Linux" if "-a" in args else "Linux"],
            "echo": lambda: [args],
            "date": lambda: [time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(self._clock()))],
            "help": lambda: ["commands: ls pwd whoami hostname uname echo date clear help"],
        }
        if name in outputs:
            return outputs[name]()
        return [f"-bash: {name}: command not found"]

    # -- pixel layer

    def _set_cursor(self, where: tuple[int, int] | None) -> None:
        old = self._cursor
        self._cursor = where if where is not None else (-1, -1)
        if old[0] >= 0:
            self._draw(*old)
            self._dirty.add(old)
        if where is not None:
            self._draw(*where)
            self._dirty.add(where)

    def _put(self, r: int, c: int, ch: str, fg: Colour, bg: Colour = BACKGROUND) -> None:
        cell = (ch, fg, bg)
        if self._cells[r][c] != cell:
            self._cells[r][c] = cell
            self._draw(r, c)
            self._dirty.add((r, c))

    def _draw(self, r: int, c: int) -> None:
        ch, fg, bg = self._cells[r][c]
        if (r, c) == self._cursor:
            fg, bg = bg, TEXT  # block cursor: inverted cell
        rows = self._glyph_rows(ch, fg, bg)
        stride = self.width * 4
        at = (r * CELL_H * self.width + c * CELL_W) * 4
        for line in rows:
            self._fb[at : at + CELL_W * 4] = line
            at += stride

    def _glyph_rows(self, ch: str, fg: Colour, bg: Colour) -> list[bytes]:
        key = (ch, fg, bg)
        rows = self._glyph_cache.get(key)
        if rows is None:
            ink, paper = bytes((fg[2], fg[1], fg[0], 0)), bytes((bg[2], bg[1], bg[0], 0))
            rows = [paper * CELL_W] * SCALE  # blank top line (one glyph pixel high)
            for bits in font.glyph(ch):
                line = b"".join(
                    (ink if bits & (1 << (font.WIDTH - 1 - x)) else paper) * SCALE
                    for x in range(font.WIDTH)
                ) + paper * SCALE  # fmt: skip
                rows += [line] * SCALE
            self._glyph_cache[key] = rows
        return rows

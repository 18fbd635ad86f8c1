"""Which characters the bundled fonts can draw, read from their ``cmap`` tables.

Typst renders with the fonts in :data:`~archive_service.render.typst_compile.FONT_DIR` and
nothing else, and a character none of them has ends in a warning, which fails the render. Text
the fonts cannot draw is therefore refused when the export is read (a 422 naming the field),
never discovered half-way through rendering. Typst does not fall back from one bundled face to
another (a glyph missing from DejaVu Sans Bold is an error even if DejaVu Sans has it), and the
template sets data in regular, bold or oblique as it sees fit, so a character is covered only
when *every* bundled font maps it.

The reader understands the two subtables every Unicode font carries: format 4 (the Basic
Multilingual Plane, segments) and format 12 (all planes, groups). A character mapped to glyph 0
(``.notdef``) is not covered.
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

#: (platform, encoding) of Unicode cmap subtables, best first: Windows full repertoire, Unicode
#: full repertoire, Windows BMP, Unicode BMP.
_PREFERRED_SUBTABLES = ((3, 10), (0, 4), (0, 6), (3, 1), (0, 3), (0, 2), (0, 1), (0, 0))
#: Characters that are layout, not glyphs: line breaks and tabs in multi-line text.
LAYOUT_CHARACTERS = frozenset(map(ord, "\t\n\r"))


class FontFormatError(ValueError):
    """Not a TrueType/OpenType font, or no Unicode cmap subtable this reader knows."""


def font_code_points(data: bytes) -> frozenset[int]:
    """The code points one font file maps to a real glyph."""
    try:
        return _code_points(data)
    except struct.error as error:
        raise FontFormatError(f"truncated font: {error}") from None


def _code_points(data: bytes) -> frozenset[int]:
    cmap = _table(data, b"cmap")
    _version, count = struct.unpack_from(">HH", cmap, 0)
    subtables: dict[tuple[int, int], int] = {}
    for index in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", cmap, 4 + 8 * index)
        subtables.setdefault((platform, encoding), offset)
    for key in _PREFERRED_SUBTABLES:
        offset = subtables.get(key)
        if offset is None:
            continue
        (subtable_format,) = struct.unpack_from(">H", cmap, offset)
        if subtable_format == 12:
            return _format_12(cmap, offset)
        if subtable_format == 4:
            return _format_4(cmap, offset)
    raise FontFormatError("no Unicode cmap subtable of format 4 or 12")


def _table(data: bytes, tag: bytes) -> bytes:
    if len(data) < 12:
        raise FontFormatError("too short for a font")
    (count,) = struct.unpack_from(">H", data, 4)
    for index in range(count):
        name, _checksum, offset, length = struct.unpack_from(">4sIII", data, 12 + 16 * index)
        if name == tag:
            if offset + length > len(data):
                raise FontFormatError(f"the {tag.decode()} table runs past the end of the file")
            return data[offset : offset + length]
    raise FontFormatError(f"no {tag.decode()} table")


def _format_4(cmap: bytes, offset: int) -> frozenset[int]:
    (seg_count_x2,) = struct.unpack_from(">H", cmap, offset + 6)
    segments = seg_count_x2 // 2
    ends_at = offset + 14
    starts_at = ends_at + seg_count_x2 + 2  # after endCode[] and reservedPad
    deltas_at = starts_at + seg_count_x2
    range_offsets_at = deltas_at + seg_count_x2
    ends = struct.unpack_from(f">{segments}H", cmap, ends_at)
    starts = struct.unpack_from(f">{segments}H", cmap, starts_at)
    deltas = struct.unpack_from(f">{segments}h", cmap, deltas_at)
    range_offsets = struct.unpack_from(f">{segments}H", cmap, range_offsets_at)
    covered: set[int] = set()
    for index in range(segments):
        start, end, delta, range_offset = (
            starts[index],
            ends[index],
            deltas[index],
            range_offsets[index],
        )
        if start == 0xFFFF:
            continue
        for code in range(start, end + 1):
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                # idRangeOffset counts from its own position in the idRangeOffset array.
                address = range_offsets_at + 2 * index + range_offset + 2 * (code - start)
                (glyph,) = struct.unpack_from(">H", cmap, address)
                if glyph:
                    glyph = (glyph + delta) & 0xFFFF
            if glyph:
                covered.add(code)
    return frozenset(covered)


def _format_12(cmap: bytes, offset: int) -> frozenset[int]:
    (groups,) = struct.unpack_from(">I", cmap, offset + 12)
    covered: set[int] = set()
    for index in range(groups):
        start, end, first_glyph = struct.unpack_from(">III", cmap, offset + 16 + 12 * index)
        covered.update(range(start + (1 if first_glyph == 0 else 0), end + 1))
    return frozenset(covered)


@functools.cache
def covered_code_points(folder: Path) -> frozenset[int]:
    """Every code point each font in ``folder`` draws, plus line breaks and tabs."""
    fonts = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in (".ttf", ".otf")]
    if not fonts:
        raise FontFormatError(f"no fonts in {folder}")
    covered = set(font_code_points(fonts[0].read_bytes()))
    for path in fonts[1:]:
        covered &= font_code_points(path.read_bytes())
    return frozenset(covered | LAYOUT_CHARACTERS)

#!/bin/sh
# gen.sh re-subsets the bundled CJK font to the runes the kiosk shows.
#
# Run it (or `go generate ./ui/font`) after adding or changing a UI string.
# Needs Debian's fonts-droid-fallback (DroidSansFallbackFull.ttf, Apache-2.0)
# and python3-fonttools (pyftsubset):
#   apt-get install -y fonts-droid-fallback python3-fonttools
#
# The subset holds: every rune of the UI tables (ui/i18n, the category
# catalogue), all of GB 2312 (6763 hanzi and its symbols) so that notices, ticket notes and
# wishes arriving over MQTT render too, and CJK/full-width punctuation.
# Latin letters and digits are not in Droid Sans Fallback; Fyne's built-in
# Noto Sans draws them.
set -eu
cd "$(dirname "$0")"
SRC=${SRC:-/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf}
PY=${PY:-python3}
if ! "$PY" -c 'import fontTools' 2>/dev/null; then PY=/usr/bin/python3; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

go run ./internal/fontrunes > runes.txt
"$PY" - "$tmp/gb2312.txt" <<'PYEOF'
import sys
out = []
for hi in list(range(0xA1, 0xAA)) + list(range(0xB0, 0xF8)):
    for lo in range(0xA1, 0xFF):
        try:
            out.append(bytes([hi, lo]).decode('gb2312'))
        except UnicodeDecodeError:
            pass
open(sys.argv[1], 'w', encoding='utf-8').write(''.join(out))
PYEOF
cat runes.txt "$tmp/gb2312.txt" > "$tmp/all.txt"
"$PY" -m fontTools.subset "$SRC" \
	--text-file="$tmp/all.txt" \
	--unicodes='U+3000-303F,U+FF01-FF5E,U+2014,U+2026,U+00B7,U+2018-201D,U+00B0,U+00D7' \
	--layout-features='' --no-hinting --desubroutinize \
	--name-IDs='*' --name-legacy --name-languages='*' \
	--output-file=kiosk-cjk.ttf
# Droid Sans Fallback has no space: Fyne then shapes a space between two
# hanzi with this font and draws a box. Add an empty space glyph.
"$PY" - kiosk-cjk.ttf <<'PYEOF'
import sys
from fontTools.ttLib import TTFont
from fontTools.pens.ttGlyphPen import TTGlyphPen
path = sys.argv[1]
f = TTFont(path)
if 'space' not in f.getGlyphOrder():
    adv = f['head'].unitsPerEm * 26 // 100
    f['glyf']['space'] = TTGlyphPen(None).glyph()
    f['hmtx']['space'] = (adv, 0)
    if 'vmtx' in f:
        f['vmtx']['space'] = (f['head'].unitsPerEm, 0)
    f['maxp'].numGlyphs = len(f.getGlyphOrder())
    for t in f['cmap'].tables:
        if t.isUnicode():
            t.cmap[0x20] = 'space'
            t.cmap[0xA0] = 'space'
f.save(path)
PYEOF
ls -l kiosk-cjk.ttf

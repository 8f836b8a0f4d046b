#!/usr/bin/python3
"""Validate antares' SVG light-curve plots (antares.lc_plot) the way a reader
sees them: as XML, and as pixels rendered by a browser.

Run with Debian's interpreter (python3-psycopg2, python3-pil) and Debian's
chromium and xmllint (libxml2-utils) installed (bin/setup installs them):

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_plot.py [--keep DIR]

--keep DIR copies every SVG and PNG into DIR (README's picture,
docs/fake010-gp.png, is made this way).  The database is reached through the
PG* environment variables; if antares.lc_plot does not exist the script runs
CREATE EXTENSION antares and drops it again at the end.  The three shipped
light curves it plots are read from data/dsfp/training by this script (plain
split, test/validation/dsfp.py) and sent with COPY into a temporary table.

Plots: FAKE010, FAKE060 and FAKE073 as they are; FAKE010 with its GP
(smooth); FAKE073 with the title "<script>alert(1)</script> & FAKE073";
a synthetic 10^5-point light curve in six bands, with and without smooth; a
one-point light curve.  For each:

  (a) the document is well-formed XML: xmllint --noout, and Python's
      xml.etree parses it to one <svg> root of the SVG namespace;
  (b) nothing in it is active: no <script>, <foreignObject>, event-handler
      attribute (on...) or link (href) in the parsed tree;
  (c) Chromium (headless, Debian's chromium) renders it to a PNG of the
      document's width and height, and its DOM as Chromium parsed it has no
      script element either; the title, where given, is the text of the title
      element in both parses, character for character;
  (d) in the PNG, inside the plot area (the <rect class="plot-area">), every
      band of the data has at least MIN_PIXELS pixels of its colour (within
      COLOUR_TOL per channel), and no band without data has any; with smooth,
      every band's shaded +-1 sd band (its colour at 20% over white) is
      there too;
  (e) the strip above the plot area holds dark pixels (text) exactly when a
      title was given.

Sizes and times (the query, and Chromium's rendering) are printed for every
plot, so the 10^5-point figures can be read off the output.  Exit status 1 if
a check failed.
"""

import io
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import psycopg2
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dsfp import DATA, read_lightcurve  # noqa: E402

SVG_NS = "http://www.w3.org/2000/svg"
BAND_COLOURS = {
    "u": (0x8E, 0x6B, 0xBF),
    "g": (0x78, 0xA5, 0xA3),  # the DSFP exercise's
    "r": (0xCE, 0x5A, 0x57),  # the DSFP exercise's
    "i": (0xE1, 0xB1, 0x6A),  # the DSFP exercise's
    "z": (0x44, 0x4C, 0x5C),  # the DSFP exercise's
    "y": (0x5E, 0x9E, 0x3A),
}
SHADE_ALPHA = 0.2           # fill-opacity of the +-1 sd band
COLOUR_TOL = 3              # per channel, 0..255
MIN_PIXELS = 4              # of a band's colour in the plot area
TITLE_DARK_PIXELS = 40      # dark pixels in the title strip when there is a title
SCRIPT_TITLE = "<script>alert(1)</script> & FAKE073"
OBJECTS = (10, 60, 73)
N_LARGE = 100000

FAILED = []


def fail(name, msg):
    FAILED.append(f"{name}: {msg}")
    print(f"FAIL {name}: {msg}")


# --------------------------------------------------------------------------
# Data and queries
# --------------------------------------------------------------------------

def load(cur):
    """The three light curves into a temporary table, read by this script."""
    cur.execute("CREATE TEMP TABLE plot_phot (objid int, t float8, pb text, flux float8, dflux float8)")
    buf = io.StringIO()
    bands = {}
    for objid in OBJECTS:
        t, pb, flux, dflux = read_lightcurve(DATA / "training" / f"FAKE{objid:03d}.dat")
        bands[objid] = set(pb)
        for row in zip(t, pb, flux, dflux):
            buf.write(f"{objid}\t{row[0]!r}\t{row[1]}\t{row[2]!r}\t{row[3]!r}\n")
    buf.seek(0)
    cur.copy_expert("COPY plot_phot FROM STDIN", buf)
    return bands


# A synthetic light curve of N_LARGE points: six bands interleaved in time
# over 1000 days, each a slow wave on its own level with deterministic
# scatter, so that the bands lie apart and every one shows in the picture.
LARGE_ROWS = f"""
    SELECT 56000 + 1000.0 * i / {N_LARGE} AS t,
           substr('ugrizy', 1 + i % 6, 1) AS pb,
           300 * (i % 6) + 80 * sin(i / 4000.0) + 30 * sin(i * 12.9898) AS flux,
           5 + i % 7 AS dflux
    FROM generate_series(0, {N_LARGE - 1}) i"""


def cases(bands):
    """(name, query, bands with data, smooth, title)"""
    out = []
    for objid in OBJECTS:
        out.append((f"FAKE{objid:03d}", f"SELECT antares.lc_plot(t, pb, flux, dflux) FROM plot_phot WHERE objid = {objid}",
                    bands[objid], False, None))
    out.append(("FAKE010-gp",
                "SELECT antares.lc_plot(t, pb, flux, dflux, true, 'FAKE010 with its Gaussian-process fit') "
                "FROM plot_phot WHERE objid = 10", bands[10], True, "FAKE010 with its Gaussian-process fit"))
    out.append(("FAKE073-script-title",
                "SELECT antares.lc_plot(t, pb, flux, dflux, false, %s) FROM plot_phot WHERE objid = 73",
                bands[73], False, SCRIPT_TITLE))
    out.append(("large-1e5", f"SELECT antares.lc_plot(t, pb, flux, dflux) FROM ({LARGE_ROWS}) s",
                set("ugrizy"), False, None))
    out.append(("large-1e5-gp", f"SELECT antares.lc_plot(t, pb, flux, dflux, true) FROM ({LARGE_ROWS}) s",
                set("ugrizy"), True, None))
    out.append(("one-point", "SELECT antares.lc_plot(56000.5, 'r', 42, 3)", {"r"}, False, None))
    return out


# --------------------------------------------------------------------------
# XML checks
# --------------------------------------------------------------------------

def local(tag):
    return tag.rsplit("}", 1)[-1]


def title_text(root):
    for el in root.iter(f"{{{SVG_NS}}}text"):
        if el.get("class") == "title":
            return "".join(el.itertext())
    return None


def check_xml(name, path, title):
    """(a), (b) and the XML half of (c); returns the plot area (x, y, w, h)
    and the document size, or None."""
    r = subprocess.run(["xmllint", "--noout", str(path)], capture_output=True, text=True)
    if r.returncode != 0:
        fail(name, f"xmllint: {r.stderr.strip()[:500]}")
        return None
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        fail(name, f"xml.etree: {e}")
        return None
    if root.tag != f"{{{SVG_NS}}}svg":
        fail(name, f"root element {root.tag}, expected svg in {SVG_NS}")
        return None
    for el in root.iter():
        if local(el.tag) in ("script", "foreignObject"):
            fail(name, f"a <{local(el.tag)}> element")
        for attr in el.attrib:
            if local(attr).lower().startswith("on") or local(attr) == "href":
                fail(name, f"an active attribute {attr} on <{local(el.tag)}>")
    got = title_text(root)
    if got != title:
        fail(name, f"title element text {got!r}, expected {title!r}")
    area = [el for el in root.iter(f"{{{SVG_NS}}}rect") if el.get("class") == "plot-area"]
    if len(area) != 1:
        fail(name, f"{len(area)} plot-area rects")
        return None
    a = area[0]
    return (tuple(float(a.get(k)) for k in ("x", "y", "width", "height")),
            (int(root.get("width")), int(root.get("height"))))


# --------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------

def chromium(args, path, workdir):
    """Runs headless Chromium on file path with its own profile directory (so
    that runs never share one); returns (CompletedProcess, seconds)."""
    profile = tempfile.mkdtemp(prefix="profile.", dir=workdir)
    cmd = ["chromium", "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
           "--force-device-scale-factor=1", f"--user-data-dir={profile}", *args, path.as_uri()]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - t0
    shutil.rmtree(profile, ignore_errors=True)
    return r, seconds


def check_dom(name, path, workdir, title):
    """The DOM as Chromium parsed it: no script element, the title as text."""
    r, _ = chromium(["--dump-dom"], path, workdir)
    if r.returncode != 0 or "<svg" not in r.stdout:
        fail(name, f"chromium --dump-dom failed (status {r.returncode}): {r.stderr.strip()[-300:]}")
        return
    try:
        root = ET.fromstring(r.stdout)
    except ET.ParseError as e:
        fail(name, f"Chromium's DOM does not parse: {e}")
        return
    if any(local(el.tag) == "script" for el in root.iter()):
        fail(name, "Chromium's DOM has a script element")
    if title_text(root) != title:
        fail(name, f"Chromium's title text {title_text(root)!r}, expected {title!r}")


def render(name, path, size, workdir):
    png = path.with_suffix(".png")
    r, seconds = chromium([f"--screenshot={png}", f"--window-size={size[0]},{size[1]}"], path, workdir)
    if r.returncode != 0 or not png.exists():
        fail(name, f"chromium --screenshot failed (status {r.returncode}): {r.stderr.strip()[-300:]}")
        return None, seconds
    img = Image.open(png).convert("RGB")
    if img.size != size:
        fail(name, f"PNG of {img.size}, expected {size}")
        return None, seconds
    return img, seconds


# --------------------------------------------------------------------------
# Pixels
# --------------------------------------------------------------------------

def colour_counts(pixels, colours):
    """{key: pixels within COLOUR_TOL of colours[key]}"""
    counts = {k: 0 for k in colours}
    for (r, g, b), n in pixels.items():
        for k, (cr, cg, cb) in colours.items():
            if abs(r - cr) <= COLOUR_TOL and abs(g - cg) <= COLOUR_TOL and abs(b - cb) <= COLOUR_TOL:
                counts[k] += n
    return counts


def histogram(img, box):
    """{(r, g, b): count} of the pixels in box (left, top, right, bottom)."""
    hist = {}
    for px in img.crop(box).getdata():
        hist[px] = hist.get(px, 0) + 1
    return hist


def shade(colour):
    return tuple(round(SHADE_ALPHA * c + (1 - SHADE_ALPHA) * 255) for c in colour)


def check_pixels(name, img, area, bands, smooth, title):
    """(d) and (e); returns {band: pixels of its colour}."""
    x, y, w, h = area
    # inside the frame's stroke
    inner = histogram(img, (int(x) + 2, int(y) + 2, int(x + w) - 1, int(y + h) - 1))
    counts = colour_counts(inner, BAND_COLOURS)
    for band, n in counts.items():
        if band in bands and n < MIN_PIXELS:
            fail(name, f"band {band}: {n} pixels of {BAND_COLOURS[band]} in the plot area, expected >= {MIN_PIXELS}")
        if band not in bands and n != 0:
            fail(name, f"band {band} has no data but {n} pixels of its colour in the plot area")
    if smooth:
        shades = colour_counts(inner, {b: shade(BAND_COLOURS[b]) for b in bands})
        for band, n in shades.items():
            if n < MIN_PIXELS:
                fail(name, f"band {band}: {n} pixels of its shaded sd band {shade(BAND_COLOURS[band])}")
    strip = histogram(img, (0, 0, img.size[0], int(y) - 2))
    dark = sum(n for (r, g, b), n in strip.items() if max(r, g, b) < 128)
    if title is not None and dark < TITLE_DARK_PIXELS:
        fail(name, f"only {dark} dark pixels where the title should be")
    if title is None and dark != 0:
        fail(name, f"{dark} dark pixels above the plot area, and no title was given")
    return counts, dark


# --------------------------------------------------------------------------

def main():
    keep = None
    if "--keep" in sys.argv[1:]:
        keep = Path(sys.argv[sys.argv.index("--keep") + 1])
        keep.mkdir(parents=True, exist_ok=True)
    for tool in ("chromium", "xmllint"):
        if shutil.which(tool) is None:
            print(f"FAIL {tool} is not installed (bin/setup installs it)")
            return 1

    conn = psycopg2.connect("")
    conn.set_session(autocommit=True)
    cur = conn.cursor()
    cur.execute("SELECT to_regprocedure('antares.lc_plot(float8, text, float8, float8)') IS NULL,"
                " to_regnamespace('antares') IS NULL")
    missing, created_schema = cur.fetchone()
    if missing:
        cur.execute("CREATE EXTENSION antares")
    workdir = Path(tempfile.mkdtemp(prefix="antares-plot."))
    try:
        bands = load(cur)
        for name, query, data_bands, smooth, title in cases(bands):
            t0 = time.perf_counter()
            cur.execute(query, (title,) if "%s" in query else None)
            svg = cur.fetchone()[0]
            query_s = time.perf_counter() - t0
            if svg is None:
                fail(name, "lc_plot returned NULL")
                continue
            path = workdir / f"{name}.svg"
            path.write_text(svg, encoding="ascii")
            n_before = len(FAILED)
            checked = check_xml(name, path, title)
            if checked is None:
                continue
            area, size = checked
            check_dom(name, path, workdir, title)
            img, render_s = render(name, path, size, workdir)
            if img is None:
                continue
            counts, dark = check_pixels(name, img, area, data_bands, smooth, title)
            status = "ok  " if len(FAILED) == n_before else "FAIL"
            print(f"{status} {name}: {len(svg)} bytes; query {query_s:.3f} s, Chromium {render_s:.2f} s; "
                  "band pixels " + " ".join(f"{b}={counts[b]}" for b in "ugrizy" if b in data_bands)
                  + f"; title-strip dark pixels {dark}")
            sys.stdout.flush()
            if keep is not None:
                shutil.copy(path, keep / path.name)
                shutil.copy(path.with_suffix(".png"), keep / f"{name}.png")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        cur.execute("DROP TABLE IF EXISTS plot_phot")
        if missing:
            cur.execute("DROP EXTENSION antares")
            if created_schema:
                cur.execute("DROP SCHEMA antares")
        conn.close()

    if FAILED:
        print(f"{len(FAILED)} checks failed")
        return 1
    print("all plot checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

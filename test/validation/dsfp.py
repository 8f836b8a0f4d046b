"""The shipped light curves (data/dsfp), read independently of the extension:
plain whitespace splitting, '#' lines skipped, the first other line names the
columns.  Shared by the validation tests and, through them, the benchmarks."""

import re
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "data" / "dsfp"


def read_lightcurve(path):
    """(t, pb, flux, dflux) arrays of one file, in file order."""
    header, rows = None, []
    with open(path) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            tok = line.split()
            if header is None:
                header = tok
                continue
            rows.append(tok)
    col = {name: header.index(name) for name in ("t", "pb", "flux", "dflux")}
    t = np.array([float(r[col["t"]]) for r in rows])
    pb = np.array([r[col["pb"]] for r in rows])
    flux = np.array([float(r[col["flux"]]) for r in rows])
    dflux = np.array([float(r[col["dflux"]]) for r in rows])
    return t, pb, flux, dflux


def read_all(sources=("training", "test")):
    """{(source, objid): (t, pb, flux, dflux)}; objid is the number in the file name."""
    objects = {}
    for src in sources:
        for path in sorted((DATA / src).glob("*.dat")):
            objid = int(re.search(r"(\d+)", path.name).group(1))
            objects[(src, objid)] = read_lightcurve(path)
    return objects

#!/usr/bin/python3
"""Validate antares.bazin_fit against scipy's curve_fit on every band of the
shipped light curves, and against closed forms on synthetic cases.

Run with Debian's interpreter (it has numpy, scipy and psycopg2):

    PGHOST=... PGPORT=... PGUSER=... PGDATABASE=... /usr/bin/python3 test/validation/test_bazin.py

The database is reached through the usual PG* environment variables; the
extension is created if antares.bazin_fit is missing (and dropped at the end).

The shipped files are read independently (test/validation/dsfp.py) and each
band's arrays are sent to antares.bazin_fit in file order.  The reference
repeats the documented set-up (docs/bazin.md) in numpy: observations sorted
by (t, flux, dflux), the box from span and flux range, the same starting
point, the same logistic reparametrisation; then scipy.optimize.curve_fit
(method 'lm', MINPACK's lmdif with its own finite-difference Jacobian,
sigma = dflux, absolute_sigma=True) runs from that start.

Checks, one line per group:
  * status: n < 6 gives too_few_points with every number NULL; a converged
    band has every number non-NULL and finite, inside the box; no NaN
    anywhere (a NaN would come back as a float NaN, not None);
  * objective: chi2 at antares's optimum, evaluated here in numpy from the
    returned parameters, <= scipy's chi2 * (1 + 1e-6) + 1e-9, with counts of
    bands where antares is better, equal (within that tolerance) or worse;
    each worse band is listed, and explained only if it is a different local
    minimum: no move of one parameter by 1e-5 of its scale, either way,
    lowers chi2 by more than 1e-9 of it (a plateau counts: a rise time of
    hours between two observations, where moving t0 or tau_rise changes
    nothing);
  * closed forms (1e-9 relative): reduced_chi2 = chi2 / (n - 5),
    peak_time = t0 + tau_rise ln(tau_fall / tau_rise - 1), peak_flux = f(peak_time);
  * errors, own: against (J^T W J)^-1 computed here with numpy (analytic J
    at antares's optimum, (J^T J)^-1 from numpy's SVD of J) to 1e-6 relative, where the
    column-scaled J has a condition number below 1e6;
  * errors, scipy: where both reach the same minimum (every parameter within
    1e-4 relative, or 1e-4 of its error), the data determine A, tau_rise and
    tau_fall to 10% (each error below a tenth of the value) and no parameter
    is at a bound (free parameter |u| < 10), antares's errors against
    curve_fit's pcov carried to the physical parameters (D pcov D^T, D the
    derivative of the logistic maps), to 1e-2 relative: lmdif's
    finite-difference Jacobian limits the reference's own accuracy (the
    worst seen is 1.8e-3; poorly determined fits differ by up to orders of
    magnitude, the reference's pcov being noise there);
  * order: every band again with its observations reversed: the same result;
  * synthetic: constant fluxes, all points at one time, 5 distinct times,
    n = 0 .. 5, a noise-free curve recovered to 1e-7.
The exit status is 1 if any group failed.
"""

import math
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit
from scipy.special import expit, logit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checks  # noqa: E402
from checks import Group  # noqa: E402
from dsfp import read_all  # noqa: E402  (the shipped files, read independently)

BANDS = "ugrizy"
COLUMNS = ("amplitude", "baseline", "reference_time", "rise_time", "fall_time",
           "amplitude_err", "baseline_err", "reference_time_err", "rise_time_err",
           "fall_time_err", "reduced_chi2", "peak_time", "peak_flux", "n", "iterations",
           "status")
PARAMS = COLUMNS[:5]
ERRORS = COLUMNS[5:10]
NUMBERS = COLUMNS[:13]
OBJ_RTOL, OBJ_ATOL = 1e-6, 1e-9
CLOSED_RTOL = 1e-9
SAME_MIN_RTOL = 1e-4
ERR_RTOL = 1e-2
DETERMINED = 0.1
OWN_RTOL, COND_MAX = 1e-6, 1e6
TAU_MIN, MIN_MARGIN, START_RISE, START_FALL = 0.01, 50.0, 3.0, 20.0


# ---- the model and the documented set-up, in numpy ----

def model(t, a, b, t0, rise, fall):
    x = np.asarray(t, dtype=float) - t0
    return a * np.exp(-x / fall - np.logaddexp(0.0, -x / rise)) + b


def jacobian(t, s, p):
    """d((f(t_i) - flux_i) / dflux_i) / d(A, B, t0, rise, fall), analytically."""
    a, _, t0, rise, fall = p
    x = t - t0
    g = np.exp(-x / fall - np.logaddexp(0.0, -x / rise))
    sig = expit(-x / rise)
    cols = [g, np.ones_like(t), a * g * (1 / fall - sig / rise),
            -a * g * sig * x / rise ** 2, a * g * x / fall ** 2]
    return np.column_stack(cols) / s[:, None]


def chi2_of(t, f, s, p):
    return float(np.sum(((model(t, *p) - f) / s) ** 2))


class Setup:
    """Box, start and the map from free parameters u to (A, B, t0, rise, fall)."""

    def __init__(self, t, f, s):
        order = np.lexsort((s, f, t))
        self.t, self.f, self.s = t[order], f[order], s[order]
        t, f = self.t, self.f
        imax = int(np.argmax(f))
        rng = f[imax] - f.min()
        margin = max(t[-1] - t[0], MIN_MARGIN)
        self.a_width = 100.0 * rng
        self.t0_lo = t[0] - margin
        self.t0_width = (t[-1] + margin) - self.t0_lo
        self.tau_width = 10.0 * margin
        b0 = float(np.quantile(f, 0.1))
        shift = START_RISE * math.log(START_FALL / START_RISE - 1.0)
        g_peak = model([shift], 1.0, 0.0, 0.0, START_RISE, START_FALL)[0]
        a0 = max(f[imax] - b0, rng / 100.0) / g_peak
        self.start = self.free([a0, b0, t[imax] - shift, START_RISE, START_FALL])

    def phys(self, u):
        rise = TAU_MIN + self.tau_width * expit(u[3])
        return np.array([self.a_width * expit(u[0]), u[1],
                         self.t0_lo + self.t0_width * expit(u[2]), rise,
                         rise + TAU_MIN + self.tau_width * expit(u[4])])

    def free(self, p):
        return np.array([logit(p[0] / self.a_width), p[1],
                         logit((p[2] - self.t0_lo) / self.t0_width),
                         logit((p[3] - TAU_MIN) / self.tau_width),
                         logit((p[4] - p[3] - TAU_MIN) / self.tau_width)])

    def dphys(self, u):
        """d(A, B, t0, rise, fall) / du."""
        d = np.zeros((5, 5))
        e = expit(np.asarray(u, dtype=float))
        ds = e * (1 - e)
        d[0, 0] = self.a_width * ds[0]
        d[1, 1] = 1.0
        d[2, 2] = self.t0_width * ds[2]
        d[3, 3] = self.tau_width * ds[3]
        d[4, 3] = self.tau_width * ds[3]
        d[4, 4] = self.tau_width * ds[4]
        return d

    def fit(self, u0):
        """curve_fit from u0: (u, pcov) or None when it does not converge."""
        def f_u(t, *u):
            return model(t, *self.phys(u))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                u, pcov = curve_fit(f_u, self.t, self.f, p0=u0, sigma=self.s,
                                    absolute_sigma=True, method="lm", maxfev=20000)
            except RuntimeError:
                return None
        return u, pcov


def local_minimum(su, p, chi2):
    """No move of one parameter by 1e-5 of its scale (A, tau_rise, tau_fall
    their value; t0 tau_rise; B the flux range) in either direction that
    stays in the box lowers chi2 by more than 1e-9 of it (a minimum on the
    box: a parameter at its bound may only be moved inwards)."""
    scale = [p[0], su.a_width / 100.0, p[3], p[3], p[4]]
    for k in range(5):
        for sign in (-1.0, 1.0):
            q = p.copy()
            q[k] += sign * 1e-5 * scale[k]
            if k == 3:
                q[4] += sign * 1e-5 * scale[k]     # tau_fall - tau_rise kept
            inside = (0 < q[0] < su.a_width and su.t0_lo < q[2] < su.t0_lo + su.t0_width and
                      TAU_MIN < q[3] < TAU_MIN + su.tau_width and
                      TAU_MIN < q[4] - q[3] < TAU_MIN + su.tau_width)
            if inside and chi2_of(su.t, su.f, su.s, q) < chi2 * (1 - 1e-9):
                return False
    return True


# ---- the server side ----

def sql_fit(cur, t, f, s):
    cur.execute("SELECT (bazin_fit(%s::float8[], %s::float8[], %s::float8[])).*",
                (list(map(float, t)), list(map(float, f)), list(map(float, s))))
    return dict(zip(COLUMNS, cur.fetchone()))


def rel(a, b):
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def is_nan(x):
    return isinstance(x, float) and math.isnan(x)


# ---- the shipped bands ----

def check_shipped(cur):
    objects = read_all()
    status_g = Group("status and NULLs, every band of the shipped objects")
    obj_g = Group(f"chi2 at antares's optimum <= curve_fit's * (1 + {OBJ_RTOL}) + {OBJ_ATOL}")
    closed_g = Group(f"reduced_chi2, peak_time, peak_flux against closed forms ({CLOSED_RTOL})")
    err_g = Group(f"errors against curve_fit's pcov at the same minimum, A and the times "
                  f"determined to {DETERMINED:.0%} ({ERR_RTOL})")
    own_g = Group(f"errors against (J^T W J)^-1 computed here, column-scaled cond(J) < {COND_MAX:g} "
                  f"({OWN_RTOL})")
    ill = 0
    order_g = Group("the same band reversed: the same result")
    counts = {"better": 0, "equal": 0, "worse": 0, "worse, another local minimum": 0}
    statuses = {}
    scipy_failed = 0
    err_unusable = 0
    at_bound = 0
    worst_err = (0.0, "")

    for (src, objid), (t, pb, flux, dflux) in sorted(objects.items()):
        for b in BANDS:
            sel = pb == b
            t_b, f_b, s_b = t[sel], flux[sel], dflux[sel]
            where = f"{src}/{objid} {b}"
            got = sql_fit(cur, t_b, f_b, s_b)
            n = len(t_b)
            statuses[got["status"]] = statuses.get(got["status"], 0) + 1
            status_g.check(where, got["n"] == n, f"n {got['n']} != {n}")
            status_g.check(where, not any(is_nan(got[c]) for c in NUMBERS), "a NaN number")
            rev = sql_fit(cur, t_b[::-1], f_b[::-1], s_b[::-1])
            order_g.check(where, rev == got, f"reversed {rev} != {got}")
            if n < 6:
                status_g.check(where, got["status"] == "too_few_points" and
                               all(got[c] is None for c in NUMBERS),
                               f"n = {n}: {got}")
                continue
            if got["status"] != "converged":
                status_g.check(where, all(got[c] is None for c in NUMBERS),
                               f"{got['status']} with numbers")
                continue
            status_g.check(where, all(got[c] is not None and math.isfinite(got[c])
                                      for c in PARAMS + ("reduced_chi2", "peak_time", "peak_flux")),
                           f"converged with a NULL or non-finite number: {got}")
            errs_null = [got[c] is None for c in ERRORS]
            status_g.check(where, all(errs_null) or not any(errs_null),
                           "some errors NULL, not all")

            su = Setup(t_b, f_b, s_b)
            p = np.array([got[c] for c in PARAMS])
            lo = np.array([0.0, -np.inf, su.t0_lo, TAU_MIN, p[3] + TAU_MIN])
            hi = np.array([su.a_width, np.inf, su.t0_lo + su.t0_width,
                           TAU_MIN + su.tau_width, p[3] + TAU_MIN + su.tau_width])
            # Closed: a parameter at its bound is the logistic map saturated.
            status_g.check(where, bool(np.all(p >= lo) and np.all(p <= hi)),
                           f"outside the box: {p}, {lo}, {hi}")

            chi2_a = chi2_of(su.t, su.f, su.s, p)
            for name, want, have in (
                    ("reduced_chi2", chi2_a / (n - 5), got["reduced_chi2"]),
                    ("peak_time", p[2] + p[3] * math.log(p[4] / p[3] - 1.0), got["peak_time"]),
                    ("peak_flux", model([got["peak_time"]], *p)[0], got["peak_flux"])):
                closed_g.check(f"{where} {name}", rel(want, have) <= CLOSED_RTOL,
                               f"{have!r} != {want!r}")
            pt = got["peak_time"]
            h = 1e-3 * p[3]
            closed_g.check(f"{where} peak", model([pt - h, pt + h], *p).max() <= got["peak_flux"],
                           "peak_flux is not the model's maximum")

            ref = su.fit(su.start)
            if ref is None:
                scipy_failed += 1
                continue
            u_s, pcov = ref
            p_s = su.phys(u_s)
            chi2_s = chi2_of(su.t, su.f, su.s, p_s)
            tol = chi2_s * OBJ_RTOL + OBJ_ATOL
            obj_g.checks += 1
            if chi2_a < chi2_s - tol:
                counts["better"] += 1
            elif chi2_a <= chi2_s + tol:
                counts["equal"] += 1
            else:
                # Explained only if antares sits at a minimum of its own.
                if local_minimum(su, p, chi2_a):
                    counts["worse, another local minimum"] += 1
                    obj_g.note(f"{where}: another local minimum, chi2 {chi2_a:.9g} vs "
                               f"curve_fit's {chi2_s:.9g}")
                else:
                    counts["worse"] += 1
                    obj_g.fail(where, f"chi2 {chi2_a!r} > curve_fit's {chi2_s!r}, and "
                                      f"not a local minimum")

            # Errors against this script's own (J^T W J)^-1 at antares's
            # optimum, where the column-scaled J is well conditioned.
            if all(got[c] is not None for c in ERRORS):
                jac = jacobian(su.t, su.s, p)
                scaled = jac / np.linalg.norm(jac, axis=0)
                if np.linalg.cond(scaled) < COND_MAX:
                    # (J^T J)^-1 = V S^-2 V^T from the SVD of J (not inv of J^T J,
                    # which squares the condition number).
                    _, sv, vt = np.linalg.svd(jac, full_matrices=False)
                    cov = (vt.T / sv ** 2) @ vt
                    for c, ea, es in zip(ERRORS, [got[c] for c in ERRORS], np.sqrt(np.diag(cov))):
                        own_g.check(f"{where} {c}", rel(ea, es) <= OWN_RTOL, f"{ea!r} vs {es!r}")
                else:
                    ill += 1

            # Errors where both found the same minimum and the data determine
            # A, tau_rise and tau_fall to better than 10%.
            if all(got[c] is not None for c in ERRORS):
                err_a = np.array([got[c] for c in ERRORS])
                same = np.all(np.abs(p - p_s) <= np.maximum(SAME_MIN_RTOL * np.abs(p),
                                                             SAME_MIN_RTOL * err_a))
                determined = max(err_a[0] / p[0], err_a[3] / p[3], err_a[4] / p[4]) < DETERMINED
                # At a bound the logistic map is flat: D pcov D^T says nothing there.
                inner = np.all(np.abs(np.delete(u_s, 1)) < 10.0)
                if same and determined and not inner:
                    at_bound += 1
                if same and determined and inner:
                    d = su.dphys(u_s)
                    with np.errstate(all="ignore"):
                        cov = d @ pcov @ d.T
                    if not (np.all(np.isfinite(cov)) and np.all(np.diag(cov) > 0)):
                        err_unusable += 1
                        continue
                    err_s = np.sqrt(np.diag(cov))
                    for c, ea, es in zip(ERRORS, err_a, err_s):
                        r = rel(ea, es)
                        if r > worst_err[0]:
                            worst_err = (r, f"{where} {c}")
                        err_g.check(f"{where} {c}", r <= ERR_RTOL, f"{ea!r} vs {es!r}")

    status_g.note("statuses: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    obj_g.note(", ".join(f"{k} {v}" for k, v in counts.items()))
    obj_g.note(f"curve_fit did not converge on {scipy_failed} bands (not compared)")
    err_g.note(f"worst {worst_err[0]:.2e} at {worst_err[1]}")
    err_g.note(f"{err_unusable} bands where curve_fit's pcov is not a covariance, {at_bound} with a "
               f"parameter at a bound (|u| >= 10; not compared)")
    own_g.note(f"{ill} bands with errors and cond(J) >= {COND_MAX:g} (not compared)")
    for g in (status_g, obj_g, closed_g, own_g, err_g, order_g):
        g.report()


# ---- synthetic cases ----

def check_synthetic(cur):
    g = Group("synthetic cases: degenerate bands and a noise-free curve")
    t = np.arange(10.0)
    f = (t * t) % 7
    s = np.ones(10)
    for n in range(6):
        got = sql_fit(cur, t[:n], f[:n], s[:n])
        g.check(f"n = {n}", got["status"] == "too_few_points" and got["n"] == n and
                got["iterations"] == 0 and all(got[c] is None for c in NUMBERS), str(got))
    got = sql_fit(cur, t, np.full(10, 2.5), s)
    g.check("constant", got["status"] == "constant_flux" and
            all(got[c] is None for c in NUMBERS), str(got))
    got = sql_fit(cur, np.full(10, 58000.0), f, s)
    g.check("one time", got["status"] == "too_few_times" and
            all(got[c] is None for c in NUMBERS), str(got))
    got = sql_fit(cur, np.floor(t / 2), f, s)
    g.check("5 distinct times", got["status"] != "too_few_times", str(got))
    got = sql_fit(cur, np.floor(t / 2.5), f, s)
    g.check("4 distinct times", got["status"] == "too_few_times", str(got))

    truth = [300.0, 20.0, 58010.0, 4.0, 25.0]
    tt = np.linspace(57980.0, 58100.0, 50)
    got = sql_fit(cur, tt, model(tt, *truth), np.full(50, 3.0))
    g.check("noise-free curve", got["status"] == "converged" and
            all(rel(got[c], v) <= 1e-7 for c, v in zip(PARAMS, truth)), str(got))
    g.report()


def main():
    with checks.database("antares.bazin_fit") as (conn, cur):
        check_synthetic(cur)
        check_shipped(cur)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())

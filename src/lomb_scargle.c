/*
 * lomb_scargle.c
 *		The generalised Lomb-Scargle periodogram of one band (definitions in
 *		lomb_scargle.h).
 *
 * Cost, n points and m frequencies:
 *	 direct	O(n m): per frequency, seven weighted sums over the points, ~2.5 ns
 *			a point.  The points' versine and sine advance from one
 *			frequency to the next by a rotation (no libm call) in the same
 *			pass, and are recomputed exactly every LS_RESYNC frequencies so
 *			that rounding cannot drift.
 *	 fast	O(n + N log N), N = 2^k >= 5 m: three extirpolations (O(n) each)
 *			and three complex FFTs of N points (GSL's radix-2, in place).
 * The default grid has m ~ 12.5 n frequencies (samples_per_peak 5 and
 * nyquist_factor 5), so direct is O(n^2) there and fast O(n log n): a band
 * of 30 points takes ~35 us direct, ~90 us fast; fast wins from ~700 points
 * (docs/lomb_scargle.md), where ls_choose switches.  Memory, in doubles:
 * 7 n + m (direct), 3 n + 2 N + 7 m (fast).
 *
 * The power does not depend on the time origin: the direct sums take times
 * about their weighted mean, the fast ones times from the first (its grid
 * starts there), so the phases stay small and exact; fluxes are scaled by
 * a power of two so that squares cannot overflow, and the weights are
 * (min dflux / dflux)^2 normalised to sum 1, so that dflux of any magnitude
 * works.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <gsl/gsl_fft_complex.h>

#include "lomb_scargle.h"

#define TWO_PI 6.28318530717958647692528676655900577

/* Frequencies between exact recomputations of the direct method's versine, sine. */
#define LS_RESYNC 64

/* The fast method's parameters: astropy's oversampling and Mfft. */
#define LS_OVERSAMPLING 5
#define LS_MFFT 4

/*
 * ls_choose's cost model, in ns on one core of the build machine at -O3
 * (docs/lomb_scargle.md): direct ~2-2.6 per point and frequency; fast ~5 per
 * FFT point and level (GSL's radix-2 computes its twiddles as it goes),
 * three FFTs.  The ratio is what matters: measured, direct wins at 600
 * points (12 against 17 ms), fast at 1000 (17 against 33 ms).
 */
#define LS_COST_DIRECT 2.0
#define LS_COST_FFT 5.0

/* One band, ready for the sums. */
typedef struct LsData
{
	size_t		n;
	double	   *t;				/* t_i - t_0 */
	double		tbar;			/* sum w t: the direct sums' time origin */
	double	   *w;				/* normalised weights */
	double	   *wy;				/* w_i (y_i - ybar), y scaled */
	double		yy;				/* sum w (y - ybar)^2 */
	int			defined;		/* >= 4 distinct times, fluxes not all equal */
} LsData;

/*
 * The direct sums' times, about their weighted mean: S (and CS) are then
 * small at low frequencies, where the covariances would otherwise be small
 * differences of sums of size 1.
 */
static inline double
centred(const LsData *d, size_t i)
{
	return d->t[i] - d->tbar;
}

int
ls_options_valid(const LsGridOptions *opt)
{
	return isfinite(opt->min_period) && opt->min_period >= 0.0 &&
		!isnan(opt->max_period) && opt->max_period > opt->min_period &&
		isfinite(opt->samples_per_peak) && opt->samples_per_peak > 0.0 &&
		isfinite(opt->nyquist_factor) && opt->nyquist_factor > 0.0;
}

static int
finite_positive(double x)
{
	return isfinite(x) && x > 0.0;
}

LsStatus
ls_grid(const double *t, size_t n, const LsGridOptions *opt, LsGrid *grid)
{
	double		baseline,
				df,
				f_min,
				f_max,
				steps;

	grid->f_min = NAN;
	grid->df = NAN;
	grid->n_frequencies = 0;
	if (!ls_options_valid(opt))
		return LS_INVALID_INPUT;
	if (n < 2 || t[n - 1] == t[0])
		return LS_OK;
	/* astropy's autofrequency, operation for operation */
	baseline = t[n - 1] - t[0];
	df = 1.0 / baseline / opt->samples_per_peak;
	f_min = isinf(opt->max_period) ? 0.5 * df : 1.0 / opt->max_period;
	f_max = opt->min_period > 0.0 ? 1.0 / opt->min_period :
		opt->nyquist_factor * (0.5 * (double) n / baseline);
	if (!finite_positive(baseline) || !finite_positive(df) || !finite_positive(f_max) ||
		!finite_positive(f_min))
		return LS_OUT_OF_RANGE;
	grid->f_min = f_min;
	grid->df = df;
	steps = 1.0 + nearbyint((f_max - f_min) / df);
	if (!(steps >= 1.0))
		return LS_OK;
	if (steps > LS_MAX_FREQUENCIES)
	{
		grid->n_frequencies = steps < (double) SIZE_MAX ? (size_t) steps : SIZE_MAX;
		return LS_TOO_MANY_FREQUENCIES;
	}
	grid->n_frequencies = (size_t) steps;
	return LS_OK;
}

/* Fast: the FFTs; its extirpolations, O(n), are small beside them. */
LsMethod
ls_choose(size_t n, size_t m)
{
	double		nfft = LS_OVERSAMPLING * (double) m;
	double		p = 1.0;
	int			levels = 0;

	while (p < nfft)
	{
		p *= 2.0;
		levels++;
	}
	return LS_COST_DIRECT * (double) n * (double) m <= LS_COST_FFT * 3.0 * p * levels ?
		LS_DIRECT : LS_FAST;
}

/* ---- input ---- */

static LsStatus
ls_check(const double *t, const double *flux, const double *dflux, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		if (!isfinite(t[i]) || !isfinite(flux[i]) || !finite_positive(dflux[i]))
			return LS_INVALID_INPUT;
		if (i > 0 && t[i] < t[i - 1])
			return LS_INVALID_INPUT;
	}
	if (n > 0 && !isfinite(t[n - 1] - t[0]))
		return LS_OUT_OF_RANGE;
	return LS_OK;
}

/* An offset and a sinusoid fit 3 points exactly: power 1 at every frequency. */
static int
distinct_times_at_least_4(const double *t, size_t n)
{
	int			distinct = n > 0;

	for (size_t i = 1; i < n && distinct < 4; i++)
		distinct += t[i] != t[i - 1];
	return distinct >= 4;
}

/*
 * Fills d (its arrays from one host block of 3 n doubles, *block) from
 * checked input.  The fluxes are scaled by 2^-e, e the exponent of the
 * largest |flux| (exact), so that |y| <= 1; the power is scale-free.
 */
static LsStatus
ls_prepare(const double *t, const double *flux, const double *dflux, size_t n,
		   LsData *d, double **block, const KernelHost *host)
{
	double		dmin = dflux[0],
				big = 0.0,
				wsum = 0.0,
				ybar = 0.0,
				yy = 0.0;
	int			equal = 1,
				e;

	*block = host_alloc_array(host, 3 * n, sizeof(double));
	if (*block == NULL)
		return LS_NO_MEMORY;
	d->n = n;
	d->t = *block;
	d->w = *block + n;
	d->wy = *block + 2 * n;
	for (size_t i = 0; i < n; i++)
	{
		dmin = fmin(dmin, dflux[i]);
		big = fmax(big, fabs(flux[i]));
		equal &= flux[i] == flux[0];
	}
	(void) frexp(big, &e);
	for (size_t i = 0; i < n; i++)
	{
		double		r = dmin / dflux[i];

		d->t[i] = t[i] - t[0];
		d->w[i] = r * r;
		wsum += d->w[i];
	}
	d->tbar = 0.0;
	for (size_t i = 0; i < n; i++)
	{
		d->w[i] /= wsum;
		ybar += d->w[i] * ldexp(flux[i], -e);
		d->tbar += d->w[i] * d->t[i];
	}
	for (size_t i = 0; i < n; i++)
	{
		double		yc = ldexp(flux[i], -e) - ybar;

		d->wy[i] = d->w[i] * yc;
		yy += d->wy[i] * yc;
	}
	d->yy = yy;
	d->defined = !equal && yy > 0.0 && distinct_times_at_least_4(t, n);
	return LS_OK;
}

/* ---- the periodogram from the covariances ---- */

/*
 * The power from the weighted covariances cc, ss, cs of (cos, sin) and
 * ch, sh of the centred fluxes with them (lomb_scargle.h).
 */
static double
ls_fit(double cc, double ss, double cs, double ch, double sh, double yy)
{
	double		tr = cc + ss;
	double		det = cc * ss - cs * cs;

	if (!(tr > LS_DEGENERATE))
		return 0.0;				/* no direction resolved: nothing fits */
	if (det > LS_DEGENERATE * tr)
		return (ss * ch * ch + cc * sh * sh - 2.0 * cs * ch * sh) / (det * yy);
	/* rank 1 (one direction, eigenvalue tr): the fit along it */
	return (cc * ch * ch + ss * sh * sh + 2.0 * cs * ch * sh) / (tr * tr * yy);
}

/*
 * The fast method's sums: C, S, C2 = sum w cos 2x, S2, Ch, Sh, finished as
 * astropy's lombscargle_fast does (the time shift tau from tan 2 omega tau,
 * its trigonometric identities), so that the method is astropy's 'fast'
 * operation for operation.  Where astropy divides 0 by 0 (2 omega tau
 * undefined; a term whose CC or SS is 0) the term counts 0.
 */
typedef struct LsTrigSums
{
	double		c,
				s,
				c2,
				s2,
				ch,
				sh;
} LsTrigSums;

static double
ls_fit_trig(const LsTrigSums *z, double yy)
{
	double		tan2 = (z->s2 - 2.0 * z->s * z->c) / (z->c2 - (z->c * z->c - z->s * z->s));
	double		s2w = tan2 / sqrt(1.0 + tan2 * tan2),
				c2w = 1.0 / sqrt(1.0 + tan2 * tan2),
				cw,
				sw,
				yc,
				ys,
				cc,
				ss,
				p = 0.0;

	if (isinf(tan2))
		s2w = copysign(1.0, tan2), c2w = 0.0;
	else if (isnan(tan2))
		s2w = 0.0, c2w = 1.0;
	cw = sqrt(0.5) * sqrt(1.0 + c2w);
	sw = sqrt(0.5) * (s2w > 0.0 ? 1.0 : s2w < 0.0 ? -1.0 : 0.0) * sqrt(1.0 - c2w);
	yc = z->ch * cw + z->sh * sw;
	ys = z->sh * cw - z->ch * sw;
	cc = 0.5 * (1.0 + z->c2 * c2w + z->s2 * s2w) - (z->c * cw + z->s * sw) * (z->c * cw + z->s * sw);
	ss = 0.5 * (1.0 - z->c2 * c2w - z->s2 * s2w) - (z->s * cw - z->c * sw) * (z->s * cw - z->c * sw);
	if (cc != 0.0)
		p += yc * yc / cc;
	if (ss != 0.0)
		p += ys * ys / ss;
	return p / yy;
}

/*
 * The direct method's sums, in the versine v = 1 - cos of the phase about
 * the weighted mean time: at low frequencies v is small and accurate (no
 * 1 - cos cancellation), so var(cos) = var(v) keeps its digits.  V = sum w
 * v, VV = sum w v^2, S, SS = sum w s^2, SV = sum w s v, Yv = sum wy v, Ys =
 * sum wy s; then cc = VV - V^2, ss = SS - S^2, cs = -(SV - S V) and ch =
 * -Yv (sum wy = 0).
 */
typedef struct LsVersineSums
{
	double		v,
				vv,
				s,
				ss,
				sv,
				yv,
				ys;
} LsVersineSums;

static double
ls_fit_versine(const LsVersineSums *z, double yy)
{
	return ls_fit(z->vv - z->v * z->v, z->ss - z->s * z->s, -(z->sv - z->s * z->v),
				  -z->yv, z->ys, yy);
}

/* 1 - cos and sin of 2 pi f t, the phase reduced to a fraction of a turn first. */
static void
turn(double f, double t, double *v, double *s)
{
	double		x = f * t,
				c;

	x -= nearbyint(x);
	c = cos(TWO_PI * x);
	*s = sin(TWO_PI * x);
	/* 1 - c = s^2 / (1 + c), without cancellation near c = 1 */
	*v = c > 0.0 ? *s * *s / (1.0 + c) : 1.0 - c;
}

/*
 * The sums over the points whose versine and sine at the frequency are v,
 * s; then, if dv is not NULL, (v, s) rotated by the angle whose versine and
 * sine are (dv, ds) to the next frequency, in the same pass (the loop is
 * bound by its loads and stores): 1 - cos(a + b) = v + dv - v dv + s ds,
 * sin(a + b) = s + ds - s dv - v ds.
 */
static void
ls_sums(const LsData *d, double *v, double *s, const double *dv, const double *ds,
		LsVersineSums *z)
{
	LsVersineSums a = {0, 0, 0, 0, 0, 0, 0};

	for (size_t i = 0; i < d->n; i++)
	{
		double		vi = v[i],
					si = s[i],
					w = d->w[i],
					wy = d->wy[i];

		a.v += w * vi;
		a.vv += w * vi * vi;
		a.s += w * si;
		a.ss += w * si * si;
		a.sv += w * si * vi;
		a.yv += wy * vi;
		a.ys += wy * si;
		if (dv != NULL)
		{
			v[i] = vi + dv[i] - vi * dv[i] + si * ds[i];
			s[i] = si + ds[i] - si * dv[i] - vi * ds[i];
		}
	}
	*z = a;
}

/* ---- direct ---- */

/*
 * power[k] at f_min + df k, k < m: the points' (v, s) rotate by df t_i a
 * step.  work: 4 n doubles.
 */
static LsStatus
ls_direct_grid(const LsData *d, double f_min, double df, size_t m, double *power,
			   double *work, const KernelHost *host)
{
	size_t		n = d->n,
				meter = 0;
	double	   *v = work,
			   *s = work + n,
			   *dv = work + 2 * n,
			   *ds = work + 3 * n;

	for (size_t i = 0; i < n; i++)
		turn(df, centred(d, i), &dv[i], &ds[i]);
	for (size_t k = 0; k < m; k++)
	{
		LsVersineSums z;

		if (k % LS_RESYNC == 0)
			for (size_t i = 0; i < n; i++)
				turn(f_min + df * (double) k, centred(d, i), &v[i], &s[i]);
		ls_sums(d, v, s, dv, ds, &z);
		power[k] = ls_fit_versine(&z, d->yy);
		if (host_work(host, &meter, n))
			return LS_INTERRUPTED;
	}
	return LS_OK;
}

/* ---- fast (Press & Rybicki; astropy's trig_sum with use_fft) ---- */

/*
 * Adds the complex value (hr, hi) at abscissa x in [0, nfft) to grid
 * (interleaved re, im): at the integer itself, or spread over the 4 nearest
 * integers with Lagrange weights (astropy's extirpolate).
 */
static void
extirpolate(double *grid, size_t nfft, double x, double hr, double hi)
{
	static const double denom[LS_MFFT] = {-6.0, 2.0, -2.0, 6.0};
	double		lo,
				prod = 1.0;
	size_t		ilo;

	if (x == floor(x))
	{
		grid[2 * (size_t) x] += hr;
		grid[2 * (size_t) x + 1] += hi;
		return;
	}
	lo = trunc(x - LS_MFFT / 2);
	lo = fmax(0.0, fmin(lo, (double) (nfft - LS_MFFT)));
	ilo = (size_t) lo;
	for (int j = 0; j < LS_MFFT; j++)
		prod *= x - lo - j;
	for (int j = 0; j < LS_MFFT; j++)
	{
		double		a = prod / (denom[j] * (x - lo - j));

		grid[2 * (ilo + j)] += a * hr;
		grid[2 * (ilo + j) + 1] += a * hi;
	}
}

/*
 * sum_i h_i exp(2 pi i f t_i) at f = factor (f_min + df k), k < m, into
 * cosum (real part) and sinsum: h_i = w_i or wy_i.
 */
static void
trig_sum_fft(const LsData *d, const double *h, double f_min, double df, double factor,
			 size_t m, double *grid, size_t nfft, double *cosum, double *sinsum)
{
	double		f0 = f_min * factor,
				step = df * factor;

	memset(grid, 0, 2 * nfft * sizeof(double));
	for (size_t i = 0; i < d->n; i++)
	{
		double		v,
					s,
					x = fmod(d->t[i] * (double) nfft * step, (double) nfft);

		turn(f0, d->t[i], &v, &s);
		extirpolate(grid, nfft, x, h[i] * (1.0 - v), h[i] * s);
	}
	/* unnormalised, exp(+2 pi i jk / N); N is a power of two, so no error */
	gsl_fft_complex_radix2_backward(grid, 1, nfft);
	for (size_t k = 0; k < m; k++)
	{
		cosum[k] = grid[2 * k];
		sinsum[k] = grid[2 * k + 1];
	}
}

static LsStatus
ls_fast_grid(const LsData *d, double f_min, double df, size_t m, double *power,
			 const KernelHost *host)
{
	size_t		nfft = 1;
	double	   *grid,
			   *sums;
	LsStatus	status = LS_OK;

	while (nfft < LS_OVERSAMPLING * m)
		nfft *= 2;
	grid = host_alloc_array(host, 2 * nfft, sizeof(double));
	sums = host_alloc_array(host, 6 * m, sizeof(double));
	if (grid == NULL || sums == NULL)
	{
		host_free(host, grid);
		host_free(host, sums);
		return LS_NO_MEMORY;
	}
	/* sums: ch sh, c s, c2 s2 (m each); a poll after each FFT (a few ms, ~0.3 s at 2^23 points) */
	for (int j = 0; j < 3 && status == LS_OK; j++)
	{
		trig_sum_fft(d, j == 0 ? d->wy : d->w, f_min, df, j == 2 ? 2.0 : 1.0, m, grid, nfft,
					 sums + 2 * j * m, sums + (2 * j + 1) * m);
		if (host_poll(host))
			status = LS_INTERRUPTED;
	}
	for (size_t k = 0; status == LS_OK && k < m; k++)
	{
		LsTrigSums	z = {sums[2 * m + k], sums[3 * m + k], sums[4 * m + k], sums[5 * m + k],
		sums[k], sums[m + k]};

		power[k] = ls_fit_trig(&z, d->yy);
	}
	host_free(host, grid);
	host_free(host, sums);
	return status;
}

/* ---- entry points ---- */

static LsStatus
ls_grid_power(const LsData *d, double f_min, double df, size_t m, LsMethod method,
			  double *power, const KernelHost *host)
{
	double	   *work;
	LsStatus	status;

	if (method == LS_FAST)
		return ls_fast_grid(d, f_min, df, m, power, host);
	work = host_alloc_array(host, 4 * d->n, sizeof(double));
	if (work == NULL)
		return LS_NO_MEMORY;
	status = ls_direct_grid(d, f_min, df, m, power, work, host);
	host_free(host, work);
	return status;
}

/* The peak and the signal-to-noise of power[0..m-1] (NaN: undefined). */
static void
ls_find_peak(const double *power, size_t m, LsPeak *peak)
{
	size_t		best = 0,
				defined = 0;
	double		mean = 0.0,
				m2 = 0.0;

	for (size_t k = 0; k < m; k++)
	{
		double		delta;

		if (isnan(power[k]))
			continue;
		if (defined == 0 || power[k] > power[best])
			best = k;
		/* Welford: one pass, no cancellation */
		defined++;
		delta = power[k] - mean;
		mean += delta / (double) defined;
		m2 += delta * (power[k] - mean);
	}
	if (defined == 0)
		return;
	peak->frequency = peak->grid.f_min + peak->grid.df * (double) best;
	peak->period = 1.0 / peak->frequency;
	peak->power = power[best];
	if (defined >= 2 && m2 > 0.0)
		peak->period_s_to_n = (power[best] - mean) / sqrt(m2 / (double) (defined - 1));
}

LsStatus
ls_peak(const double *t, const double *flux, const double *dflux, size_t n,
		const LsGridOptions *opt, LsMethod method, LsPeak *peak, const KernelHost *host)
{
	LsData		d;
	double	   *block,
			   *power;
	size_t		m;
	LsStatus	status;

	peak->method = LS_AUTO;
	peak->frequency = peak->period = peak->power = peak->period_s_to_n = NAN;
	if ((status = ls_check(t, flux, dflux, n)) != LS_OK ||
		(status = ls_grid(t, n, opt, &peak->grid)) != LS_OK)
		return status;
	m = peak->grid.n_frequencies;
	if (m == 0)
		return LS_OK;
	if ((status = ls_prepare(t, flux, dflux, n, &d, &block, host)) != LS_OK)
		return status;
	if (!d.defined)
	{
		host_free(host, block);
		return LS_OK;
	}
	peak->method = method == LS_AUTO ? ls_choose(n, m) : method;
	power = host_alloc_array(host, m, sizeof(double));
	if (power == NULL)
		status = LS_NO_MEMORY;
	else
		status = ls_grid_power(&d, peak->grid.f_min, peak->grid.df, m, peak->method,
							   power, host);
	if (status == LS_OK)
		ls_find_peak(power, m, peak);
	host_free(host, power);
	host_free(host, block);
	return status;
}

LsStatus
ls_power(const double *t, const double *flux, const double *dflux, size_t n,
		 const double *freq, size_t m, double *power, const KernelHost *host)
{
	LsData		d;
	double	   *block,
			   *cs;
	size_t		meter = 0;
	LsStatus	status;

	for (size_t k = 0; k < m; k++)
	{
		if (!finite_positive(freq[k]))
			return LS_INVALID_INPUT;
		power[k] = NAN;
	}
	if ((status = ls_check(t, flux, dflux, n)) != LS_OK)
		return status;
	if (m == 0 || n == 0)
		return LS_OK;
	if ((status = ls_prepare(t, flux, dflux, n, &d, &block, host)) != LS_OK)
		return status;
	cs = d.defined ? host_alloc_array(host, 2 * n, sizeof(double)) : NULL;
	if (d.defined && cs == NULL)
		status = LS_NO_MEMORY;
	for (size_t k = 0; cs != NULL && k < m; k++)
	{
		LsVersineSums z;

		for (size_t i = 0; i < n; i++)
			turn(freq[k], centred(&d, i), &cs[i], &cs[n + i]);
		ls_sums(&d, cs, cs + n, NULL, NULL, &z);
		power[k] = ls_fit_versine(&z, d.yy);
		if (host_work(host, &meter, 10 * n))
		{
			status = LS_INTERRUPTED;
			break;
		}
	}
	host_free(host, cs);
	host_free(host, block);
	return status;
}

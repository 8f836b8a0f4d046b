/*
 * lomb_scargle.c
 *		The generalised Lomb-Scargle periodogram of one band (definitions in
 *		lomb_scargle.h).
 *
 * Cost, n points and m frequencies:
 *	 direct	O(n m): per frequency, six weighted sums over the points, ~2 ns
 *			a point.  The points' cos and sin advance from one frequency to
 *			the next by a rotation (4 multiplications, no libm call) in the
 *			same pass, and are recomputed exactly every LS_RESYNC frequencies
 *			so that rounding cannot drift.
 *	 fast	O(n + N log N), N = 2^k >= 5 m: three extirpolations (O(n) each)
 *			and three complex FFTs of N points (GSL's radix-2, in place).
 * The default grid has m ~ 12.5 n frequencies (samples_per_peak 5 and
 * nyquist_factor 5), so direct is O(n^2) there and fast O(n log n): a band
 * of 25 points takes ~22 us direct, ~80 us fast; fast wins from ~700 points
 * (docs/lomb_scargle.md), where ls_choose switches.  Memory: 7 n doubles
 * (direct), 2 N + 6 m + 3 n (fast).
 *
 * Both use times relative to the first (the power does not depend on the
 * origin, and the phases 2 pi f t stay small and exact); fluxes are scaled by
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

/* Frequencies between exact recomputations of the direct method's cos, sin. */
#define LS_RESYNC 64

/* The fast method's parameters: astropy's oversampling and Mfft. */
#define LS_OVERSAMPLING 5
#define LS_MFFT 4

/*
 * ls_choose's cost model, in ns on one core of the build machine at -O3
 * (docs/lomb_scargle.md): direct ~2 per point and frequency; fast ~5 per FFT
 * point and level (GSL's radix-2 computes its twiddles as it goes), three
 * FFTs.
 */
#define LS_COST_DIRECT 2.0
#define LS_COST_FFT 5.0

/* One band, ready for the sums. */
typedef struct LsData
{
	size_t		n;
	double	   *t;				/* t_i - t_0 */
	double	   *w;				/* normalised weights */
	double	   *wy;				/* w_i (y_i - ybar), y scaled */
	double		yy;				/* sum w (y - ybar)^2 */
	int			defined;		/* >= 3 distinct times, fluxes not all equal */
} LsData;

/* The weighted sums at one frequency. */
typedef struct LsSums
{
	double		c,
				s,
				ch,
				sh,
				c2,
				s2;
} LsSums;

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

static int
distinct_times_at_least_3(const double *t, size_t n)
{
	int			distinct = n > 0;

	for (size_t i = 1; i < n && distinct < 3; i++)
		distinct += t[i] != t[i - 1];
	return distinct >= 3;
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
	for (size_t i = 0; i < n; i++)
	{
		d->w[i] /= wsum;
		ybar += d->w[i] * ldexp(flux[i], -e);
	}
	for (size_t i = 0; i < n; i++)
	{
		double		yc = ldexp(flux[i], -e) - ybar;

		d->wy[i] = d->w[i] * yc;
		yy += d->wy[i] * yc;
	}
	d->yy = yy;
	d->defined = !equal && yy > 0.0 && distinct_times_at_least_3(t, n);
	return LS_OK;
}

/* ---- the periodogram from the sums (astropy's lombscargle_fast, step 2) ---- */

static double
ls_finish(const LsSums *z, double yy)
{
	/* the weighted (co)variances of cos and sin: sum w c^2 = (1 + C2) / 2, ... */
	double		cc = 0.5 * (1.0 + z->c2) - z->c * z->c;
	double		ss = 0.5 * (1.0 - z->c2) - z->s * z->s;
	double		cs = 0.5 * z->s2 - z->c * z->s;
	double		tr = cc + ss;
	double		det = cc * ss - cs * cs;

	if (det > LS_DEGENERATE * tr)
		return (ss * z->ch * z->ch + cc * z->sh * z->sh - 2.0 * cs * z->ch * z->sh) / (det * yy);
	/* rank 1 (one direction, eigenvalue tr): the fit along it */
	if (tr > LS_DEGENERATE)
		return (cc * z->ch * z->ch + ss * z->sh * z->sh + 2.0 * cs * z->ch * z->sh) / (tr * tr * yy);
	return 0.0;
}

/*
 * The sums over the points whose cos and sin at the frequency are c, s; then,
 * if dc is not NULL, c and s rotated by (dc, ds) to the next frequency (in
 * the same pass: the loop is bound by its loads and stores).
 */
static void
ls_sums(const LsData *d, double *c, double *s, const double *dc, const double *ds,
		LsSums *z)
{
	double		sc = 0.0,
				ss = 0.0,
				sch = 0.0,
				ssh = 0.0,
				sc2 = 0.0,
				ss2 = 0.0;

	for (size_t i = 0; i < d->n; i++)
	{
		double		ci = c[i],
					si = s[i],
					w = d->w[i],
					wy = d->wy[i];

		sc += w * ci;
		ss += w * si;
		sch += wy * ci;
		ssh += wy * si;
		sc2 += w * (ci - si) * (ci + si);
		ss2 += w * 2.0 * ci * si;
		if (dc != NULL)
		{
			c[i] = ci * dc[i] - si * ds[i];
			s[i] = si * dc[i] + ci * ds[i];
		}
	}
	z->c = sc;
	z->s = ss;
	z->ch = sch;
	z->sh = ssh;
	z->c2 = sc2;
	z->s2 = ss2;
}

/* cos and sin of 2 pi f t, the phase reduced to a fraction of a turn first. */
static void
turn(double f, double t, double *c, double *s)
{
	double		x = f * t;

	x -= nearbyint(x);
	*c = cos(TWO_PI * x);
	*s = sin(TWO_PI * x);
}

/* ---- direct ---- */

/*
 * power[k] at f_min + df k, k < m: the points' (cos, sin) rotate by df t_i a
 * step.  work: 4 n doubles.
 */
static LsStatus
ls_direct_grid(const LsData *d, double f_min, double df, size_t m, double *power,
			   double *work, const KernelHost *host)
{
	size_t		n = d->n,
				meter = 0;
	double	   *c = work,
			   *s = work + n,
			   *dc = work + 2 * n,
			   *ds = work + 3 * n;

	for (size_t i = 0; i < n; i++)
		turn(df, d->t[i], &dc[i], &ds[i]);
	for (size_t k = 0; k < m; k++)
	{
		LsSums		z;

		if (k % LS_RESYNC == 0)
			for (size_t i = 0; i < n; i++)
				turn(f_min + df * (double) k, d->t[i], &c[i], &s[i]);
		ls_sums(d, c, s, dc, ds, &z);
		power[k] = ls_finish(&z, d->yy);
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
		double		c,
					s,
					x = fmod(d->t[i] * (double) nfft * step, (double) nfft);

		turn(f0, d->t[i], &c, &s);
		extirpolate(grid, nfft, x, h[i] * c, h[i] * s);
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
		LsSums		z = {sums[2 * m + k], sums[3 * m + k], sums[k], sums[m + k],
		sums[4 * m + k], sums[5 * m + k]};

		power[k] = ls_finish(&z, d->yy);
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
		LsSums		z;

		for (size_t i = 0; i < n; i++)
			turn(freq[k], d.t[i], &cs[i], &cs[n + i]);
		ls_sums(&d, cs, cs + n, NULL, NULL, &z);
		power[k] = ls_finish(&z, d.yy);
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

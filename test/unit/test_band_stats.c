/*
 * test_band_stats.c
 *		Unit tests of the per-band statistics kernel, without a server.
 *		Prints TAP; exits non-zero when a check fails.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "band_stats.h"
#include "tap.h"


static int
close_to(double got, double want)
{
	return fabs(got - want) <= 1e-14 * fabs(want);
}

static BandStatus
stats_of(const double *flux, const double *dflux, size_t n, BandStats *out)
{
	BandObs		obs[64];

	for (size_t i = 0; i < n; i++)
	{
		obs[i].flux = flux[i];
		obs[i].dflux = dflux ? dflux[i] : 1.0;
	}
	return band_stats(obs, n, out);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* MAD by the book: sort, median, sort the deviations, median. */
static double
mad_by_sorting(const double *flux, size_t n)
{
	double		v[64],
				d[64],
				med;

	memcpy(v, flux, n * sizeof(double));
	qsort(v, n, sizeof(double), cmp_double);
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
	for (size_t i = 0; i < n; i++)
		d[i] = fabs(v[i] - med);
	qsort(d, n, sizeof(double), cmp_double);
	return n % 2 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / 2.0;
}

static void
test_closed_forms(void)
{
	const double f[] = {1, 2, 3, 10};
	const double s[] = {1, 1, 2, 1};
	const double mean = (1 + 8 + 27.0 / 4 + 1000) / (1 + 4 + 9.0 / 4 + 100);
	BandStats	st;

	check(stats_of(f, s, 4, &st) == BAND_OK, "four points: ok");
	check(st.n == 4 && st.mean == mean, "weighted mean, exact");
	check(close_to(st.std, sqrt(50.0 / 3.0) / mean), "normalised std");
	check(close_to(st.amp, 9.0 / mean), "normalised amplitude");
	check(st.mad == 1.0, "MAD of an even count");
	check(st.beyond == 0.75, "beyond 1 std");
	check(close_to(st.skew, 45.0 / pow(12.5, 1.5)), "skew m3 / m2^1.5");
}

static void
test_undefined(void)
{
	const double one[] = {5};
	const double same[] = {2, 2, 2};
	const double zero[] = {0, 0};
	const double balanced[] = {-1, 1};
	BandStats	st;

	stats_of(one, NULL, 1, &st);
	check(st.mean == 5 && isnan(st.std) && st.amp == 0 && st.mad == 0 &&
		  isnan(st.beyond) && isnan(st.skew), "one point: std, beyond, skew undefined");
	stats_of(same, NULL, 3, &st);
	check(st.std == 0 && isnan(st.skew), "constant fluxes: std 0, skew undefined");
	stats_of(zero, NULL, 2, &st);
	check(isnan(st.mean) && isnan(st.std) && isnan(st.amp) && isnan(st.beyond) &&
		  st.mad == 0, "all-zero fluxes: mean and normalised statistics undefined");
	stats_of(balanced, NULL, 2, &st);
	check(st.mean == 0 && isnan(st.std) && isnan(st.amp) && st.beyond == 0 &&
		  st.skew == 0, "mean exactly 0: normalised statistics undefined");
	check(stats_of(NULL, NULL, 0, &st) == BAND_OK && st.n == 0 && isnan(st.mean) &&
		  isnan(st.mad), "no points: everything undefined");
}

static void
test_range(void)
{
	const double f[] = {1, 2, 3, 10};
	const double s[] = {1, 1, 2, 1};
	const double tenth[] = {0.1, 0.1, 0.1};
	const double huge[] = {1e300};
	const double tiny[] = {1e-300};
	double		fs[4],
				ss[4];
	BandStats	ref,
				st;
	int			exact = 1;

	stats_of(f, s, 4, &ref);
	for (double scale = 0x1p-1000; scale < 0x1p1000; scale *= 0x1p100)
	{
		for (int i = 0; i < 4; i++)
		{
			fs[i] = f[i] * scale;
			ss[i] = s[i] * scale;
		}
		stats_of(fs, ss, 4, &st);
		if (!(st.mean == ref.mean * scale && st.mad == ref.mad * scale &&
			  st.std == ref.std && st.amp == ref.amp && st.beyond == ref.beyond &&
			  st.skew == ref.skew))
			exact = 0;
	}
	check(exact, "scaling by 2^-1000 .. 2^900 scales the results exactly (no underflow)");
	stats_of(tenth, NULL, 3, &st);
	check(st.mean == 0.1 && st.std == 0 && st.beyond == 0 && isnan(st.skew),
		  "constant 0.1: mean exact, std 0, beyond 0");
	check(stats_of(huge, tiny, 1, &st) == BAND_OUT_OF_RANGE,
		  "flux/dflux beyond double range is reported");
	check(stats_of(tiny, huge, 1, &st) == BAND_OUT_OF_RANGE,
		  "flux/dflux underflowing to zero is reported");
}

static void
test_order_and_mad(void)
{
	double		f[64],
				g[64];
	int			mad_ok = 1,
				order_ok = 1;

	srand(12345);
	for (size_t n = 1; n <= 64; n++)
	{
		BandStats	a,
					b;

		for (size_t i = 0; i < n; i++)
			f[i] = (rand() % 41 - 20) / 4.0;	/* many ties */
		for (size_t i = 0; i < n; i++)
			g[i] = f[n - 1 - i];
		stats_of(f, NULL, n, &a);
		stats_of(g, NULL, n, &b);
		if (memcmp(&a, &b, sizeof(a)) != 0)
			order_ok = 0;
		if (a.mad != mad_by_sorting(f, n))
			mad_ok = 0;
	}
	check(order_ok, "reversed input gives bit-identical statistics");
	check(mad_ok, "merge-walk MAD equals the sort-twice MAD, n = 1..64");
}

static void
test_color(void)
{
	check(band_color(100, 10) == -2.5, "colour of a factor 10 is -2.5");
	check(band_color(10, 10) == 0 && !signbit(band_color(10, 10)), "equal means: 0, not -0");
	check(isnan(band_color(-1, 10)) && isnan(band_color(10, 0)), "non-positive mean: undefined");
	check(close_to(band_color(1e-300, 1e300), 1500), "ratio outside double range");
}

int
main(void)
{
	test_closed_forms();
	test_undefined();
	test_range();
	test_order_and_mad();
	test_color();
	return tap_done();
}

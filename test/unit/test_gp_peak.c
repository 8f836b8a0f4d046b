/*
 * test_gp_peak.c
 *		Unit tests of the GP peak (gp_peak.c): the parabola's vertex against
 *		closed forms, and the refined peak of a band against a search of the
 *		GP mean on a grid 100 times finer; the half widths on hand-made
 *		grids.  Prints TAP; exits non-zero when a check fails.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gp_peak.h"
#include "tap.h"
#include "test_rng.h"
#include "kernel_host_test.h"

#define GRID 200
#define FINE (100 * (GRID - 1) + 1)
#define NMAX 40

static TestHost host_counts;
static const KernelHost host = {test_host_alloc, test_host_free, test_host_interrupted,
&host_counts};

static double
parabola(double x, double a, double xv, double c)
{
	return -a * (x - xv) * (x - xv) + c;
}

static void
test_vertex(void)
{
	/* exact parabolas, equal and unequal spacing */
	double		xs[][3] = {{1.0, 1.5, 2.0}, {0.0, 0.3, 1.7}, {-4.0, -1.0, 3.5}};
	double		xv[] = {1.3, 0.45, -0.2};

	for (int k = 0; k < 3; k++)
	{
		double		v = parabola_vertex(xs[k][0], parabola(xs[k][0], 2.0, xv[k], 5.0),
										xs[k][1], parabola(xs[k][1], 2.0, xv[k], 5.0),
										xs[k][2], parabola(xs[k][2], 2.0, xv[k], 5.0));
		char		what[80];

		snprintf(what, sizeof(what), "vertex of parabola %d (%.15g, expected %.15g)", k, v, xv[k]);
		check(fabs(v - xv[k]) < 1e-12, what);
	}
	check(parabola_vertex(0.0, 1.0, 1.0, 1.0, 2.0, 1.0) == 1.0, "flat: the middle point");
	check(parabola_vertex(0.0, 1.0, 1.0, 2.0, 2.0, 1.0) == 1.0, "symmetric: the middle point");
	check(parabola_vertex(0.0, 0.0, 1.0, 1.0, 2.0, 1.0) == 1.5, "equal right neighbour: half way");
	{
		double		v = parabola_vertex(0.0, 0.0, 1.0, 1.0, 2.0, 1.0 - 1e-300);

		check(v >= 0.0 && v <= 2.0, "stays in the bracket");
	}
}

/* A transient in n points at random times: the refined peak and a fine search. */
static void
test_band(int seed, int n)
{
	double		t[NMAX],
				y[NMAX],
				var[NMAX];
	double		grid[GRID],
				mean[GRID],
				sd[GRID];
	double		fine_t[FINE],
				fine_mean[FINE],
				fine_sd[FINE];
	double		peak_t,
				peak_mean,
				at_mean,
				at_sd,
				step,
				grid_max = -INFINITY;
	size_t		best = 0;
	GpFit		fit;
	void	   *work = malloc(gp_matern_work_size(n, FINE));
	char		what[160];

	rng_state = 0x9e3779b97f4a7c15u + (unsigned) seed;
	for (int i = 0; i < n; i++)
		t[i] = 100.0 * uniform();
	/* sorted times */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && t[j - 1] > t[j]; j--)
		{
			double		s = t[j];

			t[j] = t[j - 1];
			t[j - 1] = s;
		}
	for (int i = 0; i < n; i++)
	{
		double		x = (t[i] - 40.0) / 8.0;

		var[i] = 0.25 + uniform();
		y[i] = 20.0 * exp(-x * x) + sqrt(var[i]) * normal();
	}
	check(gp_matern_fit(t, y, var, n, &fit, work, &host) == GP_OK, "fit");
	check(gp_peak(t, y, var, n, fit.amplitude, fit.length_scale, GRID, grid, mean, sd, work,
				  &host, &peak_t, &peak_mean) == GP_OK, "peak");
	for (int j = 0; j < GRID; j++)
		grid_max = fmax(grid_max, mean[j]);
	step = (t[n - 1] - t[0]) / (GRID - 1);
	for (int j = 0; j < FINE; j++)
		fine_t[j] = t[0] + (t[n - 1] - t[0]) * j / (FINE - 1);
	check(gp_matern_predict(t, y, var, n, fit.amplitude, fit.length_scale, fine_t, FINE,
							fine_mean, fine_sd, work, &host) == GP_OK, "fine prediction");
	for (int j = 1; j < FINE; j++)
		if (fine_mean[j] > fine_mean[best])
			best = j;
	check(gp_matern_predict(t, y, var, n, fit.amplitude, fit.length_scale, &peak_t, 1,
							&at_mean, &at_sd, work, &host) == GP_OK, "prediction at the peak");

	snprintf(what, sizeof(what), "band %d: the peak flux is the GP mean at the peak time", seed);
	check(at_mean == peak_mean, what);
	snprintf(what, sizeof(what), "band %d: at least the grid's maximum (%.17g >= %.17g)", seed,
			 peak_mean, grid_max);
	check(peak_mean >= grid_max, what);
	snprintf(what, sizeof(what), "band %d: within a grid step of the fine maximum (%.9g vs %.9g)",
			 seed, peak_t, fine_t[best]);
	check(fabs(peak_t - fine_t[best]) <= step, what);
	/* the refinement: at least 10 times nearer the maximum than the grid point */
	snprintf(what, sizeof(what), "band %d: the flux 10 times nearer the fine maximum than the "
			 "grid's (%.3g against %.3g below)", seed,
			 fine_mean[best] - peak_mean, fine_mean[best] - grid_max);
	check(fine_mean[best] - peak_mean <= 0.1 * (fine_mean[best] - grid_max), what);
	free(work);
}

/* A rising band peaks at its last time, unrefined; one point at its time. */
static void
test_edges(void)
{
	double		t[5] = {0, 1, 2, 3, 4},
				y[5] = {1, 2, 3, 4, 5},
				var[5] = {0.01, 0.01, 0.01, 0.01, 0.01};
	double		grid[GRID],
				mean[GRID],
				sd[GRID],
				peak_t,
				peak_mean;
	GpFit		fit;
	void	   *work = malloc(gp_matern_work_size(5, GRID));

	check(gp_matern_fit(t, y, var, 5, &fit, work, &host) == GP_OK, "rising: fit");
	check(gp_peak(t, y, var, 5, fit.amplitude, fit.length_scale, GRID, grid, mean, sd, work,
				  &host, &peak_t, &peak_mean) == GP_OK, "rising: peak");
	check(peak_t == 4.0 && peak_mean == mean[GRID - 1], "rising: the last grid point");
	check(gp_matern_fit(t + 2, y + 2, var, 1, &fit, work, &host) == GP_OK, "one point: fit");
	check(gp_peak(t + 2, y + 2, var, 1, fit.amplitude, fit.length_scale, GRID, grid, mean, sd,
				  work, &host, &peak_t, &peak_mean) == GP_OK, "one point: peak");
	check(peak_t == 2.0 && peak_mean == mean[0], "one point: its time, the mean there");
	free(work);
}

/*
 * The half widths on a tent 10 - 3 |x - 5| over x = 0 .. 10: below 5 from
 * 3 and 7 on; at exactly half is not below; the peak time between grid
 * points; no crossing and a peak flux <= 0 are NaN.
 */
static void
test_half_widths(void)
{
	double		grid[11],
				mean[11],
				rise,
				fall;

	for (int j = 0; j < 11; j++)
	{
		grid[j] = j;
		mean[j] = 10.0 - 3.0 * fabs(j - 5.0);
	}
	gp_half_widths(grid, mean, 11, 5.0, 10.0, &rise, &fall);
	check(rise == 2.0 && fall == 2.0, "tent: 2 either side");
	gp_half_widths(grid, mean, 11, 5.25, 10.0, &rise, &fall);
	check(rise == 2.25 && fall == 1.75, "tent, peak between grid points: from the peak time");
	gp_half_widths(grid, mean, 11, 5.0, 8.0, &rise, &fall);
	check(rise == 3.0 && fall == 3.0, "mean 4 exactly half of 8: not below, the next point");
	gp_half_widths(grid + 3, mean + 3, 5, 5.0, 8.0, &rise, &fall);
	check(isnan(rise) && isnan(fall), "no grid mean below half: NaN both sides");
	gp_half_widths(grid, mean, 6, 5.0, 10.0, &rise, &fall);
	check(rise == 2.0 && isnan(fall), "peak at the grid's end: no fall");
	gp_half_widths(grid + 5, mean + 5, 6, 5.0, 10.0, &rise, &fall);
	check(isnan(rise) && fall == 2.0, "peak at the grid's start: no rise");
	gp_half_widths(grid, mean, 11, 5.0, 0.0, &rise, &fall);
	check(isnan(rise) && isnan(fall), "peak flux 0: NaN");
	gp_half_widths(grid, mean, 11, 5.0, -10.0, &rise, &fall);
	check(isnan(rise) && isnan(fall), "peak flux < 0: NaN");
	gp_half_widths(grid, mean, 11, 5.0, NAN, &rise, &fall);
	check(isnan(rise) && isnan(fall), "peak flux NaN: NaN");
}

int
main(void)
{
	test_vertex();
	for (int seed = 1; seed <= 20; seed++)
		test_band(seed, 10 + seed);
	test_edges();
	test_half_widths();
	check(host_counts.live == 0, "no allocation left");
	return tap_done();
}

/*
 * gp_peak.c
 *		The peak of a band's Gaussian-process mean (see gp_peak.h).
 */
#include "gp_peak.h"

#include <math.h>

double
parabola_vertex(double x0, double y0, double x1, double y1, double x2, double y2)
{
	double		a = (x1 - x0) * (y1 - y2);
	double		b = (x1 - x2) * (y1 - y0);
	double		den = a - b;
	double		x;

	if (!(den != 0.0))
		return x1;
	x = x1 - 0.5 * ((x1 - x0) * a - (x1 - x2) * b) / den;
	/* rounding must not take it beyond the bracket */
	return x < x0 ? x0 : (x > x2 ? x2 : x);
}

GpStatus
gp_peak(const double *t, const double *y, const double *var, size_t n,
		double amplitude, double length_scale, size_t m,
		double *grid, double *mean, double *sd, void *work,
		const KernelHost *host, double *peak_t, double *peak_mean)
{
	size_t		k = 0;
	double		tv,
				mv,
				sv;
	GpStatus	status;

	status = gp_matern_predict_grid(t, y, var, n, amplitude, length_scale, m, grid, mean,
									sd, work, host);
	if (status != GP_OK)
		return status;
	for (size_t j = 1; j < m; j++)
		if (mean[j] > mean[k])
			k = j;
	*peak_t = grid[k];
	*peak_mean = mean[k];
	if (k == 0 || k == m - 1 || !(grid[k - 1] < grid[k] && grid[k] < grid[k + 1]))
		return GP_OK;

	tv = parabola_vertex(grid[k - 1], mean[k - 1], grid[k], mean[k], grid[k + 1], mean[k + 1]);
	if (tv == grid[k])
		return GP_OK;
	status = gp_matern_predict(t, y, var, n, amplitude, length_scale, &tv, 1, &mv, &sv,
							   work, host);
	if (status != GP_OK)
		return status;
	if (mv >= mean[k])
	{
		*peak_t = tv;
		*peak_mean = mv;
	}
	return GP_OK;
}

void
gp_half_widths(const double *grid, const double *mean, size_t m,
			   double peak_t, double peak_mean, double *rise, double *fall)
{
	double		half = 0.5 * peak_mean;

	*rise = *fall = NAN;
	if (!(peak_mean > 0.0))
		return;
	for (size_t j = 0; j < m; j++)
	{
		if (!(mean[j] < half))
			continue;
		if (grid[j] < peak_t)
			*rise = peak_t - grid[j];
		else if (grid[j] > peak_t)
		{
			*fall = grid[j] - peak_t;
			return;
		}
	}
}

/*
 * gp_peak.h
 *		The peak of a band's Gaussian-process mean and its half widths: a
 *		plain-C kernel over gp_matern, no PostgreSQL types, no allocation.
 *
 * The GP (gp_matern.h, fitted hyper-parameters A and l) is predicted on the
 * grid of m times evenly spaced over the band's span (gp_matern_predict_grid,
 * gp_smooth's grid); the grid point of the largest mean (the first one on
 * ties) is refined by the vertex of the parabola through it and its two
 * neighbours, kept when the GP mean there is not lower than at the grid
 * point.  The peak is then within the grid step of the true maximum's
 * neighbourhood and its flux is the GP mean at the peak time, never the
 * parabola's value.  A peak at either end of the grid, or a band whose
 * times are all equal (the grid is one time), is not refined.
 *
 * Cost: gp_matern_predict_grid's O(n + m) and one more prediction, O(n).
 */
#ifndef ANTARES_GP_PEAK_H
#define ANTARES_GP_PEAK_H

#include <stddef.h>

#include "gp_matern.h"

/*
 * The abscissa of the vertex of the parabola through (x0, y0), (x1, y1),
 * (x2, y2), x0 < x1 < x2 and y1 >= y0, y1 >= y2: in [x0, x2].  x1 when the
 * three points are on a line (no vertex).
 */
extern double parabola_vertex(double x0, double y0, double x1, double y1, double x2, double y2);

/*
 * The peak (*peak_t, *peak_mean) of the GP mean of the band t, y, var
 * (gp_matern.h's input rules) with amplitude A and length scale l, searched
 * on a grid of m >= 2 times.  grid, mean and sd: m doubles each, left with
 * the grid prediction; work: gp_matern_work_size(n, m) bytes.
 */
extern GpStatus gp_peak(const double *t, const double *y, const double *var, size_t n,
						double amplitude, double length_scale, size_t m,
						double *grid, double *mean, double *sd, void *work,
						const KernelHost *host, double *peak_t, double *peak_mean);

/*
 * The half widths of a peak (peak_t, peak_mean) of the mean on a grid of m
 * ascending times: *rise = peak_t - the last grid time before peak_t whose
 * mean is below peak_mean / 2, *fall = the first grid time after peak_t
 * whose mean is below it - peak_t.  NaN when the mean does not fall below
 * half on that side within the grid; both NaN when peak_mean is not > 0
 * (no half of a flux <= 0).  O(m).
 */
extern void gp_half_widths(const double *grid, const double *mean, size_t m,
						   double peak_t, double peak_mean, double *rise, double *fall);

#endif							/* ANTARES_GP_PEAK_H */

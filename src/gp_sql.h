/*
 * gp_sql.h
 *		What the glue of the Gaussian-process kernel shares with other glue
 *		that fits GPs (the plots' smooth overlay): the buffered observation,
 *		its order, and the kernel's status as an ERROR.
 */
#ifndef ANTARES_GP_SQL_H
#define ANTARES_GP_SQL_H

#include "postgres.h"

#include "gp_matern.h"
#include "obs_buffer.h"

/* gp_smooth's grid when none is given: 200 times over the band's span. */
#define GP_DEFAULT_GRID 200

/* One observation of one band. */
typedef struct GpObs
{
	double		t;
	double		flux;
	double		dflux;
} GpObs;

/* GpObs buffers ordered by t, then flux, then dflux: ties have one order. */
extern const ObsKind gp_obs_kind;

/* dflux^2, or an ERROR when the square leaves double range. */
extern double gp_variance(double dflux);

/* ERROR when the sorted times t[0..n-1] span more than a double holds. */
extern void gp_check_span(const double *t, Size n);

/* ERROR for a status other than GP_OK. */
extern void report_gp_status(GpStatus status);

#endif							/* ANTARES_GP_SQL_H */

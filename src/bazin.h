/*
 * bazin.h
 *		The Bazin supernova model fitted to one band's observations by
 *		weighted nonlinear least squares (bazin.c).
 *
 * The model (Bazin et al. 2009, with the minus sign of the rise exponent
 * that its Eq. (1) lacks; the light-curve package's BazinFit):
 *
 *	 f(t) = A e^{-(t - t0)/tau_fall} / (1 + e^{-(t - t0)/tau_rise}) + B
 *
 * fitted to (t_i, flux_i, dflux_i), i < n, by minimising
 *
 *	 chi2 = sum_i ((f(t_i) - flux_i) / dflux_i)^2.
 *
 * Bounds, all from the data (t_first, t_last: the first and last time;
 * span = t_last - t_first; M = max(span, 50 d); F = max(flux) - min(flux)):
 *
 *	 0 < A < 100 F,  B free,  t_first - M < t0 < t_last + M,
 *	 0.01 d < tau_rise < 0.01 d + 10 M,
 *	 tau_rise + 0.01 d < tau_fall < tau_rise + 0.01 d + 10 M.
 *
 * They hold by construction: the solver moves free parameters u, and
 * p = lo + (hi - lo) / (1 + e^{-u}) for A, t0, tau_rise and
 * tau_fall - tau_rise (B = u itself).  tau_fall > tau_rise keeps the model's
 * fraction below 1 at every t (so no value can overflow) and gives it one
 * peak.  In doubles a logistic map reaches its bound: a parameter may end
 * on it (the data wanted to go further: a rise shorter than the sampling, a
 * decline seen without its peak).
 *
 * Starting point (BAZIN_START_*): tau_rise = 3 d and tau_fall = 20 d, the
 * rise and decline of a typical supernova in this model; B = the 10%
 * quantile of the fluxes (numpy's default linear interpolation), the
 * baseline the transient stands on; t0 such that the model's peak falls on
 * the first observation of the largest flux, t0 = t_max - tau_rise
 * ln(tau_fall / tau_rise - 1); A such that the model's peak equals that
 * flux, A = (flux_max - B) / g_peak (at least F / 100 / g_peak).
 *
 * Outputs of a converged fit:
 *	 amplitude .. fall_time: A, B, t0, tau_rise, tau_fall at the optimum;
 *	 *_err: square roots of the diagonal of (J^T J)^-1, J the Jacobian of
 *		the weighted residuals (f(t_i) - flux_i) / dflux_i with respect to
 *		(A, B, t0, tau_rise, tau_fall) at the optimum: dflux taken as true
 *		1-sigma errors, NOT scaled by the reduced chi2 (scipy's curve_fit with
 *		absolute_sigma=True; multiply by sqrt(reduced_chi2) for the other
 *		convention).  NaN when J's columns (scaled to unit norm) are
 *		dependent to a relative 1e-10 (a parameter the data do not fix);
 *	 reduced_chi2: chi2 / (n - 5);
 *	 peak_time: t0 + tau_rise ln(tau_fall / tau_rise - 1), the model's maximum
 *		(it has one since tau_fall > tau_rise); peak_flux: f(peak_time).
 */
#ifndef ANTARES_BAZIN_H
#define ANTARES_BAZIN_H

#include <stddef.h>

#include "kernel_host.h"

#define BAZIN_N_PARAMS		5
#define BAZIN_MIN_POINTS	6	/* n - 5 >= 1 degree of freedom */
#define BAZIN_MAX_ITER		500
#define BAZIN_START_RISE	3.0 /* days */
#define BAZIN_START_FALL	20.0	/* days */
#define BAZIN_TAU_MIN		0.01	/* days */
#define BAZIN_MIN_MARGIN	50.0	/* days: M is at least this */

/* What the kernel could do: an error, or a result (whose outcome says more). */
typedef enum BazinStatus
{
	BAZIN_OK,
	BAZIN_NO_MEMORY,
	BAZIN_INTERRUPTED
} BazinStatus;

/*
 * How the fit ended.  Only BAZIN_CONVERGED has parameters; every other
 * outcome leaves all numbers NaN (n and iterations are always set).
 */
typedef enum BazinOutcome
{
	BAZIN_CONVERGED,			/* a convergence test passed (bazin.c) */
	BAZIN_TOO_FEW_POINTS,		/* n < 6 */
	BAZIN_TOO_FEW_TIMES,		/* fewer than 5 distinct times: 5 parameters undetermined */
	BAZIN_CONSTANT_FLUX,		/* every flux equal: no transient to fit */
	BAZIN_MAX_ITERATIONS,		/* BAZIN_MAX_ITER iterations without convergence */
	BAZIN_FAILED				/* a non-finite result or another GSL error */
} BazinOutcome;

typedef struct BazinFit
{
	size_t		n;
	BazinOutcome outcome;
	int			iterations;
	double		amplitude,
				baseline,
				reference_time,
				rise_time,
				fall_time;
	double		amplitude_err,
				baseline_err,
				reference_time_err,
				rise_time_err,
				fall_time_err;
	double		chi2,
				reduced_chi2,
				peak_time,
				peak_flux;
} BazinFit;

/* The outcome's name, as the SQL status column shows it. */
extern const char *bazin_outcome_name(BazinOutcome outcome);

/* The model at t. */
extern double bazin_model(double t, double amplitude, double baseline,
						  double reference_time, double rise_time, double fall_time);

/*
 * Fits one band: t ascending (ties in any order), flux finite, dflux > 0
 * finite.  Fills *fit unless the status is not BAZIN_OK.  Memory: GSL's
 * workspace (malloc, freed before returning) and 7 n doubles from host; the
 * host is polled before every iteration and must return (no longjmp).
 */
extern BazinStatus bazin_fit(const double *t, const double *flux, const double *dflux,
							 size_t n, BazinFit *fit, const KernelHost *host);

#endif							/* ANTARES_BAZIN_H */

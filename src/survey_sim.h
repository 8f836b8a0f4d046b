/*
 * survey_sim.h
 *		A simulated LSST-like survey: cadence, noise and four classes of light
 *		curves, one object at a time.  A plain-C kernel (GSL random variates),
 *		no PostgreSQL types, no allocation: the caller owns every buffer; the
 *		host (kernel_host.h) is polled once per object.
 *
 * Reproducibility.  Every object has its own random stream, keyed by
 * (seed, objid): a xoshiro256** generator (as a GSL generator type) whose
 * 256-bit state comes from two splitmix64 sequences, one of the seed and
 * one of the objid.  An object's rows therefore do not depend on which
 * other objects are simulated, in which order, or in which process: any
 * subset, any split between parallel workers or servers gives the same
 * rows.  (GSL's mt19937 would take only 32 bits of seed; 10^5 objects would
 * then share streams by the birthday bound.)  Draws are taken in a fixed
 * order: class, cadence, class parameters, noise.
 *
 * Units.  t in MJD (days); fluxes in FLUXCAL, zero point 27.5
 * (m = 27.5 - 2.5 log10 flux), the unit of the shipped SNANA light curves.
 *
 * Cadence (per object: its sky position sets its seasons).
 *	 - Survey: [start_mjd, start_mjd + 365.25 years).
 *	 - Seasons: one a year, [p + k 365.25, p + k 365.25 + L), p uniform in
 *	   [start_mjd - 365.25, start_mjd), L uniform in [150, 210] days, clipped
 *	   to the survey.
 *	 - Nights in a season: from the first whole MJD in it, the next candidate
 *	   night is 1 + Poisson(1.5) nights later (mean 2.5); a candidate night is
 *	   lost to weather with probability 0.2, and with probability 0.02 a bad
 *	   spell loses it and the next 2..9 nights.
 *	 - An observed night has 1, 2 or 3 visits (probabilities 0.3, 0.5, 0.2)
 *	   in distinct bands drawn without replacement with weights u 0.07,
 *	   g 0.10, r 0.22, i 0.22, z 0.20, y 0.19 (LSST's split of visits); the
 *	   first visit at night + U(0.02, 0.32) d (the Chilean night in UTC),
 *	   each next one U(0.015, 0.035) d (20-50 minutes) later.  Times strictly
 *	   increase within an object.
 *	 Measured mean: SURVEY_OBS_PER_YEAR observations a year (unit test).
 *
 * Noise.  Each visit has a 5-sigma depth m5 = m5_b + N(0, 0.25) with LSST's
 * single-visit m5_b: u 23.7, g 24.97, r 24.52, i 24.13, z 23.56, y 22.55.
 * With f5 = 10^(-0.4 (m5 - 27.5)) and the true flux f:
 *	 dflux^2 = (f5 / 5)^2 + SURVEY_SOURCE_GAIN max(f, 0) + (SURVEY_CALIB_FLOOR f)^2
 *	 flux = f + dflux N(0, 1)
 * (sky, the source's Poisson-like term, a 0.5% calibration floor); the
 * reported dflux is the true standard deviation, so (flux - f) / dflux is
 * exactly N(0, 1), and faint sources give negative fluxes.
 *
 * Classes and labels.  Each object's class is drawn with the given weights
 * (all equal by default).  Per-band colours: a class's base offset c_b (mag
 * relative to r, below) plus the object's own N(0, 0.1) per band (none for
 * r, the reference), giving F_b = F_r 10^(-0.4 c_b).  Variability scales
 * by band as s_b = 1.3, 1.15, 1, 0.9, 0.8, 0.75 (u .. y): bluer bands vary
 * more.
 *	 0 supernova-like transient (Bazin et al. 2009):
 *	   f_b(t) = A_b exp(-(t - t0) / tfall_b) / (1 + exp(-(t - t0) / trise)),
 *	   A_r from r magnitude U(19, 23.5), trise U(1, 6) d, tfall U(15, 60) d,
 *	   tfall_b = tfall (1 + 0.15 (b - 2)) (redder bands decline slower, b = 0
 *	   for u), t0 = a random epoch of the object's cadence + U(-10, 10) d
 *	   (transients a survey alerts on are those it saw);
 *	   c_b = 0.8, 0.2, 0, 0.1, 0.2, 0.3.
 *	 1 periodic variable: f_b(t) = F_b (1 + a s_b w(t / P + phi)), P
 *	   log-uniform in [0.1, 100] d, a U(0.05, 0.5), phi U(0, 1), w the
 *	   sinusoid sin(2 pi x) or (probability 1/2) the sawtooth 1 - 2 frac(x)
 *	   (a jump up, a linear decline: RR Lyrae-like); F_r from r magnitude
 *	   U(16, 22); c_b = 1.2, 0.4, 0, -0.15, -0.25, -0.3.
 *	 2 stochastic source: a damped random walk (Ornstein-Uhlenbeck process)
 *	   in magnitudes, f_b(t) = F_b 10^(-0.4 s_b y(t)), y stationary with mean
 *	   0, standard deviation sigma U(0.05, 0.3) mag, covariance
 *	   sigma^2 exp(-|dt| / tau), tau log-uniform in [5, 500] d; sampled
 *	   exactly at the irregular times: y_1 ~ N(0, sigma^2), y_{k+1} =
 *	   y_k e^(-d/tau) + sigma sqrt(1 - e^(-2 d/tau)) N(0, 1), d the gap; one y
 *	   for all bands; F_r from r magnitude U(17, 22);
 *	   c_b = 0.3, 0.15, 0, -0.05, -0.1, -0.15 (quasar-like).
 *	 3 flat source with rare flares: f_b(t) = F_b (1 + e_b sum_j A_j g_j(t)),
 *	   flares at times uniform over the survey, their number Poisson with
 *	   mean rate years (rate U(0.5, 3) a year; at most SURVEY_MAX_FLARES),
 *	   A_j log-uniform in [0.3, 10], g_j = 0 before t_j - r_j, a linear rise
 *	   (t - t_j + r_j) / r_j to 1 at t_j, exp(-(t - t_j) / d_j) after,
 *	   r_j U(0.01, 0.1) d, d_j log-uniform in [0.2, 5] d; e_b = 5, 2.5, 1,
 *	   0.5, 0.3, 0.2 (flares are blue); F_r from r magnitude U(17, 22);
 *	   c_b = 4, 1.5, 0, -1, -1.5, -1.8 (an M dwarf's quiescent colours).
 *
 * Cost: O(n) per object of n observations (O(n F) for a flaring source with
 * F flares, F <= SURVEY_MAX_FLARES), memory O(1) beyond the caller's buffer
 * of survey_max_obs(years) observations; ~100 ns an observation on one core.
 */
#ifndef ANTARES_SURVEY_SIM_H
#define ANTARES_SURVEY_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "kernel_host.h"

#define SURVEY_NBANDS 6
#define SURVEY_NCLASSES 4
#define SURVEY_MAX_FLARES 64
#define SURVEY_MAX_YEARS 100.0
#define SURVEY_ZERO_POINT 27.5
#define SURVEY_SOURCE_GAIN 0.05
#define SURVEY_CALIB_FLOOR 0.005
/* Mean observations per object-year of the cadence above (measured over
 * 4000 three-year objects: 103.4; the unit test holds it to 3%). */
#define SURVEY_OBS_PER_YEAR 103.0

typedef enum SurveyClass
{
	SURVEY_TRANSIENT = 0,		/* supernova-like, Bazin */
	SURVEY_PERIODIC = 1,
	SURVEY_STOCHASTIC = 2,		/* damped random walk */
	SURVEY_FLARING = 3			/* flat, rare flares */
} SurveyClass;

typedef enum SurveyStatus
{
	SURVEY_OK = 0,
	SURVEY_BAD_YEARS,			/* years not in (0, SURVEY_MAX_YEARS] */
	SURVEY_BAD_START,			/* start_mjd not finite */
	SURVEY_BAD_WEIGHTS,			/* a weight < 0 or not finite, or all 0 */
	SURVEY_INTERRUPTED			/* the host said stop */
} SurveyStatus;

/* "ugrizy": band b's name is survey_band_names[b]. */
extern const char survey_band_names[SURVEY_NBANDS + 1];

typedef struct SurveyConfig
{
	uint64_t	seed;
	double		years;			/* survey length, (0, SURVEY_MAX_YEARS] */
	double		start_mjd;		/* first night */
	double		class_weights[SURVEY_NCLASSES];	/* >= 0, not all 0 */
} SurveyConfig;

typedef struct SurveyObs
{
	double		t;
	double		flux;
	double		dflux;
	double		true_flux;		/* the model f(t), without noise */
	int			band;			/* 0 .. 5 = u .. y */
} SurveyObs;

/* An object's drawn parameters: what the light curve was made from. */
typedef struct SurveyTruth
{
	SurveyClass label;
	double		season_start;	/* p: the season of year k starts at p + 365.25 k */
	double		season_length;	/* L, days */
	double		colour[SURVEY_NBANDS];	/* c_b + the object's jitter, mag relative to r */
	double		base_flux[SURVEY_NBANDS];	/* A_b (transient) or F_b */
	/* transient */
	double		t0,
				trise,
				tfall;			/* tfall of r; tfall_b = tfall (1 + 0.15 (b - 2)) */
	/* periodic */
	double		period,
				phase,
				amplitude;		/* a */
	int			sawtooth;		/* 0: sinusoid */
	/* stochastic */
	double		tau,
				sigma;
	/* flaring */
	double		flare_rate;		/* per year */
	int			n_flares;
	double		flare_t[SURVEY_MAX_FLARES],
				flare_amp[SURVEY_MAX_FLARES],
				flare_rise[SURVEY_MAX_FLARES],
				flare_decay[SURVEY_MAX_FLARES];
} SurveyTruth;

/* Defaults: 3 years from MJD 60000, all classes equally likely. */
extern void survey_default_config(SurveyConfig *cfg, uint64_t seed);

extern SurveyStatus survey_check_config(const SurveyConfig *cfg);

/* The most observations one object can have in a survey of `years` years. */
extern size_t survey_max_obs(double years);

/*
 * Simulates object objid of the survey cfg (which passed
 * survey_check_config): writes its observations, in increasing t, to obs
 * (room for survey_max_obs(cfg->years)), their number to *n_obs (possibly
 * 0: a season can miss a short survey) and, if truth is not NULL, its
 * parameters.  First polls host, and returns SURVEY_INTERRUPTED, writing
 * nothing, when it says stop.  One poll per object: an object is at most
 * survey_max_obs(SURVEY_MAX_YEARS) slots, and its ~10^4 observations of
 * 100 years (~1 ms) fewer than KERNEL_POLL_UNITS; for shorter surveys the
 * polls come more often than kernel_host.h asks, at ~2 ns an object of at
 * least ~10 us.
 */
extern SurveyStatus survey_simulate_object(const SurveyConfig *cfg, uint64_t objid,
										   const KernelHost *host, SurveyObs *obs,
										   size_t *n_obs, SurveyTruth *truth);

/* The noiseless flux of an object with parameters truth in band b at time t
 * (the stochastic class has no closed form: its y is sampled; returns F_b). */
extern double survey_model_flux(const SurveyTruth *truth, int band, double t);

#endif							/* ANTARES_SURVEY_SIM_H */

/*
 * survey_sim.c
 *		The survey simulator's kernel (model and cost: survey_sim.h).
 *
 * One object: a random stream keyed by (seed, objid), then in this order
 * the class, the cadence (times, bands, each visit's depth), the class's
 * parameters, the noiseless fluxes and the noise.  Nothing is allocated;
 * the generator lives on the stack.
 */
#include "survey_sim.h"
#include "splitmix64.h"

#include <math.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

const char	survey_band_names[SURVEY_NBANDS + 1] = "ugrizy";

#define YEAR 365.25
#define TWO_PI 6.283185307179586476925286766559
#define R_BAND 2

/* LSST single-visit 5-sigma depths (SMTN-002), and how they scatter per visit. */
static const double m5_median[SURVEY_NBANDS] = {23.70, 24.97, 24.52, 24.13, 23.56, 22.55};
#define M5_SCATTER 0.25
/* LSST's share of visits per band: which bands a night observes. */
static const double band_weight[SURVEY_NBANDS] = {0.07, 0.10, 0.22, 0.22, 0.20, 0.19};
/* Variability by band (bluer varies more) and flare contrast by band. */
static const double variability_scale[SURVEY_NBANDS] = {1.3, 1.15, 1.0, 0.9, 0.8, 0.75};
static const double flare_contrast[SURVEY_NBANDS] = {5.0, 2.5, 1.0, 0.5, 0.3, 0.2};
/* Base colours, mag relative to r, per class. */
static const double class_colour[SURVEY_NCLASSES][SURVEY_NBANDS] = {
	{0.8, 0.2, 0.0, 0.1, 0.2, 0.3},		/* transient */
	{1.2, 0.4, 0.0, -0.15, -0.25, -0.3},	/* periodic */
	{0.3, 0.15, 0.0, -0.05, -0.1, -0.15},	/* stochastic */
	{4.0, 1.5, 0.0, -1.0, -1.5, -1.8},	/* flaring (M dwarf) */
};
#define COLOUR_SCATTER 0.1

/* Cadence constants (survey_sim.h). */
#define SEASON_MIN 150.0
#define SEASON_SPREAD 60.0
#define GAP_POISSON_MEAN 1.5
#define P_BAD_SPELL 0.02
#define P_WEATHER 0.2
#define SPELL_MIN_EXTRA 2		/* a spell loses the night and 2..9 more */
#define SPELL_EXTRA_CHOICES 8
#define FIRST_VISIT_MIN 0.02
#define FIRST_VISIT_SPREAD 0.30
#define VISIT_GAP_MIN 0.015
#define VISIT_GAP_SPREAD 0.020
#define MAX_VISITS 3

/* ---- the random stream: xoshiro256** as a GSL generator type ---- */

typedef struct Xoshiro
{
	uint64_t	s[4];
} Xoshiro;

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
xoshiro_next(Xoshiro *x)
{
	uint64_t   *s = x->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* The state of the stream of (seed, objid): two splitmix64 sequences mixed. */
static void
xoshiro_key(Xoshiro *x, uint64_t seed, uint64_t objid)
{
	uint64_t	a = seed;
	uint64_t	b = objid ^ 0x6a09e667f3bcc909ULL;

	for (int i = 0; i < 4; i++)
		x->s[i] = splitmix64_next(&a) ^ rotl(splitmix64_next(&b), 23 + 8 * i);
	if ((x->s[0] | x->s[1] | x->s[2] | x->s[3]) == 0)
		x->s[0] = 1;			/* the one state xoshiro cannot leave */
}

/* GSL's interface: set (unused: the glue keys streams with xoshiro_key), get, get_double. */
static void
xoshiro_set(void *state, unsigned long int seed)
{
	xoshiro_key(state, seed, 0);
}

static unsigned long int
xoshiro_get(void *state)
{
	return (unsigned long int) (xoshiro_next(state) >> 32);
}

static double
xoshiro_get_double(void *state)
{
	return (double) (xoshiro_next(state) >> 11) * 0x1.0p-53;
}

static const gsl_rng_type xoshiro_type = {
	"xoshiro256**", 0xffffffffUL, 0, sizeof(Xoshiro),
	xoshiro_set, xoshiro_get, xoshiro_get_double
};

/* ---- configuration ---- */

void
survey_default_config(SurveyConfig *cfg, uint64_t seed)
{
	cfg->seed = seed;
	cfg->years = 3.0;
	cfg->start_mjd = 60000.0;
	for (int c = 0; c < SURVEY_NCLASSES; c++)
		cfg->class_weights[c] = 1.0;
}

SurveyStatus
survey_check_config(const SurveyConfig *cfg)
{
	double		total = 0.0;

	if (!(cfg->years > 0.0 && cfg->years <= SURVEY_MAX_YEARS))
		return SURVEY_BAD_YEARS;
	if (!isfinite(cfg->start_mjd))
		return SURVEY_BAD_START;
	for (int c = 0; c < SURVEY_NCLASSES; c++)
	{
		if (!(isfinite(cfg->class_weights[c]) && cfg->class_weights[c] >= 0.0))
			return SURVEY_BAD_WEIGHTS;
		total += cfg->class_weights[c];
	}
	return total > 0.0 && isfinite(total) ? SURVEY_OK : SURVEY_BAD_WEIGHTS;
}

/* At most one observed night per calendar night, MAX_VISITS visits each. */
size_t
survey_max_obs(double years)
{
	return MAX_VISITS * ((size_t) ceil(YEAR * years) + 2);
}

/* ---- draws ---- */

static double
uniform(gsl_rng *r, double lo, double hi)
{
	return lo + (hi - lo) * gsl_rng_uniform(r);
}

static double
log_uniform(gsl_rng *r, double lo, double hi)
{
	return exp(uniform(r, log(lo), log(hi)));
}

static double
flux_of_mag(double m)
{
	return pow(10.0, -0.4 * (m - SURVEY_ZERO_POINT));
}

/* An index drawn with weights w[0..n-1] (sum > 0; zero weights never drawn). */
static int
draw_weighted(gsl_rng *r, const double *w, int n)
{
	double		total = 0.0,
				u;

	for (int i = 0; i < n; i++)
		total += w[i];
	u = gsl_rng_uniform(r) * total;
	for (int i = 0; i < n; i++)
	{
		if (w[i] > 0.0 && u < w[i])
			return i;
		u -= w[i];
	}
	/* rounding left u >= the last weight: the last index with a weight */
	for (int i = n - 1; i >= 0; i--)
		if (w[i] > 0.0)
			return i;
	return 0;
}

/*
 * The cadence: times and bands of the observations, in increasing t, each
 * visit's 5-sigma depth parked in dflux until the noise is drawn.
 */
static size_t
draw_cadence(gsl_rng *r, const SurveyConfig *cfg, SurveyTruth *truth, SurveyObs *obs)
{
	double		start = cfg->start_mjd;
	double		end = start + YEAR * cfg->years;
	size_t		n = 0;

	truth->season_start = start - YEAR + YEAR * gsl_rng_uniform(r);
	truth->season_length = SEASON_MIN + SEASON_SPREAD * gsl_rng_uniform(r);
	for (int k = 0;; k++)
	{
		double		s0 = truth->season_start + YEAR * k;
		double		lo = fmax(s0, start);
		double		hi = fmin(s0 + truth->season_length, end);
		double		night;

		if (s0 >= end)
			break;
		/* nights [night, night + 1) wholly inside the season and the survey */
		for (night = ceil(lo); night + 1.0 <= hi;)
		{
			double		u = gsl_rng_uniform(r);
			double		w[SURVEY_NBANDS];
			int			visits;
			double		t;

			if (u < P_BAD_SPELL)
			{
				night += 1.0 + SPELL_MIN_EXTRA + gsl_rng_uniform_int(r, SPELL_EXTRA_CHOICES);
				continue;
			}
			if (u >= P_BAD_SPELL + P_WEATHER)
			{
				u = gsl_rng_uniform(r);
				visits = u < 0.3 ? 1 : u < 0.8 ? 2 : 3;
				memcpy(w, band_weight, sizeof(w));
				t = night + FIRST_VISIT_MIN + FIRST_VISIT_SPREAD * gsl_rng_uniform(r);
				for (int v = 0; v < visits; v++)
				{
					int			b = draw_weighted(r, w, SURVEY_NBANDS);

					w[b] = 0.0;	/* distinct bands in a night */
					if (v > 0)
						t += VISIT_GAP_MIN + VISIT_GAP_SPREAD * gsl_rng_uniform(r);
					obs[n].t = t;
					obs[n].band = b;
					obs[n].dflux = m5_median[b] + M5_SCATTER * gsl_ran_gaussian_ziggurat(r, 1.0);
					n++;
				}
			}
			night += 1.0 + gsl_ran_poisson(r, GAP_POISSON_MEAN);
		}
	}
	return n;
}

static void
draw_colours(gsl_rng *r, SurveyTruth *truth, double f_r)
{
	for (int b = 0; b < SURVEY_NBANDS; b++)
	{
		truth->colour[b] = class_colour[truth->label][b];
		if (b != R_BAND)
			truth->colour[b] += COLOUR_SCATTER * gsl_ran_gaussian_ziggurat(r, 1.0);
		truth->base_flux[b] = f_r * pow(10.0, -0.4 * truth->colour[b]);
	}
}

static void
draw_parameters(gsl_rng *r, const SurveyConfig *cfg, SurveyTruth *truth,
				const SurveyObs *obs, size_t n)
{
	double		start = cfg->start_mjd;
	double		span = YEAR * cfg->years;

	switch (truth->label)
	{
		case SURVEY_TRANSIENT:
			draw_colours(r, truth, flux_of_mag(uniform(r, 19.0, 23.5)));
			truth->trise = uniform(r, 1.0, 6.0);
			truth->tfall = uniform(r, 15.0, 60.0);
			truth->t0 = (n > 0 ? obs[gsl_rng_uniform_int(r, n)].t : start + span * gsl_rng_uniform(r))
				+ uniform(r, -10.0, 10.0);
			break;
		case SURVEY_PERIODIC:
			draw_colours(r, truth, flux_of_mag(uniform(r, 16.0, 22.0)));
			truth->period = log_uniform(r, 0.1, 100.0);
			truth->amplitude = uniform(r, 0.05, 0.5);
			truth->phase = gsl_rng_uniform(r);
			truth->sawtooth = gsl_rng_uniform(r) < 0.5;
			break;
		case SURVEY_STOCHASTIC:
			draw_colours(r, truth, flux_of_mag(uniform(r, 17.0, 22.0)));
			truth->tau = log_uniform(r, 5.0, 500.0);
			truth->sigma = uniform(r, 0.05, 0.3);
			break;
		case SURVEY_FLARING:
			{
				unsigned int k;

				draw_colours(r, truth, flux_of_mag(uniform(r, 17.0, 22.0)));
				truth->flare_rate = uniform(r, 0.5, 3.0);
				k = gsl_ran_poisson(r, truth->flare_rate * cfg->years);
				truth->n_flares = k > SURVEY_MAX_FLARES ? SURVEY_MAX_FLARES : (int) k;
				for (int j = 0; j < truth->n_flares; j++)
				{
					truth->flare_t[j] = start + span * gsl_rng_uniform(r);
					truth->flare_amp[j] = log_uniform(r, 0.3, 10.0);
					truth->flare_rise[j] = uniform(r, 0.01, 0.1);
					truth->flare_decay[j] = log_uniform(r, 0.2, 5.0);
				}
				break;
			}
	}
}

double
survey_model_flux(const SurveyTruth *truth, int band, double t)
{
	double		f = truth->base_flux[band];

	switch (truth->label)
	{
		case SURVEY_TRANSIENT:
			{
				double		x = t - truth->t0;
				double		tfall = truth->tfall * (1.0 + 0.15 * (band - R_BAND));

				/*
				 * exp(-x/tfall) / (1 + exp(-x/trise)); before t0 divided through
				 * by exp(-x/trise) so that nothing overflows far from the peak
				 * (tfall > trise).
				 */
				if (x >= 0.0)
					return f * exp(-x / tfall) / (1.0 + exp(-x / truth->trise));
				return f * exp(x / truth->trise - x / tfall) / (exp(x / truth->trise) + 1.0);
			}
		case SURVEY_PERIODIC:
			{
				double		x = t / truth->period + truth->phase;
				double		w = truth->sawtooth ? 1.0 - 2.0 * (x - floor(x)) : sin(TWO_PI * x);

				return f * (1.0 + truth->amplitude * variability_scale[band] * w);
			}
		case SURVEY_STOCHASTIC:
			return f;
		case SURVEY_FLARING:
			{
				double		sum = 0.0;

				for (int j = 0; j < truth->n_flares; j++)
				{
					double		x = t - truth->flare_t[j];

					if (x >= 0.0)
						sum += truth->flare_amp[j] * exp(-x / truth->flare_decay[j]);
					else if (x >= -truth->flare_rise[j])
						sum += truth->flare_amp[j] * (x + truth->flare_rise[j]) / truth->flare_rise[j];
				}
				return f * (1.0 + flare_contrast[band] * sum);
			}
	}
	return f;
}

SurveyStatus
survey_simulate_object(const SurveyConfig *cfg, uint64_t objid, const KernelHost *host,
					   SurveyObs *obs, size_t *n_obs, SurveyTruth *truth_out)
{
	SurveyTruth local;
	SurveyTruth *truth = truth_out ? truth_out : &local;
	Xoshiro		state;
	gsl_rng		rng = {&xoshiro_type, &state};
	gsl_rng    *r = &rng;
	size_t		n;

	if (host_poll(host))
		return SURVEY_INTERRUPTED;
	xoshiro_key(&state, cfg->seed, objid);
	memset(truth, 0, sizeof(*truth));
	truth->label = (SurveyClass) draw_weighted(r, cfg->class_weights, SURVEY_NCLASSES);
	n = draw_cadence(r, cfg, truth, obs);
	draw_parameters(r, cfg, truth, obs, n);

	if (truth->label == SURVEY_STOCHASTIC)
	{
		/* the OU process sampled exactly at the observation times */
		double		y = truth->sigma * gsl_ran_gaussian_ziggurat(r, 1.0);

		for (size_t i = 0; i < n; i++)
		{
			if (i > 0)
			{
				double		decay = exp(-(obs[i].t - obs[i - 1].t) / truth->tau);

				y = y * decay + truth->sigma * sqrt(1.0 - decay * decay) *
					gsl_ran_gaussian_ziggurat(r, 1.0);
			}
			obs[i].true_flux = truth->base_flux[obs[i].band] *
				pow(10.0, -0.4 * variability_scale[obs[i].band] * y);
		}
	}
	else
		for (size_t i = 0; i < n; i++)
			obs[i].true_flux = survey_model_flux(truth, obs[i].band, obs[i].t);

	for (size_t i = 0; i < n; i++)
	{
		double		f = obs[i].true_flux;
		double		sky = flux_of_mag(obs[i].dflux) / 5.0;	/* dflux holds m5 */
		double		floor_term = SURVEY_CALIB_FLOOR * f;

		obs[i].dflux = sqrt(sky * sky + SURVEY_SOURCE_GAIN * fmax(f, 0.0) + floor_term * floor_term);
		obs[i].flux = f + obs[i].dflux * gsl_ran_gaussian_ziggurat(r, 1.0);
	}
	*n_obs = n;
	return SURVEY_OK;
}

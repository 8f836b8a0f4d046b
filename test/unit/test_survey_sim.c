/*
 * test_survey_sim.c
 *		Unit tests of the survey simulator's kernel, without a server: the
 *		configuration checks, reproducibility per (seed, objid) whatever else
 *		is simulated, the cadence's rules (survey window, seasons, nights,
 *		visits, bands), the noise law (standardised residuals N(0, 1)), each
 *		class's model against its closed form, the damped random walk's lag-1
 *		correlation, class frequencies and the mean number of observations a
 *		year that SURVEY_OBS_PER_YEAR states.  Prints TAP; exits non-zero when
 *		a check fails.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_host_test.h"
#include "survey_sim.h"
#include "tap.h"

#define YEAR 365.25

/* The simulator only polls the host; polls count here. */
static TestHost host_counts;
static const KernelHost host = {test_host_alloc, test_host_free, test_host_interrupted,
&host_counts};

/* survey_simulate_object's observation count, which must succeed. */
static size_t
simulate(const SurveyConfig *cfg, uint64_t objid, SurveyObs *obs, SurveyTruth *truth)
{
	size_t		n = 0;

	if (survey_simulate_object(cfg, objid, &host, obs, &n, truth) != SURVEY_OK)
	{
		fprintf(stderr, "survey_simulate_object failed\n");
		exit(2);
	}
	return n;
}

static SurveyObs *
obs_buffer(const SurveyConfig *cfg)
{
	SurveyObs  *obs = malloc(survey_max_obs(cfg->years) * sizeof(SurveyObs));

	if (obs == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return obs;
}

static void
test_config(void)
{
	SurveyConfig cfg;

	survey_default_config(&cfg, 1);
	check(survey_check_config(&cfg) == SURVEY_OK && cfg.years == 3.0 && cfg.start_mjd == 60000.0,
		  "defaults: 3 years from MJD 60000, valid");
	cfg.years = 0.0;
	check(survey_check_config(&cfg) == SURVEY_BAD_YEARS, "years 0 refused");
	cfg.years = SURVEY_MAX_YEARS + 1.0;
	check(survey_check_config(&cfg) == SURVEY_BAD_YEARS, "years above the maximum refused");
	cfg.years = NAN;
	check(survey_check_config(&cfg) == SURVEY_BAD_YEARS, "years NaN refused");
	survey_default_config(&cfg, 1);
	cfg.start_mjd = INFINITY;
	check(survey_check_config(&cfg) == SURVEY_BAD_START, "infinite start refused");
	survey_default_config(&cfg, 1);
	cfg.class_weights[2] = -1.0;
	check(survey_check_config(&cfg) == SURVEY_BAD_WEIGHTS, "a negative weight refused");
	memset(cfg.class_weights, 0, sizeof(cfg.class_weights));
	check(survey_check_config(&cfg) == SURVEY_BAD_WEIGHTS, "all weights 0 refused");
	cfg.class_weights[1] = NAN;
	check(survey_check_config(&cfg) == SURVEY_BAD_WEIGHTS, "a NaN weight refused");
	check(survey_max_obs(1.0) == 3 * (366 + 2), "survey_max_obs: three visits a night");
}

static int
same_object(const SurveyObs *a, size_t na, const SurveyObs *b, size_t nb)
{
	return na == nb && memcmp(a, b, na * sizeof(SurveyObs)) == 0;
}

static void
test_reproducible(void)
{
	SurveyConfig cfg;
	SurveyObs  *a,
			   *b;
	SurveyTruth ta,
				tb;
	size_t		na,
				nb;
	int			same = 1,
				differ_seed = 0,
				differ_obj = 0;

	survey_default_config(&cfg, 42);
	a = obs_buffer(&cfg);
	b = obs_buffer(&cfg);
	/* objects 1..50 in order, then again backwards after others: identical */
	for (uint64_t id = 1; id <= 50; id++)
	{
		na = simulate(&cfg, id, a, &ta);
		simulate(&cfg, id * 7919 + 3, b, NULL);	/* another object between */
		nb = simulate(&cfg, id, b, &tb);
		if (!same_object(a, na, b, nb) || memcmp(&ta, &tb, sizeof(ta)) != 0)
			same = 0;
	}
	check(same, "an object's rows and parameters depend only on (seed, objid)");

	for (uint64_t id = 1; id <= 50; id++)
	{
		SurveyConfig other = cfg;

		na = simulate(&cfg, id, a, NULL);
		other.seed = 43;
		nb = simulate(&other, id, b, NULL);
		differ_seed += !same_object(a, na, b, nb);
		nb = simulate(&cfg, id + 1000000, b, NULL);
		differ_obj += !same_object(a, na, b, nb);
	}
	check(differ_seed == 50, "another seed gives other objects");
	check(differ_obj == 50, "another objid gives another object");

	/* objid and seed are mixed, not added: (s, o) and (s + 1, o - 1) differ */
	{
		SurveyConfig other = cfg;

		other.seed = 41;
		na = simulate(&cfg, 10, a, NULL);
		nb = simulate(&other, 11, b, NULL);
		check(!same_object(a, na, b, nb), "(seed, objid) and (seed - 1, objid + 1) differ");
	}

	/* one poll per object; the host's stop comes before anything is written */
	host_counts.polls = 0;
	na = simulate(&cfg, 10, a, NULL);
	check(host_counts.polls == 1, "the host is polled once per object");
	host_counts.stop_at = 2;
	nb = 12345;
	check(survey_simulate_object(&cfg, 10, &host, a, &nb, &ta) == SURVEY_INTERRUPTED &&
		  nb == 12345, "the host's stop: SURVEY_INTERRUPTED, nothing written");
	host_counts.stop_at = 0;
	free(a);
	free(b);
}

/* Cadence rules over many objects; also the class frequencies and the noise. */
static void
test_cadence_and_noise(void)
{
	SurveyConfig cfg;
	SurveyObs  *obs;
	SurveyTruth truth;
	const int	nobj = 4000;
	size_t		total = 0;
	long		band_count[SURVEY_NBANDS] = {0};
	long		class_count[SURVEY_NCLASSES] = {0};
	long		visits_per_night[4] = {0};
	int			in_window = 1,
				increasing = 1,
				distinct_bands = 1,
				night_time = 1,
				in_season = 1,
				finite = 1,
				model_ok = 1;
	long		negative = 0;
	double		z_sum = 0.0,
				z_sq = 0.0;
	long		z_n = 0;
	int			objects_with_gap = 0;

	survey_default_config(&cfg, 7);
	obs = obs_buffer(&cfg);
	for (int id = 1; id <= nobj; id++)
	{
		size_t		n = simulate(&cfg, (uint64_t) id, obs, &truth);
		size_t		night_first = 0;
		int			long_gaps = 0;

		total += n;
		class_count[truth.label]++;
		for (size_t i = 0; i < n; i++)
		{
			double		t = obs[i].t;
			double		frac = t - floor(t);
			double		since = fmod(t - truth.season_start, YEAR);
			double		z = (obs[i].flux - obs[i].true_flux) / obs[i].dflux;

			band_count[obs[i].band]++;
			if (!(t >= cfg.start_mjd && t < cfg.start_mjd + YEAR * cfg.years))
				in_window = 0;
			if (!(frac >= 0.02 && frac < 0.40))
				night_time = 0;
			if (!(since >= 0.0 && since < truth.season_length))
				in_season = 0;
			if (!isfinite(obs[i].flux) || !(obs[i].dflux > 0.0) || !isfinite(obs[i].dflux))
				finite = 0;
			if (obs[i].flux < 0.0)
				negative++;
			if (truth.label != SURVEY_STOCHASTIC &&
				obs[i].true_flux != survey_model_flux(&truth, obs[i].band, t))
				model_ok = 0;
			z_sum += z;
			z_sq += z * z;
			z_n++;
			if (i > 0 && !(t > obs[i - 1].t))
				increasing = 0;
			if (i > 0 && t - obs[i - 1].t > 100.0)
				long_gaps++;
			/* a night: the visits with the same whole MJD */
			if (i + 1 == n || floor(obs[i + 1].t) != floor(t))
			{
				size_t		k = i + 1 - night_first;

				if (k >= 1 && k <= 3)
					visits_per_night[k]++;
				else
					distinct_bands = 0;
				for (size_t p = night_first; p <= i; p++)
					for (size_t q = p + 1; q <= i; q++)
						if (obs[p].band == obs[q].band)
							distinct_bands = 0;
				night_first = i + 1;
			}
		}
		/* three years: two season gaps (a third if a season is split by the start) */
		if (long_gaps >= 2 && long_gaps <= 3)
			objects_with_gap++;
	}
	check(in_window, "every time inside the survey window");
	check(in_season, "every time inside the object's season of its year");
	check(night_time, "every visit at night (MJD fraction 0.02 .. 0.40)");
	check(increasing, "times strictly increase within an object");
	check(distinct_bands, "1 to 3 visits a night, in distinct bands");
	check(objects_with_gap > nobj * 0.99, "seasons: 2 or 3 gaps over 100 days in 3 years");
	check(finite, "fluxes finite, uncertainties positive and finite");
	check(model_ok, "true fluxes are survey_model_flux's (all but the stochastic class)");
	check(negative > 0, "negative fluxes occur");
	{
		double		mean_n = (double) total / nobj;
		double		per_year = mean_n / cfg.years;

		printf("# %d objects, %.1f observations each, %.1f a year; negative fluxes %.3f\n",
			   nobj, mean_n, per_year, (double) negative / (double) total);
		check(fabs(per_year - SURVEY_OBS_PER_YEAR) < 0.03 * SURVEY_OBS_PER_YEAR,
			  "mean observations a year within 3% of SURVEY_OBS_PER_YEAR");
	}
	{
		/* band shares: the visit weights, slightly flattened by drawing without replacement */
		double		r_share = (double) band_count[2] / (double) total;
		double		u_share = (double) band_count[0] / (double) total;
		int			all_bands = 1;

		for (int b = 0; b < SURVEY_NBANDS; b++)
			all_bands &= band_count[b] > 0;
		printf("# band shares u %.3f g %.3f r %.3f i %.3f z %.3f y %.3f\n",
			   band_count[0] / (double) total, band_count[1] / (double) total,
			   band_count[2] / (double) total, band_count[3] / (double) total,
			   band_count[4] / (double) total, band_count[5] / (double) total);
		check(all_bands && u_share > 0.05 && u_share < 0.10 && r_share > 0.18 && r_share < 0.24,
			  "all six bands; u rare (5-10%), r common (18-24%)");
	}
	{
		double		nights = visits_per_night[1] + visits_per_night[2] + visits_per_night[3];

		check(fabs(visits_per_night[1] / nights - 0.3) < 0.01 &&
			  fabs(visits_per_night[2] / nights - 0.5) < 0.01 &&
			  fabs(visits_per_night[3] / nights - 0.2) < 0.01,
			  "visits a night: 1, 2, 3 with probabilities 0.3, 0.5, 0.2 (within 0.01)");
	}
	{
		int			balanced = 1;

		for (int c = 0; c < SURVEY_NCLASSES; c++)
			balanced &= fabs(class_count[c] / (double) nobj - 0.25) < 0.03;
		check(balanced, "equal weights: each class 25% of objects (within 3%)");
	}
	{
		double		mean = z_sum / z_n;
		double		sd = sqrt(z_sq / z_n - mean * mean);

		printf("# (flux - true flux) / dflux: mean %.4f, sd %.4f over %ld\n", mean, sd, z_n);
		check(fabs(mean) < 0.01 && fabs(sd - 1.0) < 0.01, "standardised residuals: mean 0, sd 1 (within 0.01)");
	}
	free(obs);
}

/* Class weights are honoured: a zero weight never appears. */
static void
test_weights(void)
{
	SurveyConfig cfg;
	SurveyObs  *obs;
	SurveyTruth truth;
	int			counts[SURVEY_NCLASSES] = {0};

	survey_default_config(&cfg, 3);
	cfg.class_weights[0] = 3.0;
	cfg.class_weights[1] = 0.0;
	cfg.class_weights[2] = 1.0;
	cfg.class_weights[3] = 0.0;
	cfg.years = 0.5;
	obs = obs_buffer(&cfg);
	for (int id = 0; id < 4000; id++)
	{
		simulate(&cfg, (uint64_t) id, obs, &truth);
		counts[truth.label]++;
	}
	check(counts[1] == 0 && counts[3] == 0, "classes of weight 0 never drawn");
	check(fabs(counts[0] / 4000.0 - 0.75) < 0.03, "weights 3:1 give 75% of the first class (within 3%)");
	free(obs);
}

/* Closed forms of the deterministic classes. */
static void
test_models(void)
{
	SurveyTruth t;

	memset(&t, 0, sizeof(t));
	t.label = SURVEY_TRANSIENT;
	for (int b = 0; b < SURVEY_NBANDS; b++)
		t.base_flux[b] = 100.0;
	t.t0 = 60100.0;
	t.trise = 2.0;
	t.tfall = 30.0;
	check(fabs(survey_model_flux(&t, 2, 60100.0) - 50.0) < 1e-12, "Bazin at t0: A / 2");
	check(fabs(survey_model_flux(&t, 2, 60130.0) - 100.0 * exp(-1.0) / (1.0 + exp(-15.0))) < 1e-12,
		  "Bazin one fall time after t0");
	check(fabs(survey_model_flux(&t, 5, 60145.0) - 100.0 * exp(-45.0 / 43.5) / (1.0 + exp(-22.5))) < 1e-12,
		  "Bazin in y: tfall (1 + 0.15 * 3)");
	{
		double		early = survey_model_flux(&t, 2, 59000.0);
		double		expect = 100.0 * exp(-1100.0 / 2.0 + 1100.0 / 30.0);

		check(isfinite(early) && early >= 0.0 && fabs(early - expect) <= 1e-12 * expect + 1e-300,
			  "Bazin 1100 days before t0: finite, no overflow");
	}

	memset(&t, 0, sizeof(t));
	t.label = SURVEY_PERIODIC;
	for (int b = 0; b < SURVEY_NBANDS; b++)
		t.base_flux[b] = 10.0;
	t.period = 2.0;
	t.phase = 0.25;
	t.amplitude = 0.4;
	check(fabs(survey_model_flux(&t, 2, 60000.0) - 14.0) < 1e-9, "sinusoid at its maximum: F (1 + a)");
	check(fabs(survey_model_flux(&t, 0, 60001.0) - 10.0 * (1.0 - 0.4 * 1.3)) < 1e-9,
		  "sinusoid half a period later in u: F (1 - 1.3 a)");
	t.sawtooth = 1;
	t.phase = 0.0;
	check(fabs(survey_model_flux(&t, 2, 60000.5) - 10.0 * (1.0 + 0.4 * 0.5)) < 1e-9,
		  "sawtooth a quarter period in: 1 - 2 * 0.25");

	memset(&t, 0, sizeof(t));
	t.label = SURVEY_FLARING;
	for (int b = 0; b < SURVEY_NBANDS; b++)
		t.base_flux[b] = 10.0;
	t.n_flares = 1;
	t.flare_t[0] = 60010.0;
	t.flare_amp[0] = 2.0;
	t.flare_rise[0] = 0.1;
	t.flare_decay[0] = 1.0;
	check(survey_model_flux(&t, 2, 60009.8) == 10.0, "flare: quiescent before the rise");
	check(fabs(survey_model_flux(&t, 2, 60009.95) - 10.0 * (1.0 + 2.0 * 0.5)) < 1e-9,
		  "flare: half-way up the linear rise");
	check(fabs(survey_model_flux(&t, 0, 60011.0) - 10.0 * (1.0 + 5.0 * 2.0 * exp(-1.0))) < 1e-9,
		  "flare: one decay time later in u (contrast 5)");
}

/*
 * The damped random walk: for pairs of consecutive r-band-free magnitudes
 * y(t) recovered from the true fluxes, E[y_k y_{k+1}] / sigma^2 =
 * exp(-d / tau).  Pooled over objects with the same tau and sigma, the
 * normalised products z = y_k y_{k+1} / (sigma^2 e^{-d/tau}) have mean 1.
 */
static void
test_random_walk(void)
{
	SurveyConfig cfg;
	SurveyObs  *obs;
	SurveyTruth truth;
	double		prod = 0.0,
				var = 0.0;
	long		pairs = 0,
				points = 0;
	int			objects = 0;

	survey_default_config(&cfg, 11);
	for (int c = 0; c < SURVEY_NCLASSES; c++)
		cfg.class_weights[c] = c == SURVEY_STOCHASTIC;
	obs = obs_buffer(&cfg);
	for (int id = 1; id <= 600; id++)
	{
		size_t		n = simulate(&cfg, (uint64_t) id, obs, &truth);
		static const double scale[SURVEY_NBANDS] = {1.3, 1.15, 1.0, 0.9, 0.8, 0.75};
		double		prev = 0.0;

		objects += truth.label == SURVEY_STOCHASTIC;
		for (size_t i = 0; i < n; i++)
		{
			double		y = -2.5 * log10(obs[i].true_flux / truth.base_flux[obs[i].band]) /
				scale[obs[i].band];

			var += y * y / (truth.sigma * truth.sigma);
			points++;
			if (i > 0)
			{
				double		rho = exp(-(obs[i].t - obs[i - 1].t) / truth.tau);

				/* E[y_{k+1} | y_k] = rho y_k: the regression residual has variance 1 - rho^2 */
				double		e = (y - rho * prev) / (truth.sigma * sqrt(1.0 - rho * rho));

				prod += e * e;
				pairs++;
			}
			prev = y;
		}
	}
	printf("# random walk: %d objects, E[y^2]/sigma^2 = %.4f, innovations' variance %.4f\n",
		   objects, var / points, prod / pairs);
	check(objects == 600, "weights (0, 0, 1, 0): only stochastic sources");
	check(fabs(var / points - 1.0) < 0.05, "stationary variance sigma^2 (within 5%)");
	check(fabs(prod / pairs - 1.0) < 0.02,
		  "exact discretisation: innovations y_k+1 - e^(-d/tau) y_k have variance sigma^2 (1 - e^(-2d/tau)) (2%)");
	free(obs);
}

int
main(void)
{
	test_config();
	test_reproducible();
	test_cadence_and_noise();
	test_weights();
	test_models();
	test_random_walk();
	return tap_done();
}

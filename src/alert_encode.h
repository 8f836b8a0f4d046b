/*
 * alert_encode.h
 *		Rubin-format alert packets written from photometric points: a plain-C
 *		kernel over Avro's C library (libavro), no PostgreSQL types, for the
 *		packet generator (bin/antares_alertgen), tests and benchmarks.
 *
 * The writer schema is the project's own (alert_encode_schema): Rubin's
 * alert schema 11.0 (namespace lsst.v11_0) is the interface -- the records
 * alert, diaSource, diaForcedSource, diaObject, ssSource, mpc_orbits, and
 * every field written has the name and type it has there -- but not every
 * field is written: diaSource has the fields antares reads (diaSourceId,
 * diaObjectId, midpointMjdTai, ra, dec, psfFlux, psfFluxErr, band) and 74
 * more of 11.0's 98 (all measurements and pixel flags), so that a datum is
 * of a real alert's size.  Sizes in bytes (test_alert_encode's "datum
 * sizes" line; Rubin's 11.0 sample packet fakeAlert.avro re-encoded with
 * python3-avro for comparison):
 *	 - a diaSource: 330 here; 182 in the sample (most fields null), 391 with
 *	   all 98 fields of 11.0 set;
 *	 - a diaForcedSource: 76 (all 14 fields of 11.0);
 *	 - the diaObject (34 of 11.0's 82 fields: per band the mean psfFlux, its
 *	   error, sigma and count over the alert's sources): ~100 with one band
 *	   seen, ~165 with six; 139 in the sample, 403 with all fields set;
 *	 - an alert with 20 prvDiaSources, no forced sources, no cutouts: 7,106
 *	   (the sample's density gives ~4,000, every field set ~8,600); with 20
 *	   forced sources too 8,628; with 100 prvDiaSources 33,508.
 * Real alerts also carry three cutouts (gzipped FITS stamps, ~20 kB each in
 * ZTF's): optional here, the same given bytes in all three.
 *
 * Values.  From the caller: ids, times, ra, dec, band, psfFlux and psfFluxErr
 * (nJy, rounded to float32 as Rubin's schema has them); diaObject's ra and
 * dec are the triggering source's, its per-band statistics are computed from
 * the diaSource and prvDiaSources.  Every other field holds a fixed plausible
 * value (documented at the tables in alert_encode.c), or null where Rubin
 * writes null for a non-solar-system source (ssObjectId, ssSource, ...).
 *
 * Framings (as alert_decode.h reads them):
 *	 - ALERT_CONTAINER: an object-container file of all alerts encoded since
 *	   the last alert_encoder_take, codec null or deflate, blocks of ~64 kB
 *	   of datums, a fixed sync marker (the bytes are a function of the input);
 *	 - ALERT_CONFLUENT: a zero byte, the schema id (4 bytes, big-endian),
 *	   the bare datum: one alert per message;
 *	 - ALERT_BARE: the datum alone, one alert per message.
 *
 * Memory: the encoder and its output come from the host; libavro's values
 * and zlib's deflate state from their own allocators, freed by
 * alert_encoder_free (zlib's before each block is done).  Under valgrind
 * --leak-check=full the unit test is clean.
 *
 * Cost: ~130 us for an alert of 20 prvDiaSources, 7,500-8,200 alerts/s
 * (alert_encode.c's top comment).
 */
#ifndef ANTARES_ALERT_ENCODE_H
#define ANTARES_ALERT_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "alert_decode.h"
#include "kernel_host.h"

typedef enum AlertEncodeStatus
{
	ALERT_ENCODE_OK = 0,
	ALERT_ENCODE_BAD_INPUT,		/* a value out of its domain, a second alert in a message */
	ALERT_ENCODE_NO_MEMORY,		/* the host, libavro or zlib had none */
	ALERT_ENCODE_FAILED,		/* libavro or zlib failed otherwise */
	ALERT_ENCODE_INTERRUPTED	/* the host said stop */
} AlertEncodeStatus;

/*
 * One photometric measurement: a diaSource (id = diaSourceId) or a
 * diaForcedSource (id = diaForcedSourceId).  Every double finite; band one
 * of u g r i z y; 0 <= dflux and |flux| within float32's range.
 */
typedef struct AlertSource
{
	int64_t		id;
	double		mjd;			/* midpointMjdTai */
	char		band;
	double		flux;			/* psfFlux, nJy */
	double		dflux;			/* psfFluxErr, nJy */
	double		ra;				/* degrees */
	double		dec;
} AlertSource;

/*
 * One alert: its id is source->id.  history NULL writes prvDiaSources null,
 * otherwise an array of nhistory (possibly 0); forced likewise for
 * prvDiaForcedSources.  cutout NULL writes the three cutouts null,
 * otherwise each holds cutout[0 .. cutout_len).
 */
typedef struct AlertPacket
{
	int64_t		object_id;		/* diaObjectId */
	const AlertSource *source;
	const AlertSource *history;
	size_t		nhistory;
	const AlertSource *forced;
	size_t		nforced;
	const uint8_t *cutout;
	size_t		cutout_len;
} AlertPacket;

typedef struct AlertEncodeOptions
{
	AlertFraming framing;
	int32_t		schema_id;		/* ALERT_CONFLUENT's */
	int			deflate;		/* ALERT_CONTAINER's codec: 0 null, 1 deflate */
} AlertEncodeOptions;

#define ALERT_ENCODE_MESSAGE_SIZE 256

typedef struct AlertEncodeError
{
	AlertEncodeStatus status;
	char		message[ALERT_ENCODE_MESSAGE_SIZE];
} AlertEncodeError;

typedef struct AlertEncoder AlertEncoder;

/*
 * The writer schema's JSON text: writes it and a NUL into buf when size is
 * larger than its length, and returns its length (snprintf's contract).
 */
extern size_t alert_encode_schema(char *buf, size_t size);

/* A new encoder in *encoder, or a status and err (then *encoder is NULL). */
extern AlertEncodeStatus alert_encoder_new(const KernelHost *host, const AlertEncodeOptions *options,
										   AlertEncoder **encoder, AlertEncodeError *err);

/*
 * Appends one alert to the current output (a container file, or a
 * Confluent or bare message, which holds one alert: a second one is
 * BAD_INPUT).  On any status but OK the output is as it was.
 */
extern AlertEncodeStatus alert_encode(AlertEncoder *encoder, const AlertPacket *alert,
									  AlertEncodeError *err);

/*
 * Ends the current output and returns its bytes in *out, *len: valid until
 * the next call on the encoder.  The next alert_encode starts a new file or
 * message.  A container without alerts is a header alone.
 */
extern AlertEncodeStatus alert_encoder_take(AlertEncoder *encoder, const uint8_t **out, size_t *len,
											AlertEncodeError *err);

extern void alert_encoder_free(AlertEncoder *encoder);

extern const char *alert_encode_status_name(AlertEncodeStatus status);

#endif							/* ANTARES_ALERT_ENCODE_H */

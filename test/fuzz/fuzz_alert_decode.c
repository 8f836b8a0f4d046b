/*
 * fuzz_alert_decode.c
 *		libFuzzer harness of the alert decoding kernel (test/fuzz/run.sh builds
 *		and runs it; not part of CI).  An input that starts with the container
 *		magic is decoded as a container (its writer schema embedded, so the
 *		fuzzer also mutates schemas); any other as a Confluent message and as
 *		a bare datum under a fixed Rubin-format writer schema.  Each decode
 *		runs twice: compiling the schema for the call, and through a schema
 *		cache kept for the whole run (whose entries the mutated container
 *		schemas fill and replace); both must give the same status.  Every
 *		decode must return a status and leave no host memory behind; ASan and
 *		LSan catch what the kernel or libavro does wrong with the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alert_decode.h"
#include "kernel_host_test.h"

static const char rubin_schema[] =
"{\"type\":\"record\",\"name\":\"alert\",\"namespace\":\"lsst.v11_0\",\"fields\":["
"{\"name\":\"diaSourceId\",\"type\":\"long\"},"
"{\"name\":\"diaSource\",\"type\":{\"type\":\"record\",\"name\":\"diaSource\",\"fields\":["
"{\"name\":\"diaSourceId\",\"type\":\"long\"},{\"name\":\"diaObjectId\",\"type\":[\"null\",\"long\"]},"
"{\"name\":\"midpointMjdTai\",\"type\":\"double\"},{\"name\":\"ra\",\"type\":\"double\"},"
"{\"name\":\"dec\",\"type\":\"double\"},{\"name\":\"psfFlux\",\"type\":[\"null\",\"float\"]},"
"{\"name\":\"psfFluxErr\",\"type\":[\"null\",\"float\"]},{\"name\":\"band\",\"type\":[\"null\",\"string\"]}]}},"
"{\"name\":\"prvDiaSources\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"lsst.v11_0.diaSource\"}]},"
"{\"name\":\"cutoutDifference\",\"type\":[\"null\",\"bytes\"]}]}";

static TestHost cache_counts;
static KernelHost cache_host;
static AlertSchemaCache *cache;

/* One decode, through with when it is not NULL; returns its status. */
static AlertDecodeStatus
decode_with(AlertSchemaCache *with, const uint8_t *data, size_t size, AlertFraming framing,
			const char *schema)
{
	TestHost	counts;
	KernelHost	host = test_host(&counts);
	AlertResult r;
	AlertDecodeError err;
	AlertDecodeStatus status = alert_decode(&host, with, data, size, framing, schema,
											schema ? strlen(schema) : 0, &r, &err);

	if (status == ALERT_DECODE_OK)
	{
		for (size_t i = 0; i < r.npoints; i++)
			if (!(r.points[i].dflux >= 0) || r.points[i].flux != r.points[i].flux)
				abort();		/* a NaN or negative error escaped the rules */
		alert_result_free(&host, &r);
	}
	else if (r.points != NULL || r.npoints != 0)
		abort();				/* half-returned */
	if (counts.live != 0)
		abort();				/* host memory left behind */
	return status;
}

static void
decode_once(const uint8_t *data, size_t size, AlertFraming framing, const char *schema)
{
	if (decode_with(NULL, data, size, framing, schema) != decode_with(cache, data, size, framing, schema))
		abort();				/* the cache changed the outcome */
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	alert_decode_init();
	cache_host = test_host(&cache_counts);
	cache = alert_schema_cache_new(&cache_host);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 4 && memcmp(data, "Obj\x01", 4) == 0)
		decode_once(data, size, ALERT_CONTAINER, NULL);
	else
	{
		decode_once(data, size, ALERT_CONFLUENT, rubin_schema);
		decode_once(data, size, ALERT_BARE, rubin_schema);
	}
	return 0;
}

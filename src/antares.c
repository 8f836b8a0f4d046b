/*
 * antares.c
 *		Module entry point of the antares extension.
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

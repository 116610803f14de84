/*
 * bootstrap.h - first start on an empty data dir: one organization, one
 * project with dev, stg and prod environments and their root secret keys,
 * a personal access token, and the secret that signs object-store URLs.
 * TRIGGERD_PROJECT_REF, TRIGGERD_{DEV,STG,PROD}_SECRET_KEY and
 * TRIGGERD_ACCESS_TOKEN, when set, replace the random values.
 */
#ifndef TD_BOOTSTRAP_H
#define TD_BOOTSTRAP_H

#include <stdbool.h>
#include <stdio.h>

#include "store/store.h"

/* Creates the tenancy if the store has none (committed). *created tells. */
int bootstrap_ensure(store *st, bool *created);

/* Prints the project ref, the environments' keys and the PAT. */
int bootstrap_print(store *st, FILE *out, bool json);

/* The URL-signing secret (malloc'd). */
int bootstrap_secret(store *st, char **secret);

#endif

/*
 * store/deployments.h - deployment rows (one `trigger.dev deploy` of an
 * environment: its version, status and build outcome) and each environment's
 * promoted deployment, store/deployments.c. Statuses and what moves them are
 * the engine's (engine/deploy.c); docs/deploy.md has the protocol.
 */
#ifndef TD_STORE_DEPLOYMENTS_H
#define TD_STORE_DEPLOYMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct store_deployment {
    int64_t seq;
    char *id;          /* internal cuid */
    char *friendly_id; /* deployment_<21> */
    char *env_id;
    char *short_code;
    char *version; /* YYYYMMDD.N */
    char *status;  /* PENDING BUILDING DEPLOYING DEPLOYED FAILED CANCELED TIMED_OUT */
    char *content_hash;
    char *artifact_key;  /* the uploaded archive in the object store */
    char *config_path;   /* trigger.config.ts relative to the archive root, or NULL */
    char *worker_id;     /* the background worker's friendly id once indexed */
    char *error;         /* JSON {name, message, stack?, stderr?} when FAILED */
    char *git;           /* JSON gitMeta, or NULL */
    char *runtime;       /* "node" ... */
    char *triggered_via; /* "cli:manual" ... */
    int64_t skip_promotion;
    int64_t created_at;
    int64_t updated_at;
    int64_t built_at;
    int64_t deployed_at;
} store_deployment;

void store_deployment_clear(store_deployment *d);
int store_deployment_insert(store *st, store_deployment *d);
int store_deployment_update(store *st, const store_deployment *d);
/* By friendly id within env; ERR_NOT_FOUND when none. */
int store_deployment_get(store *st, const char *env_id, const char *friendly_id,
                         store_deployment *d);
/* By friendly id in any environment (the build's own callbacks). */
int store_deployment_by_fid(store *st, const char *friendly_id, store_deployment *d);
int store_deployment_by_version(store *st, const char *env_id, const char *version,
                                store_deployment *d);
/* The newest deployment of env. */
int store_deployment_latest(store *st, const char *env_id, store_deployment *d);
/* Deployments of env, newest first, with seq below before_seq (0 = from the
 * newest), at most limit; status filters when not NULL. Caller clears, frees. */
int store_deployment_list(store *st, const char *env_id, const char *status, int64_t before_seq,
                          int64_t from, int64_t to, int64_t limit, store_deployment **out,
                          size_t *n);
/* Deployments of env whose version starts with prefix ("20251125."). */
int store_deployment_count_version_prefix(store *st, const char *env_id, const char *prefix,
                                          int64_t *count);
/* Deployments in any environment with one of the statuses PENDING,
 * BUILDING, DEPLOYING (builds a restart cut short). Caller clears, frees. */
int store_deployment_unfinished(store *st, store_deployment **out, size_t *n);
/* Every environment's promoted deployment (for the supervisor at start). */
int store_deployment_promoted_all(store *st, store_deployment **out, size_t *n);
/* Every DEPLOYED deployment not promoted, newest first. Caller clears, frees. */
int store_deployment_unpromoted(store *st, store_deployment **out, size_t *n);

/* Whether env has a run locked to version with status below `below` (the
 * engine's first final status). */
int store_runs_locked_open(store *st, const char *env_id, const char *version, int64_t below,
                           bool *any);

/* The env's promoted deployment: its friendly id into fid ("" when none). */
int store_promotion_get(store *st, const char *env_id, char *fid, size_t cap);
int store_promotion_set(store *st, const char *env_id, const char *deployment_fid, int64_t now);

#endif

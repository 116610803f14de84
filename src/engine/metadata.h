/*
 * engine/metadata.h - run metadata change operations (set, delete, append,
 * remove, increment, update), applied the way the SDK's metadata manager
 * applies them, so server and client agree on the result.
 */
#ifndef TD_ENGINE_METADATA_H
#define TD_ENGINE_METADATA_H

#include <jansson.h>

#include "util/err.h"

/* Applies operations (a JSON array of RunMetadataChangeOperation, borrowed)
 * to *metadata in place (a JSON object, owned by the caller).
 * Returns 0, or ERR_INVALID with a message for a malformed operation or a
 * forbidden key (__proto__, constructor, prototype). */
int metadata_apply(json_t *metadata, json_t *operations, err_t *e);

#endif

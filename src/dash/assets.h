/*
 * dash/assets.h - the dashboard's static files, compiled into the binary by
 * dash/embed.c at build time (see meson.build).
 */
#ifndef TD_DASH_ASSETS_H
#define TD_DASH_ASSETS_H

#include <stddef.h>

typedef struct dash_asset {
    const char *name; /* file name, e.g. "app.js" */
    const char *type; /* Content-Type */
    const char *data;
    size_t len;
    const char *etag; /* quoted, a hash of the bytes */
} dash_asset;

extern const dash_asset dash_assets[];
extern const size_t dash_assets_count;

#endif

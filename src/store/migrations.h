/*
 * store/migrations.h - the versioned schema. Migration N is applied once, in
 * order, and recorded in schema_migrations; never edit a released one, add
 * the next.
 */
#ifndef TD_STORE_MIGRATIONS_H
#define TD_STORE_MIGRATIONS_H

#include <stddef.h>

extern const char *const store_migrations[];
extern const size_t store_migrations_count;

#endif

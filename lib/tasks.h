/*
 * lib/tasks.h - the trigger options object, shared by single triggers and
 * batch items (whose options are the same set, spec/api.md 6.2 [3]).
 */
#ifndef TRIGGER_TASKS_H
#define TRIGGER_TASKS_H

#include <jansson.h>

#include "trigger.h"

/* Builds the wire "options" object for o (may be NULL); has_payload adds
 * payloadType. On TRIGGER_OK *out is a new reference; otherwise c's last
 * error says which option was bad. */
int trigger__options_json(trigger_client *c, const trigger_options *o, bool has_payload,
                          json_t **out);

/* Checks that text (if not NULL) is valid JSON; `what` names it in the
 * error message. */
int trigger__check_json(trigger_client *c, const char *text, const char *what);

/* Copies a server id into a fixed TRIGGER_ID_MAX buffer. */
int trigger__copy_id(trigger_client *c, char *dst, const char *id);

#endif

/*
 * examples/trigger_hello.c - the smallest libtrigger program: trigger the
 * `hello-world` task with a JSON payload, then print the run's id and
 * status. The server and key come from TRIGGER_API_URL and
 * TRIGGER_SECRET_KEY.
 *
 *   TRIGGER_API_URL=http://127.0.0.1:3030 TRIGGER_SECRET_KEY=tr_dev_... ./trigger_hello [name]
 */
#include <stdio.h>

#include "trigger.h"

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "world";
    trigger_client *c = trigger_client_new(NULL, NULL);
    if (!c) {
        fprintf(stderr, "trigger_hello: set TRIGGER_SECRET_KEY (and TRIGGER_API_URL)\n");
        return 2;
    }
    char payload[256];
    snprintf(payload, sizeof payload, "{\"message\":\"hello\",\"name\":\"%s\"}", name);
    /* A name with a quote in it would make this invalid JSON; trigger_task
     * checks the payload and refuses it before sending anything. */
    trigger_options opts = {.tags = (const char *[]){"example", NULL}};
    trigger_handle h;
    int rc = trigger_task(c, "hello-world", payload, &opts, &h);
    if (rc != TRIGGER_OK) {
        fprintf(stderr, "trigger failed: %s: %s\n", trigger_strerror(rc),
                trigger_client_last_error(c));
        trigger_client_free(c);
        return 1;
    }
    trigger_run *run = NULL;
    rc = trigger_runs_retrieve(c, h.id, &run);
    if (rc != TRIGGER_OK) {
        fprintf(stderr, "retrieve %s failed: %s: %s\n", h.id, trigger_strerror(rc),
                trigger_client_last_error(c));
        trigger_client_free(c);
        return 1;
    }
    printf("%s %s\n", run->id, run->status);
    trigger_run_free(run);
    trigger_client_free(c);
    return 0;
}

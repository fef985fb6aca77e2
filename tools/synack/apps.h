/* The applications `synack serve` runs on each connection:
 *   echo      RFC 862: sends back what it receives
 *   discard   RFC 863: reads and drops
 *   chargen   RFC 864: sends the 72-column character pattern until the client closes
 *   http=DIR  a static HTTP/1.1 file server (RFC 9110/9112 subset): GET and HEAD,
 *             Content-Length, keep-alive and pipelining, 404, no path outside DIR
 * Each works on a non-blocking synack socket and does what it can when
 * asked (app_step); memory per connection is bounded (files are streamed
 * as the socket's send buffer takes them). */
#ifndef SYNACK_TOOL_APPS_H
#define SYNACK_TOOL_APPS_H

#include <stdint.h>

#include "synack/stack.h"

enum app_status {
    APP_WAIT,   /* blocked: call again when the socket is ready */
    APP_AGAIN,  /* stopped to let others run: call again soon */
    APP_DONE,   /* finished: close the connection (FIN) */
    APP_ABORT,  /* failed (err says why): close it */
};

/* Per-connection state; each application's extends this. */
struct app_conn {
    uint64_t in, out;   /* payload bytes received and sent */
    int err;            /* the errno that ended it (APP_ABORT) */
};

struct app;

/* "echo", "discard", "chargen" or "http=DIR".  Returns 0, or -1 with a message. */
int app_new(const char *spec, struct app **out);
void app_free(struct app *a);
const char *app_name(const struct app *a);
struct app_conn *app_open(struct app *a);
enum app_status app_step(struct app *a, struct app_conn *c, struct synack_stack *s, int fd);
void app_close(struct app *a, struct app_conn *c);

#endif

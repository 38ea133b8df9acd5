/*
 * http-stream.h: a reply that stays open and carries server-sent events
 * (text/event-stream). The handler turns its reply into a stream and hands the stream
 * to whoever produces events (the event hub); that owner pushes chunks from any thread,
 * and learns when the client has gone. http.c writes the chunks out, a keepalive comment
 * when the stream has sent nothing for the configured stream_keepalive_s, and drops a
 * client that reads too slowly.
 */
#ifndef PARK_HTTP_STREAM_H
#define PARK_HTTP_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

#define HTTP_STREAM_QUEUE_MAX (256 * 1024) /* bytes waiting for a slow client, at most */

/*
 * Called once when the stream ends (the client went away, was too slow, the owner
 * ended it, or the server is stopping), from an HTTP thread, with no http.c lock held.
 * The owner then stops pushing and calls http_stream_release(). May be NULL.
 */
typedef void (*http_stream_closed_fn)(void *ctx, struct http_stream *s);

/*
 * Makes `rep` a 200 text/event-stream reply and returns its stream, holding one
 * reference for the caller (the owner) and one for the connection. When the handler
 * then sets an error reply instead, the connection's reference is dropped and the stream
 * is closed at once. Returns NULL (rep untouched) when out of memory.
 */
struct http_stream *http_reply_stream(struct http_reply *rep, http_stream_closed_fn on_closed,
				      void *ctx);

/*
 * Queues `chunk` (NUL-terminated; a whole event, "event: x\ndata: {...}\n\n") for the
 * client. Thread-safe and never blocks. Returns 0, or -1 when the stream is closed or
 * the client is more than HTTP_STREAM_QUEUE_MAX bytes behind (the stream is then
 * closed, the client dropped, and on_closed called).
 */
int http_stream_push(struct http_stream *s, const char *chunk);

/* True once the stream has ended for any reason. Thread-safe. */
bool http_stream_closed(struct http_stream *s);

/* Ends the stream from the owner's side: what is queued is still sent, then EOF. */
void http_stream_end(struct http_stream *s);

/* Drops the owner's reference; the last one frees the stream. Call exactly once. */
void http_stream_release(struct http_stream *s);

#endif

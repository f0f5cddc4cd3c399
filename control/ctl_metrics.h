/* Prometheus exposition of the gateway's counters (text format 0.0.4) and the one-request
 * HTTP/1.0 answer around it. No sockets and no state: the daemon owns the listener. */
#ifndef CTL_METRICS_H
#define CTL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl_session.h"
#include "dp_core.h"

/* A request larger than this is refused (400) instead of being read further. */
#define CTL_METRICS_REQ_MAX 8192

/* "text/plain; version=0.0.4" is what Prometheus negotiates for the text format
 * (prometheus/docs exposition_formats.md); charset as the client libraries send it. */
#define CTL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/**
 * Count one leg whose ICE ended: completed or failed, and each ICEWarn bit it carried
 * (ctl_session calls this as it releases a leg; other callers may too).
 */
void ctl_metrics_note_warn(struct ctl_warn_hist *h, bool failed, uint32_t warn);

/**
 * Write every metric into out: "# HELP" / "# TYPE" before each family's samples, counters
 * named *_total. cores[i] is worker i's packet core (read without locks: a counter may be a
 * moment old); entries may be NULL. Returns the length (out is NUL-terminated), or -ENOSPC
 * when it does not fit (out then holds an empty string). Never writes past cap.
 */
long ctl_metrics_render(char *out, size_t cap, const struct ctl_stats *cs,
			const struct dp_core *const *cores, unsigned ncores);

/**
 * Escape a label value per the text format: backslash, double quote and line feed become
 * \\, \" and \n. Returns the length written (out NUL-terminated) or -ENOSPC.
 */
long ctl_metrics_escape(char *out, size_t cap, const char *value);

/**
 * Answer one HTTP request (the bytes read so far, complete or not). GET or HEAD of /metrics
 * gives 200 with body (blen bytes; body NULL gives 500: the render failed); another path 404;
 * another method on /metrics 405; anything malformed, truncated, binary or longer than
 * CTL_METRICS_REQ_MAX 400. The response is HTTP/1.0 with Connection: close. Returns its length,
 * or -ENOSPC when not even an error response fits in out.
 */
long ctl_metrics_http(const char *req, size_t len, char *out, size_t cap, const char *body,
		      size_t blen);

/**
 * Whether the daemon has read enough to answer: the header block has ended, or the bytes can
 * never become a valid request (binary, too long). Until then keep reading (with a timeout;
 * on timeout or EOF answer anyway, which gives 400).
 */
bool ctl_metrics_http_ready(const char *req, size_t len);

#endif

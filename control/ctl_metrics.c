/* Prometheus text exposition (format 0.0.4) of the workers' and the session manager's
 * counters, and a strict one-shot HTTP/1.0 responder for GET /metrics. */
#include "ctl_metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ice_warn.h"

void ctl_metrics_note_warn(struct ctl_warn_hist *h, bool failed, uint32_t warn)
{
	if (failed)
		h->failed++;
	else
		h->completed++;
	if (!warn)
		h->none++;
	for (unsigned i = 0; i < 32; i++)
		if (warn & (1u << i))
			h->bit[i]++;
}

/* An output buffer that refuses, once, to grow past cap and remembers it did. */
struct mbuf {
	char *p;
	size_t cap, len;
	bool full;
};

__attribute__((format(printf, 2, 3))) static void put(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->cap - b->len) {
		b->full = true;
		return;
	}
	b->len += (size_t)n;
}

long ctl_metrics_escape(char *out, size_t cap, const char *v)
{
	size_t n = 0;

	if (!cap)
		return -ENOSPC;
	/* exposition_formats.md: label values escape \ " and line feed; nothing else */
	for (; *v; v++) {
		const char *e = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;
		size_t k = e ? 2 : 1;

		if (n + k >= cap) {
			out[0] = 0;
			return -ENOSPC;
		}
		if (e)
			memcpy(out + n, e, 2);
		else
			out[n] = *v;
		n += k;
	}
	out[n] = 0;
	return (long)n;
}

static void family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	/* help texts are ours, without backslashes or line feeds: nothing to escape */
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void label_sample(struct mbuf *b, const char *name, const char *labels, const char *key,
			 const char *value, uint64_t v)
{
	char esc[128];

	if (ctl_metrics_escape(esc, sizeof(esc), value) < 0) {
		b->full = true;
		return;
	}
	put(b, "%s{%s%s%s=\"%s\"} %" PRIu64 "\n", name, labels, *labels ? "," : "", key, esc, v);
}

struct core_ctr {
	const char *name, *help;
	size_t off;
};

#define CORE_CTR(field, name, help) {name, help, offsetof(struct dp_core_stats, field)}
static const struct core_ctr core_ctrs[] = {
	CORE_CTR(rx, "icegw_rx_packets_total", "Frames received by the worker."),
	CORE_CTR(tx, "icegw_tx_packets_total", "Frames relayed or answered in place by the worker."),
	CORE_CTR(tx_generated, "icegw_tx_generated_packets_total",
		 "Frames the worker made itself (checks, keep-alives, ARP)."),
	CORE_CTR(arp_replies, "icegw_arp_replies_total", "ARP requests for a gateway address answered."),
	CORE_CTR(arp_learned, "icegw_arp_learned_total", "Next-hop MAC addresses learned."),
	CORE_CTR(arp_requests, "icegw_arp_requests_total", "ARP requests sent for unknown next hops."),
	CORE_CTR(timers_fired, "icegw_timers_fired_total", "Timer expiries handled."),
	CORE_CTR(ice_completed, "icegw_ice_completed_total", "Legs whose ICE completed."),
	CORE_CTR(ice_failed, "icegw_ice_failed_total", "Legs whose ICE failed."),
	CORE_CTR(consent_lost, "icegw_ice_consent_lost_total",
		 "Components that lost consent to send (RFC 7675)."),
};

/* Reason label values: the drop enum's names, lower case ("WRONG_SOURCE" -> "wrong_source"). */
static const char *const drop_ids[DP_DROP_MAX] = {
#define _(n, s) [DP_DROP_##n] = #n,
	foreach_dp_drop
#undef _
};

static void render_cores(struct mbuf *b, const struct dp_core *const *cores, unsigned ncores)
{
	char lab[32];

	for (size_t k = 0; k < sizeof(core_ctrs) / sizeof(core_ctrs[0]); k++) {
		family(b, core_ctrs[k].name, "counter", core_ctrs[k].help);
		for (unsigned i = 0; i < ncores; i++) {
			uint64_t v;

			if (!cores[i])
				continue;
			memcpy(&v, (const char *)&cores[i]->st + core_ctrs[k].off, sizeof(v));
			put(b, "%s{core=\"%u\"} %" PRIu64 "\n", core_ctrs[k].name, i, v);
		}
	}
	family(b, "icegw_legs_active", "gauge", "Legs in use on the worker.");
	for (unsigned i = 0; i < ncores; i++)
		if (cores[i])
			put(b, "icegw_legs_active{core=\"%u\"} %" PRIu32 "\n", i, cores[i]->active);
	family(b, "icegw_drops_total", "counter", "Frames dropped by the worker, by reason.");
	for (unsigned i = 0; i < ncores; i++) {
		if (!cores[i])
			continue;
		snprintf(lab, sizeof(lab), "core=\"%u\"", i);
		for (unsigned r = 0; r < DP_DROP_MAX; r++) {
			char id[32];
			size_t j;

			for (j = 0; drop_ids[r][j] && j < sizeof(id) - 1; j++)
				id[j] = (char)(drop_ids[r][j] >= 'A' && drop_ids[r][j] <= 'Z' ?
						       drop_ids[r][j] - 'A' + 'a' : drop_ids[r][j]);
			id[j] = 0;
			label_sample(b, "icegw_drops_total", lab, "reason", id, cores[i]->st.drops[r]);
		}
	}
}

static void scalar(struct mbuf *b, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	family(b, name, type, help);
	put(b, "%s %" PRIu64 "\n", name, v);
}

static void render_ctl(struct mbuf *b, const struct ctl_stats *cs)
{
	const struct {
		const char *cmd;
		uint64_t v;
	} cmds[] = {
		{"ping", cs->pings}, {"offer", cs->offers}, {"answer", cs->answers},
		{"delete", cs->deletes}, {"query", cs->queries}, {"list", cs->lists},
		{"statistics", cs->statistics},
	};
	size_t nflags;
	const struct ice_warn_flag *tab = ice_warn_table(&nflags);

	scalar(b, "icegw_sessions", "gauge", "Calls held now.", cs->calls);
	scalar(b, "icegw_sessions_peak", "gauge", "Most calls held at once since start.",
	       cs->peak_calls);
	scalar(b, "icegw_legs", "gauge", "Legs allocated by the session manager now.", cs->legs);
	scalar(b, "icegw_sessions_created_total", "counter", "Calls created.", cs->calls_created);
	scalar(b, "icegw_sessions_deleted_total", "counter", "Calls deleted.", cs->calls_deleted);
	family(b, "icegw_ng_commands_total", "counter", "NG commands handled, by command.");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		label_sample(b, "icegw_ng_commands_total", "", "command", cmds[i].cmd, cmds[i].v);
	scalar(b, "icegw_ng_errors_total", "counter", "NG requests answered with an error.",
	       cs->errors);
	scalar(b, "icegw_ng_retransmits_total", "counter",
	       "NG retransmissions answered from the reply cache.", cs->retransmits);
	scalar(b, "icegw_port_exhausted_total", "counter",
	       "Offers refused for lack of ports or leg slots (ICEWarn 0x200000).",
	       cs->port_exhausted);
	scalar(b, "icegw_session_limit_total", "counter", "Offers refused at the session limit.",
	       cs->session_limit);
	family(b, "icegw_ice_ended_total", "counter",
	       "Legs released after their ICE ended, by outcome.");
	label_sample(b, "icegw_ice_ended_total", "", "outcome", "completed", cs->ice_warn.completed);
	label_sample(b, "icegw_ice_ended_total", "", "outcome", "failed", cs->ice_warn.failed);
	family(b, "icegw_ice_warn_total", "counter",
	       "Legs released after their ICE ended, by ICEWarn flag set (NONE: no flag).");
	label_sample(b, "icegw_ice_warn_total", "", "flag", "NONE", cs->ice_warn.none);
	for (size_t i = 0; i < nflags; i++) {
		unsigned bit = (unsigned)__builtin_ctz(tab[i].value);
		label_sample(b, "icegw_ice_warn_total", "", "flag", tab[i].name, cs->ice_warn.bit[bit]);
	}
	/* bits outside the table only when seen: they should not be there at all */
	for (unsigned bit = 0; bit < 32; bit++) {
		char id[24];

		if (ice_warn_lookup(1u << bit) || !cs->ice_warn.bit[bit])
			continue;
		snprintf(id, sizeof(id), "UNKNOWN_0x%" PRIx32, (uint32_t)1u << bit);
		label_sample(b, "icegw_ice_warn_total", "", "flag", id, cs->ice_warn.bit[bit]);
	}
}

long ctl_metrics_render(char *out, size_t cap, const struct ctl_stats *cs,
			const struct dp_core *const *cores, unsigned ncores)
{
	struct mbuf b = {.p = out, .cap = cap};

	if (!out || !cap)
		return -ENOSPC;
	out[0] = 0;
	if (cores)
		render_cores(&b, cores, ncores);
	if (cs)
		render_ctl(&b, cs);
	if (b.full) {
		out[0] = 0;
		return -ENOSPC;
	}
	return (long)b.len;
}

/* ---- HTTP ---- */

/* Where the header block ends (just past its blank line), 0 if it has not ended. RFC 9112
 * §2.2 lets a recipient take a bare LF as a line end: curl and Prometheus send CRLF anyway. */
static size_t header_end(const char *r, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (r[i] != '\n')
			continue;
		if (i + 1 < len && r[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && r[i + 1] == '\r' && r[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Bytes no request header holds: controls other than HTAB / CR / LF, and DEL. */
static bool bad_byte(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f;
}

bool ctl_metrics_http_ready(const char *req, size_t len)
{
	if (len >= CTL_METRICS_REQ_MAX || header_end(req, len))
		return true;
	for (size_t i = 0; i < len; i++)
		if (bad_byte((unsigned char)req[i]))
			return true;
	return false;
}

/* tchar, RFC 9110 §5.6.2 */
static bool tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static long respond(char *out, size_t cap, const char *status, const char *extra,
		    const char *ctype, const char *body, size_t blen, bool head)
{
	int n = snprintf(out, cap,
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			 "Connection: close\r\n\r\n",
			 status, ctype, blen, extra);

	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	if (head)
		return n;
	if (blen > cap - (size_t)n)
		return -ENOSPC;
	memcpy(out + n, body, blen);
	return (long)((size_t)n + blen);
}

static long respond_text(char *out, size_t cap, const char *status, const char *extra,
			 const char *text)
{
	return respond(out, cap, status, extra, "text/plain; charset=utf-8", text, strlen(text),
		       false);
}

enum req_verdict { REQ_BAD, REQ_NOT_FOUND, REQ_METHOD, REQ_GET, REQ_HEAD };

static enum req_verdict parse_request(const char *r, size_t len)
{
	size_t end, i = 0, m, t0, t1, eol;
	bool v11, host = false;

	if (len > CTL_METRICS_REQ_MAX)
		return REQ_BAD;
	end = header_end(r, len);
	if (!end)
		return REQ_BAD; /* truncated: no blank line */
	for (size_t k = 0; k < end; k++)
		if (bad_byte((unsigned char)r[k]))
			return REQ_BAD;
	/* request-line = method SP request-target SP HTTP-version (RFC 9112 §3) */
	while (i < end && tchar((unsigned char)r[i]))
		i++;
	m = i;
	if (m == 0 || m > 16 || r[i] != ' ')
		return REQ_BAD;
	t0 = ++i;
	while (i < end && r[i] > 0x20 && r[i] < 0x7f)
		i++;
	t1 = i;
	if (t1 == t0 || r[t0] != '/' || r[i] != ' ')
		return REQ_BAD;
	i++;
	if (end - i < 9 || memcmp(r + i, "HTTP/1.", 7) != 0 || (r[i + 7] != '0' && r[i + 7] != '1'))
		return REQ_BAD;
	v11 = r[i + 7] == '1';
	i += 8;
	if (r[i] == '\r')
		i++;
	if (r[i] != '\n')
		return REQ_BAD;
	i++;
	/* header fields: a token, a colon, a value; no obs-fold (RFC 9112 §5.2: reject) */
	while (i < end) {
		size_t n0 = i;

		eol = i;
		while (r[eol] != '\n')
			eol++;
		if (eol == i || (eol == i + 1 && r[i] == '\r'))
			break; /* the blank line */
		while (i < eol && tchar((unsigned char)r[i]))
			i++;
		if (i == n0 || r[i] != ':')
			return REQ_BAD;
		for (size_t k = i; k < eol; k++)
			if ((unsigned char)r[k] < 0x20 && r[k] != '\t' && !(r[k] == '\r' && k == eol - 1))
				return REQ_BAD;
		if (i - n0 == 4 && strncasecmp(r + n0, "host", 4) == 0) {
			if (host)
				return REQ_BAD;
			host = true;
		}
		i = eol + 1;
	}
	/* RFC 9112 §3.2: an HTTP/1.1 request without exactly one Host gets 400 */
	if (v11 && !host)
		return REQ_BAD;
	{
		size_t plen = t1 - t0;
		const char *q = memchr(r + t0, '?', plen);

		if (q)
			plen = (size_t)(q - (r + t0));
		if (plen != 8 || memcmp(r + t0, "/metrics", 8) != 0)
			return REQ_NOT_FOUND;
	}
	if (m == 3 && !memcmp(r, "GET", 3))
		return REQ_GET;
	if (m == 4 && !memcmp(r, "HEAD", 4))
		return REQ_HEAD;
	return REQ_METHOD;
}

long ctl_metrics_http(const char *req, size_t len, char *out, size_t cap, const char *body,
		      size_t blen)
{
	enum req_verdict v;
	long n;

	if (!out || !cap)
		return -ENOSPC;
	v = req ? parse_request(req, len) : REQ_BAD;
	switch (v) {
	case REQ_NOT_FOUND:
		return respond_text(out, cap, "404 Not Found", "", "404 not found: try /metrics\n");
	case REQ_METHOD:
		return respond_text(out, cap, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
				    "405 method not allowed\n");
	case REQ_GET:
	case REQ_HEAD:
		if (!body)
			return respond_text(out, cap, "500 Internal Server Error", "",
					    "500 metrics did not fit the buffer\n");
		n = respond(out, cap, "200 OK", "", CTL_METRICS_CONTENT_TYPE, body, blen,
			    v == REQ_HEAD);
		if (n == -ENOSPC)
			return respond_text(out, cap, "500 Internal Server Error", "",
					    "500 metrics did not fit the buffer\n");
		return n;
	default:
		return respond_text(out, cap, "400 Bad Request", "", "400 bad request\n");
	}
}

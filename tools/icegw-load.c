/* icegw-load: a load generator for a running icegw over its NG control socket (UDP): offer and
 * answer for N calls with up to W requests in flight, the calls held at once, a sample queried,
 * all deleted; set-up rate, failures by error-reason, latencies and the daemon's memory. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ng_bencode.h"

/* Kamailio's rtpengine module: rtpengine_tout_ms = 1000, rtpengine_retr = 5 */
#define DEF_TIMEOUT_MS 1000
#define DEF_TRIES 5
#define WINDOW_MAX 4096
#define CALLS_MAX 1000000
#define MSG_MAX 8192
#define REPLY_MAX 65536
#define NODES_MAX 8192
#define REASONS_MAX 64
#define REASON_LEN 120
#define STATS_MAX 48
/* list: call-ids in one reply (bounded to fit a datagram) */
#define LIST_LIMIT 500

enum kind { K_OFFER, K_ANSWER, K_QUERY, K_DELETE, K_OTHER, K_N };
static const char *const kind_name[K_N] = {"offer", "answer", "query", "delete", "other"};

/* C_ANS_FAILED: the offer made the call on the daemon, the answer failed: it is deleted too */
enum call_state { C_NEW, C_OFFERED, C_UP, C_FAILED, C_ANS_FAILED, C_DELETED, C_DEL_FAILED };

struct slot {
	bool busy;
	uint8_t kind;
	uint32_t call;
	uint32_t gen;
	unsigned tries;
	double t_first, t_sent;
	size_t len;
	char msg[MSG_MAX];
};

struct reason {
	uint8_t kind;
	bool warning;
	char text[REASON_LEN];
	uint64_t n;
};

/* Latencies of one kind of reply, in seconds. */
struct lat {
	double *v;
	size_t n, cap;
};

struct ngstats {
	bool ok;
	unsigned n;
	char key[STATS_MAX][40];
	int64_t val[STATS_MAX];
};

static struct {
	/* options */
	struct sockaddr_in ng;
	const char *ng_spec;
	unsigned calls, window, tries, query_every;
	unsigned timeout_ms, hold_ms, max_time_s, wait_s, rate;
	uint64_t max_failures;
	bool rtcp_mux, ms_ice2;
	const char *ice;
	long pid;
	char prefix[48];

	int fd;
	char cookie_base[24];
	uint32_t gen;
	struct slot *slots;
	unsigned busy;
	uint8_t *state;
	/* answers due: calls whose offer succeeded, taken before new offers so calls complete */
	uint32_t *ready;
	unsigned nready;
	struct reason reasons[REASONS_MAX];
	unsigned nreasons;
	uint64_t reasons_lost;
	struct lat ok[K_N], err[K_N];
	uint64_t sent[K_N], failed[K_N], timeouts, retrans, late, bad_cookie;
	double phase_end;
	bool stop_producing;
	bool rate_wait;      /* the producer has more, later (--rate) */
} R;

static volatile sig_atomic_t interrupted;
/* A sync request's command (ping, statistics, list): the "other" kind carries it. */
static const char *other_cmd;
/* our call-ids in the daemon's list after delete; -1 unknown */
static int64_t list_ours = -1;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted++;
	if (interrupted > 1)
		_exit(130);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- bookkeeping */

static void lat_add(struct lat *l, double v)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? 2 * l->cap : 1024;
		double *nv = realloc(l->v, nc * sizeof(*nv));

		if (!nv)
			return; /* a latency lost to memory, not a failure of the run */
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of a sorted array. */
static double pct(const struct lat *l, double p)
{
	size_t i;

	if (!l->n)
		return 0;
	i = (size_t)(p / 100.0 * (double)l->n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > l->n)
		i = l->n;
	return l->v[i - 1];
}

static void note_reason(uint8_t kind, bool warning, const char *s, size_t n)
{
	if (n >= REASON_LEN)
		n = REASON_LEN - 1;
	for (unsigned i = 0; i < R.nreasons; i++) {
		struct reason *r = &R.reasons[i];

		if (r->kind == kind && r->warning == warning && strlen(r->text) == n &&
		    !memcmp(r->text, s, n)) {
			r->n++;
			return;
		}
	}
	if (R.nreasons == REASONS_MAX) {
		R.reasons_lost++;
		return;
	}
	struct reason *r = &R.reasons[R.nreasons++];
	r->kind = kind;
	r->warning = warning;
	memcpy(r->text, s, n);
	r->text[n] = 0;
	/* keep the table printable: the daemon's text is not ours to trust */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r->text[i] < 0x20 || (unsigned char)r->text[i] > 0x7e)
			r->text[i] = '?';
	r->n = 1;
}

/* ---------------------------------------------------------------- messages */

static void call_id(char *out, size_t cap, uint32_t i)
{
	snprintf(out, cap, "%s%u@load.icegw.invalid", R.prefix, i);
}

/* RFC 8445 §5.1.2.1: priority = type preference << 24 | local preference << 8 | (256 - comp).
 * MS-ICE2 endpoints (libnice OC2007R2) lay the local preference out as transport (UDP 15)
 * << 12 | direction (UDP 0) << 9 | interface rank: the layout icegw recognises them by. */
static uint32_t cand_prio(unsigned type_pref, unsigned comp, bool ms)
{
	uint32_t lp = ms ? (15u << 12) | 1u : 65535u;

	return (uint32_t)type_pref << 24 | lp << 8 | (256u - comp);
}

/* A softphone behind NAT: host and server-reflexive candidates per component, PCMU/PCMA and
 * telephone-event; caller (offer) on 192.168.x.y / 198.51.100.z, callee (answer) on
 * 10.20.x.y / 192.0.2.z. Each call has its own addresses, ports and credentials. */
static int make_sdp(char *out, size_t cap, uint32_t i, bool offer)
{
	const char *lan = offer ? "192.168" : "10.20", *wan = offer ? "198.51.100" : "192.0.2";
	unsigned a = i / 250 % 250, h = 10 + i % 200, p = (offer ? 20000 : 40000) + 2 * (i % 10000);
	bool ms = offer && R.ms_ice2;
	unsigned ncomp = R.rtcp_mux ? 1 : 2;
	int n;

	n = snprintf(out, cap,
		     "v=0\r\n"
		     "o=- %u 1 IN IP4 %s.%u.%u\r\n"
		     "s=-\r\n"
		     "c=IN IP4 %s.%u\r\n"
		     "t=0 0\r\n"
		     "m=audio %u RTP/AVP %s\r\n"
		     "a=rtpmap:0 PCMU/8000\r\n"
		     "%s"
		     "a=rtpmap:101 telephone-event/8000\r\n"
		     "a=fmtp:101 0-16\r\n"
		     "a=ptime:20\r\n"
		     "a=ice-ufrag:%c%07x\r\n"
		     "a=ice-pwd:%s%016x%08x\r\n",
		     1000000 + i, lan, a, h, wan, h, p, offer ? "0 8 101" : "0 101",
		     offer ? "a=rtpmap:8 PCMA/8000\r\n" : "", offer ? 'a' : 'b', i,
		     offer ? "caller" : "callee", i * 2654435761u, i);
	for (unsigned c = 1; c <= ncomp && n > 0 && (size_t)n < cap; c++)
		n += snprintf(out + n, cap - (size_t)n,
			      "a=candidate:1 %u UDP %u %s.%u.%u %u typ host\r\n"
			      "a=candidate:2 %u UDP %u %s.%u %u typ srflx raddr %s.%u.%u rport %u\r\n",
			      c, cand_prio(126, c, ms), lan, a, h, p + c - 1,
			      c, cand_prio(100, c, ms), wan, h, p + c - 1, lan, a, h, p + c - 1);
	if (n > 0 && (size_t)n < cap)
		n += snprintf(out + n, cap - (size_t)n, "a=rtcp:%u\r\n%sa=sendrecv\r\n",
			      R.rtcp_mux ? p : p + 1, R.rtcp_mux ? "a=rtcp-mux\r\n" : "");
	return n > 0 && (size_t)n < cap ? n : -1;
}

/* A request as Kamailio's rtpengine module sends it for rtpengine_offer("ICE=force
 * trust-address replace-origin replace-session-connection") and friends. */
static long make_msg(char *out, size_t cap, const char *cookie, uint8_t kind, uint32_t i)
{
	static struct ng_benc_node nodes[64];
	static char sdp[4096];
	char id[96], ftag[24], ttag[24], branch[32];
	struct ng_benc_doc d;
	int dict, l;
	long n, m;

	ng_benc_init(&d, nodes, 64);
	dict = ng_benc_new_dict(&d);
	call_id(id, sizeof(id), i);
	snprintf(ftag, sizeof(ftag), "f%08x", i * 2246822519u);
	snprintf(ttag, sizeof(ttag), "t%08x", i * 3266489917u);
	snprintf(branch, sizeof(branch), "z9hG4bK%08x%u", i * 668265263u, kind);
	if (kind == K_OTHER) {
		ng_benc_dict_add_cstr(&d, dict, "command", other_cmd ? other_cmd : "ping");
		if (other_cmd && !strcmp(other_cmd, "list"))
			ng_benc_dict_add_int(&d, dict, "limit", LIST_LIMIT);
		goto encode;
	}
	ng_benc_dict_add_cstr(&d, dict, "command", kind_name[kind]);
	ng_benc_dict_add_cstr(&d, dict, "call-id", id);
	ng_benc_dict_add_cstr(&d, dict, "from-tag", ftag);
	if (kind == K_OFFER || kind == K_ANSWER) {
		if (make_sdp(sdp, sizeof(sdp), i, kind == K_OFFER) < 0)
			return -1;
		if (kind == K_ANSWER)
			ng_benc_dict_add_cstr(&d, dict, "to-tag", ttag);
		ng_benc_dict_add_cstr(&d, dict, "via-branch", branch);
		ng_benc_dict_add_cstr(&d, dict, "ICE", R.ice);
		l = ng_benc_new_list(&d);
		ng_benc_list_add(&d, l, ng_benc_new_cstr(&d, "trust-address"));
		ng_benc_dict_add(&d, dict, "flags", l);
		l = ng_benc_new_list(&d);
		ng_benc_list_add(&d, l, ng_benc_new_cstr(&d, "origin"));
		ng_benc_list_add(&d, l, ng_benc_new_cstr(&d, "session-connection"));
		ng_benc_dict_add(&d, dict, "replace", l);
		ng_benc_dict_add_cstr(&d, dict, "sdp", sdp);
	}
encode:
	n = snprintf(out, cap, "%s ", cookie);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	m = ng_benc_encode(&d, (uint32_t)dict, out + n, cap - (size_t)n);
	return m < 0 ? -1 : n + m;
}

/* ---------------------------------------------------------------- the window */

static void send_slot(struct slot *s, double now)
{
	ssize_t r = send(R.fd, s->msg, s->len, 0);

	/* a full socket buffer or a refused port (ICMP) counts as a lost datagram: the
	 * retransmission timer covers it */
	(void)r;
	s->t_sent = now;
	s->tries++;
}

static bool start_req(uint8_t kind, uint32_t call, double now)
{
	struct slot *s = NULL;
	char cookie[48];
	long n;

	for (unsigned k = 0; k < R.window; k++)
		if (!R.slots[k].busy) {
			s = &R.slots[k];
			break;
		}
	if (!s)
		return false;
	R.gen++;
	snprintf(cookie, sizeof(cookie), "%s_%x.%x", R.cookie_base, (unsigned)(s - R.slots), R.gen);
	n = make_msg(s->msg, sizeof(s->msg), cookie, kind, call);
	if (n < 0) {
		note_reason(kind, false, "request too large to build", 26);
		R.failed[kind]++;
		if (kind == K_OFFER)
			R.state[call] = C_FAILED;
		return true;
	}
	s->busy = true;
	s->kind = kind;
	s->call = call;
	s->gen = R.gen;
	s->tries = 0;
	s->t_first = now;
	s->len = (size_t)n;
	R.busy++;
	R.sent[kind]++;
	send_slot(s, now);
	return true;
}

static void finish(struct slot *s)
{
	s->busy = false;
	R.busy--;
}

/* The request in s failed for reason why (length n); replied: the daemon said so (its
 * latency is an error reply's), else the tool gave up. */
static void fail_req(struct slot *s, const char *why, size_t n, double now, bool replied)
{
	R.failed[s->kind]++;
	note_reason(s->kind, false, why, n);
	if (replied)
		lat_add(&R.err[s->kind], now - s->t_first);
	if (s->kind == K_OFFER)
		R.state[s->call] = C_FAILED;
	else if (s->kind == K_ANSWER)
		R.state[s->call] = C_ANS_FAILED;
	else if (s->kind == K_DELETE)
		R.state[s->call] = C_DEL_FAILED;
	finish(s);
}

static const struct ng_benc_node *dict_get(const struct ng_benc_doc *d, const struct ng_benc_node *n,
					   const char *key)
{
	return n && n->type == NG_BENC_DICT ? ng_benc_dict_get(d, n, key) : NULL;
}

static struct ngstats *stats_sink;

static void take_stats(const struct ng_benc_doc *d, const struct ng_benc_node *root)
{
	const struct ng_benc_node *st = dict_get(d, root, "statistics"), *k, *v;
	const char *groups[] = {"currentstatistics", "totalstatistics"};

	if (!stats_sink)
		return;
	stats_sink->ok = st != NULL;
	for (unsigned g = 0; g < 2; g++) {
		const struct ng_benc_node *grp = dict_get(d, st, groups[g]);

		if (!grp || grp->type != NG_BENC_DICT)
			continue;
		for (k = ng_benc_first(d, grp); k && (v = ng_benc_next(d, k)); k = ng_benc_next(d, v)) {
			if (v->type != NG_BENC_INT || stats_sink->n == STATS_MAX)
				continue;
			snprintf(stats_sink->key[stats_sink->n], sizeof(stats_sink->key[0]), "%.*s",
				 (int)(k->len < 39 ? k->len : 39), k->str);
			stats_sink->val[stats_sink->n++] = v->ival;
		}
	}
}

static void take_list(const struct ng_benc_doc *d, const struct ng_benc_node *root)
{
	const struct ng_benc_node *l = dict_get(d, root, "calls");
	size_t pl = strlen(R.prefix);

	if (!l || l->type != NG_BENC_LIST)
		return;
	list_ours = 0;
	for (const struct ng_benc_node *e = ng_benc_first(d, l); e; e = ng_benc_next(d, e))
		list_ours += e->type == NG_BENC_STR && e->len >= pl && !memcmp(e->str, R.prefix, pl);
}

static void on_reply(const char *buf, size_t len, double now)
{
	static struct ng_benc_node nodes[NODES_MAX];
	const char *sp = memchr(buf, ' ', len < 80 ? len : 80), *dot, *us;
	struct ng_benc_doc d;
	const struct ng_benc_node *root, *res, *why, *sdp, *warn;
	unsigned long slot, gen;
	char ck[80], *end;
	struct slot *s;

	if (!sp) {
		R.bad_cookie++;
		return;
	}
	memcpy(ck, buf, (size_t)(sp - buf));
	ck[sp - buf] = 0;
	us = strrchr(ck, '_');
	if (!us || strncmp(ck, R.cookie_base, strlen(R.cookie_base)) ||
	    (size_t)(us - ck) != strlen(R.cookie_base)) {
		R.bad_cookie++;
		return;
	}
	slot = strtoul(us + 1, &end, 16);
	dot = end;
	if (*dot != '.' || slot >= R.window) {
		R.bad_cookie++;
		return;
	}
	gen = strtoul(dot + 1, &end, 16);
	s = &R.slots[slot];
	if (*end || !s->busy || s->gen != gen) {
		R.late++; /* the answer to a retransmission, after the first answer */
		return;
	}
	ng_benc_init(&d, nodes, NODES_MAX);
	if (ng_benc_parse(&d, sp + 1, len - (size_t)(sp + 1 - buf)) < 0 ||
	    !(root = ng_benc_at(&d, 0)) || root->type != NG_BENC_DICT) {
		fail_req(s, "reply is not a bencoded dictionary", 34, now, true);
		return;
	}
	if ((warn = dict_get(&d, root, "warning")) && warn->type == NG_BENC_STR)
		note_reason(s->kind, true, warn->str, warn->len);
	res = dict_get(&d, root, "result");
	if (!res || res->type != NG_BENC_STR) {
		fail_req(s, "reply without result", 20, now, true);
		return;
	}
	if (!ng_benc_str_eq(res, "ok") && !(s->kind == K_OTHER && ng_benc_str_eq(res, "pong"))) {
		why = dict_get(&d, root, "error-reason");
		if (ng_benc_str_eq(res, "error") && why && why->type == NG_BENC_STR)
			fail_req(s, why->str, why->len, now, true);
		else if (ng_benc_str_eq(res, "load limit"))
			fail_req(s, "load limit", 10, now, true);
		else
			fail_req(s, "result neither ok nor error", 27, now, true);
		return;
	}
	if (s->kind == K_OFFER || s->kind == K_ANSWER) {
		sdp = dict_get(&d, root, "sdp");
		if (!sdp || sdp->type != NG_BENC_STR || !memmem(sdp->str, sdp->len, "\r\nm=audio ", 10)) {
			fail_req(s, "ok without a rewritten audio SDP", 32, now, true);
			return;
		}
	}
	lat_add(&R.ok[s->kind], now - s->t_first);
	switch (s->kind) {
	case K_OFFER:
		R.state[s->call] = C_OFFERED;
		R.ready[R.nready++] = s->call;
		break;
	case K_ANSWER:
		R.state[s->call] = C_UP;
		R.phase_end = now;
		break;
	case K_DELETE:
		R.state[s->call] = C_DELETED;
		R.phase_end = now;
		break;
	case K_OTHER:
		if (other_cmd && !strcmp(other_cmd, "statistics"))
			take_stats(&d, root);
		else if (other_cmd && !strcmp(other_cmd, "list"))
			take_list(&d, root);
		break;
	default:
		break;
	}
	finish(s);
}

/* What the phase sends next: returns false when it has nothing (now). */
typedef bool (*next_fn)(uint8_t *kind, uint32_t *call);

/*
 * Keep up to W requests in flight until next() runs dry and every request has its answer, its
 * failure, or its last timeout; or until deadline (then what is in flight fails). An
 * interruptible phase stops sending new requests on SIGINT. Returns the time it started.
 */
static double run_phase(next_fn next, double deadline, bool interruptible)
{
	static char buf[REPLY_MAX];
	double t0 = now_s(), last_scan = 0;
	struct pollfd pfd = {.fd = R.fd, .events = POLLIN};

	R.stop_producing = false;
	R.rate_wait = false;
	for (;;) {
		double now = now_s();
		uint8_t kind;
		uint32_t call;

		if (interrupted && !R.stop_producing && interruptible) {
			fprintf(stderr, "icegw-load: interrupted: no new requests in this phase\n");
			R.stop_producing = true;
		}
		while (!R.stop_producing && R.busy < R.window && next(&kind, &call))
			start_req(kind, call, now);
		if (!R.busy && (!R.rate_wait || R.stop_producing))
			break;
		(void)poll(&pfd, 1, 5);
		for (int k = 0; k < 256; k++) {
			ssize_t n = recv(R.fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			on_reply(buf, (size_t)n, now_s());
		}
		now = now_s();
		if (now - last_scan >= 0.005 || now > deadline) {
			double tmo = R.timeout_ms / 1000.0;

			last_scan = now;
			for (unsigned k = 0; k < R.window; k++) {
				struct slot *s = &R.slots[k];

				if (!s->busy)
					continue;
				if (now > deadline) {
					fail_req(s, "run time limit (--max-time)", 27, now, false);
				} else if (now - s->t_sent >= tmo) {
					if (s->tries >= R.tries) {
						R.timeouts++;
						fail_req(s, "timeout: no reply", 17, now, false);
					} else {
						R.retrans++;
						send_slot(s, now);
					}
				}
			}
			if (now > deadline)
				R.stop_producing = true;
		}
	}
	return t0;
}

/* ---------------------------------------------------------------- phases */

static uint32_t cursor;
static uint32_t *order;
static double setup_t0;
static unsigned sync_kind_pending;

static bool next_setup(uint8_t *kind, uint32_t *call)
{
	if (R.nready) {
		*kind = K_ANSWER;
		*call = R.ready[--R.nready];
		return true;
	}
	if (cursor >= R.calls)
		return false;
	/* --rate: new calls arrive at most this fast (answers of calls begun are never held) */
	R.rate_wait = R.rate && cursor >= (now_s() - setup_t0) * R.rate;
	if (R.rate_wait)
		return false;
	*kind = K_OFFER;
	*call = cursor++;
	return true;
}

static bool next_query(uint8_t *kind, uint32_t *call)
{
	while (cursor < R.calls && R.state[cursor] != C_UP)
		cursor += R.query_every;
	if (cursor >= R.calls)
		return false;
	*kind = K_QUERY;
	*call = cursor;
	cursor += R.query_every;
	return true;
}

/* Every call the daemon may hold: set up, or offered and then refused an answer. */
static bool next_delete(uint8_t *kind, uint32_t *call)
{
	while (cursor < R.calls) {
		uint32_t i = order[cursor++];

		if (R.state[i] == C_UP || R.state[i] == C_OFFERED || R.state[i] == C_ANS_FAILED) {
			*kind = K_DELETE;
			*call = i;
			return true;
		}
	}
	return false;
}

static bool next_sync(uint8_t *kind, uint32_t *call)
{
	if (!sync_kind_pending)
		return false;
	sync_kind_pending = 0;
	*kind = K_OTHER;
	*call = 0;
	return true;
}

/* ping, statistics or list, one request through the window machinery. 0 when answered. */
static int ng_sync(const char *cmd, struct ngstats *st)
{
	uint64_t failed = R.failed[K_OTHER];

	other_cmd = cmd;
	stats_sink = st;
	if (st)
		memset(st, 0, sizeof(*st));
	sync_kind_pending = 1;
	run_phase(next_sync, now_s() + (double)R.tries * R.timeout_ms / 1000.0 + 1, false);
	stats_sink = NULL;
	other_cmd = NULL;
	return R.failed[K_OTHER] == failed ? 0 : -1;
}

/* ---------------------------------------------------------------- /proc */

struct mem {
	long rss, hwm, anon, shmem;
};

static bool read_mem(long pid, struct mem *m)
{
	char path[64], line[256];
	FILE *f;

	memset(m, 0, sizeof(*m));
	m->rss = -1;
	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (!(f = fopen(path, "r")))
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			m->rss = strtol(line + 6, NULL, 10);
		else if (!strncmp(line, "VmHWM:", 6))
			m->hwm = strtol(line + 6, NULL, 10);
		else if (!strncmp(line, "RssAnon:", 8))
			m->anon = strtol(line + 8, NULL, 10);
		else if (!strncmp(line, "RssShmem:", 9))
			m->shmem = strtol(line + 9, NULL, 10);
	}
	fclose(f);
	return m->rss >= 0;
}

static int64_t stat_get(const struct ngstats *s, const char *key)
{
	for (unsigned i = 0; s->ok && i < s->n; i++)
		if (!strcmp(s->key[i], key))
			return s->val[i];
	return -1;
}

/* ---------------------------------------------------------------- options */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: icegw-load [options]\n"
		"Drive N calls through a running icegw's NG control socket (UDP), as Kamailio's\n"
		"rtpengine module does: offer, answer, hold them all, query a sample, delete them all.\n\n"
		"  -s, --ng IP:PORT       the daemon's NG address (default 127.0.0.1:2223)\n"
		"  -n, --calls N          calls (1-%u, default 1000)\n"
		"  -w, --window W         requests in flight at most (1-%u, default 64)\n"
		"  -R, --rate N           start at most N new calls per second (default: as fast as the\n"
		"                         window allows)\n"
		"  -m, --rtcp-mux         both sides offer a=rtcp-mux (one port per leg)\n"
		"      --ms-ice2          the caller is an MS-ICE2 endpoint (libnice OC2007R2\n"
		"                         candidate priorities); the callee RFC 8445\n"
		"      --ice MODE         NG ICE key (default force; remove, optional, ...)\n"
		"  -p, --pid PID          the daemon's process: VmRSS from /proc/PID/status before,\n"
		"                         at peak and after delete\n"
		"  -q, --query-every K    query 1 call in K while they are all up (default 0: none)\n"
		"      --hold-ms MS       hold the calls this long before deleting (default 0)\n"
		"  -t, --timeout-ms MS    retransmit after MS without a reply (10-60000, default %u)\n"
		"  -r, --tries N          sends per request before it fails (1-20, default %u)\n"
		"  -T, --max-time S       bound on set-up + hold + query; the delete phase gets the\n"
		"                         same bound again (1-86400, default 600)\n"
		"  -f, --max-failures N   exit 1 when more requests than N fail (default 0)\n"
		"      --wait S           ping the daemon for up to S seconds before starting (a\n"
		"                         daemon still starting up; default 0: one ping)\n"
		"      --prefix STR       call-id prefix (default icegw-load-PID-)\n"
		"  -h, --help\n\n"
		"Exit: 0 done within --max-failures and the daemon's session count back where it was;\n"
		"1 more failures, or calls left behind; 2 bad options; 3 the daemon does not answer ping.\n",
		CALLS_MAX, WINDOW_MAX, DEF_TIMEOUT_MS, DEF_TRIES);
}

static bool parse_uint(const char *opt, const char *s, unsigned long lo, unsigned long hi,
		       unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "icegw-load: %s: '%s' must be an integer %lu-%lu\n", opt, s, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

static bool parse_addr(const char *spec, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	unsigned long port;

	if (!colon || (size_t)(colon - spec) >= sizeof(host)) {
		fprintf(stderr, "icegw-load: --ng: '%s' must be IPv4:PORT\n", spec);
		return false;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = 0;
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		fprintf(stderr, "icegw-load: --ng: '%s' is not an IPv4 address\n", host);
		return false;
	}
	if (!parse_uint("--ng port", colon + 1, 1, 65535, &port))
		return false;
	sin->sin_port = htons((uint16_t)port);
	return true;
}

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{"ng", required_argument, NULL, 's'},
		{"calls", required_argument, NULL, 'n'},
		{"window", required_argument, NULL, 'w'},
		{"rtcp-mux", no_argument, NULL, 'm'},
		{"ms-ice2", no_argument, NULL, 'M'},
		{"ice", required_argument, NULL, 'I'},
		{"pid", required_argument, NULL, 'p'},
		{"query-every", required_argument, NULL, 'q'},
		{"hold-ms", required_argument, NULL, 'H'},
		{"timeout-ms", required_argument, NULL, 't'},
		{"tries", required_argument, NULL, 'r'},
		{"max-time", required_argument, NULL, 'T'},
		{"max-failures", required_argument, NULL, 'f'},
		{"prefix", required_argument, NULL, 'P'},
		{"wait", required_argument, NULL, 'W'},
		{"rate", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned long v;
	int c;

	R.ng_spec = "127.0.0.1:2223";
	R.calls = 1000;
	R.window = 64;
	R.tries = DEF_TRIES;
	R.timeout_ms = DEF_TIMEOUT_MS;
	R.max_time_s = 600;
	R.ice = "force";
	snprintf(R.prefix, sizeof(R.prefix), "icegw-load-%ld-", (long)getpid());
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:n:w:mp:q:t:r:T:f:R:h", lo, NULL)) != -1) {
		switch (c) {
		case 's': R.ng_spec = optarg; break;
		case 'n':
			if (!parse_uint("--calls", optarg, 1, CALLS_MAX, &v))
				return 2;
			R.calls = (unsigned)v;
			break;
		case 'w':
			if (!parse_uint("--window", optarg, 1, WINDOW_MAX, &v))
				return 2;
			R.window = (unsigned)v;
			break;
		case 'm': R.rtcp_mux = true; break;
		case 'M': R.ms_ice2 = true; break;
		case 'I':
			if (!*optarg || strlen(optarg) > 32 || strpbrk(optarg, " \t\r\n")) {
				fprintf(stderr, "icegw-load: --ice: '%s' is not an NG ICE value\n", optarg);
				return 2;
			}
			R.ice = optarg;
			break;
		case 'p':
			if (!parse_uint("--pid", optarg, 1, 4194304, &v))
				return 2;
			R.pid = (long)v;
			break;
		case 'q':
			if (!parse_uint("--query-every", optarg, 0, CALLS_MAX, &v))
				return 2;
			R.query_every = (unsigned)v;
			break;
		case 'H':
			if (!parse_uint("--hold-ms", optarg, 0, 3600000, &v))
				return 2;
			R.hold_ms = (unsigned)v;
			break;
		case 't':
			if (!parse_uint("--timeout-ms", optarg, 10, 60000, &v))
				return 2;
			R.timeout_ms = (unsigned)v;
			break;
		case 'r':
			if (!parse_uint("--tries", optarg, 1, 20, &v))
				return 2;
			R.tries = (unsigned)v;
			break;
		case 'T':
			if (!parse_uint("--max-time", optarg, 1, 86400, &v))
				return 2;
			R.max_time_s = (unsigned)v;
			break;
		case 'f':
			if (!parse_uint("--max-failures", optarg, 0, 4000000000ul, &v))
				return 2;
			R.max_failures = v;
			break;
		case 'R':
			if (!parse_uint("--rate", optarg, 1, 10000000, &v))
				return 2;
			R.rate = (unsigned)v;
			break;
		case 'W':
			if (!parse_uint("--wait", optarg, 0, 3600, &v))
				return 2;
			R.wait_s = (unsigned)v;
			break;
		case 'P':
			if (!*optarg || strlen(optarg) >= 32 || strpbrk(optarg, " \t\r\n@")) {
				fprintf(stderr, "icegw-load: --prefix: want 1-31 characters, no blanks or '@'\n");
				return 2;
			}
			snprintf(R.prefix, sizeof(R.prefix), "%s", optarg);
			break;
		case 'h': usage(stdout); exit(0);
		case ':':
			fprintf(stderr, "icegw-load: %s needs a value (see --help)\n", argv[optind - 1]);
			return 2;
		default:
			if (optopt)
				fprintf(stderr, "icegw-load: unknown option -%c (see --help)\n", optopt);
			else
				fprintf(stderr, "icegw-load: unknown option '%s' (see --help)\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "icegw-load: unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	return parse_addr(R.ng_spec, &R.ng) ? 0 : 2;
}

/* ---------------------------------------------------------------- report */

static void print_lat(const char *name, struct lat *l)
{
	if (!l->n)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_double);
	printf("  %-14s %8zu %9.3f %9.3f %9.3f %9.3f\n", name, l->n, pct(l, 50) * 1e3,
	       pct(l, 90) * 1e3, pct(l, 99) * 1e3, l->v[l->n - 1] * 1e3);
}

static void print_stats(const struct ngstats *s0, const struct ngstats *s1, const struct ngstats *s2)
{
	const struct ngstats *ref = s1->ok ? s1 : s0->ok ? s0 : s2;

	if (!ref->ok) {
		printf("daemon NG statistics: not available\n");
		return;
	}
	printf("daemon NG statistics            before       peak      after\n");
	for (unsigned i = 0; i < ref->n; i++)
		printf("  %-24s %10" PRId64 " %10" PRId64 " %10" PRId64 "\n", ref->key[i],
		       stat_get(s0, ref->key[i]), stat_get(s1, ref->key[i]), stat_get(s2, ref->key[i]));
}

int main(int argc, char **argv)
{
	static struct ngstats st0, st1, st2;
	struct mem m0, m1, m2;
	bool have_mem;
	int rc = parse_args(argc, argv), on = 4 << 20;
	unsigned up = 0, offered_only = 0, deleted = 0, del_failed = 0, calls_failed = 0;
	double t_setup0, t_setup, t_del0, t_del, deadline;
	uint64_t failures = 0;

	if (rc)
		return rc;
	R.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (R.fd < 0 || connect(R.fd, (struct sockaddr *)&R.ng, sizeof(R.ng)) < 0) {
		fprintf(stderr, "icegw-load: socket to %s: %s\n", R.ng_spec, strerror(errno));
		return 3;
	}
	setsockopt(R.fd, SOL_SOCKET, SO_RCVBUF, &on, sizeof(on));
	setsockopt(R.fd, SOL_SOCKET, SO_SNDBUF, &on, sizeof(on));
	/* cookies unique across runs: the daemon's reply cache is keyed by cookie alone */
	snprintf(R.cookie_base, sizeof(R.cookie_base), "L%lx%lx", (long)getpid(), (long)time(NULL) & 0xffffff);
	R.slots = calloc(R.window, sizeof(*R.slots));
	R.state = calloc(R.calls, 1);
	R.ready = calloc(R.window + 1, sizeof(*R.ready));
	order = calloc(R.calls, sizeof(*order));
	if (!R.slots || !R.state || !R.ready || !order) {
		fprintf(stderr, "icegw-load: out of memory for %u calls\n", R.calls);
		return 3;
	}
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);

	{
		double until = now_s() + R.wait_s;
		int pr;

		while ((pr = ng_sync("ping", NULL)) < 0 && now_s() < until && !interrupted)
			;
		if (pr < 0) {
			fprintf(stderr, "icegw-load: %s does not answer ping (%u tries, %u ms apart%s)\n",
				R.ng_spec, R.tries, R.timeout_ms, R.wait_s ? ", for --wait" : "");
			return 3;
		}
		/* the figures are the load's: waiting for the daemon is not part of them */
		memset(R.sent, 0, sizeof(R.sent));
		memset(R.failed, 0, sizeof(R.failed));
		R.retrans = R.timeouts = R.late = R.bad_cookie = 0;
		R.nreasons = 0;
		R.reasons_lost = 0;
	}
	ng_sync("statistics", &st0);
	have_mem = read_mem(R.pid, &m0);
	if (R.pid && !have_mem)
		fprintf(stderr, "icegw-load: /proc/%ld/status: cannot read; no memory figures\n", R.pid);
	printf("icegw-load: %u calls against %s, window %u, rtcp-mux %s, caller %s, ICE=%s, "
	       "timeout %u ms x %u tries\n", R.calls, R.ng_spec, R.window, R.rtcp_mux ? "on" : "off",
	       R.ms_ice2 ? "MS-ICE2" : "RFC 8445", R.ice, R.timeout_ms, R.tries);
	fflush(stdout);

	/* set-up: offers and answers, answers first so calls complete as they go */
	deadline = now_s() + R.max_time_s;
	cursor = 0;
	setup_t0 = now_s();
	t_setup0 = run_phase(next_setup, deadline, true);
	t_setup = (R.phase_end > t_setup0 ? R.phase_end : now_s()) - t_setup0;
	for (uint32_t i = 0; i < R.calls; i++) {
		up += R.state[i] == C_UP;
		calls_failed += R.state[i] != C_UP;
	}
	ng_sync("statistics", &st1);
	have_mem = have_mem && read_mem(R.pid, &m1);

	if (R.hold_ms && !interrupted) {
		struct timespec ts = {.tv_sec = R.hold_ms / 1000, .tv_nsec = (long)(R.hold_ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	if (R.query_every && !interrupted) {
		cursor = 0;
		run_phase(next_query, deadline, true);
	}

	/* delete, in an order unrelated to set-up (calls end when they end) */
	for (uint32_t i = 0; i < R.calls; i++)
		order[i] = i;
	for (uint32_t i = R.calls; i-- > 1;) {
		uint32_t j = (uint32_t)(((uint64_t)i * 2654435761u + 40503u) % (i + 1)), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	interrupted = 0; /* an interrupted set-up still deletes what it made */
	cursor = 0;
	R.phase_end = 0;
	t_del0 = run_phase(next_delete, now_s() + R.max_time_s, false);
	t_del = (R.phase_end > t_del0 ? R.phase_end : now_s()) - t_del0;
	for (uint32_t i = 0; i < R.calls; i++) {
		deleted += R.state[i] == C_DELETED;
		del_failed += R.state[i] == C_DEL_FAILED;
		offered_only += R.state[i] == C_ANS_FAILED;
	}
	ng_sync("statistics", &st2);
	/* our calls the daemon still lists (LIST_LIMIT bounds the reply) */
	if (ng_sync("list", NULL) < 0)
		list_ours = -1;
	have_mem = have_mem && read_mem(R.pid, &m2);

	/* report */
	printf("set-up: %u of %u calls in %.3f s = %.0f calls/s (%.0f offer+answer NG commands/s)\n",
	       up, R.calls, t_setup, t_setup > 0 ? up / t_setup : 0,
	       t_setup > 0 ? (double)(R.sent[K_OFFER] + R.sent[K_ANSWER]) / t_setup : 0);
	if (R.query_every)
		printf("query: %" PRIu64 " sampled (1 in %u), %" PRIu64 " failed\n", R.sent[K_QUERY],
		       R.query_every, R.failed[K_QUERY]);
	printf("delete: %u in %.3f s = %.0f deletes/s, %u failed (%u of them calls whose answer "
	       "failed)\n", deleted, t_del, t_del > 0 ? deleted / t_del : 0, del_failed, offered_only);
	printf("requests: offer %" PRIu64 " (%" PRIu64 " failed), answer %" PRIu64 " (%" PRIu64
	       " failed), query %" PRIu64 " (%" PRIu64 " failed), delete %" PRIu64 " (%" PRIu64
	       " failed); retransmissions %" PRIu64 ", timed out %" PRIu64 ", late replies %" PRIu64
	       ", foreign replies %" PRIu64 "\n",
	       R.sent[K_OFFER], R.failed[K_OFFER], R.sent[K_ANSWER], R.failed[K_ANSWER],
	       R.sent[K_QUERY], R.failed[K_QUERY], R.sent[K_DELETE], R.failed[K_DELETE], R.retrans,
	       R.timeouts, R.late, R.bad_cookie);
	if (R.nreasons) {
		printf("failures and warnings by reason:\n");
		for (unsigned i = 0; i < R.nreasons; i++)
			printf("  %-7s %-7s %8" PRIu64 "  \"%s\"\n", kind_name[R.reasons[i].kind],
			       R.reasons[i].warning ? "warning" : "error", R.reasons[i].n, R.reasons[i].text);
		if (R.reasons_lost)
			printf("  (%" PRIu64 " more with reasons beyond the first %u)\n", R.reasons_lost,
			       REASONS_MAX);
	}
	printf("latency ms, first send to reply      n       p50       p90       p99       max\n");
	for (unsigned k = 0; k < K_OTHER; k++) {
		char name[32];

		print_lat(kind_name[k], &R.ok[k]);
		snprintf(name, sizeof(name), "%s error", kind_name[k]);
		print_lat(name, &R.err[k]);
	}
	if (have_mem) {
		/* per call the daemon held at peak: a call whose answer failed holds memory too */
		int64_t held = stat_get(&st1, "sessionsown") - stat_get(&st0, "sessionsown");
		unsigned nh = held > 0 && stat_get(&st0, "sessionsown") >= 0 ? (unsigned)held : up;
		double per_call = nh ? (double)(m1.rss - m0.rss) * 1024 / nh : 0;
		double back = nh ? (double)(m1.rss - m2.rss) * 1024 / nh : 0;

		printf("daemon memory (pid %ld): VmRSS before %ld KiB, peak %ld KiB, after delete %ld KiB; "
		       "VmHWM %ld KiB\n", R.pid, m0.rss, m1.rss, m2.rss, m2.hwm);
		printf("  per call held (%u): +%.0f B (RssAnon %+.0f B, RssShmem %+.0f B); returned on "
		       "delete %.0f B per call\n", nh, per_call,
		       nh ? (double)(m1.anon - m0.anon) * 1024 / nh : 0,
		       nh ? (double)(m1.shmem - m0.shmem) * 1024 / nh : 0, back);
	}
	print_stats(&st0, &st1, &st2);

	int64_t s0 = stat_get(&st0, "sessionsown"), s2 = stat_get(&st2, "sessionsown");
	for (unsigned k = 0; k < K_N; k++)
		failures += R.failed[k];
	if (list_ours >= 0)
		printf("daemon list after delete: %" PRId64 " of our calls (first %u listed)\n",
		       list_ours, LIST_LIMIT);
	printf("summary: calls=%u up=%u failed_calls=%u deleted=%u failed_requests=%" PRIu64
	       " timeouts=%" PRIu64 " retransmissions=%" PRIu64 " setup_per_s=%.0f "
	       "rss_before_kib=%ld rss_peak_kib=%ld rss_after_kib=%ld sessions_before=%" PRId64
	       " sessions_after=%" PRId64 " listed_after=%" PRId64 "\n",
	       R.calls, up, calls_failed, deleted, failures, R.timeouts, R.retrans,
	       t_setup > 0 ? up / t_setup : 0, have_mem ? m0.rss : -1, have_mem ? m1.rss : -1,
	       have_mem ? m2.rss : -1, s0, s2, list_ours);
	rc = 0;
	if (failures > R.max_failures) {
		printf("FAIL: %" PRIu64 " failed requests, more than --max-failures %" PRIu64 "\n",
		       failures, R.max_failures);
		rc = 1;
	}
	if (s0 < 0 || s2 < 0) {
		printf("FAIL: no NG statistics from the daemon to check the calls came back\n");
		rc = 1;
	} else if (s2 > s0) {
		printf("FAIL: the daemon holds %" PRId64 " sessions after delete, %" PRId64 " before\n",
		       s2, s0);
		rc = 1;
	}
	if (list_ours > 0) {
		printf("FAIL: the daemon still lists %" PRId64 " of our calls\n", list_ours);
		rc = 1;
	}
	return rc;
}

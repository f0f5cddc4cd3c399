/* Session manager tests: NG offer / answer / query / delete / list / statistics / ping against
 * a real packet core driven synchronously, and the error paths an operator meets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "ctl_sdp.h"
#include "ctl_session.h"
#include "dp_cmd.h"
#include "ng_bencode.h"

struct fake {
	struct dp_core core;
	unsigned submitted, failed;
	bool busy;
};

static int fake_submit(void *ctx, unsigned w, struct dp_cmd *cmd)
{
	struct fake *f = ctx;

	(void)w;
	if (f->busy)
		return -EBUSY;
	f->submitted++;
	/* the worker would apply it between bursts; here at once */
	dp_cmd_apply(&f->core, cmd, 1000000);
	if (cmd->result < 0) {
		f->failed++;
		fprintf(stderr, "command %u on slot %u failed: %d\n", cmd->type, cmd->slot, cmd->result);
	}
	free(cmd);
	return 0;
}

static const struct dp_leg *fake_view(void *ctx, unsigned w, uint32_t slot)
{
	struct fake *f = ctx;

	(void)w;
	return slot < f->core.nlegs ? &f->core.legs[slot] : NULL;
}

static void emit_none(void *ctx, const uint8_t *frame, uint16_t len)
{
	(void)ctx;
	(void)frame;
	(void)len;
}

static struct ctl *mk(struct fake *f, uint16_t pmin, uint16_t pmax, uint32_t max_sessions)
{
	struct ctl_cfg cfg = {
		.local_ip = 0xcb007101, .port_min = pmin, .port_max = pmax,
		.max_sessions = max_sessions, .nworkers = 1, .slots_per_worker = 256, .seed = 3,
	};
	struct ctl_backend be = {.submit = fake_submit, .view = fake_view, .ctx = f};
	const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};

	memset(f, 0, sizeof(*f));
	assert_int_equal(dp_core_init(&f->core, 0xcb007101, mac, 256, 1, calloc, 1000000), 0);
	f->core.emit = emit_none;
	return ctl_new(&cfg, &be);
}

static const char offer_sdp[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.10\r\n"
	"t=0 0\r\n"
	"a=ice-ufrag:aliu\r\n"
	"a=ice-pwd:alicepasswordalicepass1\r\n"
	"m=audio 40000 RTP/AVP 0 8 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=candidate:1 1 UDP 2130706431 192.0.2.10 40000 typ host\r\n"
	"a=candidate:1 2 UDP 2130706430 192.0.2.10 40001 typ host\r\n"
	"a=sendrecv\r\n";

static const char answer_sdp[] =
	"v=0\r\n"
	"o=bob 1 1 IN IP4 198.51.100.20\r\n"
	"s=-\r\n"
	"c=IN IP4 198.51.100.20\r\n"
	"t=0 0\r\n"
	"m=audio 50000 RTP/AVP 0 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=ice-ufrag:bobu\r\n"
	"a=ice-pwd:bobpasswordbobpassword1\r\n"
	"a=candidate:7 1 UDP 2130706431 198.51.100.20 50000 typ host\r\n"
	"a=candidate:7 2 UDP 2130706430 198.51.100.20 50001 typ host\r\n";

/* "<cookie> d...e" with keys in bencode order */
static size_t ng_msg(char *out, size_t cap, const char *cookie, const char *cmd, const char *callid,
		     const char *from, const char *to, const char *sdp, const char *extra)
{
	int n = snprintf(out, cap, "%s d", cookie);

	if (callid)
		n += snprintf(out + n, cap - (size_t)n, "7:call-id%zu:%s", strlen(callid), callid);
	n += snprintf(out + n, cap - (size_t)n, "7:command%zu:%s", strlen(cmd), cmd);
	if (from)
		n += snprintf(out + n, cap - (size_t)n, "8:from-tag%zu:%s", strlen(from), from);
	if (extra)
		n += snprintf(out + n, cap - (size_t)n, "%s", extra);
	if (sdp)
		n += snprintf(out + n, cap - (size_t)n, "3:sdp%zu:%s", strlen(sdp), sdp);
	if (to)
		n += snprintf(out + n, cap - (size_t)n, "6:to-tag%zu:%s", strlen(to), to);
	n += snprintf(out + n, cap - (size_t)n, "e");
	return (size_t)n;
}

static struct ng_benc_node nodes[2048];

/* Parse a reply; returns the dict node. */
static const struct ng_benc_node *reply_dict(struct ng_benc_doc *d, const char *buf, size_t len,
					    const char *cookie)
{
	size_t cl = strlen(cookie);

	assert_true(len > cl + 1);
	assert_memory_equal(buf, cookie, cl);
	assert_int_equal(buf[cl], ' ');
	ng_benc_init(d, nodes, 2048);
	assert_int_equal(ng_benc_parse(d, buf + cl + 1, len - cl - 1), 0);
	return ng_benc_at(d, 0);
}

static void get_str(const struct ng_benc_doc *d, const struct ng_benc_node *dict, const char *key,
		    char *out, size_t cap)
{
	const struct ng_benc_node *n = ng_benc_dict_get(d, dict, key);

	assert_non_null(n);
	assert_true(n->len < cap);
	memcpy(out, n->str, n->len);
	out[n->len] = 0;
}

static void test_offer_answer_query_delete(void **state)
{
	static struct fake f;
	struct ctl *c = mk(&f, 30000, 30100, 100);
	static char msg[8192], out[65536], sdp[8192], res[64];
	struct ng_benc_doc d;
	const struct ng_benc_node *dict;
	size_t n;

	(void)state;
	assert_non_null(c);
	/* ping */
	n = ctl_handle(c, "5323_1 d7:command4:pinge", 24, out, sizeof(out), 1000);
	dict = reply_dict(&d, out, n, "5323_1");
	get_str(&d, dict, "result", res, sizeof(res));
	assert_string_equal(res, "pong");

	/* offer: the answerer must be told to send to the gateway */
	n = ng_msg(msg, sizeof(msg), "c2", "offer", "call-1@x", "ftag", NULL, offer_sdp, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	dict = reply_dict(&d, out, n, "c2");
	get_str(&d, dict, "result", res, sizeof(res));
	assert_string_equal(res, "ok");
	get_str(&d, dict, "sdp", sdp, sizeof(sdp));
	assert_non_null(strstr(sdp, "c=IN IP4 203.0.113.1\r\n"));
	assert_null(strstr(sdp, "192.0.2.10 40000"));
	assert_null(strstr(sdp, "a=ice-ufrag:aliu"));
	assert_non_null(strstr(sdp, "a=ice-ufrag:"));
	assert_non_null(strstr(sdp, "typ host"));
	assert_non_null(strstr(sdp, "a=rtpmap:101 telephone-event/8000\r\n"));
	assert_non_null(strstr(sdp, "a=fmtp:101 0-16\r\n"));
	assert_int_equal(f.failed, 0);
	assert_int_equal(f.core.active, 2);
	{
		/* the advertised port is the answer-side leg's, and it lives on the core */
		static struct ctl_sdp parsed;
		assert_int_equal(ctl_sdp_parse(&parsed, sdp, strlen(sdp)), 0);
		assert_int_equal(parsed.n_media, 1);
		assert_true(parsed.media[0].port >= 30000 && parsed.media[0].port < 30100);
		assert_int_not_equal(f.core.port_map[parsed.media[0].port], 0);
		assert_true(parsed.media[0].has_ice);
	}
	/* the offer-side leg already knows alice, but checks her only once she has our
	 * credentials: from the answer on (RFC 8445 §7.2) */
	{
		const struct dp_leg *la = NULL;
		for (uint32_t i = 0; i < f.core.nlegs; i++)
			if ((f.core.legs[i].flags & DP_LEG_USED) && strstr(f.core.legs[i].name, "0a"))
				la = &f.core.legs[i];
		assert_non_null(la);
		assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_NEW);
		assert_int_equal(la->agent.nremote, 2);
		assert_int_equal(la->peer != DP_NO_LEG, 1);
	}
	/* a retransmission gets the identical reply, and nothing is created twice */
	{
		static char out2[65536];
		size_t n2;
		n = ng_msg(msg, sizeof(msg), "c2", "offer", "call-1@x", "ftag", NULL, offer_sdp, NULL);
		n2 = ctl_handle(c, msg, n, out2, sizeof(out2), 2000);
		assert_int_equal(f.core.active, 2);
		assert_int_equal(ctl_stats(c)->offers, 1);
		assert_int_equal(ctl_stats(c)->retransmits, 1);
		n = ng_msg(msg, sizeof(msg), "c2", "offer", "call-1@x", "ftag", NULL, offer_sdp, NULL);
		(void)n2;
	}

	/* answer: the offerer is told to send to the other leg */
	n = ng_msg(msg, sizeof(msg), "c3", "answer", "call-1@x", "ftag", "ttag", answer_sdp, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 3000);
	dict = reply_dict(&d, out, n, "c3");
	get_str(&d, dict, "result", res, sizeof(res));
	assert_string_equal(res, "ok");
	get_str(&d, dict, "sdp", sdp, sizeof(sdp));
	assert_non_null(strstr(sdp, "c=IN IP4 203.0.113.1\r\n"));
	assert_null(strstr(sdp, "198.51.100.20 50000"));
	for (uint32_t i = 0; i < f.core.nlegs; i++)
		if (f.core.legs[i].flags & DP_LEG_USED)
			assert_int_equal(ice_agent_state(&f.core.legs[i].agent), ICE_STATE_RUNNING);

	/* query: both legs with their counters */
	n = ng_msg(msg, sizeof(msg), "c4", "query", "call-1@x", NULL, NULL, NULL, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 4000);
	dict = reply_dict(&d, out, n, "c4");
	{
		const struct ng_benc_node *legs = ng_benc_dict_get(&d, dict, "legs");
		assert_non_null(legs);
		assert_int_equal(legs->count, 2);
		/* each leg its own side's media address: the strings a reply is built from must
		 * outlive the loop over legs (both used to show the last leg's, and ASan saw a
		 * stack-use-after-scope) */
		assert_non_null(memmem(out, n, "13:media-address16:192.0.2.10:40000", 35));
		assert_non_null(memmem(out, n, "13:media-address19:198.51.100.20:50000", 38));
	}
	/* list and statistics */
	n = ctl_handle(c, "c5 d7:command4:liste", 20, out, sizeof(out), 4000);
	assert_non_null(strstr(out, "8:call-1@x"));
	n = ctl_handle(c, "c6 d7:command10:statisticse", 27, out, sizeof(out), 4000);
	assert_non_null(strstr(out, "11:sessionsowni1e"));

	/* delete: legs gone from the core, ports back */
	n = ng_msg(msg, sizeof(msg), "c7", "delete", "call-1@x", "ftag", NULL, NULL, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 5000);
	dict = reply_dict(&d, out, n, "c7");
	get_str(&d, dict, "result", res, sizeof(res));
	assert_string_equal(res, "ok");
	assert_int_equal(f.core.active, 0);
	assert_int_equal(ctl_stats(c)->calls, 0);
	/* and the call is gone */
	n = ng_msg(msg, sizeof(msg), "c8", "query", "call-1@x", NULL, NULL, NULL, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 5000);
	assert_non_null(strstr(out, "Unknown call-id"));
	ctl_free(c);
	dp_core_free(&f.core, free);
}

static void test_errors_and_limits(void **state)
{
	static struct fake f;
	/* room for exactly two calls: 4 legs need 4 even ports */
	struct ctl *c = mk(&f, 30000, 30008, 1000);
	static char msg[8192], out[65536];
	size_t n;
	char id[32];

	(void)state;
	for (int i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "call-%d", i);
		n = ng_msg(msg, sizeof(msg), "k", "offer", id, "f", NULL, offer_sdp, NULL);
		msg[0] = (char)('a' + i);
		n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
		assert_null(strstr(out, "error"));
	}
	n = ng_msg(msg, sizeof(msg), "z", "offer", "call-3", "f", NULL, offer_sdp, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	/* rtpengine's text exactly: Kamailio matches it to try the next gateway */
	assert_non_null(strstr(out, "d12:error-reason16:Ran out of ports6:result5:errore"));
	assert_int_equal(ctl_stats(c)->port_exhausted, 1);
	assert_int_equal(ctl_stats(c)->calls, 2);
	/* hostile and broken requests: clear errors, no crash, no change */
	n = ctl_handle(c, "y1 d7:command5:offere", 21, out, sizeof(out), 1000);
	assert_non_null(strstr(out, "error"));
	n = ng_msg(msg, sizeof(msg), "y2", "offer", "call-9", "f", NULL, "not an sdp", NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	assert_non_null(strstr(out, "cannot parse SDP"));
	n = ng_msg(msg, sizeof(msg), "y3", "answer", "nope", "f", "t", answer_sdp, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	assert_non_null(strstr(out, "Unknown call-id"));
	n = ctl_handle(c, "y4 d7:command7:explodee", 23, out, sizeof(out), 1000);
	assert_non_null(strstr(out, "error"));
	n = ctl_handle(c, "garbage", 7, out, sizeof(out), 1000);
	n = ctl_handle(c, "y5 ieee", 7, out, sizeof(out), 1000);
	assert_non_null(strstr(out, "error"));
	assert_int_equal(ctl_stats(c)->calls, 2);
	/* a busy worker: clean error, nothing half-made */
	f.busy = true;
	n = ctl_handle(c, "y6 d7:command6:deletee", 22, out, sizeof(out), 1000);
	f.busy = false;
	ctl_free(c);
	dp_core_free(&f.core, free);

	/* the session limit */
	c = mk(&f, 30000, 31000, 1);
	n = ng_msg(msg, sizeof(msg), "s1", "offer", "one", "f", NULL, offer_sdp, NULL);
	ctl_handle(c, msg, n, out, sizeof(out), 1000);
	n = ng_msg(msg, sizeof(msg), "s2", "offer", "two", "f", NULL, offer_sdp, NULL);
	ctl_handle(c, msg, n, out, sizeof(out), 1000);
	assert_non_null(strstr(out, "d12:error-reason30:Parallel session limit reached6:result5:errore"));
	ctl_free(c);
	dp_core_free(&f.core, free);
}

/* A client that lists "load limit" in "supports" (Kamailio's rtpengine module always does) is
 * told a full gateway is full with {"result": "load limit"}, so it offers the call to the next
 * gateway of its set; an "error" there fails the call although another gateway has room. */
static void test_load_limit(void **state)
{
	static struct fake f;
	static const char sup[] = "8:supportsl10:load limite";
	/* room for one call: ports 30000 and 30002 */
	struct ctl *c = mk(&f, 30000, 30003, 1000);
	static char msg[8192], out[65536];
	struct ng_benc_doc d;
	const struct ng_benc_node *dict;
	char v[128];
	size_t n;

	(void)state;
	n = ng_msg(msg, sizeof(msg), "l1", "offer", "one", "f", NULL, offer_sdp, sup);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	dict = reply_dict(&d, out, n, "l1");
	get_str(&d, dict, "result", v, sizeof(v));
	assert_string_equal(v, "ok");
	/* "supports" is understood: no warning about it */
	assert_null(ng_benc_dict_get(&d, dict, "warning"));

	n = ng_msg(msg, sizeof(msg), "l2", "offer", "two", "f", NULL, offer_sdp, sup);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	dict = reply_dict(&d, out, n, "l2");
	get_str(&d, dict, "result", v, sizeof(v));
	assert_string_equal(v, "load limit");
	get_str(&d, dict, "message", v, sizeof(v));
	assert_string_equal(v, "port range exhausted (ICEWarn 0x200000)");
	assert_null(ng_benc_dict_get(&d, dict, "error-reason"));
	assert_int_equal(ctl_stats(c)->port_exhausted, 1);
	assert_int_equal(ctl_stats(c)->calls, 1);

	/* without "supports": an error, in rtpengine's words */
	n = ng_msg(msg, sizeof(msg), "l3", "offer", "three", "f", NULL, offer_sdp, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	dict = reply_dict(&d, out, n, "l3");
	get_str(&d, dict, "result", v, sizeof(v));
	assert_string_equal(v, "error");
	get_str(&d, dict, "error-reason", v, sizeof(v));
	assert_string_equal(v, "Ran out of ports");
	ctl_free(c);
	dp_core_free(&f.core, free);

	/* the session limit likewise */
	c = mk(&f, 30000, 31000, 1);
	n = ng_msg(msg, sizeof(msg), "s1", "offer", "one", "f", NULL, offer_sdp, sup);
	ctl_handle(c, msg, n, out, sizeof(out), 1000);
	n = ng_msg(msg, sizeof(msg), "s2", "offer", "two", "f", NULL, offer_sdp, sup);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	dict = reply_dict(&d, out, n, "s2");
	get_str(&d, dict, "result", v, sizeof(v));
	assert_string_equal(v, "load limit");
	get_str(&d, dict, "message", v, sizeof(v));
	assert_string_equal(v, "session limit reached (ICEWarn 0x200000)");
	assert_int_equal(ctl_stats(c)->session_limit, 1);
	assert_int_equal(ctl_stats(c)->calls, 1);
	ctl_free(c);
	dp_core_free(&f.core, free);
}

static void test_many_calls_memory(void **state)
{
	static struct fake f;
	struct ctl *c;
	static char msg[8192], out[65536];
	char id[32];
	size_t n, before;
	struct ctl_cfg cfg = {
		.local_ip = 0xcb007101, .port_min = 20000, .port_max = 60000,
		.max_sessions = 100000, .nworkers = 1, .slots_per_worker = 4096, .seed = 3,
	};
	struct ctl_backend be = {.submit = fake_submit, .view = fake_view, .ctx = &f};
	const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(dp_core_init(&f.core, 0xcb007101, mac, 4096, 1, calloc, 1000000), 0);
	f.core.emit = emit_none;
	c = ctl_new(&cfg, &be);
	before = ctl_memory(c);
	for (int i = 0; i < 2000; i++) {
		snprintf(id, sizeof(id), "m%d", i);
		n = ng_msg(msg, sizeof(msg), id, "offer", id, "f", NULL, offer_sdp, NULL);
		n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
		assert_null(strstr(out, "error"));
	}
	assert_int_equal(ctl_stats(c)->calls, 2000);
	assert_int_equal(f.core.active, 4000);
	/* the control side's share per call stays small */
	assert_true((ctl_memory(c) - before) / 2000 < 2048);
	for (int i = 0; i < 2000; i++) {
		char cookie[32];
		snprintf(id, sizeof(id), "m%d", i);
		snprintf(cookie, sizeof(cookie), "del%d", i);
		n = ng_msg(msg, sizeof(msg), cookie, "delete", id, "f", NULL, NULL, NULL);
		ctl_handle(c, msg, n, out, sizeof(out), 100000 + (uint64_t)i * 40);
	}
	assert_int_equal(ctl_stats(c)->calls, 0);
	assert_int_equal(f.core.active, 0);
	ctl_free(c);
	dp_core_free(&f.core, free);
}

static const struct dp_core *fake_core(void *ctx, unsigned w)
{
	struct fake *f = ctx;

	(void)w;
	return &f->core;
}

/* The legs dict of a query reply, leg k. */
static const struct ng_benc_node *reply_leg(const struct ng_benc_doc *d,
					    const struct ng_benc_node *dict, unsigned k)
{
	const struct ng_benc_node *legs = ng_benc_dict_get(d, dict, "legs"), *l;

	assert_non_null(legs);
	l = ng_benc_first(d, legs);
	while (l && k--)
		l = ng_benc_next(d, l);
	assert_non_null(l);
	return l;
}

/* Every line of a leg's "trace": "HH:MM:SS.mmm <name> ...", oldest first. Returns the count;
 * the last line goes into last. */
static unsigned check_trace(const struct ng_benc_doc *d, const struct ng_benc_node *leg,
			    const char *name, char *last, size_t cap, bool *saw_check)
{
	const struct ng_benc_node *tr = ng_benc_dict_get(d, leg, "trace"), *ln;
	char prev[16] = "";
	unsigned n = 0;
	size_t nl = strlen(name);

	assert_non_null(tr);
	assert_int_equal(tr->type, NG_BENC_LIST);
	for (ln = ng_benc_first(d, tr); ln; ln = ng_benc_next(d, ln), n++) {
		assert_int_equal(ln->type, NG_BENC_STR);
		assert_true(ln->len > 13 + nl + 1 && ln->len < cap);
		assert_true(ln->str[2] == ':' && ln->str[5] == ':' && ln->str[8] == '.' && ln->str[12] == ' ');
		assert_memory_equal(ln->str + 13, name, nl);
		assert_int_equal(ln->str[13 + nl], ' ');
		assert_true(memcmp(prev, ln->str, 12) <= 0 || !prev[0]); /* oldest first */
		memcpy(prev, ln->str, 12);
		memcpy(last, ln->str, ln->len);
		last[ln->len] = 0;
		if (saw_check && memmem(ln->str, ln->len, "connectivity check", 18))
			*saw_check = true;
	}
	return n;
}

/* query with flags ["trace"]: each leg's pjnath-style lines, read from the core's trace ring
 * without a lock; torn slots skipped, the reply bounded, and ICE outcomes counted on delete. */
static void test_query_trace(void **state)
{
	static struct fake f;
	static char msg[8192], out[65536], last[256];
	struct ctl_cfg cfg = {
		.local_ip = 0xcb007101, .port_min = 30000, .port_max = 30100, .max_sessions = 10,
		.nworkers = 1, .slots_per_worker = 64, .seed = 3, .trace_legs = true,
	};
	struct ctl_backend be = {.submit = fake_submit, .view = fake_view, .core = fake_core, .ctx = &f};
	const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
	const char *tflag = "5:flagsl5:tracee";
	struct ng_benc_doc d;
	const struct ng_benc_node *dict;
	struct ctl *c;
	unsigned na, nb;
	bool saw = false;
	size_t n;
	uint64_t t;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(dp_core_init(&f.core, 0xcb007101, mac, 64, 1, calloc, 1000000), 0);
	f.core.emit = emit_none;
	c = ctl_new(&cfg, &be);
	assert_non_null(c);
	n = ng_msg(msg, sizeof(msg), "t1", "offer", "call-t@x", "ftag", NULL, offer_sdp, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	assert_null(strstr(out, "error"));
	n = ng_msg(msg, sizeof(msg), "t2", "answer", "call-t@x", "ftag", "ttag", answer_sdp, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	assert_null(strstr(out, "error"));
	for (t = 1000000; t < 1300000; t += 5000)
		dp_core_timers(&f.core, t);
	assert_true(f.core.trace_len > 4);

	/* without the flag: no traces */
	n = ng_msg(msg, sizeof(msg), "t3", "query", "call-t@x", NULL, NULL, NULL, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 2000);
	dict = reply_dict(&d, out, n, "t3");
	assert_null(ng_benc_dict_get(&d, reply_leg(&d, dict, 0), "trace"));

	n = ng_msg(msg, sizeof(msg), "t4", "query", "call-t@x", NULL, NULL, NULL, tflag);
	n = ctl_handle(c, msg, n, out, sizeof(out), 2000);
	dict = reply_dict(&d, out, n, "t4");
	na = check_trace(&d, reply_leg(&d, dict, 0), "call-t@x/0a", last, sizeof(last), &saw);
	nb = check_trace(&d, reply_leg(&d, dict, 1), "call-t@x/0b", last, sizeof(last), &saw);
	assert_true(na > 0 && nb > 0);
	assert_true(saw);
	{
		char name[32];
		get_str(&d, reply_leg(&d, dict, 1), "name", name, sizeof(name));
		assert_string_equal(name, "call-t@x/0b");
	}

	/* a slot caught mid-write (no NUL in it) and one with a mangled stamp are skipped */
	{
		uint32_t newest_a = UINT32_MAX, oldest_a = UINT32_MAX;
		for (uint32_t k = 0; k < f.core.trace_len; k++) {
			char *slot = f.core.trace[(f.core.trace_head + k) % DP_TRACE_LINES];
			if (!strncmp(slot + 13, "call-t@x/0a ", 12)) {
				if (oldest_a == UINT32_MAX)
					oldest_a = k;
				newest_a = k;
			}
		}
		assert_int_not_equal(newest_a, oldest_a);
		memset(f.core.trace[(f.core.trace_head + newest_a) % DP_TRACE_LINES] + 30, 'x',
		       DP_TRACE_LEN - 30);
		f.core.trace[(f.core.trace_head + oldest_a) % DP_TRACE_LINES][2] = '#';
		n = ng_msg(msg, sizeof(msg), "t5", "query", "call-t@x", NULL, NULL, NULL, tflag);
		n = ctl_handle(c, msg, n, out, sizeof(out), 2000);
		dict = reply_dict(&d, out, n, "t5");
		assert_int_equal(check_trace(&d, reply_leg(&d, dict, 0), "call-t@x/0a", last,
					     sizeof(last), NULL), na - 2);
	}

	/* a ring full of one leg's lines: the newest are kept, the rest counted, the reply fits */
	for (unsigned i = 0; i < DP_TRACE_LINES + 100; i++) {
		char *slot = f.core.trace[(f.core.trace_head + f.core.trace_len) % DP_TRACE_LINES];
		snprintf(slot, DP_TRACE_LEN, "00:00:02.%03u call-t@x/0a filler %u %0100u", i % 1000, i, 0);
		if (f.core.trace_len < DP_TRACE_LINES)
			f.core.trace_len++;
		else
			f.core.trace_head = (f.core.trace_head + 1) % DP_TRACE_LINES;
	}
	n = ng_msg(msg, sizeof(msg), "t6", "query", "call-t@x", NULL, NULL, NULL, tflag);
	n = ctl_handle(c, msg, n, out, sizeof(out), 2000);
	assert_true(n > 0 && n < 65000);
	dict = reply_dict(&d, out, n, "t6");
	na = check_trace(&d, reply_leg(&d, dict, 0), "call-t@x/0a", last, sizeof(last), NULL);
	assert_true(na >= 64 && na <= 128);
	assert_non_null(strstr(last, "filler 2147 "));
	{
		const struct ng_benc_node *dr = ng_benc_dict_get(&d, reply_leg(&d, dict, 0), "trace-dropped");
		assert_non_null(dr);
		assert_int_equal(dr->ival, DP_TRACE_LINES - na);
	}
	assert_int_equal(check_trace(&d, reply_leg(&d, dict, 1), "call-t@x/0b", last, sizeof(last),
				     NULL), 0);

	/* nobody answers the checks: ICE fails on both legs, counted with ICEWarn when deleted */
	for (; t < 120000000 && f.core.st.ice_failed < 2; t += 20000)
		dp_core_timers(&f.core, t);
	assert_int_equal(f.core.st.ice_failed, 2);
	n = ng_msg(msg, sizeof(msg), "t7", "delete", "call-t@x", "ftag", NULL, NULL, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 3000);
	assert_null(strstr(out, "error"));
	assert_int_equal(ctl_stats(c)->ice_warn.failed, 2);
	assert_int_equal(ctl_stats(c)->ice_warn.completed, 0);
	{
		uint64_t flagged = ctl_stats(c)->ice_warn.none;
		for (int b = 0; b < 32; b++)
			flagged += ctl_stats(c)->ice_warn.bit[b];
		assert_true(flagged >= 2);
	}
	ctl_free(c);
	dp_core_free(&f.core, free);
}

static const struct dp_leg *find_leg(const struct fake *f, const char *suffix)
{
	for (uint32_t i = 0; i < f->core.nlegs; i++)
		if ((f->core.legs[i].flags & DP_LEG_USED) && strstr(f->core.legs[i].name, suffix))
			return &f->core.legs[i];
	return NULL;
}

/* MS-ICE2 peers (libnice OC2007R2) write SDP just like RFC 8445 ones: the flag "MS-ICE2" on the
 * offer makes leg a MS-ICE2, on the answer leg b, which was made RFC 8445 at the offer and is
 * made again in place (same slot, port, credentials), paired with leg a and checking the
 * answerer. Without the flag both legs stay RFC 8445 (as before: libnice OC2007R2 saw every
 * check answered 431 through Kamailio, tests/e2e/test_call.sh oc2007r2). */
static void test_ms_ice2_flag(void **state)
{
	static struct fake f;
	struct ctl *c = mk(&f, 30000, 30100, 100);
	static char msg[8192], out[65536], res[64];
	static const char flag[] = "5:flagsl7:MS-ICE2e";
	struct ng_benc_doc d;
	const struct ng_benc_node *dict;
	const struct dp_leg *la, *lb;
	uint32_t slot_b;
	uint16_t port_b;
	size_t n;

	(void)state;
	assert_non_null(c);
	/* no flag: RFC 8445 on both sides */
	n = ng_msg(msg, sizeof(msg), "m1", "offer", "call-rfc@x", "ftag", NULL, offer_sdp, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	n = ng_msg(msg, sizeof(msg), "m2", "answer", "call-rfc@x", "ftag", "ttag", answer_sdp, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	dict = reply_dict(&d, out, n, "m2");
	get_str(&d, dict, "result", res, sizeof(res));
	assert_string_equal(res, "ok");
	assert_non_null(la = find_leg(&f, "call-rfc@x/0a"));
	assert_non_null(lb = find_leg(&f, "call-rfc@x/0b"));
	assert_int_equal(la->agent.cfg.dialect, ICE_DIALECT_RFC8445);
	assert_int_equal(lb->agent.cfg.dialect, ICE_DIALECT_RFC8445);

	/* the offerer is MS-ICE2: leg a is; leg b waits, RFC 8445 for now */
	n = ng_msg(msg, sizeof(msg), "m3", "offer", "call-ms@x", "ftag", NULL, offer_sdp, flag);
	n = ctl_handle(c, msg, n, out, sizeof(out), 2000);
	dict = reply_dict(&d, out, n, "m3");
	get_str(&d, dict, "result", res, sizeof(res));
	assert_string_equal(res, "ok");
	assert_null(ng_benc_dict_get(&d, dict, "warning"));
	assert_non_null(la = find_leg(&f, "call-ms@x/0a"));
	assert_non_null(lb = find_leg(&f, "call-ms@x/0b"));
	assert_int_equal(la->agent.cfg.dialect, ICE_DIALECT_MSICE2);
	assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_NEW);
	assert_int_equal(lb->agent.cfg.dialect, ICE_DIALECT_RFC8445);
	slot_b = (uint32_t)(lb - f.core.legs);
	port_b = lb->port;
	assert_int_equal(f.core.active, 4);

	/* the answerer is MS-ICE2 too: leg b is made again, in its place */
	n = ng_msg(msg, sizeof(msg), "m4", "answer", "call-ms@x", "ftag", "ttag", answer_sdp, flag);
	n = ctl_handle(c, msg, n, out, sizeof(out), 3000);
	dict = reply_dict(&d, out, n, "m4");
	get_str(&d, dict, "result", res, sizeof(res));
	assert_string_equal(res, "ok");
	assert_int_equal(f.failed, 0);
	assert_int_equal(f.core.active, 4);
	assert_non_null(lb = find_leg(&f, "call-ms@x/0b"));
	assert_int_equal((uint32_t)(lb - f.core.legs), slot_b);
	assert_int_equal(lb->port, port_b);
	assert_int_equal(f.core.port_map[port_b] != 0, 1);
	assert_int_equal(lb->agent.cfg.dialect, ICE_DIALECT_MSICE2);
	assert_int_equal(lb->agent.cfg.role, ICE_ROLE_CONTROLLING);
	assert_int_equal(ice_agent_state(&lb->agent), ICE_STATE_RUNNING);
	assert_string_equal(lb->agent.rufrag, "bobu");
	assert_int_equal(lb->peer, (uint32_t)(la - f.core.legs));
	assert_int_equal(la->peer, slot_b);
	assert_int_equal(la->agent.cfg.dialect, ICE_DIALECT_MSICE2);
	assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_RUNNING);

	/* delete: all four legs gone, nothing failed on the way */
	n = ng_msg(msg, sizeof(msg), "m5", "delete", "call-ms@x", "ftag", NULL, NULL, NULL);
	ctl_handle(c, msg, n, out, sizeof(out), 4000);
	n = ng_msg(msg, sizeof(msg), "m6", "delete", "call-rfc@x", "ftag", NULL, NULL, NULL);
	ctl_handle(c, msg, n, out, sizeof(out), 4000);
	assert_int_equal(f.core.active, 0);
	assert_int_equal(f.failed, 0);
	ctl_free(c);
	dp_core_free(&f.core, free);
}

static void test_reoffer_keeps_media(void **state)
{
	static struct fake f;
	struct ctl *c = mk(&f, 30000, 30100, 100);
	static char msg[8192], out[65536], sdp1[8192], sdp2[8192], hold[8192], res[64];
	struct ng_benc_doc d;
	const struct ng_benc_node *dict;
	size_t n;
	uint32_t slots_before[2] = {0, 0};
	unsigned k = 0;

	(void)state;
	n = ng_msg(msg, sizeof(msg), "r1", "offer", "re@x", "ftag", NULL, offer_sdp, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 1000);
	dict = reply_dict(&d, out, n, "r1");
	get_str(&d, dict, "sdp", sdp1, sizeof(sdp1));
	n = ng_msg(msg, sizeof(msg), "r2", "answer", "re@x", "ftag", "ttag", answer_sdp, NULL);
	ctl_handle(c, msg, n, out, sizeof(out), 2000);
	for (uint32_t i = 0; i < f.core.nlegs && k < 2; i++)
		if (f.core.legs[i].flags & DP_LEG_USED)
			slots_before[k++] = i;

	/* hold: same endpoint, same ICE credentials, a=sendonly: nothing is rebuilt */
	snprintf(hold, sizeof(hold), "%s", offer_sdp);
	memcpy(strstr(hold, "a=sendrecv"), "a=sendonly", 10);
	n = ng_msg(msg, sizeof(msg), "r3", "offer", "re@x", "ftag", NULL, hold, NULL);
	n = ctl_handle(c, msg, n, out, sizeof(out), 3000);
	dict = reply_dict(&d, out, n, "r3");
	get_str(&d, dict, "result", res, sizeof(res));
	assert_string_equal(res, "ok");
	get_str(&d, dict, "sdp", sdp2, sizeof(sdp2));
	assert_non_null(strstr(sdp2, "a=sendonly"));
	/* the same gateway port and credentials as before: the answerer's media goes on */
	{
		char *p1 = strstr(sdp1, "a=ice-ufrag:"), *p2 = strstr(sdp2, "a=ice-ufrag:");
		assert_non_null(p1);
		assert_non_null(p2);
		assert_memory_equal(p1, p2, 20);
		assert_int_equal(atoi(strstr(sdp1, "m=audio ") + 8), atoi(strstr(sdp2, "m=audio ") + 8));
	}
	assert_int_equal(f.core.active, 2);
	assert_true(f.core.legs[slots_before[0]].flags & DP_LEG_USED);
	assert_true(f.core.legs[slots_before[1]].flags & DP_LEG_USED);
	assert_int_equal(ctl_stats(c)->legs, 2);

	/* an ICE restart (new ufrag) rebuilds the call's legs */
	{
		char restart[8192];
		snprintf(restart, sizeof(restart), "%s", offer_sdp);
		memcpy(strstr(restart, "a=ice-ufrag:aliu"), "a=ice-ufrag:aliX", 16);
		n = ng_msg(msg, sizeof(msg), "r4", "offer", "re@x", "ftag", NULL, restart, NULL);
		n = ctl_handle(c, msg, n, out, sizeof(out), 4000);
		dict = reply_dict(&d, out, n, "r4");
		get_str(&d, dict, "sdp", sdp2, sizeof(sdp2));
		assert_null(strstr(sdp2, strstr(sdp1, "a=ice-ufrag:")));
		assert_int_equal(f.core.active, 2);
	}
	ctl_free(c);
	dp_core_free(&f.core, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offer_answer_query_delete),
		cmocka_unit_test(test_reoffer_keeps_media),
		cmocka_unit_test(test_errors_and_limits),
		cmocka_unit_test(test_load_limit),
		cmocka_unit_test(test_many_calls_memory),
		cmocka_unit_test(test_query_trace),
		cmocka_unit_test(test_ms_ice2_flag),
	};
	return cmocka_run_group_tests_name("ctl_session", tests, NULL, NULL);
}

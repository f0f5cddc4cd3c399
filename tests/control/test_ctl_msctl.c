/* Microsoft signalling and media interfaces through the session manager: Lync multipart bodies,
 * dialect detection from SDP, provisional answers, the final offer, NG direction and per-interface
 * port pools (with single-port muxed legs). */
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

/* ---- a real packet core driven synchronously (as test_ctl_session.c) ---- */

struct fake {
	struct dp_core core;
	unsigned submitted, failed;
};

static int fake_submit(void *ctx, unsigned w, struct dp_cmd *cmd)
{
	struct fake *f = ctx;

	(void)w;
	f->submitted++;
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

static struct ctl *mk(struct fake *f)
{
	struct ctl_cfg cfg = {
		.local_ip = 0xcb007101, .port_min = 30000, .port_max = 30100,
		.max_sessions = 100, .nworkers = 1, .slots_per_worker = 256, .seed = 5,
	};
	struct ctl_backend be = {.submit = fake_submit, .view = fake_view, .ctx = f};
	const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};

	memset(f, 0, sizeof(*f));
	assert_int_equal(dp_core_init(&f->core, 0xcb007101, mac, 256, 1, calloc, 1000000), 0);
	f->core.emit = emit_none;
	return ctl_new(&cfg, &be);
}

static const struct dp_leg *find_leg(const struct fake *f, const char *name)
{
	for (uint32_t i = 0; i < f->core.nlegs; i++)
		if ((f->core.legs[i].flags & DP_LEG_USED) && !strcmp(f->core.legs[i].name, name))
			return &f->core.legs[i];
	return NULL;
}

/* ---- a backend that only records what it is told (several interfaces share port numbers,
 * which the packet core here cannot hold: that is the dataplane's part) ---- */

struct rec {
	unsigned creates, deletes, remotes;
	uint8_t last_iface[2];      /* of the last two creates */
	uint16_t last_port[2];
};

static int rec_submit(void *ctx, unsigned w, struct dp_cmd *cmd)
{
	struct rec *r = ctx;

	(void)w;
	if (cmd->type == DP_CMD_CREATE) {
		r->last_iface[r->creates % 2] = cmd->cfg.iface;
		r->last_port[r->creates % 2] = cmd->cfg.port;
		r->creates++;
	} else if (cmd->type == DP_CMD_DELETE) {
		r->deletes++;
	} else {
		r->remotes++;
	}
	free(cmd);
	return 0;
}

static const struct dp_leg *rec_view(void *ctx, unsigned w, uint32_t slot)
{
	(void)ctx;
	(void)w;
	(void)slot;
	return NULL;
}

static struct ctl *mk_ifaces(struct rec *r, uint16_t pmin, uint16_t pmax)
{
	struct ctl_cfg cfg = {
		.port_min = pmin, .port_max = pmax, .max_sessions = 1000, .nworkers = 1,
		.slots_per_worker = 1024, .seed = 7, .n_iface = 2,
		.iface = {{"pub", 0xcb007101, 0}, {"priv", 0x0a000001, 0}},
	};
	struct ctl_backend be = {.submit = rec_submit, .view = rec_view, .ctx = r};

	memset(r, 0, sizeof(*r));
	return ctl_new(&cfg, &be);
}

/* ---- NG helpers ---- */

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

/* Run one command; result must be want ("ok" or "error"); the SDP (or error-reason) into text. */
static void run(struct ctl *c, const char *msg, size_t n, const char *want, char *text, size_t cap,
		uint64_t now)
{
	static char out[65536];
	struct ng_benc_doc d;
	const struct ng_benc_node *dict, *v;
	const char *sp;
	size_t len = ctl_handle(c, msg, n, out, sizeof(out), now);

	assert_true(len > 0);
	sp = memchr(out, ' ', len);
	assert_non_null(sp);
	ng_benc_init(&d, nodes, 2048);
	assert_int_equal(ng_benc_parse(&d, sp + 1, len - (size_t)(sp + 1 - out)), 0);
	dict = ng_benc_at(&d, 0);
	v = ng_benc_dict_get(&d, dict, "result");
	assert_non_null(v);
	if (v->len != strlen(want) || memcmp(v->str, want, v->len)) {
		const struct ng_benc_node *e = ng_benc_dict_get(&d, dict, "error-reason");
		fprintf(stderr, "result %.*s: %.*s\n", (int)v->len, v->str, e ? (int)e->len : 0,
			e ? e->str : "");
		fail();
	}
	v = ng_benc_dict_get(&d, dict, !strcmp(want, "ok") ? "sdp" : "error-reason");
	if (text) {
		text[0] = 0;
		if (v) {
			assert_true(v->len < cap);
			memcpy(text, v->str, v->len);
			text[v->len] = 0;
		}
	}
}

static unsigned count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- bodies ---- */

#define ID6 "oKpwKDjMnfFmkSeXlIgoUEYW0BiriMilFQluFogmIQ8"
#define PW6 "XJoleCXuzzNJHAdN0G5MHg"

/* Lync's INVITE body ([MS-SIPRE] §3.15.4.1, 2-level): ICEv6 part first, ICEv19 part last. */
static const char lync_multipart[] =
	"------=_NextPart_000_001B_01CDC5AC.EC1E2DE0\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Transfer-Encoding: 7bit\r\n"
	"Content-ID: <4c3a1f6e9a@example.com>\r\n"
	"Content-Disposition: session; handling=optional; ms-proxy-2007fallback\r\n"
	"\r\n"
	"v=0\r\n"
	"o=- 0 0 IN IP4 192.0.2.179\r\n"
	"s=session\r\n"
	"c=IN IP4 192.0.2.179\r\n"
	"b=CT:99980\r\n"
	"t=0 0\r\n"
	"m=audio 19384 RTP/AVP 0 8 101\r\n"
	"a=candidate:" ID6 " 1 " PW6 " UDP 0.830 192.0.2.179 19384\r\n"
	"a=candidate:" ID6 " 2 " PW6 " UDP 0.830 192.0.2.179 19385\r\n"
	"a=maxptime:200\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"\r\n"
	"------=_NextPart_000_001B_01CDC5AC.EC1E2DE0\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Transfer-Encoding: 7bit\r\n"
	"Content-ID: <7b2e4d@example.com>\r\n"
	"Content-Disposition: session; handling=optional\r\n"
	"\r\n"
	"v=0\r\n"
	"o=- 0 1 IN IP4 192.0.2.179\r\n"
	"s=session\r\n"
	"c=IN IP4 192.0.2.179\r\n"
	"b=CT:99980\r\n"
	"t=0 0\r\n"
	"m=audio 19384 RTP/AVP 0 8 101\r\n"
	"a=ice-ufrag:Lyn1\r\n"
	"a=ice-pwd:lyncpasswordlyncpassword\r\n"
	"a=candidate:1 1 UDP 2130706431 192.0.2.179 19384 typ host\r\n"
	"a=candidate:1 2 UDP 2130706430 192.0.2.179 19385 typ host\r\n"
	"a=candidate:2 1 TCP-PASS 174455807 192.0.2.179 50020 typ host\r\n"
	"a=maxptime:200\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"\r\n"
	"------=_NextPart_000_001B_01CDC5AC.EC1E2DE0--\r\n";

static const char rfc_answer[] =
	"v=0\r\n"
	"o=bob 1 1 IN IP4 198.51.100.20\r\n"
	"s=-\r\n"
	"c=IN IP4 198.51.100.20\r\n"
	"t=0 0\r\n"
	"m=audio 50000 RTP/AVP 0 101\r\n"
	"a=ice-ufrag:bobu\r\n"
	"a=ice-pwd:bobpasswordbobpassword1\r\n"
	"a=candidate:7 1 UDP 2130706431 198.51.100.20 50000 typ host\r\n"
	"a=candidate:7 2 UDP 2130706430 198.51.100.20 50001 typ host\r\n";

/* libnice in OC2007R2 mode (priorities seen on the wire, shared/PEERS.md) */
static const char oc2007r2_offer[] =
	"v=0\r\n"
	"o=- 1 1 IN IP4 192.0.2.30\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"m=audio 40000 RTP/AVP 0\r\n"
	"c=IN IP4 192.0.2.30\r\n"
	"a=ice-ufrag:nIce\r\n"
	"a=ice-pwd:nicepasswordnicepasswd\r\n"
	"a=candidate:1 1 UDP 2028994815 192.0.2.30 40000 typ host\r\n";

/* the same from libnice in RFC 5245 mode */
static const char rfc5245_offer[] =
	"v=0\r\n"
	"o=- 1 1 IN IP4 192.0.2.31\r\n"
	"s=-\r\n"
	"t=0 0\r\n"
	"m=audio 40000 RTP/AVP 0\r\n"
	"c=IN IP4 192.0.2.31\r\n"
	"a=ice-ufrag:rFc1\r\n"
	"a=ice-pwd:rfcpasswordrfcpassword\r\n"
	"a=candidate:1 1 UDP 2015364095 192.0.2.31 40000 typ host\r\n";

/* OCS 2007 (draft-06 only) */
static const char msice_offer[] =
	"v=0\r\n"
	"o=- 0 0 IN IP4 192.0.2.40\r\n"
	"s=session\r\n"
	"c=IN IP4 192.0.2.40\r\n"
	"t=0 0\r\n"
	"m=audio 41000 RTP/AVP 0\r\n"
	"a=candidate:" ID6 " 1 " PW6 " UDP 0.830 192.0.2.40 41000\r\n"
	"a=candidate:" ID6 " 2 " PW6 " UDP 0.830 192.0.2.40 41001\r\n";

/* ---- tests ---- */

static void test_body_split(void **state)
{
	struct ctl_body b;
	static const char nested[] =
		"--outer\r\n"
		"Content-Type: multipart/alternative;\r\n boundary=\"inner\"\r\n"
		"\r\n"
		"--inner\r\n"
		"Content-Type: application/sdp\r\n"
		"\r\n"
		"v=0\r\n"
		"--inner\r\n"
		"Content-Type: Application/SDP\r\n"
		"\r\n"
		"v=0\r\nm=audio 1 RTP/AVP 0\r\n"
		"--inner--\r\n"
		"\r\n"
		"--outer\r\n"
		"Content-Type: application/ms-conversation-context+xml\r\n"
		"\r\n"
		"<x/>\r\n"
		"--outer--\r\n";

	(void)state;
	assert_int_equal(ctl_body_split(&b, lync_multipart, strlen(lync_multipart)), 0);
	assert_true(b.multipart);
	assert_int_equal(b.n_sdp, 2);
	assert_int_equal(b.primary, 1);
	assert_true(b.sdp[0].fallback);
	assert_false(b.sdp[1].fallback);
	assert_memory_equal(lync_multipart + b.sdp[0].off, "v=0\r\n", 5);
	assert_memory_equal(lync_multipart + b.sdp[1].off, "v=0\r\n", 5);
	/* the line break before a delimiter belongs to the delimiter */
	assert_memory_equal(lync_multipart + b.sdp[1].off + b.sdp[1].len - 2, "\r\n", 2);
	assert_memory_equal(lync_multipart + b.sdp[1].off + b.sdp[1].len, "\r\n------", 8);

	/* [MS-SIPRE]'s 3-level form: mixed > alternative > sdp, with a folded Content-Type */
	assert_int_equal(ctl_body_split(&b, nested, strlen(nested)), 0);
	assert_int_equal(b.n_sdp, 2);
	assert_int_equal(b.sdp[0].len, 3);
	assert_memory_equal(nested + b.sdp[1].off, "v=0\r\nm=audio 1 RTP/AVP 0", b.sdp[1].len);

	/* a plain SDP is one part */
	assert_int_equal(ctl_body_split(&b, rfc_answer, strlen(rfc_answer)), 0);
	assert_false(b.multipart);
	assert_int_equal(b.n_sdp, 1);
	assert_int_equal(b.sdp[0].len, strlen(rfc_answer));

	/* malformed ones are refused */
	assert_int_equal(ctl_body_split(&b, "--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n", 41),
			 CTL_SDP_E_SYNTAX); /* no close delimiter */
	assert_int_equal(ctl_body_split(&b, "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n", 43),
			 CTL_SDP_E_EMPTY);
	assert_int_equal(ctl_body_split(&b, "--b\r\nContent-Type: application/sdp\r\n--b--\r\n", 43),
			 CTL_SDP_E_SYNTAX); /* headers never end */
}

static void test_dialect_detection(void **state)
{
	static struct ctl_sdp s;
	struct ctl_body b;
	static const char both_in_one[] =
		"v=0\r\no=- 0 0 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		"m=audio 5000 RTP/AVP 0\r\n"
		"a=candidate:" ID6 " 1 " PW6 " UDP 0.830 192.0.2.1 5000\r\n"
		"a=ice-ufrag:Both\r\na=ice-pwd:bothpasswordbothpassword\r\n"
		"a=candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host\r\n";
	static const char x_info[] =
		"v=0\r\no=- 0 0 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
		"m=audio 5000 RTP/AVP 0\r\n"
		"a=ice-ufrag:Xinf\r\na=ice-pwd:xinfopasswordxinfopass\r\n"
		"a=candidate:1 1 UDP 2130706431 192.0.2.1 5000 typ host\r\n"
		"a=x-candidate-info:1 network-type=WLAN\r\n";

	(void)state;
	assert_int_equal(ctl_sdp_parse(&s, oc2007r2_offer, strlen(oc2007r2_offer)), 0);
	assert_int_equal(ctl_sdp_dialect(&s, 0, false), CTL_DIALECT_MSICE2);
	assert_int_equal(ctl_sdp_parse(&s, rfc5245_offer, strlen(rfc5245_offer)), 0);
	assert_int_equal(ctl_sdp_dialect(&s, 0, false), CTL_DIALECT_RFC);
	assert_int_equal(ctl_sdp_dialect(&s, 0, true), CTL_DIALECT_MSICE2);
	assert_int_equal(ctl_sdp_dialect(&s, 1, false), CTL_DIALECT_NONE);
	assert_int_equal(ctl_sdp_parse(&s, rfc_answer, strlen(rfc_answer)), 0);
	assert_int_equal(ctl_sdp_dialect(&s, 0, false), CTL_DIALECT_RFC); /* local pref 0xffff */
	assert_int_equal(ctl_sdp_parse(&s, msice_offer, strlen(msice_offer)), 0);
	assert_int_equal(ctl_sdp_dialect(&s, 0, false), CTL_DIALECT_MSICE);
	assert_int_equal(ctl_sdp_parse(&s, both_in_one, strlen(both_in_one)), 0);
	assert_true(s.media[0].both_forms);
	assert_int_equal(ctl_sdp_dialect(&s, 0, false), CTL_DIALECT_MSICE2);
	assert_int_equal(ctl_sdp_parse(&s, x_info, strlen(x_info)), 0);
	assert_int_equal(ctl_sdp_dialect(&s, 0, false), CTL_DIALECT_MSICE2);
	/* Lync's ICEv19 part: TCP-PASS alone says Microsoft */
	assert_int_equal(ctl_body_split(&b, lync_multipart, strlen(lync_multipart)), 0);
	assert_int_equal(ctl_sdp_parse(&s, lync_multipart + b.sdp[1].off, b.sdp[1].len), 0);
	assert_int_equal(ctl_sdp_dialect(&s, 0, false), CTL_DIALECT_MSICE2);
}

static void test_multipart_offer(void **state)
{
	static struct fake f;
	struct ctl *c = mk(&f);
	static char msg[16384], sdp[16384];
	const struct dp_leg *la, *lb;
	char port_b[16], *p1, *p2;

	(void)state;
	assert_non_null(c);
	/* autodetected: no flag. Leg a speaks MS-ICE2 (the ICEv19 part; Lync takes an RFC-form
	 * answer as MS-ICE2), from the RFC-form candidates only */
	size_t n = ng_msg(msg, sizeof(msg), "l1", "offer", "lync@x", "ltag", NULL, lync_multipart, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_int_equal(f.failed, 0);
	assert_non_null(la = find_leg(&f, "lync@x/0a"));
	assert_non_null(lb = find_leg(&f, "lync@x/0b"));
	assert_int_equal(la->agent.cfg.dialect, ICE_DIALECT_MSICE2);
	/* made, told the offerer's side, but idle until the answer goes to the offerer */
	assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_NEW);
	assert_string_equal(la->agent.rufrag, "Lyn1");
	assert_int_equal(la->agent.nremote, 2); /* UDP RFC-form ones; not draft-06, not TCP */

	/* the multipart comes back whole: MIME lines byte for byte, both parts rewritten to the
	 * same gateway port, each in its own candidate grammar */
	assert_int_equal(count(sdp, "------=_NextPart_000_001B_01CDC5AC.EC1E2DE0\r\n"), 2);
	assert_non_null(strstr(sdp, "\r\n------=_NextPart_000_001B_01CDC5AC.EC1E2DE0--\r\n"));
	assert_non_null(strstr(sdp, "Content-Disposition: session; handling=optional; ms-proxy-2007fallback\r\n"));
	assert_non_null(strstr(sdp, "Content-ID: <4c3a1f6e9a@example.com>\r\n"));
	assert_non_null(strstr(sdp, "Content-ID: <7b2e4d@example.com>\r\n"));
	assert_int_equal(count(sdp, "a=maxptime:200\r\n"), 2);
	assert_int_equal(count(sdp, "b=CT:99980\r\n"), 2);
	assert_null(strstr(sdp, "c=IN IP4 192.0.2.179"));
	assert_null(strstr(sdp, " 192.0.2.179 "));
	assert_null(strstr(sdp, ID6));
	assert_null(strstr(sdp, "TCP-PASS"));
	snprintf(port_b, sizeof(port_b), " %u ", lb->port);
	p1 = strstr(sdp, "ms-proxy-2007fallback");
	p2 = strstr(sdp, "<7b2e4d@example.com>");
	assert_true(p1 && p2 && p1 < p2);
	{
		/* part one (ICEv6): draft-06 lines, no ice-ufrag; part two (ICEv19): RFC form */
		char one[8192], two[8192];
		size_t l1 = (size_t)(p2 - p1);
		memcpy(one, p1, l1);
		one[l1] = 0;
		snprintf(two, sizeof(two), "%s", p2);
		assert_null(strstr(one, "a=ice-ufrag"));
		assert_non_null(strstr(one, " UDP 0.830 203.0.113.1"));
		assert_non_null(strstr(one, port_b + 1));
		assert_non_null(strstr(two, "a=ice-ufrag:"));
		assert_non_null(strstr(two, "typ host"));
		assert_null(strstr(two, "0.830"));
		assert_non_null(strstr(two, port_b + 1));
	}
	/* the answer to Lync is one SDP in the dialect its leg speaks: RFC form */
	n = ng_msg(msg, sizeof(msg), "l2", "answer", "lync@x", "ltag", "btag", rfc_answer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 2000);
	assert_non_null(strstr(sdp, "a=ice-ufrag:"));
	assert_null(strstr(sdp, "0.830"));
	assert_int_equal(f.failed, 0);
	assert_int_equal(f.core.active, 2);
	ctl_free(c);
	dp_core_free(&f.core, free);
}

static void test_detected_dialects(void **state)
{
	static struct fake f;
	struct ctl *c = mk(&f);
	static char msg[16384], sdp[16384];
	static const char no_ms[] = "5:flagsl10:no-MS-ICE2e";
	const struct dp_leg *la, *lb;
	size_t n;

	(void)state;
	/* libnice OC2007R2 on both sides: both legs MS-ICE2 without any flag */
	n = ng_msg(msg, sizeof(msg), "d1", "offer", "r2@x", "a", NULL, oc2007r2_offer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	n = ng_msg(msg, sizeof(msg), "d2", "answer", "r2@x", "a", "b", oc2007r2_offer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(la = find_leg(&f, "r2@x/0a"));
	assert_non_null(lb = find_leg(&f, "r2@x/0b"));
	assert_int_equal(la->agent.cfg.dialect, ICE_DIALECT_MSICE2);
	assert_int_equal(lb->agent.cfg.dialect, ICE_DIALECT_MSICE2);
	/* the flag overrides the guess */
	n = ng_msg(msg, sizeof(msg), "d3", "offer", "r3@x", "a", NULL, oc2007r2_offer, no_ms);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(la = find_leg(&f, "r3@x/0a"));
	assert_int_equal(la->agent.cfg.dialect, ICE_DIALECT_RFC8445);
	/* RFC 5245 libnice stays RFC */
	n = ng_msg(msg, sizeof(msg), "d4", "offer", "r4@x", "a", NULL, rfc5245_offer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(la = find_leg(&f, "r4@x/0a"));
	assert_int_equal(la->agent.cfg.dialect, ICE_DIALECT_RFC8445);
	/* OCS 2007 offers draft-06 only: MS-ICE leg, and the answer to it is draft-06 too */
	n = ng_msg(msg, sizeof(msg), "d5", "offer", "r5@x", "a", NULL, msice_offer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(la = find_leg(&f, "r5@x/0a"));
	assert_int_equal(la->agent.cfg.dialect, ICE_DIALECT_MSICE);
	assert_non_null(strstr(sdp, " UDP 0.830 203.0.113.1 "));
	n = ng_msg(msg, sizeof(msg), "d6", "answer", "r5@x", "a", "b", rfc_answer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_null(strstr(sdp, "a=ice-ufrag"));
	assert_int_equal(count(sdp, " UDP 0.830 203.0.113.1 "), 2);
	assert_int_equal(f.failed, 0);
	ctl_free(c);
	dp_core_free(&f.core, free);
}

static void test_provisional_answers(void **state)
{
	static struct fake f;
	struct ctl *c = mk(&f);
	static char msg[16384], sdp[16384], sdp2[16384], other[4096];
	const struct dp_leg *lb;
	uint32_t slot_b;
	uint64_t done0;
	size_t n;

	(void)state;
	n = ng_msg(msg, sizeof(msg), "p1", "offer", "prov@x", "a", NULL, rfc5245_offer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	/* the 183 */
	n = ng_msg(msg, sizeof(msg), "p2", "answer", "prov@x", "a", "b", rfc_answer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(lb = find_leg(&f, "prov@x/0b"));
	slot_b = (uint32_t)(lb - f.core.legs);
	assert_int_equal(ice_agent_state(&lb->agent), ICE_STATE_RUNNING);
	done0 = lb->agent.start_us;
	/* the 200 with the same SDP: the same legs, the agent not restarted, the same reply */
	n = ng_msg(msg, sizeof(msg), "p3", "answer", "prov@x", "a", "b", rfc_answer, NULL);
	run(c, msg, n, "ok", sdp2, sizeof(sdp2), 2000);
	assert_string_equal(sdp, sdp2);
	assert_int_equal(f.core.active, 2);
	assert_int_equal(ctl_stats(c)->leg_remakes, 0);
	assert_int_equal(f.failed, 0);
	assert_non_null(lb = find_leg(&f, "prov@x/0b"));
	assert_int_equal((uint32_t)(lb - f.core.legs), slot_b);
	assert_int_equal(lb->agent.start_us, done0);
	assert_int_equal(ctl_stats(c)->calls, 1);
	assert_int_equal(ctl_stats(c)->legs, 2);
	/* a 200 from another fork (other credentials): leg b made again in place, still two */
	snprintf(other, sizeof(other), "%s", rfc_answer);
	memcpy(strstr(other, "bobu"), "carl", 4);
	n = ng_msg(msg, sizeof(msg), "p4", "answer", "prov@x", "a", "c", other, NULL);
	run(c, msg, n, "ok", sdp2, sizeof(sdp2), 3000);
	assert_int_equal(ctl_stats(c)->leg_remakes, 1);
	assert_int_equal(f.core.active, 2);
	assert_int_equal(f.failed, 0);
	assert_non_null(lb = find_leg(&f, "prov@x/0b"));
	assert_int_equal((uint32_t)(lb - f.core.legs), slot_b);
	assert_string_equal(lb->agent.rufrag, "carl");
	assert_int_equal(ice_agent_state(&lb->agent), ICE_STATE_RUNNING);
	ctl_free(c);
	dp_core_free(&f.core, free);
}

static void test_final_offer(void **state)
{
	static struct fake f;
	struct ctl *c = mk(&f);
	static char msg[16384], sdp[16384], fin[4096];
	const struct dp_leg *la;
	struct ice_addr lo, re;
	uint16_t port_a;
	size_t n;

	(void)state;
	/* MS-ICE: the offerer's final offer names the candidate its checks chose */
	n = ng_msg(msg, sizeof(msg), "f1", "offer", "fin@x", "a", NULL, msice_offer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	n = ng_msg(msg, sizeof(msg), "f2", "answer", "fin@x", "a", "b", rfc_answer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(la = find_leg(&f, "fin@x/0a"));
	port_a = la->port;
	assert_int_not_equal(ice_agent_selected(&la->agent, 1, &lo, &re), 0);
	snprintf(fin, sizeof(fin), "%sa=remote-candidate:" ID6 "\r\n", msice_offer);
	n = ng_msg(msg, sizeof(msg), "f3", "offer", "fin@x", "a", NULL, fin, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 2000);
	assert_int_equal(ctl_stats(c)->ms_final_offers, 1);
	assert_int_equal(f.failed, 0);
	assert_int_equal(f.core.active, 2);
	assert_non_null(la = find_leg(&f, "fin@x/0a"));
	assert_int_equal(la->port, port_a);
	assert_int_equal(ice_agent_selected(&la->agent, 1, &lo, &re), 0);
	assert_int_equal(re.port, 41000);
	assert_null(strstr(sdp, "remote-candidate"));
	/* the answerer's answer to it changes nothing on leg b */
	n = ng_msg(msg, sizeof(msg), "f4", "answer", "fin@x", "a", "b", rfc_answer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 2000);
	assert_int_equal(ctl_stats(c)->leg_remakes, 0);

	/* MS-ICE2 / RFC: a=remote-candidates, handled in place on the same legs */
	n = ng_msg(msg, sizeof(msg), "f5", "offer", "fin2@x", "a", NULL, oc2007r2_offer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(la = find_leg(&f, "fin2@x/0a"));
	assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_NEW);
	n = ng_msg(msg, sizeof(msg), "f5a", "answer", "fin2@x", "a", "b", rfc_answer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_RUNNING);
	port_a = la->port;
	snprintf(fin, sizeof(fin), "%sa=remote-candidates:1 203.0.113.1 %u\r\n", oc2007r2_offer, port_a);
	n = ng_msg(msg, sizeof(msg), "f6", "offer", "fin2@x", "a", NULL, fin, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 2000);
	assert_non_null(la = find_leg(&f, "fin2@x/0a"));
	assert_int_equal(la->port, port_a);
	assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_RUNNING);
	assert_int_equal(f.core.active, 4);
	assert_int_equal(f.failed, 0);
	ctl_free(c);
	dp_core_free(&f.core, free);
}

static void test_direction(void **state)
{
	static struct rec r;
	struct ctl *c = mk_ifaces(&r, 30000, 30099);
	static char msg[16384], sdp[16384];
	static const char dir[] = "9:directionl4:priv3:pube";
	static const char bad[] = "9:directionl4:priv6:publice";
	size_t n;

	(void)state;
	assert_non_null(c);
	/* the offer comes from the private side and goes to the public one */
	n = ng_msg(msg, sizeof(msg), "i1", "offer", "dir@x", "a", NULL, rfc5245_offer, dir);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(strstr(sdp, "c=IN IP4 203.0.113.1\r\n"));
	assert_null(strstr(sdp, "10.0.0.1"));
	assert_int_equal(r.creates, 2);
	assert_int_equal(r.last_iface[0], 1); /* leg a: priv */
	assert_int_equal(r.last_iface[1], 0); /* leg b: pub */
	n = ng_msg(msg, sizeof(msg), "i2", "answer", "dir@x", "a", "b", rfc_answer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(strstr(sdp, "c=IN IP4 10.0.0.1\r\n"));
	assert_non_null(strstr(sdp, " 10.0.0.1 "));
	assert_null(strstr(sdp, "203.0.113.1"));
	/* a re-offer from the answerer's side without direction: the call's sides swap */
	n = ng_msg(msg, sizeof(msg), "i3", "offer", "dir@x", "b", NULL, rfc_answer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(strstr(sdp, "c=IN IP4 10.0.0.1\r\n"));
	assert_int_equal(r.last_iface[(r.creates - 2) % 2], 0);
	assert_int_equal(r.last_iface[(r.creates - 1) % 2], 1);
	/* an interface nobody configured: a clean error, nothing made */
	n = ng_msg(msg, sizeof(msg), "i4", "offer", "bad@x", "a", NULL, rfc5245_offer, bad);
	run(c, msg, n, "error", sdp, sizeof(sdp), 1000);
	assert_string_equal(sdp, "Unknown interface 'public' in direction");
	assert_int_equal(ctl_stats(c)->calls, 1);
	/* rtpengine's legacy words mean the first interface when none is named so */
	n = ng_msg(msg, sizeof(msg), "i5", "offer", "leg@x", "a", NULL, rfc5245_offer,
		   "9:directionl8:internal8:externale");
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(strstr(sdp, "c=IN IP4 203.0.113.1\r\n"));
	ctl_free(c);
}

static void test_exhaustion_per_interface(void **state)
{
	static struct rec r;
	/* 30000..30007: four port pairs per interface */
	struct ctl *c = mk_ifaces(&r, 30000, 30007);
	static char msg[16384], sdp[16384], mux[4096], id[32];
	static const char priv[] = "9:directionl4:priv4:prive";
	static const char pub[] = "9:directionl3:pub3:pube";
	size_t n;
	int i;

	(void)state;
	assert_non_null(c);
	snprintf(mux, sizeof(mux), "%sa=rtcp-mux\r\n", rfc5245_offer);
	assert_int_equal(ctl_free_ports(c, 0), 8);
	assert_int_equal(ctl_free_ports(c, 1), 8);
	/* muxed legs take one port each: four calls of two legs fill priv's eight ports */
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "mux%d", i);
		n = ng_msg(msg, sizeof(msg), id, "offer", id, "a", NULL, mux, priv);
		run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	}
	assert_int_equal(ctl_free_ports(c, 1), 0);
	assert_int_equal(ctl_free_ports(c, 0), 8);
	n = ng_msg(msg, sizeof(msg), "x1", "offer", "full", "a", NULL, mux, priv);
	run(c, msg, n, "error", sdp, sizeof(sdp), 1000);
	assert_string_equal(sdp, "Ran out of ports");
	assert_int_equal(ctl_stats(c)->port_exhausted, 1);
	/* the other interface still takes calls: RTCP on its own port, two pairs per call */
	for (i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "pair%d", i);
		n = ng_msg(msg, sizeof(msg), id, "offer", id, "a", NULL, rfc5245_offer, pub);
		run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	}
	assert_int_equal(ctl_free_ports(c, 0), 0);
	n = ng_msg(msg, sizeof(msg), "x2", "offer", "full2", "a", NULL, rfc5245_offer, pub);
	run(c, msg, n, "error", sdp, sizeof(sdp), 1000);
	/* muxed calls gone: their lone ports pair up again, a call with RTCP ports fits there */
	for (i = 0; i < 4; i++) {
		char ck[32];
		snprintf(id, sizeof(id), "mux%d", i);
		snprintf(ck, sizeof(ck), "del%d", i);
		n = ng_msg(msg, sizeof(msg), ck, "delete", id, "a", NULL, NULL, NULL);
		ctl_handle(c, msg, n, sdp, sizeof(sdp), 1000);
	}
	assert_int_equal(ctl_free_ports(c, 1), 8);
	for (i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "again%d", i);
		n = ng_msg(msg, sizeof(msg), id, "offer", id, "a", NULL, rfc5245_offer, priv);
		run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	}
	assert_int_equal(ctl_free_ports(c, 1), 0);
	assert_int_equal(ctl_stats(c)->calls, 4);
	ctl_free(c);
}

/* Two addresses under one name are one logical interface: calls take turns on them, one full
 * sends calls to the other, SDP names each leg's own (advertised) address, the interface is
 * exhausted only when both are, and a port given back returns to its own address. */
static void test_address_pool(void **state)
{
	static struct rec r;
	/* 30000..30003: two port pairs per address, two muxed calls */
	struct ctl_cfg cfg = {
		.port_min = 30000, .port_max = 30003, .max_sessions = 1000, .nworkers = 1,
		.slots_per_worker = 1024, .seed = 7, .n_iface = 3,
		.iface = {{"pub", 0xcb007101, 0}, {"priv", 0x0a000001, 0}, {"pub", 0xcb007102, 0xc6336402}},
	};
	struct ctl_backend be = {.submit = rec_submit, .view = rec_view, .ctx = &r};
	static char msg[16384], sdp[16384], mux[4096], id[32], ck[32];
	static const char pub[] = "9:directionl3:pub3:pube";
	static const char *const want[4] = {"c=IN IP4 203.0.113.1\r\n", "c=IN IP4 198.51.100.2\r\n",
					    "c=IN IP4 203.0.113.1\r\n", "c=IN IP4 198.51.100.2\r\n"};
	static const uint8_t addr[4] = {0, 2, 0, 2};
	struct ctl *c;
	unsigned creates;
	size_t n;

	(void)state;
	memset(&r, 0, sizeof(r));
	c = ctl_new(&cfg, &be);
	assert_non_null(c);
	snprintf(mux, sizeof(mux), "%sa=rtcp-mux\r\n", rfc5245_offer);
	/* round robin: the calls alternate between pub's addresses; the second's SDP names its
	 * advertised address, never the other one's */
	for (int i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "m%d", i);
		n = ng_msg(msg, sizeof(msg), id, "offer", id, "a", NULL, mux, pub);
		run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
		assert_non_null(strstr(sdp, want[i]));
		assert_null(strstr(sdp, addr[i] ? "203.0.113.1" : "198.51.100.2"));
		assert_null(strstr(sdp, "203.0.113.2")); /* the local one behind the NAT */
		assert_int_equal(r.last_iface[0], addr[i]);
		assert_int_equal(r.last_iface[1], addr[i]);
	}
	assert_int_equal(ctl_free_ports(c, 0), 0);
	assert_int_equal(ctl_free_ports(c, 2), 0);
	assert_int_equal(ctl_free_ports(c, 1), 4);
	/* both addresses full: pub is exhausted, cleanly; priv is another interface */
	n = ng_msg(msg, sizeof(msg), "x1", "offer", "full", "a", NULL, mux, pub);
	run(c, msg, n, "error", sdp, sizeof(sdp), 1000);
	assert_string_equal(sdp, "Ran out of ports");
	assert_int_equal(ctl_stats(c)->port_exhausted, 1);
	assert_int_equal(ctl_stats(c)->calls, 4);
	/* the second address's calls end: its ports go back to it, not to the first */
	for (int i = 1; i < 4; i += 2) {
		snprintf(id, sizeof(id), "m%d", i);
		snprintf(ck, sizeof(ck), "d%d", i);
		n = ng_msg(msg, sizeof(msg), ck, "delete", id, "a", NULL, NULL, NULL);
		ctl_handle(c, msg, n, sdp, sizeof(sdp), 1000);
	}
	assert_int_equal(ctl_free_ports(c, 0), 0);
	assert_int_equal(ctl_free_ports(c, 2), 4);
	/* the first address full: every new call goes on the second, whatever the turn */
	for (int i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "n%d", i);
		n = ng_msg(msg, sizeof(msg), id, "offer", id, "a", NULL, mux, pub);
		run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
		assert_non_null(strstr(sdp, "c=IN IP4 198.51.100.2\r\n"));
		assert_null(strstr(sdp, "203.0.113.1"));
		assert_int_equal(r.last_iface[0], 2);
		assert_int_equal(r.last_iface[1], 2);
	}
	assert_int_equal(ctl_free_ports(c, 2), 0);
	n = ng_msg(msg, sizeof(msg), "x2", "offer", "full2", "a", NULL, mux, pub);
	run(c, msg, n, "error", sdp, sizeof(sdp), 1000);
	assert_string_equal(sdp, "Ran out of ports");
	assert_int_equal(ctl_stats(c)->port_exhausted, 2);
	/* the answer names leg a's address to the offerer; a re-offer from the same side keeps
	 * the legs (the call's interface is pub, whichever address its legs have) */
	n = ng_msg(msg, sizeof(msg), "a0", "answer", "n0", "a", "b", rfc_answer, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(strstr(sdp, "c=IN IP4 198.51.100.2\r\n"));
	assert_null(strstr(sdp, "203.0.113.1"));
	creates = r.creates;
	n = ng_msg(msg, sizeof(msg), "r0", "offer", "n0", "a", NULL, mux, NULL);
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(strstr(sdp, "c=IN IP4 198.51.100.2\r\n"));
	assert_int_equal(r.creates, creates);
	/* a call from pub to priv: leg a on a pub address, leg b on priv; none left on pub */
	n = ng_msg(msg, sizeof(msg), "x3", "offer", "cross", "a", NULL, mux, "9:directionl3:pub4:prive");
	run(c, msg, n, "error", sdp, sizeof(sdp), 1000);
	assert_int_equal(ctl_free_ports(c, 1), 4);
	snprintf(ck, sizeof(ck), "d0");
	n = ng_msg(msg, sizeof(msg), ck, "delete", "m0", "a", NULL, NULL, NULL);
	ctl_handle(c, msg, n, sdp, sizeof(sdp), 1000);
	assert_int_equal(ctl_free_ports(c, 0), 2);
	assert_int_equal(ctl_free_ports(c, 2), 0);
	n = ng_msg(msg, sizeof(msg), "x4", "offer", "cross", "a", NULL, mux, "9:directionl3:pub4:prive");
	run(c, msg, n, "ok", sdp, sizeof(sdp), 1000);
	assert_non_null(strstr(sdp, "c=IN IP4 10.0.0.1\r\n"));
	assert_int_equal(r.last_iface[(r.creates - 2) % 2], 0);
	assert_int_equal(r.last_iface[(r.creates - 1) % 2], 1);
	assert_int_equal(ctl_free_ports(c, 0), 1);
	ctl_free(c);
	/* the same address twice would hand its ports out twice: refused */
	cfg.iface[2].local_ip = 0xcb007101;
	assert_null(ctl_new(&cfg, &be));
}

static void test_mux_churn(void **state)
{
	static struct rec r;
	struct ctl *c = mk_ifaces(&r, 30000, 30019);
	static char msg[16384], sdp[16384], mux[4096], id[32];
	uint64_t x = 88172645463325252ull;

	(void)state;
	snprintf(mux, sizeof(mux), "%sa=rtcp-mux\r\n", rfc5245_offer);
	/* muxed and unmuxed calls come and go at random; no port is ever given twice, and at
	 * the end every port is free and paired again */
	static bool live[64];
	for (int it = 0; it < 4000; it++) {
		char ck[32];
		unsigned k;
		size_t n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		k = (unsigned)(x % 64);
		snprintf(id, sizeof(id), "c%u", k);
		snprintf(ck, sizeof(ck), "k%d", it); /* a cookie per command: no cached reply */
		if (live[k]) {
			n = ng_msg(msg, sizeof(msg), ck, "delete", id, "a", NULL, NULL, NULL);
			ctl_handle(c, msg, n, sdp, sizeof(sdp), (uint64_t)it * 100000);
			live[k] = false;
		} else {
			static char out[65536];
			n = ng_msg(msg, sizeof(msg), ck, "offer", id, "a", NULL, (x >> 20) & 1 ? mux : rfc5245_offer, NULL);
			n = ctl_handle(c, msg, n, out, sizeof(out), (uint64_t)it * 100000);
			live[k] = strstr(out, "6:result2:ok") != NULL;
		}
		assert_true(ctl_free_ports(c, 0) <= 20);
	}
	for (unsigned k = 0; k < 64; k++)
		if (live[k]) {
			size_t n;
			snprintf(id, sizeof(id), "c%u", k);
			n = ng_msg(msg, sizeof(msg), id, "delete", id, "a", NULL, NULL, NULL);
			ctl_handle(c, msg, n, sdp, sizeof(sdp), 999000000);
		}
	assert_int_equal(ctl_stats(c)->calls, 0);
	assert_int_equal(ctl_free_ports(c, 0), 20);
	/* all paired again: five calls with RTCP ports fit */
	for (int i = 0; i < 5; i++) {
		size_t n;
		snprintf(id, sizeof(id), "p%d", i);
		n = ng_msg(msg, sizeof(msg), id, "offer", id, "a", NULL, rfc5245_offer, NULL);
		run(c, msg, n, "ok", sdp, sizeof(sdp), 999000000);
	}
	ctl_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_split),
		cmocka_unit_test(test_dialect_detection),
		cmocka_unit_test(test_multipart_offer),
		cmocka_unit_test(test_detected_dialects),
		cmocka_unit_test(test_provisional_answers),
		cmocka_unit_test(test_final_offer),
		cmocka_unit_test(test_direction),
		cmocka_unit_test(test_exhaustion_per_interface),
		cmocka_unit_test(test_address_pool),
		cmocka_unit_test(test_mux_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* [MS-ICE] (ICE draft-06, OCS 2007, libnice OC2007) endpoints through the session manager: a
 * real packet core, the NG session manager and endpoint agents on a virtual clock. The
 * endpoints know the gateway only from the SDP it wrote: each draft-06 a=candidate line's
 * identifier and password are what the gateway's leg checks with, or nothing completes. */
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
#include "dp_pkt.h"
#include "ng_bencode.h"
#include "sdp.h"

#define GW_IP 0xcb007101u  /* 203.0.113.1 */
#define OFF_IP 0xc000020au /* 192.0.2.10, the offerer */
#define ANS_IP 0xc6336414u /* 198.51.100.20, the answerer */
#define MS(x) ((uint64_t)(x) * 1000)
#define FCAP 1600
#define QMAX 512

struct ep {
	struct ice_agent ag;
	enum ice_dialect d;
	uint8_t ncomp;           /* MS-ICE: RTP and RTCP (no rtcp-mux in OCS 2007); RFC: muxed */
	struct ice_addr addr[2];
	uint8_t mac[6];
	uint64_t rng;
	char ufrag[16], pwd[40];
	unsigned rtp_in;
};

struct frame {
	uint16_t len;
	uint8_t b[FCAP];
};

struct net {
	struct dp_core core;
	struct ctl *ctl;
	struct ep off, ans;
	struct frame q[QMAX];
	unsigned nq, qdrop;
	uint64_t now;             /* us */
	unsigned failed;
};

static struct net N;

static uint64_t ep_rng(void *ctx)
{
	uint64_t *s = ctx;

	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int net_submit(void *ctx, unsigned w, struct dp_cmd *cmd)
{
	struct net *n = ctx;

	(void)w;
	dp_cmd_apply(&n->core, cmd, n->now);
	if (cmd->result < 0) {
		n->failed++;
		fprintf(stderr, "command %u on slot %u failed: %d\n", cmd->type, cmd->slot, cmd->result);
	}
	free(cmd);
	return 0;
}

static const struct dp_leg *net_view(void *ctx, unsigned w, uint32_t slot)
{
	struct net *n = ctx;

	(void)w;
	return slot < n->core.nlegs ? &n->core.legs[slot] : NULL;
}

static void net_emit(void *ctx, const uint8_t *f, uint16_t len)
{
	struct net *n = ctx;

	if (n->nq == QMAX || len > FCAP) {
		n->qdrop++;
		return;
	}
	memcpy(n->q[n->nq].b, f, len);
	n->q[n->nq++].len = len;
}

static void ep_init(struct ep *e, enum ice_dialect d, enum ice_role role, uint32_t ip, uint16_t port,
		    uint8_t tag)
{
	struct ice_config cfg;

	memset(e, 0, sizeof(*e));
	e->d = d;
	e->ncomp = d == ICE_DIALECT_MSICE ? 2 : 1;
	for (uint8_t k = 0; k < e->ncomp; k++)
		ice_addr_set_v4(&e->addr[k], ip, (uint16_t)(port + k));
	memcpy(e->mac, (uint8_t[6]){2, 0xe, 0, 0, 0, tag}, 6);
	e->rng = 0x5eed0000u + tag;
	snprintf(e->ufrag, sizeof(e->ufrag), "ep%u", tag);
	snprintf(e->pwd, sizeof(e->pwd), "endpointpassword%uabcdefgh", tag);
	memset(&cfg, 0, sizeof(cfg));
	cfg.dialect = d;
	cfg.role = role;
	cfg.nomination = ICE_NOM_REGULAR;
	cfg.ncomp = e->ncomp;
	cfg.ufrag = d == ICE_DIALECT_MSICE ? NULL : e->ufrag;
	cfg.pwd = d == ICE_DIALECT_MSICE ? NULL : e->pwd;
	cfg.rng = ep_rng;
	cfg.rng_ctx = &e->rng;
	assert_int_equal(ice_agent_init(&e->ag, &cfg), 0);
	for (uint8_t k = 0; k < e->ncomp; k++)
		assert_true(ice_agent_add_local(&e->ag, (uint8_t)(k + 1), ICE_CAND_HOST, &e->addr[k],
						-1, 65535) >= 0);
}

static void mk_net(struct net *n)
{
	struct ctl_cfg cfg = {
		.local_ip = GW_IP, .port_min = 30000, .port_max = 30100, .max_sessions = 10,
		.nworkers = 1, .slots_per_worker = 16, .seed = 11,
	};
	struct ctl_backend be = {.submit = net_submit, .view = net_view, .ctx = n};
	const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};

	memset(n, 0, sizeof(*n));
	n->now = MS(1000);
	assert_int_equal(dp_core_init(&n->core, GW_IP, mac, 16, 1, calloc, n->now), 0);
	n->core.emit = net_emit;
	n->core.emit_ctx = n;
	memcpy(n->core.gw_mac, (const uint8_t[6]){2, 0, 0, 0, 0, 9}, 6);
	n->core.have_gw_mac = true;
	n->ctl = ctl_new(&cfg, &be);
	assert_non_null(n->ctl);
}

static void free_net(struct net *n)
{
	ctl_free(n->ctl);
	dp_core_free(&n->core, free);
}

/* An endpoint sends a datagram from one of its addresses to the gateway; what the core sends
 * back at once (an in-place STUN reply, relayed media) joins the queue. */
static void ep_send(struct net *n, struct ep *e, const struct ice_addr *from, const struct ice_addr *to,
		    const uint8_t *p, uint16_t plen)
{
	static uint8_t f[FCAP];
	uint16_t len;

	(void)e;
	memcpy(f + DP_HDRS_LEN, p, plen);
	len = dp_build_udp4(f, n->core.mac, e->mac, ice_addr_v4(from), from->port, ice_addr_v4(to),
			    to->port, plen, 7, true);
	if (dp_core_rx(&n->core, n->now, f, &len, FCAP) == DP_VERDICT_TX)
		net_emit(n, f, len);
}

/* A frame the gateway sent reaches an endpoint. */
static void deliver(struct net *n, const uint8_t *f, uint16_t len)
{
	const uint8_t *ip = f + DP_ETH_LEN, *udp = ip + DP_IP4_LEN;
	struct ice_addr to, from;
	struct ep *e = NULL;
	uint8_t rb[1500];
	struct ice_out reply = {.buf = rb, .cap = sizeof(rb)};

	if (len < DP_HDRS_LEN || dp_rd16(f + 12) != DP_ETHERTYPE_IP4)
		return;
	ice_addr_set_v4(&to, dp_rd32(ip + 16), dp_rd16(udp + 2));
	ice_addr_set_v4(&from, dp_rd32(ip + 12), dp_rd16(udp));
	if (ice_addr_v4(&to) == OFF_IP)
		e = &n->off;
	else if (ice_addr_v4(&to) == ANS_IP)
		e = &n->ans;
	if (!e)
		return;
	if (f[DP_HDRS_LEN] >= 128) {
		if (ice_addr_eq(&to, &e->addr[0]))
			e->rtp_in++;
		return;
	}
	if (ice_agent_recv(&e->ag, n->now, &to, &from, f + DP_HDRS_LEN, (size_t)(len - DP_HDRS_LEN),
			   &reply) == ICE_RX_REPLIED)
		ep_send(n, e, &to, &reply.to, rb, (uint16_t)reply.len);
}

static void flush(struct net *n)
{
	for (unsigned guard = 0; guard < 64 && n->nq; guard++) {
		static struct frame q[QMAX];
		unsigned k = n->nq;

		memcpy(q, n->q, k * sizeof(q[0]));
		n->nq = 0;
		for (unsigned i = 0; i < k; i++)
			deliver(n, q[i].b, q[i].len);
	}
}

static void ep_poll(struct net *n, struct ep *e)
{
	uint8_t b[1500];
	struct ice_out out = {.buf = b, .cap = sizeof(b)};
	struct ice_event ev;

	if (ice_agent_next_timeout(&e->ag) <= n->now)
		ice_agent_handle_timeout(&e->ag, n->now);
	while (ice_agent_poll_transmit(&e->ag, n->now, &out) == 1)
		ep_send(n, e, &out.from, &out.to, b, (uint16_t)out.len);
	while (ice_agent_poll_event(&e->ag, &ev))
		;
}

/* Advance the clock to until, 1 ms at a time. */
static void run_until(struct net *n, uint64_t until)
{
	while (n->now < until) {
		n->now += MS(1);
		dp_core_timers(&n->core, n->now);
		flush(n);
		ep_poll(n, &n->off);
		ep_poll(n, &n->ans);
		flush(n);
	}
}

/* ---- SDP ---- */

static void ip_str(uint32_t a, char ip[16])
{
	snprintf(ip, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* An endpoint's body: draft-06 lines carrying its candidates' credentials (MS-ICE, as OCS 2007
 * writes them: no rtcp-mux, no ice-ufrag / ice-pwd), else RFC 8839 with rtcp-mux. */
static void ep_sdp(const struct ep *e, const char *user, char *out, size_t cap)
{
	char ip[16];
	int n;

	ip_str(ice_addr_v4(&e->addr[0]), ip);
	n = snprintf(out, cap,
		     "v=0\r\no=%s 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
		     "m=audio %u RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
		     user, ip, ip, e->addr[0].port);
	if (e->d == ICE_DIALECT_MSICE) {
		char id[64], pwd[32];

		assert_int_equal(ice_agent_local_ms_cred((struct ice_agent *)&e->ag, 0, id, sizeof(id),
							 pwd, sizeof(pwd)), 0);
		for (unsigned k = 0; k < 2; k++)
			n += snprintf(out + n, cap - (size_t)n,
				      "a=candidate:%s %u %s UDP 0.830 %s %u\r\n", id, k + 1, pwd, ip,
				      e->addr[k].port);
	} else {
		const struct ice_cand *c = &e->ag.local[0];

		snprintf(out + n, cap - (size_t)n,
			 "a=rtcp-mux\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n"
			 "a=candidate:%s 1 UDP %u %s %u typ host\r\n",
			 e->ufrag, e->pwd, c->fnd_str, c->prio, ip, e->addr[0].port);
	}
}

/* Corrupt the password of the first draft-06 line of a body (one base64 character). */
static void corrupt_draft06_pwd(char *sdp)
{
	char *p = strstr(sdp, "a=candidate:");
	char *sp;

	assert_non_null(p);
	sp = strchr(p, ' ');            /* after the identifier */
	assert_non_null(sp);
	sp = strchr(sp + 1, ' ');       /* after the component: the password */
	assert_non_null(sp);
	sp[1] = sp[1] == 'A' ? 'B' : 'A';
}

/* The gateway's side as the SDP it wrote tells it, and only that: an endpoint's agent learns
 * the lines of its dialect. Returns the draft-06 lines seen. */
static unsigned ep_learn(struct net *n, struct ep *e, const char *sdp, struct ice_addr *media)
{
	static struct ctl_sdp s;
	const struct ctl_sdp_media *pm;
	unsigned d06 = 0, added = 0;

	assert_int_equal(ctl_sdp_parse(&s, sdp, strlen(sdp)), 0);
	assert_int_equal(s.n_media, 1);
	pm = &s.media[0];
	assert_true(pm->has_conn);
	*media = pm->conn;
	media->port = pm->port;
	if (e->d != ICE_DIALECT_MSICE)
		assert_int_equal(ice_agent_set_remote_credentials(&e->ag, pm->ice.ufrag, pm->ice.pwd), 0);
	for (unsigned i = 0; i < pm->sdp->ice.n_cand; i++) {
		const struct sdp_candidate *sc = &pm->sdp->ice.cand[i];
		struct ice_remote_cand rc;

		if (sc->form == SDP_FORM_DRAFT06)
			d06++;
		if ((sc->form == SDP_FORM_DRAFT06) != (e->d == ICE_DIALECT_MSICE) ||
		    sc->component > e->ncomp)
			continue;
		memset(&rc, 0, sizeof(rc));
		rc.comp = (uint8_t)sc->component;
		rc.type = ICE_CAND_HOST;
		rc.addr = sc->addr;
		rc.foundation = sc->foundation;
		if (sc->form == SDP_FORM_DRAFT06) {
			/* [MS-ICE]: base64 of a 32-byte identifier and a 16-byte password */
			assert_int_equal(strlen(sc->foundation), 43);
			assert_int_equal(strlen(sc->password), 22);
			rc.ms_id = sc->foundation;
			rc.ms_pwd = sc->password;
			rc.prio = sc->qvalue;
		} else {
			rc.prio = sc->priority;
		}
		assert_true(ice_agent_add_remote(&e->ag, n->now, &rc) >= 0);
		added++;
	}
	assert_int_equal(added, e->ncomp);
	ice_agent_end_of_candidates(&e->ag);
	return d06;
}

/* ---- NG ---- */

static struct ng_benc_node nodes[2048];

static size_t ng_msg(char *out, size_t cap, const char *cookie, const char *cmd, const char *to,
		     const char *sdp, const char *extra)
{
	int n = snprintf(out, cap, "%s d7:call-id7:msice@x7:command%zu:%s8:from-tag4:ftag%s", cookie,
			 strlen(cmd), cmd, extra ? extra : "");

	n += snprintf(out + n, cap - (size_t)n, "3:sdp%zu:%s", strlen(sdp), sdp);
	if (to)
		n += snprintf(out + n, cap - (size_t)n, "6:to-tag%zu:%s", strlen(to), to);
	n += snprintf(out + n, cap - (size_t)n, "e");
	return (size_t)n;
}

/* Send an NG command, expect "ok", return the reply's SDP in sdp. */
static void ng(struct net *n, const char *cookie, const char *cmd, const char *to, const char *body,
	       const char *extra, char *sdp, size_t cap)
{
	static char msg[16384], out[65536];
	struct ng_benc_doc d;
	const struct ng_benc_node *dict, *v;
	size_t len = ng_msg(msg, sizeof(msg), cookie, cmd, to, body, extra);
	size_t cl = strlen(cookie);

	len = ctl_handle(n->ctl, msg, len, out, sizeof(out), n->now / 1000);
	assert_true(len > cl + 1);
	ng_benc_init(&d, nodes, 2048);
	assert_int_equal(ng_benc_parse(&d, out + cl + 1, len - cl - 1), 0);
	dict = ng_benc_at(&d, 0);
	v = ng_benc_dict_get(&d, dict, "result");
	assert_non_null(v);
	assert_memory_equal(v->str, "ok", 2);
	v = ng_benc_dict_get(&d, dict, "sdp");
	assert_non_null(v);
	assert_true(v->len < cap);
	memcpy(sdp, v->str, v->len);
	sdp[v->len] = 0;
}

static const struct dp_leg *leg(const struct net *n, char side)
{
	char name[32];
	int i;

	snprintf(name, sizeof(name), "msice@x/0%c", side);
	i = dp_core_find_leg(&n->core, name);
	assert_true(i >= 0);
	return &n->core.legs[i];
}

static void send_rtp(struct net *n, struct ep *e, const struct ice_addr *to, uint16_t seq)
{
	uint8_t p[172];

	memset(p, 0, sizeof(p));
	p[0] = 0x80;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[11] = e == &n->off ? 1 : 2;
	ep_send(n, e, &e->addr[0], to, p, sizeof(p));
	flush(n);
}

struct call_case {
	enum ice_dialect off, ans;  /* the endpoints' dialects */
	bool corrupt_off;           /* the offerer learns the answer with one password altered */
};

struct call_result {
	enum ice_state off, ans, la, lb;
	uint32_t la_integrity;      /* leg a's checks dropped for their MESSAGE-INTEGRITY */
	unsigned rtp_off, rtp_ans;  /* RTP each endpoint received once ICE was done */
};

/* Offer, ringing for 2 s, answer, 12 s of checks (the MS-ICE check phase is at most 10 s),
 * then RTP both ways from each endpoint's RTP address to the gateway address its SDP names. */
static void call(const struct call_case *cc, struct call_result *res)
{
	struct net *n = &N;
	static char body[4096], sdp[8192];
	struct ice_addr gw_a, gw_b;
	const struct dp_leg *la, *lb;
	unsigned d06;

	mk_net(n);
	ep_init(&n->off, cc->off, ICE_ROLE_CONTROLLING, OFF_IP, 40000, 1);
	ep_init(&n->ans, cc->ans, ICE_ROLE_CONTROLLED, ANS_IP, 50000, 2);

	ep_sdp(&n->off, "alice", body, sizeof(body));
	ng(n, "o1", "offer", NULL, body, NULL, sdp, sizeof(sdp));
	/* leg b's offer mirrors the offerer's candidate grammar */
	d06 = ep_learn(n, &n->ans, sdp, &gw_b);
	assert_int_equal(d06, cc->off == ICE_DIALECT_MSICE ? 2 : 0);
	la = leg(n, 'a');
	assert_int_equal(la->agent.cfg.dialect, cc->off);
	run_until(n, MS(3000));

	ep_sdp(&n->ans, "bob", body, sizeof(body));
	ng(n, "a1", "answer", "ttag", body, NULL, sdp, sizeof(sdp));
	if (cc->off == ICE_DIALECT_MSICE) {
		/* draft-06 carries its credentials in the candidates: no ice-ufrag / ice-pwd */
		assert_null(strstr(sdp, "a=ice-ufrag"));
		if (cc->corrupt_off)
			corrupt_draft06_pwd(sdp);
	}
	d06 = ep_learn(n, &n->off, sdp, &gw_a);
	assert_int_equal(d06, cc->off == ICE_DIALECT_MSICE ? 2 : 0);
	/* leg b was made again in the answerer's dialect, with the credentials it advertised */
	lb = leg(n, 'b');
	assert_int_equal(lb->agent.cfg.dialect, cc->ans);
	assert_int_equal(gw_a.port, la->port);
	assert_int_equal(gw_b.port, lb->port);
	assert_int_equal(ice_agent_start(&n->off.ag, n->now), 0);
	assert_int_equal(ice_agent_start(&n->ans.ag, n->now), 0);
	run_until(n, MS(15000));

	res->off = ice_agent_state(&n->off.ag);
	res->ans = ice_agent_state(&n->ans.ag);
	res->la = ice_agent_state(&la->agent);
	res->lb = ice_agent_state(&lb->agent);
	res->la_integrity = la->agent.stats.drop_integrity;
	n->off.rtp_in = n->ans.rtp_in = 0;
	for (uint16_t s = 1; s <= 5; s++) {
		send_rtp(n, &n->off, &gw_a, s);
		send_rtp(n, &n->ans, &gw_b, s);
	}
	res->rtp_off = n->off.rtp_in;
	res->rtp_ans = n->ans.rtp_in;
	if (res->la == ICE_STATE_COMPLETED) {
		/* leg a sends to the offerer's RTP address, as the selected pair says */
		assert_int_equal(la->media_state[0], 2);
		assert_true(ice_addr_eq(&la->media_remote[0], &n->off.addr[0]));
	}
	assert_int_equal(n->failed, 0);
	assert_int_equal(n->qdrop, 0);
	free_net(n);
}

/* OCS 2007 on both sides (an RFC 8445 endpoint cannot answer a draft-06-only offer): leg a
 * answers the caller's draft-06 lines with its own, which the caller checks it with; leg b is
 * offered in draft-06 (the offerer's grammar), made again as an MS-ICE leg at the answer, and
 * keeps the identifiers and passwords the offer gave the answerer. */
static void test_msice_both(void **state)
{
	struct call_case cc = {.off = ICE_DIALECT_MSICE, .ans = ICE_DIALECT_MSICE};
	struct call_result r;

	(void)state;
	call(&cc, &r);
	assert_int_equal(r.off, ICE_STATE_COMPLETED);
	assert_int_equal(r.la, ICE_STATE_COMPLETED);
	assert_int_equal(r.lb, ICE_STATE_COMPLETED);
	assert_int_equal(r.ans, ICE_STATE_COMPLETED);
	assert_int_equal(r.la_integrity, 0);
	assert_int_equal(r.rtp_off, 5);
	assert_int_equal(r.rtp_ans, 5);
}

/* The negative control: one character of one advertised password altered on its way to the
 * caller. Its checks reach leg a with a key leg a does not hold: each is dropped for its
 * integrity, none succeeds, and the caller's agent fails. (What icegw advertised before, its
 * own ufrag and a 24-character password in every draft-06 line, was no better: the worker's
 * agent had drawn other identifiers and passwords.) */
static void test_msice_wrong_password_fails(void **state)
{
	struct call_case cc = {.off = ICE_DIALECT_MSICE, .ans = ICE_DIALECT_MSICE, .corrupt_off = true};
	struct call_result r;

	(void)state;
	call(&cc, &r);
	assert_int_equal(r.off, ICE_STATE_FAILED);
	assert_true(r.la_integrity > 0);
	assert_int_equal(r.lb, ICE_STATE_COMPLETED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msice_both),
		cmocka_unit_test(test_msice_wrong_password_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

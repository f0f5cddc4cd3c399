/* Leg a (the gateway's leg facing the offerer) across a call that rings for 20 s: made at the
 * offer, checking from the answer on. A real packet core, the NG session manager and two
 * endpoint agents (the offerer's and the answerer's) exchange frames on a virtual clock. */
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
	struct ice_addr addr;
	uint8_t mac[6];
	uint64_t rng;
	char ufrag[16], pwd[40];
	/* a stateful firewall in front of it (what any NAT also does): a datagram from an
	 * address it has not sent to is dropped */
	bool firewall;
	struct ice_addr sent_to[8];
	unsigned nsent;
	unsigned filtered, rtp_in;
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
	unsigned to_off;          /* datagrams the gateway sent towards the offerer */
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
		    uint8_t tag, bool firewall)
{
	struct ice_config cfg;

	memset(e, 0, sizeof(*e));
	ice_addr_set_v4(&e->addr, ip, port);
	memcpy(e->mac, (uint8_t[6]){2, 0xe, 0, 0, 0, tag}, 6);
	e->rng = 0x5eed0000u + tag;
	e->firewall = firewall;
	snprintf(e->ufrag, sizeof(e->ufrag), "ep%u", tag);
	snprintf(e->pwd, sizeof(e->pwd), "endpointpassword%uabcdefgh", tag);
	memset(&cfg, 0, sizeof(cfg));
	cfg.dialect = d;
	cfg.role = role;
	cfg.nomination = ICE_NOM_REGULAR;
	cfg.ncomp = 1;
	cfg.ufrag = e->ufrag;
	cfg.pwd = e->pwd;
	cfg.rng = ep_rng;
	cfg.rng_ctx = &e->rng;
	assert_int_equal(ice_agent_init(&e->ag, &cfg), 0);
	assert_true(ice_agent_add_local(&e->ag, 1, ICE_CAND_HOST, &e->addr, -1, 65535) >= 0);
}

static void mk_net(struct net *n)
{
	struct ctl_cfg cfg = {
		.local_ip = GW_IP, .port_min = 30000, .port_max = 30100, .max_sessions = 10,
		.nworkers = 1, .slots_per_worker = 16, .seed = 9,
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

/* An endpoint sends a datagram to the gateway; what the core sends back at once (an in-place
 * STUN reply, relayed media) joins the queue. */
static void ep_send(struct net *n, struct ep *e, const struct ice_addr *to, const uint8_t *p, uint16_t plen)
{
	static uint8_t f[FCAP];
	uint16_t len;
	bool known = false;

	for (unsigned i = 0; i < e->nsent; i++)
		known |= ice_addr_eq(&e->sent_to[i], to);
	if (!known && e->nsent < 8)
		e->sent_to[e->nsent++] = *to;
	memcpy(f + DP_HDRS_LEN, p, plen);
	len = dp_build_udp4(f, n->core.mac, e->mac, ice_addr_v4(&e->addr), e->addr.port, ice_addr_v4(to),
			    to->port, plen, 7, true);
	if (dp_core_rx(&n->core, n->now, f, &len, FCAP) == DP_VERDICT_TX)
		net_emit(n, f, len);
}

/* A frame the gateway sent reaches an endpoint (or its firewall). */
static void deliver(struct net *n, const uint8_t *f, uint16_t len)
{
	const uint8_t *ip = f + DP_ETH_LEN, *udp = ip + DP_IP4_LEN;
	struct ice_addr to, from;
	struct ep *e = NULL;
	uint8_t rb[1500];
	struct ice_out reply = {.buf = rb, .cap = sizeof(rb)};
	bool open = false;

	if (len < DP_HDRS_LEN || dp_rd16(f + 12) != DP_ETHERTYPE_IP4)
		return;
	ice_addr_set_v4(&to, dp_rd32(ip + 16), dp_rd16(udp + 2));
	ice_addr_set_v4(&from, dp_rd32(ip + 12), dp_rd16(udp));
	if (ice_addr_eq(&to, &n->off.addr)) {
		e = &n->off;
		n->to_off++;
	} else if (ice_addr_eq(&to, &n->ans.addr)) {
		e = &n->ans;
	}
	if (!e)
		return;
	for (unsigned i = 0; i < e->nsent; i++)
		open |= ice_addr_eq(&e->sent_to[i], &from);
	if (e->firewall && !open) {
		e->filtered++;
		return;
	}
	if (f[DP_HDRS_LEN] >= 128) {
		e->rtp_in++;
		return;
	}
	if (ice_agent_recv(&e->ag, n->now, &to, &from, f + DP_HDRS_LEN, (size_t)(len - DP_HDRS_LEN),
			   &reply) == ICE_RX_REPLIED)
		ep_send(n, e, &reply.to, rb, (uint16_t)reply.len);
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
		ep_send(n, e, &out.to, b, (uint16_t)out.len);
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

static void ep_sdp(const struct ep *e, const char *user, char *out, size_t cap)
{
	const struct ice_cand *c = &e->ag.local[0];
	char ip[16];
	uint32_t a = ice_addr_v4(&e->addr);
	int n;

	snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	n = snprintf(out, cap,
		     "v=0\r\no=%s 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
		     "m=audio %u RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=rtcp-mux\r\n",
		     user, ip, ip, e->addr.port);
	snprintf(out + n, cap - (size_t)n,
		 "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=candidate:%s 1 UDP %u %s %u typ host\r\n",
		 e->ufrag, e->pwd, c->fnd_str, c->prio, ip, e->addr.port);
}

/* The gateway's side as the SDP it wrote tells it: an endpoint's agent learns it. */
static void ep_learn(struct net *n, struct ep *e, const char *sdp, struct ice_addr *media)
{
	static struct ctl_sdp s;
	const struct ctl_sdp_media *pm;

	assert_int_equal(ctl_sdp_parse(&s, sdp, strlen(sdp)), 0);
	assert_int_equal(s.n_media, 1);
	pm = &s.media[0];
	assert_true(pm->has_conn);
	*media = pm->conn;
	media->port = pm->port;
	assert_int_equal(ice_agent_set_remote_credentials(&e->ag, pm->ice.ufrag, pm->ice.pwd), 0);
	for (unsigned i = 0; i < pm->sdp->ice.n_cand; i++) {
		const struct sdp_candidate *sc = &pm->sdp->ice.cand[i];
		struct ice_remote_cand rc;

		if (sc->form == SDP_FORM_DRAFT06)
			continue;
		memset(&rc, 0, sizeof(rc));
		rc.comp = (uint8_t)sc->component;
		rc.type = ICE_CAND_HOST;
		rc.addr = sc->addr;
		rc.foundation = sc->foundation;
		rc.prio = sc->priority;
		assert_true(ice_agent_add_remote(&e->ag, n->now, &rc) >= 0);
	}
	assert_true(e->ag.nremote >= 1);
	ice_agent_end_of_candidates(&e->ag);
}

/* ---- NG ---- */

static struct ng_benc_node nodes[2048];

static size_t ng_msg(char *out, size_t cap, const char *cookie, const char *cmd, const char *to,
		     const char *sdp, const char *extra)
{
	int n = snprintf(out, cap, "%s d7:call-id6:ring@x7:command%zu:%s8:from-tag4:ftag%s", cookie,
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

	snprintf(name, sizeof(name), "ring@x/0%c", side);
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
	ep_send(n, e, to, p, sizeof(p));
	flush(n);
}

struct ring_case {
	enum ice_dialect d;       /* the offerer's dialect (leg a's) */
	bool firewall;            /* the offerer drops what it did not ask for */
	bool start_at_offer;      /* leg a started at the offer, as icegw did before */
	const char *extra;        /* NG keys of the offer */
};

/* Offer at 1 s, the (first) answer at 21 s: the offerer only starts checking then, with our
 * credentials in hand. Returns leg a's state 20 s after the offer; *done is leg a's final
 * state 10 s after the answer. */
static enum ice_state ring(const struct ring_case *rc, enum ice_state *done)
{
	struct net *n = &N;
	static char body[4096], sdp[8192];
	struct ice_addr gw_a, gw_b;
	enum ice_state at_answer;
	const struct dp_leg *la, *lb;

	mk_net(n);
	ep_init(&n->off, rc->d, ICE_ROLE_CONTROLLING, OFF_IP, 40000, 1, rc->firewall);
	ep_init(&n->ans, ICE_DIALECT_RFC8445, ICE_ROLE_CONTROLLED, ANS_IP, 50000, 2, false);

	ep_sdp(&n->off, "alice", body, sizeof(body));
	ng(n, "o1", "offer", NULL, body, rc->extra, sdp, sizeof(sdp));
	ep_learn(n, &n->ans, sdp, &gw_b);
	la = leg(n, 'a');
	lb = leg(n, 'b');
	assert_int_equal(la->agent.cfg.dialect, rc->d);
	assert_int_equal(la->agent.nremote, 1);
	if (rc->start_at_offer)
		assert_int_equal(dp_core_start_leg(&n->core, la->id, n->now), 0);
	else
		assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_NEW);

	/* ringing; halfway a re-offer from the same endpoint (an UPDATE, say) changes nothing */
	run_until(n, MS(11000));
	ng(n, "o2", "offer", NULL, body, rc->extra, sdp, sizeof(sdp));
	run_until(n, MS(21000));
	at_answer = ice_agent_state(&la->agent);
	if (!rc->start_at_offer) {
		/* nothing went to the offerer: no check it could not have answered */
		assert_int_equal(n->to_off, 0);
		assert_int_equal(n->off.filtered, 0);
		assert_int_equal(at_answer, ICE_STATE_NEW);
	}

	/* the answer: leg a starts, the offerer learns the gateway and starts too, as does the
	 * answerer, whose answer this is */
	ep_sdp(&n->ans, "bob", body, sizeof(body));
	ng(n, "a1", "answer", "ttag", body, NULL, sdp, sizeof(sdp));
	ep_learn(n, &n->off, sdp, &gw_a);
	if (!rc->start_at_offer) {
		assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_RUNNING);
		assert_int_equal(la->agent.start_us, n->now);
		assert_int_equal(la->agent.check_deadline_us - n->now, la->agent.cfg.check_timeout_us);
	}
	assert_int_equal(ice_agent_start(&n->off.ag, n->now), 0);
	assert_int_equal(ice_agent_start(&n->ans.ag, n->now), 0);
	assert_int_equal(gw_a.port, la->port);

	/* early media: before any check, each side's default address carries RTP through */
	assert_int_not_equal(ice_agent_state(&lb->agent), ICE_STATE_COMPLETED);
	send_rtp(n, &n->off, &gw_a, 1);
	send_rtp(n, &n->ans, &gw_b, 1);
	assert_int_equal(n->ans.rtp_in, 1);
	assert_int_equal(n->off.rtp_in, 1); /* from the port it sent to: through its firewall */

	/* a 200 after the 183, same SDP: nothing starts again */
	run_until(n, MS(21500));
	ng(n, "a2", "answer", "ttag", body, NULL, sdp, sizeof(sdp));
	run_until(n, MS(31000));
	*done = ice_agent_state(&la->agent);
	if (!rc->start_at_offer) {
		assert_int_equal(ice_agent_state(&n->off.ag), ICE_STATE_COMPLETED);
		assert_int_equal(ice_agent_state(&n->ans.ag), ICE_STATE_COMPLETED);
		assert_int_equal(ice_agent_state(&lb->agent), ICE_STATE_COMPLETED);
		assert_int_equal(*done, ICE_STATE_COMPLETED);
		/* media now on the selected pairs, both ways */
		assert_int_equal(la->media_state[0], 2);
		assert_true(ice_addr_eq(&la->media_remote[0], &n->off.addr));
		send_rtp(n, &n->off, &gw_a, 2);
		send_rtp(n, &n->ans, &gw_b, 2);
		assert_int_equal(n->ans.rtp_in, 2);
		assert_int_equal(n->off.rtp_in, 2);
		assert_int_equal(n->failed, 0);
	}
	free_net(n);
	return at_answer;
}

/* RFC 8445 offerer behind a firewall (or NAT): leg a completes after 20 s of ringing. */
static void test_ring_rfc(void **state)
{
	struct ring_case rc = {.d = ICE_DIALECT_RFC8445, .firewall = true};
	enum ice_state done;

	(void)state;
	assert_int_equal(ring(&rc, &done), ICE_STATE_NEW);
	assert_int_equal(done, ICE_STATE_COMPLETED);
}

/* MS-ICE2 (the NG flag), reachable offerer: its 10 s check timeout counts from the answer. */
static void test_ring_msice2(void **state)
{
	struct ring_case rc = {.d = ICE_DIALECT_MSICE2, .extra = "5:flagsl7:MS-ICE2e"};
	enum ice_state done;

	(void)state;
	assert_int_equal(ring(&rc, &done), ICE_STATE_NEW);
	assert_int_equal(done, ICE_STATE_COMPLETED);
}

/* The negative controls: leg a started at the offer, as icegw did before. Behind a firewall
 * every check of leg a goes unanswered and the agent fails long before the answer; a
 * reachable MS-ICE2 offerer answers them but cannot nominate before it has the answer, and
 * the 10 s check timeout, counted from the offer, fails the agent. A failed agent stays
 * failed: the offerer's later checks never complete leg a. */
static void test_ring_old_behaviour_fails(void **state)
{
	struct ring_case rfc = {.d = ICE_DIALECT_RFC8445, .firewall = true, .start_at_offer = true};
	struct ring_case ms2 = {.d = ICE_DIALECT_MSICE2, .start_at_offer = true,
				.extra = "5:flagsl7:MS-ICE2e"};
	enum ice_state done;

	(void)state;
	assert_int_equal(ring(&rfc, &done), ICE_STATE_FAILED);
	assert_int_equal(done, ICE_STATE_FAILED);
	assert_int_equal(ring(&ms2, &done), ICE_STATE_FAILED);
	assert_int_equal(done, ICE_STATE_FAILED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_rfc),
		cmocka_unit_test(test_ring_msice2),
		cmocka_unit_test(test_ring_old_behaviour_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

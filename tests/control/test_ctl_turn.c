/* Relay candidates for the gateway's legs: NG offers that wait for their TURN allocations,
 * with a real packet core in the middle and a scripted TURN server behind it. The commands,
 * the frames the core sends from the leg's port and the responses it hands back all travel
 * the way they do in the daemon, only synchronously. */
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
#include "sdp.h"
#include "ctl_session.h"
#include "ctl_turn.h"
#include "dp_cmd.h"
#include "dp_pkt.h"
#include "msturn_srv.h"
#include "ng_bencode.h"
#include "stun.h"

#define GW_IP 0xcb007101u /* 203.0.113.1 */
#define NOW_US(ms) ((uint64_t)(ms) * 1000)

struct fsrv {
	struct ice_addr addr;
	const char *pass;        /* the server's idea of alice's password */
	bool silent;             /* unreachable: never answers */
	bool redirect;           /* Allocate answered 300 with ALTERNATE-SERVER alt */
	struct ice_addr alt;
	struct ice_addr relayed;
	unsigned seen[16];       /* requests by method */
	uint32_t last_lifetime;
	unsigned nperm;
	struct ice_addr perm[8];
	unsigned nalloc;         /* allocations made: each gets the next relayed port */
	uint32_t nat_ip;         /* behind a NAT: the client seen from this address (0: none) */
	uint16_t client_port;    /* the port the request came from */
};

struct frame {
	uint16_t len;
	uint8_t b[1600];
};

struct fake {
	struct dp_core core;
	struct ctl *ctl;
	unsigned failed;
	struct frame q[64];
	unsigned nq;
	unsigned dropped;
	unsigned rx_dropped;     /* server answers the core did not take */
	bool hold_a;             /* what leg a's port sends is held back (a slow server) */
	struct frame held[16];
	unsigned nheld;
	struct fsrv srv[3];
	unsigned nsrv;
	uint64_t now_ms;
	/* [MS-TURN]: an Edge server, and the peer behind it answering checks with peer_pwd */
	struct msturn_srv *ms;       /* the Edge as the first client (leg b, allocated first) sees it */
	struct msturn_srv ms_other;  /* ... and as any other client (leg a) sees it */
	uint16_t ms_port;            /* the first client's port */
	struct ice_addr ms_addr;
	const char *peer_pwd;
	unsigned peer_answers;
};

static int fake_submit(void *ctx, unsigned w, struct dp_cmd *cmd)
{
	struct fake *f = ctx;

	(void)w;
	dp_cmd_apply(&f->core, cmd, NOW_US(f->now_ms));
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

static void emit_q(void *ctx, const uint8_t *frame, uint16_t len)
{
	struct fake *f = ctx;

	if (f->nq == 64 || len > sizeof(f->q[0].b)) {
		f->dropped++;
		return;
	}
	memcpy(f->q[f->nq].b, frame, len);
	f->q[f->nq++].len = len;
}

static int turn_up(void *ctx, uint32_t leg, uint8_t comp, const struct ice_addr *from,
		   const uint8_t *p, uint16_t len)
{
	struct fake *f = ctx;

	ctl_turn_rx(f->ctl, 0, leg, comp, from, p, len, f->now_ms);
	return 0;
}

/* The scripted server: long-term credentials with a 401 challenge (RFC 8656 §7.2). */
static int serve(struct fsrv *s, const uint8_t *req, size_t len, uint8_t *out, size_t cap)
{
	struct stun_msg m;
	struct stun_builder b;
	struct stun_key k;
	uint32_t life = TURN_DEFAULT_LIFETIME_S;
	struct ice_addr peer;

	if (stun_parse(&m, req, len, 0) != 0 || m.cls != STUN_C_REQUEST)
		return 0;
	s->seen[m.method & 15]++;
	stun_key_init_long_term(&k, "alice", "test.realm", s->pass);
	if (!m.mi_off || stun_msg_check_integrity(&m, &k, STUN_MI_RFC) != 0) {
		stun_build_init(&b, out, cap, stun_type(m.method, STUN_C_ERROR), stun_msg_tid(&m), 0);
		stun_build_error(&b, 401, "Unauthorized");
		stun_build_str(&b, STUN_A_REALM, "test.realm");
		stun_build_str(&b, STUN_A_NONCE, "n0nce");
		return stun_build_finish(&b);
	}
	if (m.method == TURN_M_ALLOCATE && s->redirect) {
		stun_build_init(&b, out, cap, stun_type(m.method, STUN_C_ERROR), stun_msg_tid(&m), 0);
		stun_build_error(&b, 300, "Try Alternate");
		stun_build_addr(&b, STUN_A_ALTERNATE_SERVER, &s->alt);
		stun_build_integrity(&b, &k, STUN_MI_RFC);
		return stun_build_finish(&b);
	}
	stun_msg_get_u32(&m, TURN_A_LIFETIME, &life);
	if (m.method == TURN_M_REFRESH)
		s->last_lifetime = life;
	if (m.method == TURN_M_CREATE_PERMISSION &&
	    stun_msg_get_addr(&m, TURN_A_XOR_PEER_ADDRESS, &peer) == 0 && s->nperm < 8)
		s->perm[s->nperm++] = peer;
	stun_build_init(&b, out, cap, stun_type(m.method, STUN_C_SUCCESS), stun_msg_tid(&m), 0);
	if (m.method == TURN_M_ALLOCATE) {
		struct ice_addr mapped;

		struct ice_addr rel = s->relayed;

		ice_addr_set_v4(&mapped, s->nat_ip ? s->nat_ip : GW_IP,
				(uint16_t)(s->client_port + (s->nat_ip ? 10000 : 0)));
		rel.port = (uint16_t)(rel.port + s->nalloc++);
		stun_build_addr(&b, TURN_A_XOR_RELAYED_ADDRESS, &rel);
		stun_build_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &mapped);
	}
	if (m.method == TURN_M_ALLOCATE || m.method == TURN_M_REFRESH)
		stun_build_u32(&b, TURN_A_LIFETIME, life);
	stun_build_integrity(&b, &k, STUN_MI_RFC);
	stun_build_fingerprint(&b, false);
	return stun_build_finish(&b);
}

static void to_core(struct fake *f, const struct ice_addr *from, uint16_t dport, const uint8_t *p,
		    size_t n)
{
	uint8_t rf[1600];
	uint16_t rl;

	memcpy(rf + DP_HDRS_LEN, p, n);
	rl = dp_build_udp4(rf, f->core.mac, (const uint8_t[6]){2, 0, 0, 0, 0, 9}, ice_addr_v4(from),
			   from->port, GW_IP, dport, (uint16_t)n, 1, true);
	if (dp_core_rx(&f->core, NOW_US(f->now_ms), rf, &rl, sizeof(rf)) != DP_VERDICT_CONSUMED)
		f->rx_dropped++;
}

/* The Edge server takes a datagram from the leg's port; what it relays to the peer that is a
 * check, the peer answers (RFC 8445 §7.3: signed with its password, the relayed address as
 * the source it saw), back through the relay. */
static void ms_deliver(struct fake *f, const uint8_t *p, size_t n, uint16_t sport)
{
	struct msturn_srv *s = f->ms;
	unsigned before;

	/* the scripted server keeps one allocation: each client port gets its own */
	if (!f->ms_port)
		f->ms_port = sport;
	if (sport != f->ms_port)
		s = &f->ms_other;
	before = s->sends + s->bare;
	uint8_t resp[1500], w[1600];
	struct stun_msg m;
	struct stun_builder b;
	struct stun_key k;
	int rn;

	rn = msturn_srv_input(s, p, n, resp, sizeof(resp));
	if (rn > 0)
		to_core(f, &f->ms_addr, sport, resp, (size_t)rn);
	if (s->sends + s->bare == before || !f->peer_pwd ||
	    stun_parse(&m, s->data, s->data_len, 0) != 0 || m.method != STUN_M_BINDING ||
	    m.cls != STUN_C_REQUEST)
		return;
	stun_key_init(&k, f->peer_pwd, strlen(f->peer_pwd));
	stun_build_init(&b, resp, sizeof(resp), stun_type(STUN_M_BINDING, STUN_C_SUCCESS),
			stun_msg_tid(&m), 0);
	stun_build_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &s->relayed);
	stun_build_integrity(&b, &k, STUN_MI_RFC);
	stun_build_fingerprint(&b, false);
	rn = stun_build_finish(&b);
	assert_true(rn > 0);
	f->peer_answers++;
	rn = msturn_srv_relay(s, &s->data_to, resp, (size_t)rn, w, sizeof(w));
	assert_true(rn > 0);
	to_core(f, &f->ms_addr, sport, w, (size_t)rn);
}

/* Deliver what the core sent to the servers, and their answers to the core, until quiet. */
static void pump(struct fake *f)
{
	for (unsigned guard = 0; guard < 200 && f->nq; guard++) {
		struct frame fr = f->q[0];
		uint8_t *ip = fr.b + DP_ETH_LEN, *udp = ip + DP_IP4_LEN;
		struct ice_addr dst, src;
		uint8_t resp[1500], rf[1600];
		int rn;
		uint16_t rl;

		memmove(&f->q[0], &f->q[1], (f->nq - 1) * sizeof(f->q[0]));
		f->nq--;
		if (fr.len < DP_HDRS_LEN || dp_rd16(fr.b + 12) != DP_ETHERTYPE_IP4)
			continue;
		ice_addr_set_v4(&dst, dp_rd32(ip + 16), dp_rd16(udp + 2));
		ice_addr_set_v4(&src, dp_rd32(ip + 12), dp_rd16(udp));
		if (f->hold_a && f->core.port_map[src.port]) {
			const struct dp_leg *l = &f->core.legs[f->core.port_map[src.port] - 1];
			size_t nl = strlen(l->name);

			if (nl && l->name[nl - 1] == 'a') {
				if (f->nheld < 16)
					f->held[f->nheld++] = fr;
				continue;
			}
		}
		if (f->ms && ice_addr_eq(&dst, &f->ms_addr)) {
			ms_deliver(f, fr.b + DP_HDRS_LEN, (size_t)(fr.len - DP_HDRS_LEN), src.port);
			continue;
		}
		for (unsigned i = 0; i < f->nsrv; i++) {
			struct fsrv *s = &f->srv[i];

			if (!ice_addr_eq(&dst, &s->addr) || s->silent)
				continue;
			s->client_port = src.port;
			rn = serve(s, fr.b + DP_HDRS_LEN, (size_t)(fr.len - DP_HDRS_LEN), resp, sizeof(resp));
			if (rn <= 0)
				continue;
			memcpy(rf + DP_HDRS_LEN, resp, (size_t)rn);
			rl = dp_build_udp4(rf, f->core.mac, (const uint8_t[6]){2, 0, 0, 0, 0, 9},
					   ice_addr_v4(&s->addr), s->addr.port, GW_IP, src.port,
					   (uint16_t)rn, 1, true);
			if (dp_core_rx(&f->core, NOW_US(f->now_ms), rf, &rl, sizeof(rf)) !=
			    DP_VERDICT_CONSUMED)
				f->rx_dropped++;
		}
	}
}

static struct ctl *mk(struct fake *f, const struct ctl_turn_cfg *tc)
{
	struct ctl_cfg cfg = {
		.local_ip = GW_IP, .port_min = 30000, .port_max = 30100, .max_sessions = 100,
		.nworkers = 1, .slots_per_worker = 64, .seed = 5, .turn = tc,
	};
	struct ctl_backend be = {.submit = fake_submit, .view = fake_view, .ctx = f};
	const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};

	memset(f, 0, sizeof(*f));
	assert_int_equal(dp_core_init(&f->core, GW_IP, mac, 64, 1, calloc, 1000000), 0);
	f->core.emit = emit_q;
	f->core.emit_ctx = f;
	f->core.turn_up = turn_up;
	f->core.turn_up_ctx = f;
	memcpy(f->core.gw_mac, (const uint8_t[6]){2, 0, 0, 0, 0, 9}, 6);
	f->core.have_gw_mac = true;
	f->now_ms = 1000;
	f->ctl = ctl_new(&cfg, &be);
	assert_non_null(f->ctl);
	return f->ctl;
}

static void add_srv(struct fake *f, struct ctl_turn_cfg *tc, const char *addr, const char *relayed)
{
	struct fsrv *s = &f->srv[f->nsrv++];

	assert_int_equal(ice_addr_parse(&s->addr, addr), 0);
	assert_int_equal(ice_addr_parse(&s->relayed, relayed), 0);
	s->pass = "secret";
	if (tc)
		tc->server[tc->n_server++] = s->addr;
}

static void turn_cfg(struct ctl_turn_cfg *tc)
{
	memset(tc, 0, sizeof(*tc));
	snprintf(tc->user, sizeof(tc->user), "alice");
	snprintf(tc->pass, sizeof(tc->pass), "secret");
	tc->timeout_ms = 2000;
}

static const char offer_sdp[] =
	"v=0\r\n"
	"o=alice 1 1 IN IP4 192.0.2.10\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.10\r\n"
	"t=0 0\r\n"
	"a=ice-ufrag:aliu\r\n"
	"a=ice-pwd:alicepasswordalicepass1\r\n"
	"m=audio 40000 RTP/AVP 0\r\n"
	"a=rtcp-mux\r\n"
	"a=candidate:1 1 UDP 2130706431 192.0.2.10 40000 typ host\r\n";

/* [MS-ICE] (OCS 2007): draft-06 candidates carrying a 32-byte identifier and a 16-byte
 * password, base64 without padding */
static const char msice_offer_sdp[] =
	"v=0\r\n"
	"o=alice 1 1 IN IP4 192.0.2.10\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.10\r\n"
	"t=0 0\r\n"
	"m=audio 40000 RTP/AVP 0\r\n"
	"a=rtcp-mux\r\n"
	"a=candidate:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA 1 ZGVmZ2hpamtsbW5vcHFycw UDP 0.830 "
	"192.0.2.10 40000\r\n";

static const char *offer_body = offer_sdp;

static const char answer_sdp[] =
	"v=0\r\n"
	"o=bob 1 1 IN IP4 198.51.100.20\r\n"
	"s=-\r\n"
	"c=IN IP4 198.51.100.20\r\n"
	"t=0 0\r\n"
	"m=audio 50000 RTP/AVP 0\r\n"
	"a=rtcp-mux\r\n"
	"a=ice-ufrag:bobu\r\n"
	"a=ice-pwd:bobpasswordbobpassword1\r\n"
	"a=candidate:7 1 UDP 2130706431 198.51.100.20 50000 typ host\r\n"
	"a=candidate:8 1 UDP 1694498815 198.51.100.99 50002 typ srflx raddr 198.51.100.20 rport 50000\r\n";

static size_t ng_msg(char *out, size_t cap, const char *cookie, const char *cmd, const char *callid,
		     const char *to, const char *sdp, const char *ice)
{
	int n = snprintf(out, cap, "%s d", cookie);

	if (ice)
		n += snprintf(out + n, cap - (size_t)n, "3:ICE%zu:%s", strlen(ice), ice);
	n += snprintf(out + n, cap - (size_t)n, "7:call-id%zu:%s", strlen(callid), callid);
	n += snprintf(out + n, cap - (size_t)n, "7:command%zu:%s", strlen(cmd), cmd);
	n += snprintf(out + n, cap - (size_t)n, "8:from-tag4:ftag");
	if (sdp)
		n += snprintf(out + n, cap - (size_t)n, "3:sdp%zu:%s", strlen(sdp), sdp);
	if (to)
		n += snprintf(out + n, cap - (size_t)n, "6:to-tag4:ttag");
	n += snprintf(out + n, cap - (size_t)n, "e");
	return (size_t)n;
}

static struct ng_benc_node nodes[2048];

static const struct ng_benc_node *reply_dict(struct ng_benc_doc *d, const char *buf, size_t len,
					    const char *cookie)
{
	size_t cl = strlen(cookie);

	assert_true(len > cl + 1);
	assert_memory_equal(buf, cookie, cl);
	ng_benc_init(d, nodes, 2048);
	assert_int_equal(ng_benc_parse(d, buf + cl + 1, len - cl - 1), 0);
	return ng_benc_at(d, 0);
}

static bool get_str(const struct ng_benc_doc *d, const struct ng_benc_node *dict, const char *key,
		    char *out, size_t cap)
{
	const struct ng_benc_node *n = ng_benc_dict_get(d, dict, key);

	if (!n)
		return false;
	assert_true(n->len < cap);
	memcpy(out, n->str, n->len);
	out[n->len] = 0;
	return true;
}

/* ICEWarn of leg a or b of the only section from a query, and its relayed address. */
static int64_t query_warn(struct fake *f, const char *callid, int k, char *relayed, size_t cap)
{
	static char msg[1024], out[65536];
	struct ng_benc_doc d;
	const struct ng_benc_node *dict, *legs, *lb, *w;
	size_t n = ng_msg(msg, sizeof(msg), "q1", "query", callid, NULL, NULL, NULL);

	n = ctl_handle(f->ctl, msg, n, out, sizeof(out), f->now_ms);
	msg[1]++; /* a fresh cookie for the next query */
	dict = reply_dict(&d, out, n, "q1");
	legs = ng_benc_dict_get(&d, dict, "legs");
	assert_non_null(legs);
	lb = ng_benc_first(&d, legs);
	assert_non_null(lb);
	if (k)
		lb = ng_benc_next(&d, lb);
	assert_non_null(lb);
	w = ng_benc_dict_get(&d, lb, "ICEWarn");
	assert_non_null(w);
	if (relayed) {
		relayed[0] = 0;
		get_str(&d, lb, "relayed-address", relayed, cap);
	}
	return w->ival;
}

static int64_t query_warn_b(struct fake *f, const char *callid, char *relayed, size_t cap)
{
	return query_warn(f, callid, 1, relayed, cap);
}

/* Offer, then poll until the deferred reply comes out; returns its SDP and warning. */
static void offer_deferred(struct fake *f, const char *cookie, const char *callid, const char *ice,
			   uint32_t wait_ms, char *sdp, size_t cap, char *warn, size_t wcap)
{
	static char msg[8192], out[65536];
	struct ng_benc_doc d;
	const struct ng_benc_node *dict;
	struct ctl_peer peer = {.len = 3, .addr = {7, 8, 9}}, got;
	bool pending;
	size_t n = ng_msg(msg, sizeof(msg), cookie, "offer", callid, NULL, offer_body, ice), rl;
	char res[32];

	rl = ctl_handle_from(f->ctl, msg, n, out, sizeof(out), f->now_ms, &peer, &pending);
	assert_int_equal(rl, 0);
	assert_true(pending);
	assert_int_equal(ctl_pending(f->ctl), 1);
	/* the proxy's retransmission is swallowed while the relays are allocated */
	rl = ctl_handle_from(f->ctl, msg, n, out, sizeof(out), f->now_ms, &peer, &pending);
	assert_int_equal(rl, 0);
	assert_true(pending);
	pump(f);
	rl = 0;
	for (uint32_t t = 0; t <= wait_ms && !rl; t += 100) {
		f->now_ms += 100;
		memset(&got, 0, sizeof(got));
		rl = ctl_poll(f->ctl, f->now_ms, out, sizeof(out), &got);
		pump(f);
	}
	assert_true(rl > 0);
	assert_int_equal(got.len, 3);
	assert_memory_equal(got.addr, peer.addr, 3);
	assert_int_equal(ctl_pending(f->ctl), 0);
	dict = reply_dict(&d, out, rl, cookie);
	assert_true(get_str(&d, dict, "result", res, sizeof(res)));
	assert_string_equal(res, "ok");
	assert_true(get_str(&d, dict, "sdp", sdp, cap));
	warn[0] = 0;
	get_str(&d, dict, "warning", warn, wcap);
	/* answered: a later retransmission gets the same reply from the cache */
	{
		static char out2[65536];
		size_t r2 = ctl_handle_from(f->ctl, msg, n, out2, sizeof(out2), f->now_ms, &peer, &pending);
		assert_false(pending);
		assert_int_equal(r2, rl);
		assert_memory_equal(out2, out, rl);
	}
}

static const struct dp_leg *leg_b(struct fake *f)
{
	for (uint32_t i = 0; i < f->core.nlegs; i++)
		if ((f->core.legs[i].flags & DP_LEG_USED) && strstr(f->core.legs[i].name, "0b"))
			return &f->core.legs[i];
	return NULL;
}

static void test_force_relay_flow(void **state)
{
	static struct fake f;
	struct ctl_turn_cfg tc;
	static char sdp[8192], warn[256], msg[8192], out[65536], rel[64];
	const struct dp_leg *lb;
	size_t n;

	(void)state;
	turn_cfg(&tc);
	ice_addr_parse(&tc.server[tc.n_server++], "192.0.2.200:3478");
	mk(&f, &tc);
	add_srv(&f, NULL, "192.0.2.200:3478", "192.0.2.200:49152");
	offer_deferred(&f, "o1", "call-r@x", "force-relay", 500, sdp, sizeof(sdp), warn, sizeof(warn));
	/* only the relay is advertised, with a relay priority (type preference 0) */
	assert_non_null(strstr(sdp, "a=candidate:2 1 UDP 16777215 192.0.2.200 49152 typ relay raddr 203.0.113.1 rport "));
	assert_null(strstr(sdp, "typ host"));
	assert_string_equal(warn, "");
	/* unsigned, 401, signed: for leg b, and for leg a (its relay waits for the answer) */
	assert_int_equal(f.srv[0].seen[TURN_M_ALLOCATE], 4);
	/* the leg's agent has it, its own base, and no host candidate */
	lb = leg_b(&f);
	assert_non_null(lb);
	assert_int_equal(lb->agent.nlocal, 1);
	assert_int_equal(lb->agent.local[0].type, ICE_CAND_RELAY);
	assert_int_equal(lb->agent.local[0].prio, 16777215u);
	assert_true(lb->flags & DP_LEG_TURN);
	assert_true(lb->turn->comp[0].has_relay);
	assert_int_equal(query_warn_b(&f, "call-r@x", rel, sizeof(rel)), 0);
	assert_string_equal(rel, "192.0.2.200:49152");

	/* the answer: a permission for every address it names, before the checks */
	n = ng_msg(msg, sizeof(msg), "a1", "answer", "call-r@x", "ttag", answer_sdp, NULL);
	assert_true(ctl_handle(f.ctl, msg, n, out, sizeof(out), f.now_ms) > 0);
	pump(&f);
	assert_true(f.srv[0].seen[TURN_M_CREATE_PERMISSION] >= 1);
	{
		struct ice_addr a, b;
		bool ha = false, hb = false;
		ice_addr_parse(&a, "198.51.100.20:0");
		ice_addr_parse(&b, "198.51.100.99:0");
		for (unsigned i = 0; i < f.srv[0].nperm; i++) {
			ha |= ice_addr_eq_ip(&f.srv[0].perm[i], &a);
			hb |= ice_addr_eq_ip(&f.srv[0].perm[i], &b);
		}
		assert_true(ha && hb);
	}
	assert_int_equal(ctl_turn_stats(ctl_turn_mgr(f.ctl))->allocated, 2);

	/* delete: Deallocate (Refresh with LIFETIME 0) from the leg's port, then the leg goes */
	f.srv[0].last_lifetime = 99;
	n = ng_msg(msg, sizeof(msg), "d1", "delete", "call-r@x", NULL, NULL, NULL);
	assert_true(ctl_handle(f.ctl, msg, n, out, sizeof(out), f.now_ms) > 0);
	assert_int_equal(f.rx_dropped, 0);
	pump(&f);
	/* its answers find the legs gone: dropped on the core, nothing left to answer them */
	assert_int_equal(f.rx_dropped, 2);
	assert_int_equal(f.core.st.drops[DP_DROP_NO_LEG], 2);
	assert_int_equal(f.srv[0].seen[TURN_M_REFRESH], 2);
	assert_int_equal(f.srv[0].last_lifetime, 0);
	assert_int_equal(ctl_turn_stats(ctl_turn_mgr(f.ctl))->active, 0);
	assert_int_equal(f.core.active, 0);
	assert_int_equal(f.failed, 0);
	ctl_free(f.ctl);
	dp_core_free(&f.core, free);
}

/* Without force-relay, TURN configured: host and relay both, host first. */
static void test_default_host_and_relay(void **state)
{
	static struct fake f;
	struct ctl_turn_cfg tc;
	static char sdp[8192], warn[256];
	char *h, *r;

	(void)state;
	turn_cfg(&tc);
	ice_addr_parse(&tc.server[tc.n_server++], "192.0.2.200:3478");
	mk(&f, &tc);
	add_srv(&f, NULL, "192.0.2.200:3478", "192.0.2.200:49152");
	offer_deferred(&f, "o2", "call-d@x", NULL, 500, sdp, sizeof(sdp), warn, sizeof(warn));
	h = strstr(sdp, "typ host");
	r = strstr(sdp, "typ relay");
	assert_non_null(h);
	assert_non_null(r);
	assert_true(h < r);
	assert_int_equal(leg_b(&f)->agent.nlocal, 2);
	ctl_free(f.ctl);
	dp_core_free(&f.core, free);
}

/* Failures: the offer is still answered, without relays, its warning and the leg's ICEWarn
 * naming the cause (seed 000). */
static void fail_case(const char *what, uint32_t expect_warn, bool expect_relay)
{
	static struct fake f;
	struct ctl_turn_cfg tc;
	static char sdp[8192], warn[256], rel[64];
	struct fsrv s0, s1;
	char bits[32];

	turn_cfg(&tc);
	memset(&s0, 0, sizeof(s0));
	memset(&s1, 0, sizeof(s1));
	ice_addr_parse(&s0.addr, "192.0.2.200:3478");
	ice_addr_parse(&s0.relayed, "192.0.2.200:49152");
	ice_addr_parse(&s1.addr, "192.0.2.201:3478");
	ice_addr_parse(&s1.relayed, "192.0.2.201:50000");
	s0.pass = s1.pass = "secret";
	if (!strcmp(what, "credentials"))
		s0.pass = "other";
	else if (!strcmp(what, "unreachable"))
		s0.silent = true;
	else if (!strcmp(what, "alternate")) {
		s0.redirect = true;
		s0.alt = s1.addr;
	}
	if (strcmp(what, "none"))
		tc.server[tc.n_server++] = s0.addr;
	if (!strcmp(what, "several"))
		tc.server[tc.n_server++] = s1.addr, s0.silent = true;
	mk(&f, &tc);
	f.srv[0] = s0;
	f.srv[1] = s1;
	f.nsrv = 2;
	if (!strcmp(what, "none")) {
		/* force-relay without TURN: answered at once, no candidates, 0x80000 */
		static char msg[8192], out[65536];
		bool pending;
		size_t n = ng_msg(msg, sizeof(msg), "x1", "offer", "call-f@x", NULL, offer_sdp, "force-relay");
		struct ng_benc_doc d;
		const struct ng_benc_node *dict;

		n = ctl_handle_from(f.ctl, msg, n, out, sizeof(out), f.now_ms, NULL, &pending);
		assert_false(pending);
		dict = reply_dict(&d, out, n, "x1");
		assert_true(get_str(&d, dict, "sdp", sdp, sizeof(sdp)));
	} else {
		offer_deferred(&f, "x1", "call-f@x", "force-relay", 3000, sdp, sizeof(sdp), warn,
			       sizeof(warn));
		snprintf(bits, sizeof(bits), "0x%x", expect_warn);
		if (!expect_relay)
			assert_non_null(strstr(warn, bits));
	}
	assert_null(strstr(sdp, "typ host"));
	if (expect_relay)
		assert_non_null(strstr(sdp, "typ relay"));
	else
		assert_null(strstr(sdp, "a=candidate"));
	/* the call goes on: its media address is still the gateway's */
	assert_non_null(strstr(sdp, "c=IN IP4 203.0.113.1"));
	assert_int_equal(query_warn_b(&f, "call-f@x", rel, sizeof(rel)), expect_warn);
	if (expect_relay)
		assert_string_equal(rel, "192.0.2.201:50000");
	assert_int_equal(f.failed, 0);
	ctl_free(f.ctl);
	dp_core_free(&f.core, free);
}

static void test_wrong_credentials(void **state)
{
	(void)state;
	fail_case("credentials", TURN_WARN_CREDENTIALS, false);
}

static void test_unreachable(void **state)
{
	(void)state;
	fail_case("unreachable", TURN_WARN_UNREACHABLE, false);
}

static void test_alternate_server(void **state)
{
	(void)state;
	fail_case("alternate", TURN_WARN_ALTERNATE, true);
}

static void test_no_turn_configured(void **state)
{
	(void)state;
	fail_case("none", CTL_TURN_WARN_NO_SERVER, false);
}

static void test_several_servers_failover(void **state)
{
	(void)state;
	fail_case("several", CTL_TURN_WARN_SEVERAL | TURN_WARN_UNREACHABLE, true);
}


static const struct dp_leg *leg_named(struct fake *f, const char *suffix)
{
	for (uint32_t i = 0; i < f->core.nlegs; i++)
		if ((f->core.legs[i].flags & DP_LEG_USED) && strstr(f->core.legs[i].name, suffix))
			return &f->core.legs[i];
	return NULL;
}

static bool permitted(const struct fsrv *s, const char *ip)
{
	struct ice_addr a;

	ice_addr_parse(&a, ip);
	for (unsigned i = 0; i < s->nperm; i++)
		if (ice_addr_eq_ip(&s->perm[i], &a))
			return true;
	return false;
}

/* An answer: its reply now (returned), or deferred (0, *pending) for ctl_poll. */
static size_t answer(struct fake *f, const char *cookie, const char *callid, const char *ice,
		     char *out, size_t cap, bool *pending)
{
	static char msg[8192];
	size_t n = ng_msg(msg, sizeof(msg), cookie, "answer", callid, "ttag", answer_sdp, ice);

	return ctl_handle_from(f->ctl, msg, n, out, cap, f->now_ms, NULL, pending);
}

static void reply_sdp(const char *buf, size_t n, const char *cookie, char *sdp, size_t cap,
		      char *warn, size_t wcap)
{
	struct ng_benc_doc d;
	const struct ng_benc_node *dict = reply_dict(&d, buf, n, cookie);
	char res[32];

	assert_true(get_str(&d, dict, "result", res, sizeof(res)));
	assert_string_equal(res, "ok");
	assert_true(get_str(&d, dict, "sdp", sdp, cap));
	warn[0] = 0;
	get_str(&d, dict, "warning", warn, wcap);
}

/* TURN configured, no flags: leg a's relay is allocated at the offer next to leg b's, given
 * to its running agent (which pairs it with the offerer's candidate), advertised in the
 * answer after its host candidate with a relay's priority; permissions for the offerer's
 * addresses; query shows it; delete deallocates both legs' relays. */
static void test_leg_a_relay_in_answer(void **state)
{
	static struct fake f;
	struct ctl_turn_cfg tc;
	static char sdp[8192], warn[256], out[65536], rel[64], want[160];
	const struct dp_leg *la;
	bool pending;
	size_t n;
	char *h, *r;

	(void)state;
	turn_cfg(&tc);
	ice_addr_parse(&tc.server[tc.n_server++], "192.0.2.200:3478");
	mk(&f, &tc);
	add_srv(&f, NULL, "192.0.2.200:3478", "192.0.2.200:49152");
	offer_deferred(&f, "o3", "call-a@x", NULL, 500, sdp, sizeof(sdp), warn, sizeof(warn));
	/* the offer carries leg b's relay only */
	assert_non_null(strstr(sdp, "192.0.2.200 49152 typ relay"));
	assert_null(strstr(sdp, "49153"));
	la = leg_named(&f, "0a");
	assert_non_null(la);
	/* leg a's agent waits for the answer; its relay came and waits with it, unpaired */
	assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_NEW);
	assert_int_equal(la->agent.nlocal, 2);
	assert_int_equal(la->agent.local[1].type, ICE_CAND_RELAY);
	assert_int_equal(la->agent.npairs, 0);
	assert_true(la->flags & DP_LEG_TURN);
	/* no permission before the answer settles leg a */
	assert_false(permitted(&f.srv[0], "192.0.2.10:0"));

	n = answer(&f, "a3", "call-a@x", NULL, out, sizeof(out), &pending);
	assert_false(pending);
	assert_true(n > 0);
	reply_sdp(out, n, "a3", sdp, sizeof(sdp), warn, sizeof(warn));
	assert_string_equal(warn, "");
	snprintf(want, sizeof(want), "a=candidate:2 1 UDP 16777215 192.0.2.200 49153 typ relay raddr 203.0.113.1 rport %u",
		 la->port);
	assert_non_null(strstr(sdp, want));
	h = strstr(sdp, "typ host");
	r = strstr(sdp, "typ relay");
	assert_true(h && r && h < r);
	/* the answer started leg a with both its candidates paired with the offerer's */
	assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_RUNNING);
	assert_int_equal(la->agent.npairs, 2);
	assert_true(la->agent.pairs[0].local == 1 || la->agent.pairs[1].local == 1);
	pump(&f);
	assert_true(permitted(&f.srv[0], "192.0.2.10:0"));
	assert_int_equal(query_warn(&f, "call-a@x", 0, rel, sizeof(rel)), 0);
	assert_string_equal(rel, "192.0.2.200:49153");
	assert_int_equal(query_warn(&f, "call-a@x", 1, rel, sizeof(rel)), 0);
	assert_string_equal(rel, "192.0.2.200:49152");

	f.srv[0].seen[TURN_M_REFRESH] = 0;
	{
		static char msg[1024];
		n = ng_msg(msg, sizeof(msg), "d3", "delete", "call-a@x", NULL, NULL, NULL);
		assert_true(ctl_handle(f.ctl, msg, n, out, sizeof(out), f.now_ms) > 0);
	}
	pump(&f);
	assert_int_equal(f.srv[0].seen[TURN_M_REFRESH], 2); /* a Deallocate from each leg */
	assert_int_equal(f.srv[0].last_lifetime, 0);
	assert_int_equal(ctl_turn_stats(ctl_turn_mgr(f.ctl))->active, 0);
	assert_int_equal(ctl_turn_stats(ctl_turn_mgr(f.ctl))->released, 2);
	assert_int_equal(f.failed, 0);
	ctl_free(f.ctl);
	dp_core_free(&f.core, free);
}

/* TURN configured, an MS-ICE (draft-06) offerer: leg a's relay is advertised in the answer
 * as a draft-06 line of its own, whose identifier and password are those leg a's agent checks
 * and answers with on the relay, as the host line's are on the host candidate. */
static void test_leg_a_msice_relay_credentials(void **state)
{
	static struct fake f;
	static struct ctl_sdp s;
	struct ctl_turn_cfg tc;
	static char sdp[8192], warn[256], out[65536];
	const struct dp_leg *la;
	unsigned seen = 0;
	bool pending;
	size_t n;

	(void)state;
	turn_cfg(&tc);
	ice_addr_parse(&tc.server[tc.n_server++], "192.0.2.200:3478");
	mk(&f, &tc);
	add_srv(&f, NULL, "192.0.2.200:3478", "192.0.2.200:49152");
	offer_body = msice_offer_sdp;
	offer_deferred(&f, "o9", "call-ms@x", NULL, 500, sdp, sizeof(sdp), warn, sizeof(warn));
	offer_body = offer_sdp;
	la = leg_named(&f, "0a");
	assert_non_null(la);
	assert_int_equal(la->agent.cfg.dialect, ICE_DIALECT_MSICE);
	assert_int_equal(la->agent.nlocal, 2);
	assert_int_equal(la->agent.local[1].type, ICE_CAND_RELAY);

	n = answer(&f, "a9", "call-ms@x", NULL, out, sizeof(out), &pending);
	assert_false(pending);
	reply_sdp(out, n, "a9", sdp, sizeof(sdp), warn, sizeof(warn));
	assert_null(strstr(sdp, "a=ice-ufrag"));
	assert_int_equal(ctl_sdp_parse(&s, sdp, strlen(sdp)), 0);
	for (unsigned i = 0; i < s.media[0].sdp->ice.n_cand; i++) {
		const struct sdp_candidate *sc = &s.media[0].sdp->ice.cand[i];
		char id[64], pwd[32];
		int k = ice_addr_v4(&sc->addr) == 0xc00002c8u ? 1 : 0; /* 192.0.2.200: the relay */

		assert_int_equal(sc->form, SDP_FORM_DRAFT06);
		assert_int_equal(ice_agent_local_ms_cred((struct ice_agent *)&la->agent, k, id, sizeof(id),
							 pwd, sizeof(pwd)), 0);
		assert_string_equal(sc->foundation, id);
		assert_string_equal(sc->password, pwd);
		assert_int_equal(sc->qvalue, k ? 450 : 830);
		seen |= 1u << k;
	}
	assert_int_equal(seen, 3);
	/* one identifier per candidate */
	{
		char id0[64], id1[64], pw[32];
		ice_agent_local_ms_cred((struct ice_agent *)&la->agent, 0, id0, sizeof(id0), pw, sizeof(pw));
		ice_agent_local_ms_cred((struct ice_agent *)&la->agent, 1, id1, sizeof(id1), pw, sizeof(pw));
		assert_string_not_equal(id0, id1);
	}
	assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_RUNNING);
	assert_int_equal(f.failed, 0);
	ctl_free(f.ctl);
	dp_core_free(&f.core, free);
}

/* Leg a's allocation is slow: the answer's reply waits for it (retransmissions swallowed)
 * and comes from ctl_poll with the relay; or, never answered, after turn-timeout-ms without
 * it, ICEWarn 0x1 in its warning and in leg a's query. */
static void deferred_answer(bool server_answers)
{
	static struct fake f;
	struct ctl_turn_cfg tc;
	static char sdp[8192], warn[256], out[65536], rel[64];
	struct ctl_peer got;
	bool pending;
	size_t n = 0;

	turn_cfg(&tc);
	ice_addr_parse(&tc.server[tc.n_server++], "192.0.2.200:3478");
	mk(&f, &tc);
	add_srv(&f, NULL, "192.0.2.200:3478", "192.0.2.200:49152");
	f.hold_a = true;
	offer_deferred(&f, "o4", "call-p@x", NULL, 500, sdp, sizeof(sdp), warn, sizeof(warn));
	assert_true(f.nheld >= 1);
	assert_int_equal(answer(&f, "a4", "call-p@x", NULL, out, sizeof(out), &pending), 0);
	assert_true(pending);
	assert_int_equal(ctl_pending(f.ctl), 1);
	assert_int_equal(answer(&f, "a4", "call-p@x", NULL, out, sizeof(out), &pending), 0);
	assert_true(pending);
	if (server_answers) {
		f.hold_a = false;
		for (unsigned i = 0; i < f.nheld; i++)
			f.q[f.nq++] = f.held[i];
		f.nheld = 0;
		pump(&f);
	}
	for (uint32_t t = 0; t <= 3000 && !n; t += 100) {
		f.now_ms += 100;
		n = ctl_poll(f.ctl, f.now_ms, out, sizeof(out), &got);
		pump(&f);
	}
	assert_true(n > 0);
	assert_int_equal(ctl_pending(f.ctl), 0);
	reply_sdp(out, n, "a4", sdp, sizeof(sdp), warn, sizeof(warn));
	assert_non_null(strstr(sdp, "typ host"));
	if (server_answers) {
		assert_string_equal(warn, "");
		assert_non_null(strstr(sdp, "192.0.2.200 49153 typ relay"));
		assert_int_equal(query_warn(&f, "call-p@x", 0, rel, sizeof(rel)), 0);
		assert_true(permitted(&f.srv[0], "192.0.2.10:0"));
	} else {
		assert_non_null(strstr(warn, "TURN relay not allocated (ICEWarn 0x1)"));
		assert_null(strstr(sdp, "typ relay"));
		assert_int_equal(query_warn(&f, "call-p@x", 0, rel, sizeof(rel)), TURN_WARN_UNREACHABLE);
		assert_string_equal(rel, "");
		/* leg b's relay is not concerned */
		assert_int_equal(query_warn(&f, "call-p@x", 1, rel, sizeof(rel)), 0);
	}
	/* the reply is cached: a retransmission gets it again */
	{
		static char out2[65536];
		size_t n2 = answer(&f, "a4", "call-p@x", NULL, out2, sizeof(out2), &pending);
		assert_false(pending);
		assert_int_equal(n2, n);
		assert_memory_equal(out2, out, n);
	}
	assert_int_equal(f.failed, 0);
	ctl_free(f.ctl);
	dp_core_free(&f.core, free);
}

static void test_leg_a_deferred_answer(void **state)
{
	(void)state;
	deferred_answer(true);
}

static void test_leg_a_unreachable(void **state)
{
	(void)state;
	deferred_answer(false);
}

/* ICE=force-relay on the answer: the answer's SDP has leg a's relay only, and leg a is made
 * again relay-only (its agent never starts with a host candidate), given its relay, started. */
static void test_leg_a_force_relay_answer(void **state)
{
	static struct fake f;
	struct ctl_turn_cfg tc;
	static char sdp[8192], warn[256], out[65536], rel[64];
	const struct dp_leg *la, *lb;
	bool pending;
	size_t n;

	(void)state;
	turn_cfg(&tc);
	ice_addr_parse(&tc.server[tc.n_server++], "192.0.2.200:3478");
	mk(&f, &tc);
	add_srv(&f, NULL, "192.0.2.200:3478", "192.0.2.200:49152");
	offer_deferred(&f, "o5", "call-fr@x", NULL, 500, sdp, sizeof(sdp), warn, sizeof(warn));
	assert_non_null(strstr(sdp, "typ host")); /* the offer had no force-relay */
	n = answer(&f, "a5", "call-fr@x", "force-relay", out, sizeof(out), &pending);
	assert_true(n > 0);
	reply_sdp(out, n, "a5", sdp, sizeof(sdp), warn, sizeof(warn));
	assert_null(strstr(sdp, "typ host"));
	assert_non_null(strstr(sdp, "a=candidate:2 1 UDP 16777215 192.0.2.200 49153 typ relay"));
	assert_string_equal(warn, "");
	la = leg_named(&f, "0a");
	lb = leg_named(&f, "0b");
	assert_non_null(la);
	assert_int_equal(la->agent.nlocal, 1);
	assert_int_equal(la->agent.local[0].type, ICE_CAND_RELAY);
	assert_int_equal(ice_agent_state(&la->agent), ICE_STATE_RUNNING);
	assert_true(la->agent.npairs >= 1);
	assert_true(la->turn->comp[0].has_relay);
	/* paired with leg b again */
	assert_int_equal(la->peer, lb->id);
	assert_int_equal(lb->peer, la->id);
	assert_int_equal(ctl_stats(f.ctl)->leg_remakes, 1);
	pump(&f);
	assert_true(permitted(&f.srv[0], "192.0.2.10:0"));
	assert_int_equal(query_warn(&f, "call-fr@x", 0, rel, sizeof(rel)), 0);
	assert_string_equal(rel, "192.0.2.200:49153");
	/* a second answer (the 200 after a 183) changes nothing on leg a */
	n = answer(&f, "a6", "call-fr@x", NULL, out, sizeof(out), &pending);
	reply_sdp(out, n, "a6", sdp, sizeof(sdp), warn, sizeof(warn));
	assert_null(strstr(sdp, "typ host"));
	assert_int_equal(ctl_stats(f.ctl)->leg_remakes, 1);
	assert_int_equal(f.failed, 0);
	ctl_free(f.ctl);
	dp_core_free(&f.core, free);
}

/* force-relay on the answer without TURN: no candidate in it, 0x80000 for leg a. */
static void test_leg_a_force_relay_no_server(void **state)
{
	static struct fake f;
	static char msg[8192], sdp[8192], warn[256], out[65536];
	bool pending;
	size_t n;

	(void)state;
	mk(&f, NULL);
	n = ng_msg(msg, sizeof(msg), "o7", "offer", "call-ns@x", NULL, offer_sdp, NULL);
	n = ctl_handle_from(f.ctl, msg, n, out, sizeof(out), f.now_ms, NULL, &pending);
	assert_false(pending);
	assert_true(n > 0);
	n = answer(&f, "a7", "call-ns@x", "force-relay", out, sizeof(out), &pending);
	assert_false(pending);
	reply_sdp(out, n, "a7", sdp, sizeof(sdp), warn, sizeof(warn));
	assert_null(strstr(sdp, "a=candidate"));
	assert_non_null(strstr(warn, "ICEWarn 0x80000"));
	assert_int_equal(query_warn(&f, "call-ns@x", 0, NULL, 0) & CTL_TURN_WARN_NO_SERVER,
			 CTL_TURN_WARN_NO_SERVER);
	assert_int_equal(query_warn(&f, "call-ns@x", 1, NULL, 0), 0);
	ctl_free(f.ctl);
	dp_core_free(&f.core, free);
}

/* ------------------------------------------------------------------ [MS-TURN] */

/* A force-relay leg on an Edge server: MS-TURN Allocate with MRAS's base64 credentials, no
 * CreatePermission at the answer, checks out in signed Sends and back in 0x0115 Data
 * Indications, Set-Active-Destination once the relayed pair is selected (numbered on from the
 * worker's Sends), then bare media; a refused Set-Active-Destination sets ICEWarn 0x4. */
static void ms_case(bool refuse)
{
	static struct fake f;
	static struct msturn_srv srv;
	struct ctl_turn_cfg tc;
	static char sdp[8192], warn[256], msg[8192], out[65536], rel[64];
	const struct dp_leg *lb;
	const struct ctl_turn_stats *ts;
	struct ice_addr relayed, mapped;
	size_t n;

	turn_cfg(&tc);
	snprintf(tc.user, sizeof(tc.user), "%s", MSTURN_SRV_USER_B64);
	snprintf(tc.pass, sizeof(tc.pass), "%s", MSTURN_SRV_PASS_B64);
	tc.ms_turn = true;
	assert_int_equal(ctl_turn_cfg_check(&tc), 0);
	ice_addr_parse(&tc.server[tc.n_server++], "192.0.2.210:3478");
	mk(&f, &tc);
	ice_addr_parse(&relayed, "192.0.2.210:50500");
	ice_addr_parse(&mapped, "203.0.113.1:30000");
	msturn_srv_init(&srv, &relayed, &mapped);
	srv.sad_refuse = refuse;
	f.ms = &srv;
	{
		struct ice_addr other;

		ice_addr_parse(&other, "192.0.2.210:50502");
		msturn_srv_init(&f.ms_other, &other, &mapped);
	}
	ice_addr_parse(&f.ms_addr, "192.0.2.210:3478");
	f.peer_pwd = "bobpasswordbobpassword1";
	offer_deferred(&f, "m1", "call-ms@x", "force-relay", 500, sdp, sizeof(sdp), warn, sizeof(warn));
	assert_non_null(strstr(sdp, " 192.0.2.210 50500 typ relay "));
	assert_null(strstr(sdp, "typ host"));
	assert_string_equal(warn, "");
	assert_int_equal(srv.allocs, 2); /* unsigned, 401, signed */
	assert_int_equal(srv.allocs_signed, 1);
	assert_int_equal(f.ms_other.allocs_signed, 1); /* leg a's relay, for the answer */
	lb = leg_b(&f);
	assert_non_null(lb);
	assert_true(lb->turn->comp[0].ms);
	assert_true(lb->turn->ms.sign);
	assert_int_equal(lb->turn->comp[0].ms_seq, MSTURN_SRV_FIRST_SEQ);

	/* the answer: no CreatePermission (the server would count an unknown method as bad) */
	n = ng_msg(msg, sizeof(msg), "a1", "answer", "call-ms@x", "ttag", answer_sdp, NULL);
	assert_true(ctl_handle(f.ctl, msg, n, out, sizeof(out), f.now_ms) > 0);
	pump(&f);
	assert_int_equal(srv.bad, 0);
	assert_int_equal(ctl_turn_stats(ctl_turn_mgr(f.ctl))->permissions, 0);

	/* checks through the relay until the relayed pair is selected and the server told */
	for (unsigned i = 0; i < 200 && !srv.sads; i++) {
		f.now_ms += 20;
		dp_core_timers(&f.core, NOW_US(f.now_ms));
		pump(&f);
		ctl_poll(f.ctl, f.now_ms, out, sizeof(out), NULL);
		pump(&f);
	}
	assert_true(f.peer_answers >= 1);
	assert_true(srv.sends >= 2); /* a check, and the nominating one */
	assert_int_equal(srv.sads, 1);
	assert_int_equal(srv.bad, 0); /* every number rose: the Set-Active-Destination's too */
	assert_true(srv.last_seq > MSTURN_SRV_FIRST_SEQ + srv.sends - 1);
	ts = ctl_turn_stats(ctl_turn_mgr(f.ctl));
	/* a few polls later: not asked again, whatever the answer was */
	for (unsigned i = 0; i < 20; i++) {
		f.now_ms += 100;
		ctl_poll(f.ctl, f.now_ms, out, sizeof(out), NULL);
		pump(&f);
	}
	assert_int_equal(srv.sads, 1);
	if (!refuse) {
		struct ice_addr peer;
		uint8_t r[172] = {0x80, 0};
		unsigned bare = srv.bare;

		assert_int_equal(ts->active_dests, 1);
		assert_true(lb->turn->comp[0].ms_active);
		assert_true(srv.active);
		ice_addr_set_v4(&peer, lb->turn->comp[0].ms_active_ip, lb->turn->comp[0].ms_active_port);
		assert_true(ice_addr_eq(&peer, &srv.active_dest));
		/* alice's media leaves bare for the active destination */
		ice_addr_parse(&peer, "192.0.2.10:40000");
		{
			uint8_t fr[1600];
			uint16_t fl;
			memcpy(fr + DP_HDRS_LEN, r, sizeof(r));
			fl = dp_build_udp4(fr, f.core.mac, (const uint8_t[6]){2, 0, 0, 0, 0, 9},
					   ice_addr_v4(&peer), 40000, GW_IP,
					   f.core.legs[lb->peer].port, sizeof(r), 1, true);
			/* leg a's ICE is not done here: its media comes from a validated pair
			 * only, so latch it as the default */
			f.core.legs[lb->peer].media_state[0] = 1;
			f.core.legs[lb->peer].media_ip[0] = ice_addr_v4(&peer);
			f.core.legs[lb->peer].media_port[0] = 40000;
			assert_int_equal(dp_core_rx(&f.core, NOW_US(f.now_ms), fr, &fl, sizeof(fr)),
					 DP_VERDICT_TX);
			assert_int_equal(dp_rd32(fr + DP_ETH_LEN + 16), 0xc00002d2u); /* the Edge */
			assert_int_equal(dp_rd16(fr + DP_ETH_LEN + DP_IP4_LEN), lb->port);
			assert_int_equal(fl, DP_HDRS_LEN + sizeof(r));
			ms_deliver(&f, fr + DP_HDRS_LEN, sizeof(r), lb->port);
		}
		assert_int_equal(srv.bare, bare + 1);
		assert_int_equal(query_warn_b(&f, "call-ms@x", rel, sizeof(rel)), 0);
	} else {
		assert_int_equal(ts->active_failed, 1);
		assert_false(lb->turn->comp[0].ms_active);
		/* seed 000 0x4: sending on the TURN server failed; in the query like the others */
		assert_int_equal(query_warn_b(&f, "call-ms@x", rel, sizeof(rel)), TURN_WARN_SEND_FAILED);
	}
	assert_string_equal(rel, "192.0.2.210:50500");

	/* delete: an Allocate with LIFETIME 0 from the leg's port */
	n = ng_msg(msg, sizeof(msg), "d1", "delete", "call-ms@x", NULL, NULL, NULL);
	assert_true(ctl_handle(f.ctl, msg, n, out, sizeof(out), f.now_ms) > 0);
	pump(&f);
	assert_int_equal(srv.releases, 1);
	assert_int_equal(srv.bad, 0);
	assert_int_equal(ctl_turn_stats(ctl_turn_mgr(f.ctl))->active, 0);
	assert_int_equal(f.failed, 0);
	ctl_free(f.ctl);
	dp_core_free(&f.core, free);
}

static void test_msturn_active_destination(void **state)
{
	(void)state;
	ms_case(false);
}

static void test_msturn_active_destination_refused(void **state)
{
	(void)state;
	ms_case(true);
}

/* MRAS credentials are base64: anything else is refused at start-up. */
static void test_msturn_credentials_form(void **state)
{
	struct ctl_turn_cfg tc;

	(void)state;
	turn_cfg(&tc);
	tc.ms_turn = true;
	assert_int_equal(ctl_turn_cfg_check(&tc), -EINVAL); /* "alice" is not base64 */
	snprintf(tc.user, sizeof(tc.user), "%s", MSTURN_SRV_USER_B64);
	assert_int_equal(ctl_turn_cfg_check(&tc), -EINVAL); /* nor "secret" */
	snprintf(tc.pass, sizeof(tc.pass), "%s", MSTURN_SRV_PASS_B64);
	assert_int_equal(ctl_turn_cfg_check(&tc), 0);
	tc.ms_turn = false;
	assert_int_equal(ctl_turn_cfg_check(&tc), 0); /* RFC: taken as they are */
}

/* Behind a NAT the server sees the gateway's host port as another address: the offer carries
 * it as a server-reflexive candidate (raddr the host port, srflx priority) beside host and
 * relay; without a NAT (the other tests) there is none. */
static void test_srflx_behind_nat(void **state)
{
	static struct fake f;
	struct ctl_turn_cfg tc;
	static char sdp[8192], warn[256], want[200];
	const struct dp_leg *lb;

	(void)state;
	turn_cfg(&tc);
	ice_addr_parse(&tc.server[tc.n_server++], "192.0.2.200:3478");
	mk(&f, &tc);
	add_srv(&f, NULL, "192.0.2.200:3478", "192.0.2.200:49152");
	f.srv[0].nat_ip = 0xc6336405; /* 198.51.100.5 */
	offer_deferred(&f, "o9", "call-nat@x", NULL, 500, sdp, sizeof(sdp), warn, sizeof(warn));
	lb = leg_named(&f, "0b");
	assert_non_null(lb);
	snprintf(want, sizeof(want), "a=candidate:3 1 UDP %u 198.51.100.5 %u typ srflx raddr 203.0.113.1 rport %u",
		 ice_cand_priority(ICE_DIALECT_RFC8445, ICE_CAND_SRFLX, CTL_TURN_LOCAL_PREF, 1),
		 lb->port + 10000u, lb->port);
	assert_non_null(strstr(sdp, want));
	assert_non_null(strstr(sdp, "typ host"));
	assert_non_null(strstr(sdp, "typ relay"));
	ctl_free(f.ctl);
	dp_core_free(&f.core, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_force_relay_flow),
		cmocka_unit_test(test_default_host_and_relay),
		cmocka_unit_test(test_wrong_credentials),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_alternate_server),
		cmocka_unit_test(test_no_turn_configured),
		cmocka_unit_test(test_several_servers_failover),
		cmocka_unit_test(test_srflx_behind_nat),
		cmocka_unit_test(test_leg_a_relay_in_answer),
		cmocka_unit_test(test_leg_a_msice_relay_credentials),
		cmocka_unit_test(test_leg_a_deferred_answer),
		cmocka_unit_test(test_leg_a_unreachable),
		cmocka_unit_test(test_leg_a_force_relay_answer),
		cmocka_unit_test(test_leg_a_force_relay_no_server),
		cmocka_unit_test(test_msturn_active_destination),
		cmocka_unit_test(test_msturn_active_destination_refused),
		cmocka_unit_test(test_msturn_credentials_form),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

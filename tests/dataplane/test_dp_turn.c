/* The core's TURN data path: ChannelData and Data indications from a leg's server unwrapped
 * and demultiplexed again (media relayed, checks answered through the relay), media and
 * agent output wrapped on the way out, and what the server says for the control thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "dp_cmd.h"
#include "dp_core.h"
#include "dp_pkt.h"
#include "msturn_srv.h"
#include "stun.h"
#include "turn.h"

#define GW 0xcb007101u    /* 203.0.113.1 */
#define SRV 0xc00002c8u   /* 192.0.2.200, the TURN server */
#define ALICE 0xc000020au /* 192.0.2.10, leg a's endpoint (direct) */
#define PEER 0xc6336414u  /* 198.51.100.20, leg b's endpoint (behind the relay) */

static const uint8_t GW_MAC[6] = {2, 0, 0, 0, 0, 1}, NH_MAC[6] = {2, 0, 0, 0, 0, 9};

struct cap {
	unsigned n;
	uint16_t len;
	uint8_t f[1600];
};

static void emit_cb(void *ctx, const uint8_t *f, uint16_t len)
{
	struct cap *k = ctx;

	k->n++;
	k->len = len;
	memcpy(k->f, f, len);
}

static unsigned up_n;
static uint16_t up_len;
static int up_ret;

static int up_cb(void *ctx, uint32_t leg, uint8_t comp, const struct ice_addr *from,
		 const uint8_t *p, uint16_t len)
{
	(void)ctx;
	(void)leg;
	(void)p;
	assert_int_equal(comp, 1);
	assert_int_equal(ice_addr_v4(from), SRV);
	up_n++;
	up_len = len;
	return up_ret;
}

static uint16_t frame(uint8_t *f, uint32_t sip, uint16_t sport, uint16_t dport, const void *p,
		      uint16_t n)
{
	memcpy(f + DP_HDRS_LEN, p, n);
	return dp_build_udp4(f, GW_MAC, NH_MAC, sip, sport, GW, dport, n, 7, true);
}

static uint16_t rtp(uint8_t *p, uint16_t seq)
{
	memset(p, 0, 172);
	p[0] = 0x80;
	p[1] = 0;
	dp_wr16(p + 2, seq);
	dp_wr32(p + 8, 0x11223344);
	for (int i = 12; i < 172; i++)
		p[i] = (uint8_t)(i * 7);
	return 172;
}

/* Leg a (plain, port 30000, towards alice) paired with leg b (port 30002, towards the peer,
 * through its relay on the server). */
static struct dp_core *setup(struct cap *k, bool ice_b)
{
	static struct dp_core c;
	struct dp_leg_cfg a, b;
	struct ice_addr rel, srv;

	memset(k, 0, sizeof(*k));
	assert_int_equal(dp_core_init(&c, GW, GW_MAC, 8, 1, calloc, 1000000), 0);
	c.emit = emit_cb;
	c.emit_ctx = k;
	memcpy(c.gw_mac, NH_MAC, 6);
	c.have_gw_mac = true;
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "a");
	a.port = 30000;
	a.rtcp_mux = true;
	ice_addr_set_v4(&a.default_remote[0], ALICE, 40000);
	memset(&b, 0, sizeof(b));
	snprintf(b.name, sizeof(b.name), "b");
	b.port = 30002;
	b.rtcp_mux = true;
	b.ice = ice_b;
	b.relay_only = ice_b;
	b.ice_cfg.ufrag = "gwuf";
	b.ice_cfg.pwd = "gatewaypasswordgateway12";
	b.ice_cfg.role = ICE_ROLE_CONTROLLED;
	snprintf(b.rufrag, sizeof(b.rufrag), "peer");
	snprintf(b.rpwd, sizeof(b.rpwd), "peerpasswordpeerpassword");
	assert_int_equal(dp_core_add_leg(&c, &a, 1000000), 0);
	assert_int_equal(dp_core_add_leg(&c, &b, 1000000), 1);
	assert_int_equal(dp_core_pair(&c, 0, 1), 0);
	ice_addr_set_v4(&rel, SRV, 49152);
	ice_addr_set_v4(&srv, SRV, 3478);
	assert_int_equal(dp_core_leg_add_relay(&c, 1, 1, &rel, &srv, 65535), 0);
	c.turn_up = up_cb;
	up_n = 0;
	up_ret = 0;
	return &c;
}

/* ChannelData from the peer, unwrapped and relayed to alice; then alice's media wrapped for
 * the peer in ChannelData (channel bound) or a Send indication (not). */
static void test_channeldata_both_ways(void **st)
{
	struct cap k;
	struct dp_core *c = setup(&k, false);
	struct ice_addr peer;
	uint8_t f[1600], p[1500], r[200];
	uint16_t len, n = rtp(r, 1);
	struct stun_msg m;
	const uint8_t *d;
	uint16_t dl;

	(void)st;
	ice_addr_set_v4(&peer, PEER, 50000);
	assert_true(dp_turn_chan_set(&c->legs[1].turn->comp[0], &peer, 0x4001));
	/* in: [0x4001][len][rtp] from the server to leg b's port */
	dp_wr16(p, 0x4001);
	dp_wr16(p + 2, n);
	memcpy(p + 4, r, n);
	len = frame(f, SRV, 3478, 30002, p, (uint16_t)(n + 4));
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_TX);
	assert_int_equal(len, DP_HDRS_LEN + n);
	assert_int_equal(dp_rd32(f + DP_ETH_LEN + 16), ALICE);
	assert_int_equal(dp_rd16(f + DP_ETH_LEN + DP_IP4_LEN), 30000);
	assert_int_equal(dp_rd16(f + DP_ETH_LEN + DP_IP4_LEN + 2), 40000);
	assert_memory_equal(f + DP_HDRS_LEN, r, n);
	assert_int_equal(c->legs[1].turn->relayed_in, 1);
	/* leg b latched onto the peer (a plain leg): its media goes back through the relay */
	assert_int_equal(c->legs[1].media_ip[0], PEER);
	c->legs[1].turn->comp[0].selected = 1;

	/* out, channel bound: ChannelData to the server from leg b's port */
	n = rtp(r, 2);
	len = frame(f, ALICE, 40000, 30000, r, n);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_TX);
	assert_int_equal(dp_rd32(f + DP_ETH_LEN + 16), SRV);
	assert_int_equal(dp_rd16(f + DP_ETH_LEN + DP_IP4_LEN), 30002);
	assert_int_equal(dp_rd16(f + DP_ETH_LEN + DP_IP4_LEN + 2), 3478);
	assert_int_equal(dp_rd16(f + DP_HDRS_LEN), 0x4001);
	assert_int_equal(dp_rd16(f + DP_HDRS_LEN + 2), n);
	assert_memory_equal(f + DP_HDRS_LEN + 4, r, n);
	assert_int_equal(len, DP_HDRS_LEN + 4 + n);

	/* out, no channel: a Send indication with XOR-PEER-ADDRESS, DATA and a right FINGERPRINT */
	c->legs[1].turn->comp[0].nchan = 0;
	n = rtp(r, 3);
	len = frame(f, ALICE, 40000, 30000, r, n);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_TX);
	assert_int_equal(dp_rd32(f + DP_ETH_LEN + 16), SRV);
	assert_int_equal(stun_parse(&m, f + DP_HDRS_LEN, (size_t)(len - DP_HDRS_LEN), 0), 0);
	assert_true(m.flags & STUN_MF_FP_OK);
	assert_int_equal(m.method, TURN_M_SEND);
	assert_int_equal(m.cls, STUN_C_INDICATION);
	{
		struct ice_addr got;
		assert_int_equal(stun_msg_get_addr(&m, TURN_A_XOR_PEER_ADDRESS, &got), 0);
		assert_true(ice_addr_eq(&got, &peer));
	}
	assert_int_equal(stun_msg_get_bytes(&m, TURN_A_DATA, &d, &dl), 0);
	assert_int_equal(dl, n);
	assert_memory_equal(d, r, n);
	assert_int_equal(c->legs[1].turn->relayed_out, 2);
	/* and the UDP checksum is right (the frame was rebuilt) */
	{
		uint8_t *ip = f + DP_ETH_LEN, *udp = ip + DP_IP4_LEN;
		uint16_t ulen = dp_rd16(udp + 4), hc = dp_rd16(udp + 6);
		dp_wr16(udp + 6, 0);
		dp_udp4_csum(ip, udp, ulen);
		assert_int_equal(dp_rd16(udp + 6), hc);
	}
	dp_core_free(c, free);
}

/* A check from the peer in a Data indication reaches the agent on the relayed address; its
 * answer leaves wrapped in a Send indication to the server, from the leg's port. */
static void test_check_through_relay(void **st)
{
	struct cap k;
	struct dp_core *c = setup(&k, true);
	struct ice_addr peer, got;
	struct stun_builder b;
	struct stun_key key;
	struct stun_msg m, inner;
	uint8_t req[300], ind[400], f[1600], tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	const uint8_t *d;
	uint16_t dl, len;
	int rn, in;

	(void)st;
	ice_addr_set_v4(&peer, PEER, 50000);
	stun_key_init(&key, "gatewaypasswordgateway12", 24);
	stun_build_init(&b, req, sizeof(req), stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid, 0);
	stun_build_str(&b, STUN_A_USERNAME, "gwuf:peer");
	stun_build_u32(&b, ICE_A_PRIORITY, 1853824767);
	stun_build_u64(&b, ICE_A_ICE_CONTROLLING, 42);
	stun_build_integrity(&b, &key, STUN_MI_RFC);
	stun_build_fingerprint(&b, false);
	rn = stun_build_finish(&b);
	assert_true(rn > 0);
	stun_build_init(&b, ind, sizeof(ind), stun_type(TURN_M_DATA, STUN_C_INDICATION), tid, 0);
	stun_build_addr(&b, TURN_A_XOR_PEER_ADDRESS, &peer);
	stun_build_attr(&b, TURN_A_DATA, req, (size_t)rn);
	in = stun_build_finish(&b);
	assert_true(in > 0);
	assert_int_equal(dp_core_start_leg(c, 1, 1500000), 0);
	k.n = 0;
	len = frame(f, SRV, 3478, 30002, ind, (uint16_t)in);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_TX);
	assert_int_equal(dp_rd32(f + DP_ETH_LEN + 16), SRV);
	assert_int_equal(dp_rd16(f + DP_ETH_LEN + DP_IP4_LEN), 30002);
	assert_int_equal(dp_rd16(f + DP_ETH_LEN + DP_IP4_LEN + 2), 3478);
	assert_int_equal(stun_parse(&m, f + DP_HDRS_LEN, (size_t)(len - DP_HDRS_LEN), 0), 0);
	assert_int_equal(m.method, TURN_M_SEND);
	assert_int_equal(stun_msg_get_addr(&m, TURN_A_XOR_PEER_ADDRESS, &got), 0);
	assert_true(ice_addr_eq(&got, &peer));
	assert_int_equal(stun_msg_get_bytes(&m, TURN_A_DATA, &d, &dl), 0);
	assert_int_equal(stun_parse(&inner, d, dl, 0), 0);
	assert_int_equal(inner.cls, STUN_C_SUCCESS);
	/* the mapped address the peer learns is its own, as seen by the relay */
	assert_int_equal(stun_msg_get_addr(&inner, STUN_A_XOR_MAPPED_ADDRESS, &got), 0);
	assert_true(ice_addr_eq(&got, &peer));
	assert_int_equal(stun_msg_check_integrity(&inner, &key, STUN_MI_RFC), 0);
	assert_int_equal(c->legs[1].turn->relayed_in, 1);
	/* the agent's triggered check goes out through the relay too */
	for (int t = 0; t < 10 && k.n == 0; t++)
		dp_core_timers(c, 2000000 + (uint64_t)t * 20000);
	assert_true(k.n >= 1);
	assert_int_equal(dp_rd32(k.f + DP_ETH_LEN + 16), SRV);
	assert_int_equal(stun_parse(&m, k.f + DP_HDRS_LEN, (size_t)(k.len - DP_HDRS_LEN), 0), 0);
	assert_int_equal(m.method, TURN_M_SEND);
	dp_core_free(c, free);
}

/* What the server answers the control thread's client goes up; a full ring or garbage is a
 * counted drop. */
static void test_responses_up_and_drops(void **st)
{
	struct cap k;
	struct dp_core *c = setup(&k, false);
	struct stun_builder b;
	uint8_t resp[100], f[1600], tid[12] = {9};
	uint16_t len;
	int rn;

	(void)st;
	stun_build_init(&b, resp, sizeof(resp), stun_type(TURN_M_REFRESH, STUN_C_SUCCESS), tid, 0);
	stun_build_u32(&b, TURN_A_LIFETIME, 600);
	rn = stun_build_finish(&b);
	len = frame(f, SRV, 3478, 30002, resp, (uint16_t)rn);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_CONSUMED);
	assert_int_equal(up_n, 1);
	assert_int_equal(up_len, rn);
	assert_int_equal(c->legs[1].turn->to_control, 1);
	up_ret = -1;
	len = frame(f, SRV, 3478, 30002, resp, (uint16_t)rn);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_DROP);
	assert_int_equal(c->legs[1].st.drops[DP_DROP_TURN_RING], 1);
	/* ChannelData on a channel nobody bound, and a Binding response: dropped, counted */
	memcpy(resp, "\x40\x05\x00\x04" "abcd", 8);
	len = frame(f, SRV, 3478, 30002, resp, 8);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_DROP);
	stun_build_init(&b, resp, sizeof(resp), stun_type(STUN_M_BINDING, STUN_C_SUCCESS), tid, 0);
	rn = stun_build_finish(&b);
	len = frame(f, SRV, 3478, 30002, resp, (uint16_t)rn);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_DROP);
	assert_int_equal(c->legs[1].st.drops[DP_DROP_TURN], 2);
	assert_int_equal(c->legs[1].turn->drops, 3);
	/* the same from another port of the server is not TURN: plain media rules apply */
	assert_int_equal(c->st.drops[DP_DROP_TURN], 2);
	dp_core_free(c, free);
}

/* ------------------------------------------------------------------ [MS-TURN] */

/* Transaction ids for the reference client: the bytes the core put on the wire. */
static uint8_t q_tid[16];
static unsigned q_pos;

static uint64_t q_rng(void *ctx)
{
	uint64_t v;

	(void)ctx;
	memcpy(&v, q_tid + q_pos, 8);
	q_pos = (q_pos + 8) % 16;
	return v;
}

/* turn.c's client allocated on the scripted Edge server, as the control thread does it. */
static void ms_allocate(struct turn_alloc *ta, struct msturn_srv *srv)
{
	struct turn_config cfg = {.user = MSTURN_SRV_USER_B64, .pass = MSTURN_SRV_PASS_B64,
				  .ms_turn = true, .rng = q_rng};
	struct ice_addr rel, mapped, to;
	struct turn_event ev;
	uint8_t req[1500], resp[1500];
	int n, rn;

	ice_addr_set_v4(&cfg.server, SRV, 3478);
	ice_addr_set_v4(&rel, SRV, 49152);
	ice_addr_set_v4(&mapped, GW, 30002);
	msturn_srv_init(srv, &rel, &mapped);
	assert_int_equal(turn_init(ta, &cfg), 0);
	assert_int_equal(turn_start(ta, 0), 0);
	for (int i = 0; i < 2; i++) {
		n = turn_poll_transmit(ta, 0, req, sizeof(req), &to);
		assert_true(n > 0);
		rn = msturn_srv_input(srv, req, (size_t)n, resp, sizeof(resp));
		assert_true(rn > 0);
		assert_int_equal(turn_handle(ta, 0, &cfg.server, resp, (size_t)rn), TURN_RX_HANDLED);
	}
	assert_true(turn_poll_event(ta, &ev));
	assert_int_equal(ev.type, TURN_EV_ALLOCATED);
	assert_true(ta->ms_seq_valid);
	assert_int_equal(ta->ms_seq, MSTURN_SRV_FIRST_SEQ);
}

/* Leg b's relay made MS-TURN by the command the control thread sends. */
static void ms_install(struct dp_core *c, struct turn_alloc *ta)
{
	static struct dp_cmd cmd;
	struct ice_addr none;
	int n;

	memset(&cmd, 0, sizeof(cmd));
	cmd.type = DP_CMD_LOCAL_CAND;
	cmd.slot = 1;
	cmd.turn.comp = 1;
	ice_addr_set_v4(&cmd.turn.relayed, SRV, 49152);
	ice_addr_set_v4(&cmd.turn.dst, SRV, 3478);
	cmd.turn.local_pref = 65535;
	ice_addr_set_v4(&none, 0, 0);
	n = turn_wrap(ta, &none, "", 0, cmd.turn.buf, sizeof(cmd.turn.buf));
	ta->ms_seq = MSTURN_SRV_FIRST_SEQ;
	assert_true(n > 0);
	cmd.turn.len = (uint16_t)n;
	cmd.turn.ms = 1;
	cmd.turn.ms_seq = ta->ms_seq;
	cmd.turn.ms_key = ta->lt.key;
	dp_cmd_apply(c, &cmd, 1000000);
	assert_int_equal(cmd.result, 0);
	assert_true(c->legs[1].turn->comp[0].ms);
}

static uint32_t seq_of(const uint8_t *p, size_t len)
{
	struct stun_msg m;
	const uint8_t *v;
	uint16_t l;

	assert_int_equal(stun_parse(&m, p, len, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED), 0);
	assert_int_equal(stun_msg_get_bytes(&m, MSTURN_A_MS_SEQUENCE_NUMBER, &v, &l), 0);
	return dp_rd32(v + 20);
}

/* Media out through an MS-TURN relay: signed Send requests numbered from the worker's count,
 * byte for byte what turn_wrap() (checked against libnice's) makes; the Edge server takes
 * them. In: 0x0115 Data Indications unwrapped; bare data dropped until a destination is
 * active, then bare both ways with no number taken. */
static void test_msturn_send_and_data(void **st)
{
	static struct turn_alloc ta;
	static struct msturn_srv srv;
	struct cap k;
	struct dp_core *c = setup(&k, false);
	struct ice_addr peer;
	uint8_t f[1600], r[200], ref[1600], w[1600];
	uint16_t len, n;
	int rn, wn;

	(void)st;
	ms_allocate(&ta, &srv);
	ms_install(c, &ta);
	ice_addr_set_v4(&peer, PEER, 50000);

	/* in: a Data Indication from the peer, relayed to alice; leg b latches onto the peer */
	n = rtp(r, 1);
	wn = msturn_srv_relay(&srv, &peer, r, n, w, sizeof(w));
	assert_true(wn > 0 && dp_rd16(w) == MSTURN_T_DATA_IND);
	len = frame(f, SRV, 3478, 30002, w, (uint16_t)wn);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_TX);
	assert_int_equal(dp_rd32(f + DP_ETH_LEN + 16), ALICE);
	assert_int_equal(len, DP_HDRS_LEN + n);
	assert_memory_equal(f + DP_HDRS_LEN, r, n);
	assert_int_equal(c->legs[1].media_ip[0], PEER);
	assert_int_equal(c->legs[1].turn->relayed_in, 1);
	c->legs[1].turn->comp[0].selected = 1;

	/* out: two Sends, numbers 8 and 9 (the server gave 7), each as turn_wrap() has it */
	for (uint32_t i = 0; i < 2; i++) {
		n = rtp(r, (uint16_t)(2 + i));
		len = frame(f, ALICE, 40000, 30000, r, n);
		assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_TX);
		assert_int_equal(dp_rd32(f + DP_ETH_LEN + 16), SRV);
		assert_int_equal(dp_rd16(f + DP_ETH_LEN + DP_IP4_LEN), 30002);
		assert_int_equal(dp_rd16(f + DP_ETH_LEN + DP_IP4_LEN + 2), 3478);
		assert_int_equal(seq_of(f + DP_HDRS_LEN, len - DP_HDRS_LEN), MSTURN_SRV_FIRST_SEQ + 1 + i);
		memcpy(q_tid, f + DP_HDRS_LEN + 4, 16);
		q_pos = 0;
		ta.ms_seq = MSTURN_SRV_FIRST_SEQ + i;
		rn = turn_wrap(&ta, &peer, r, n, ref, sizeof(ref));
		assert_int_equal(rn, len - DP_HDRS_LEN);
		assert_memory_equal(ref, f + DP_HDRS_LEN, (size_t)rn);
		assert_int_equal(msturn_srv_input(&srv, f + DP_HDRS_LEN, len - DP_HDRS_LEN, w, sizeof(w)), 0);
		assert_int_equal(srv.sends, i + 1);
		assert_int_equal(srv.bad, 0);
		assert_true(ice_addr_eq(&srv.data_to, &peer));
		assert_int_equal(srv.data_len, n);
		assert_memory_equal(srv.data, r, n);
	}
	assert_int_equal(c->legs[1].turn->comp[0].ms_seq, MSTURN_SRV_FIRST_SEQ + 2);

	/* bare data from the server before any active destination: dropped, counted */
	n = rtp(r, 9);
	len = frame(f, SRV, 3478, 30002, r, n);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_DROP);
	assert_int_equal(c->legs[1].st.drops[DP_DROP_TURN], 1);

	/* the peer made active destination: bare both ways, no number used */
	{
		static struct dp_cmd cmd;
		memset(&cmd, 0, sizeof(cmd));
		cmd.type = DP_CMD_TURN_ACTIVE;
		cmd.slot = 1;
		cmd.turn.comp = 1;
		cmd.turn.dst = peer;
		dp_cmd_apply(c, &cmd, 2000000);
		assert_int_equal(cmd.result, 0);
		srv.active = true;
		srv.active_dest = peer;
	}
	n = rtp(r, 10);
	len = frame(f, ALICE, 40000, 30000, r, n);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_TX);
	assert_int_equal(dp_rd32(f + DP_ETH_LEN + 16), SRV);
	assert_int_equal(len, DP_HDRS_LEN + n);
	assert_memory_equal(f + DP_HDRS_LEN, r, n);
	assert_int_equal(msturn_srv_input(&srv, f + DP_HDRS_LEN, n, w, sizeof(w)), 0);
	assert_int_equal(srv.bare, 1);
	assert_int_equal(c->legs[1].turn->comp[0].ms_seq, MSTURN_SRV_FIRST_SEQ + 2);
	n = rtp(r, 11);
	wn = msturn_srv_relay(&srv, &peer, r, n, w, sizeof(w));
	assert_int_equal(wn, n);
	len = frame(f, SRV, 3478, 30002, w, (uint16_t)wn);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_TX);
	assert_int_equal(dp_rd32(f + DP_ETH_LEN + 16), ALICE);
	assert_memory_equal(f + DP_HDRS_LEN, r, n);
	/* another peer still goes in a Send, numbered on */
	{
		struct ice_addr other;
		uint8_t out[1600];
		uint16_t h;
		ice_addr_set_v4(&other, PEER + 1, 50002);
		h = dp_turn_ms_head_len(c->legs[1].turn, 1, &other);
		assert_int_equal(h, c->legs[1].turn->ms.head_len);
		memcpy(out + h, r, n);
		len = dp_turn_ms_wrap(c->legs[1].turn, 1, &other, out, h, n, q_tid);
		assert_int_equal(seq_of(out, len), MSTURN_SRV_FIRST_SEQ + 3);
		assert_int_equal(msturn_srv_input(&srv, out, len, w, sizeof(w)), 0);
		assert_int_equal(srv.sends, 3);
		assert_true(ice_addr_eq(&srv.data_to, &other));
		assert_int_equal(dp_turn_ms_head_len(c->legs[1].turn, 1, &peer), 0);
	}
	assert_int_equal(srv.bad, 0);
	dp_core_free(c, free);
}

/* Control messages (MAGIC-COOKIE first) go up; a Set-Active-Destination from the control
 * thread is numbered from the worker's count and signed again; bad templates are refused. */
static void test_msturn_control_and_renumber(void **st)
{
	static struct turn_alloc ta;
	static struct msturn_srv srv;
	static struct dp_cmd cmd;
	struct cap k;
	struct dp_core *c = setup(&k, false);
	struct ice_addr peer, to;
	uint8_t f[1600], req[1500], resp[1500];
	uint16_t len;
	int n, rn;

	(void)st;
	ms_allocate(&ta, &srv);
	ms_install(c, &ta);
	c->legs[1].turn->comp[0].ms_seq = 41; /* the worker's Sends went on meanwhile */
	ice_addr_set_v4(&peer, PEER, 50000);
	assert_int_equal(turn_set_active_dest(&ta, 0, &peer), 0);
	n = turn_poll_transmit(&ta, 0, req, sizeof(req), &to);
	assert_true(n > 0);
	assert_int_equal(seq_of(req, (size_t)n), MSTURN_SRV_FIRST_SEQ + 1);
	memset(&cmd, 0, sizeof(cmd));
	cmd.type = DP_CMD_SEND;
	cmd.slot = 1;
	cmd.turn.comp = 1;
	cmd.turn.dst = to;
	cmd.turn.len = (uint16_t)n;
	memcpy(cmd.turn.buf, req, (size_t)n);
	{
		struct stun_msg m;
		assert_int_equal(stun_parse(&m, req, (size_t)n, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED), 0);
		cmd.turn.ms_renumber = 1;
		cmd.turn.ms_seq_off = stun_msg_find(&m, MSTURN_A_MS_SEQUENCE_NUMBER)->off;
	}
	srv.seq_started = true;
	srv.last_seq = 41;
	k.n = 0;
	dp_cmd_apply(c, &cmd, 2000000);
	assert_int_equal(cmd.result, 0);
	assert_int_equal(k.n, 1);
	assert_int_equal(seq_of(k.f + DP_HDRS_LEN, k.len - DP_HDRS_LEN), 42);
	rn = msturn_srv_input(&srv, k.f + DP_HDRS_LEN, k.len - DP_HDRS_LEN, resp, sizeof(resp));
	assert_true(rn > 0);
	assert_int_equal(srv.sads, 1);
	assert_int_equal(srv.bad, 0);
	/* its answer (MAGIC-COOKIE first) goes up to the control thread, which takes it */
	len = frame(f, SRV, 3478, 30002, resp, (uint16_t)rn);
	assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_CONSUMED);
	assert_int_equal(up_n, 1);
	assert_int_equal(up_len, rn);
	assert_int_equal(turn_handle(&ta, 0, &to, resp, (size_t)rn), TURN_RX_HANDLED);
	{
		struct turn_event ev;
		assert_true(turn_poll_event(&ta, &ev));
		assert_int_equal(ev.type, TURN_EV_ACTIVE_DEST);
	}
	/* an MS-TURN message that is neither: dropped; a renumber on a plain leg: refused */
	{
		struct stun_builder b;
		uint8_t tid[16] = {3};
		stun_build_init(&b, resp, sizeof(resp), stun_type(STUN_M_BINDING, STUN_C_SUCCESS), tid,
				STUN_BF_LEGACY | STUN_BF_UNPADDED);
		stun_build_u32(&b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
		rn = stun_build_finish(&b);
		len = frame(f, SRV, 3478, 30002, resp, (uint16_t)rn);
		assert_int_equal(dp_core_rx(c, 2000000, f, &len, sizeof(f)), DP_VERDICT_DROP);
		assert_int_equal(c->legs[1].st.drops[DP_DROP_TURN], 1);
	}
	cmd.slot = 0;
	dp_cmd_apply(c, &cmd, 2000000);
	assert_int_equal(cmd.result, -EINVAL);
	/* templates: not a Send; the other component with other credentials */
	{
		struct dp_turn_leg tl;
		struct dp_turn_cmd tc;
		memset(&tl, 0, sizeof(tl));
		memset(&tc, 0, sizeof(tc));
		tc.len = (uint16_t)n;
		memcpy(tc.buf, req, (size_t)n); /* a Set-Active-Destination */
		assert_int_equal(dp_turn_ms_install(&tl, 1, &tc), -EINVAL);
		ice_addr_set_v4(&to, 0, 0);
		n = turn_wrap(&ta, &to, "", 0, tc.buf, sizeof(tc.buf));
		tc.len = (uint16_t)n;
		tc.ms_key = ta.lt.key;
		assert_int_equal(dp_turn_ms_install(&tl, 1, &tc), 0);
		tc.buf[4] ^= 1; /* another transaction id: still the same template */
		assert_int_equal(dp_turn_ms_install(&tl, 2, &tc), 0);
		tc.ms_key.inner[0] ^= 1;
		assert_int_equal(dp_turn_ms_install(&tl, 2, &tc), -EEXIST);
		tc.len--;
		assert_int_equal(dp_turn_ms_install(&tl, 2, &tc), -EINVAL);
	}
	dp_core_free(c, free);
}

/* TURN state comes from a pool, not from every leg: a leg without relays has none; when the
 * pool is empty a leg's TURN datagram is refused and counted; a deleted leg's state goes back. */
static void test_turn_pool(void **st)
{
	struct cap k;
	struct dp_core *c = setup(&k, false);
	struct dp_leg_cfg x;
	struct ice_addr srv;
	const uint8_t req[20] = {0x00, 0x03, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42};
	int lx;

	(void)st;
	assert_null(c->legs[0].turn);          /* leg a never used TURN */
	assert_non_null(c->legs[1].turn);      /* leg b has a relay */
	assert_true(sizeof(struct dp_leg) - sizeof(struct ice_agent) <= 512);
	assert_int_equal(dp_core_set_turn_legs(c, 1, free), -EBUSY); /* in use */
	assert_int_equal(dp_core_del_leg(c, 1), 0);
	assert_int_equal(c->nturn_free, c->max_turn);
	assert_int_equal(dp_core_set_turn_legs(c, 1, free), 0);
	memset(&x, 0, sizeof(x));
	snprintf(x.name, sizeof(x.name), "x");
	x.port = 30010;
	x.rtcp_mux = true;
	lx = dp_core_add_leg(c, &x, 1000000);
	assert_true(lx >= 0);
	ice_addr_set_v4(&srv, SRV, 3478);
	assert_int_equal(dp_core_leg_send(c, 0, 1, &srv, req, sizeof(req)), 0);
	assert_non_null(c->legs[0].turn);
	/* the pool's one entry is leg a's: leg x is refused, counted */
	assert_int_equal(dp_core_leg_send(c, (uint32_t)lx, 1, &srv, req, sizeof(req)), -ENOSPC);
	assert_null(c->legs[lx].turn);
	assert_int_equal(c->turn_pool_empty, 1);
	assert_int_equal(c->legs[lx].st.drops[DP_DROP_TURN], 1);
	/* leg a deleted: its state serves leg x */
	assert_int_equal(dp_core_del_leg(c, 0), 0);
	assert_int_equal(dp_core_leg_send(c, (uint32_t)lx, 1, &srv, req, sizeof(req)), 0);
	assert_non_null(c->legs[lx].turn);
	assert_int_equal(c->legs[lx].turn->comp[0].srv_port, 3478);
	dp_core_free(c, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_channeldata_both_ways),
		cmocka_unit_test(test_check_through_relay),
		cmocka_unit_test(test_responses_up_and_drops),
		cmocka_unit_test(test_msturn_send_and_data),
		cmocka_unit_test(test_msturn_control_and_renumber),
		cmocka_unit_test(test_turn_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

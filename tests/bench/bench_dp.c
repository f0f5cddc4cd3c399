/* Per-core cost of the packet path: dp_core_rx behind a real rx_burst -> process -> tx_burst
 * loop on a net_ring port, side by side with testpmd's 5tswap forwarding in the same run,
 * and the cost of handing frames to their owner through a ring (dp_main.c's dispatch). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_net_crc.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "dp_core.h"
#include "dp_owner.h"
#include "dp_pkt.h"
#include "dp_turn.h"
#include "stun.h"
#include "turn.h"

#define BURST 32
#define NMBUF 256              /* frames circulating through the port's ring */
#define RTP_PAY 172            /* 20 ms of PCMU: 12-byte header + 160 */
#define GW_IP 0xcb007101u      /* 203.0.113.1 */
#define REMOTE_IP0 0x0a000001u /* leg i's peer is 10.0.0.1 + i: one address per endpoint */
#define REMOTE_PORT 40000
#define FIRST_PORT 1024
#define PORTS_PER_ADDR (65536 - FIRST_PORT) /* a port map per local address */
#define MAX_LEGS (2 * PORTS_PER_ADDR)       /* two addresses: leg i on GW_IP + i / 64512 */
#define LPWD "gatewaypassword-0123456789"
#define RPWD "remotepassword-9876543210"
#define T0 1700000000000000ull
#define RTP_PPS 50             /* (c): each leg sends 20 ms packets; sets the virtual clock */

static const uint8_t gw_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t peer_mac[6] = {0x02, 0, 0, 0, 0, 0xfe};

/* ------------------------------------------------------------------ frame templates */

/* What the restore step writes back into a recycled mbuf before it is "received":
 * the traffic generator's share, paid alike by a variant and its baseline. */
struct tmpl {
	uint8_t hdr[64];           /* Ethernet + IPv4 + UDP + the first payload bytes */
	uint16_t len;              /* whole frame */
	uint16_t seq;              /* RTP sequence number, advanced per use */
	uint32_t ts;
};

struct tset {
	struct tmpl *t;
	uint32_t n, next;
	uint8_t payload[256];      /* the rest, identical for every frame of the set */
	bool rtp;
};

static struct tset t_rtp_b, t_rtp_c, t_stun;

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p) {
		fprintf(stderr, "bench_dp: out of memory (%zu x %zu)\n", n, size);
		exit(1);
	}
	return p;
}

/* Leg idx's local address (interface) and port: the first 64 512 legs on GW_IP, the
 * next on GW_IP + 1, each address with its own port map. */
static inline uint8_t leg_iface(uint32_t idx)
{
	return (uint8_t)(idx / PORTS_PER_ADDR);
}
static inline uint16_t leg_port(uint32_t idx)
{
	return (uint16_t)(FIRST_PORT + idx % PORTS_PER_ADDR);
}

/* A frame from leg idx's remote endpoint to the gateway port of that leg. */
static uint16_t frame_to_leg(uint8_t *f, uint32_t idx, const uint8_t *pay, uint16_t plen)
{
	memcpy(f + DP_HDRS_LEN, pay, plen);
	return dp_build_udp4(f, gw_mac, peer_mac, REMOTE_IP0 + idx, REMOTE_PORT,
			     GW_IP + leg_iface(idx), leg_port(idx), plen, 0, true);
}

static void rtp_templates(struct tset *s, uint32_t nlegs)
{
	uint8_t pay[RTP_PAY], f[DP_HDRS_LEN + RTP_PAY];

	s->t = xcalloc(nlegs, sizeof(*s->t));
	s->n = nlegs;
	s->rtp = true;
	for (int i = 0; i < RTP_PAY; i++)
		pay[i] = (uint8_t)(0xd5 ^ i);
	pay[0] = 0x80;
	pay[1] = 0; /* PCMU */
	memcpy(s->payload, pay, sizeof(pay));
	for (uint32_t i = 0; i < nlegs; i++) {
		struct tmpl *t = &s->t[i];
		t->seq = (uint16_t)(i * 7);
		t->ts = i * 1000;
		dp_wr32(pay + 8, 0x55000000u + i); /* SSRC */
		dp_wr16(pay + 2, t->seq);
		dp_wr32(pay + 4, t->ts);
		t->len = frame_to_leg(f, i, pay, sizeof(pay));
		memcpy(t->hdr, f, sizeof(t->hdr));
	}
}

/* Restore a recycled mbuf as the next frame of the set, round robin over the legs. The
 * UDP checksum goes stale with the new sequence number: nobody on this path checks it. */
static inline void restore(struct tset *s, struct rte_mbuf *m)
{
	struct tmpl *t = &s->t[s->next];
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);

	if (++s->next == s->n)
		s->next = 0;
	memcpy(f, t->hdr, 64);
	if (s->rtp) {
		dp_wr16(f + DP_HDRS_LEN + 2, t->seq++);
		dp_wr32(f + DP_HDRS_LEN + 4, t->ts += 160);
	}
	if (!s->rtp) /* the answer overwrote the request: put all of it back */
		memcpy(f + 64, s->payload, (size_t)(t->len - 64));
	m->data_len = m->pkt_len = t->len;
}

/* ------------------------------------------------------------------ 5tswap */

/* What testpmd's 5tswap mode does: swap MACs, IPv4 addresses and UDP ports in place. */
static inline void five_tuple_swap(uint8_t *f)
{
	uint8_t mac[6], ip[4], port[2];

	memcpy(mac, f, 6);
	memcpy(f, f + 6, 6);
	memcpy(f + 6, mac, 6);
	memcpy(ip, f + 26, 4);
	memcpy(f + 26, f + 30, 4);
	memcpy(f + 30, ip, 4);
	memcpy(port, f + 34, 2);
	memcpy(f + 34, f + 36, 2);
	memcpy(f + 36, port, 2);
}

/* ------------------------------------------------------------------ cores and legs */

static struct stun_key lkey, rkey;
static uint32_t crc_dpdk(const uint8_t *p, size_t len)
{
	return rte_net_crc_calc(p, (uint32_t)len, RTE_NET_CRC32_ETH);
}

/* Frames the core sends by itself. During set-up they are kept for the responder; in
 * timed runs they are counted only (the daemon would copy each into a fresh mbuf). */
struct emitq {
	uint8_t (*f)[256];
	uint16_t *len;
	uint32_t n, cap;
	bool keep;
	uint64_t emitted;
};

static void emit_cb(void *ctx, const uint8_t *frame, uint16_t len)
{
	struct emitq *q = ctx;

	q->emitted++;
	if (!q->keep || len > sizeof(q->f[0]))
		return;
	if (q->n == q->cap) {
		q->cap = q->cap ? 2 * q->cap : 1024;
		q->f = realloc(q->f, q->cap * sizeof(q->f[0]));
		q->len = realloc(q->len, q->cap * sizeof(q->len[0]));
		if (!q->f || !q->len) {
			fprintf(stderr, "bench_dp: out of memory\n");
			exit(1);
		}
	}
	memcpy(q->f[q->n], frame, len);
	q->len[q->n++] = len;
}

/* The remote endpoints: answer every Binding request the gateway sent with a success
 * response signed with the remote password, as a full ICE peer would. */
static void respond_all(struct dp_core *c, struct emitq *q, uint64_t now)
{
	for (uint32_t i = 0; i < q->n; i++) {
		const uint8_t *f = q->f[i];
		uint8_t resp[256], out[512];
		struct stun_msg m;
		struct stun_builder b;
		struct ice_addr from;
		uint32_t dip = dp_rd32(f + 30);
		uint16_t len;
		int n;

		if (q->len[i] <= DP_HDRS_LEN ||
		    stun_parse(&m, f + DP_HDRS_LEN, q->len[i] - DP_HDRS_LEN, 0) != 0 ||
		    m.cls != STUN_C_REQUEST)
			continue;
		ice_addr_set_v4(&from, dp_rd32(f + 26), dp_rd16(f + 34));
		stun_build_init(&b, resp, sizeof(resp), stun_type(STUN_M_BINDING, STUN_C_SUCCESS),
				stun_msg_tid(&m), 0);
		stun_build_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, &from);
		stun_build_integrity(&b, &rkey, STUN_MI_RFC);
		stun_build_fingerprint(&b, false);
		n = stun_build_finish(&b);
		if (n < 0)
			continue;
		memcpy(out + DP_HDRS_LEN, resp, (size_t)n);
		len = dp_build_udp4(out, gw_mac, peer_mac, dip, dp_rd16(f + 36), dp_rd32(f + 26),
				    dp_rd16(f + 34), (uint16_t)n, 0, true);
		dp_core_rx(c, now, out, &len, sizeof(out));
	}
	q->n = 0;
}

/* A consent / connectivity check from leg idx's remote endpoint (RFC 8445 §7.2.2). */
static int build_check(uint8_t *p, size_t cap, uint32_t idx, bool use_cand, uint32_t salt)
{
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN] = {0};
	char un[64];

	dp_wr32(tid, idx);
	dp_wr32(tid + 4, salt);
	snprintf(un, sizeof(un), "g%" PRIu32 ":r%" PRIu32, idx, idx);
	stun_build_init(&b, p, cap, stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid, 0);
	stun_build_str(&b, STUN_A_USERNAME, un);
	stun_build_u32(&b, ICE_A_PRIORITY, ice_cand_priority(ICE_DIALECT_RFC8445, ICE_CAND_PRFLX,
							      65535, 1));
	stun_build_u64(&b, ICE_A_ICE_CONTROLLING, 0x932ff9b151263b36ull);
	if (use_cand)
		stun_build_attr(&b, ICE_A_USE_CANDIDATE, NULL, 0);
	stun_build_integrity(&b, &lkey, STUN_MI_RFC);
	stun_build_fingerprint(&b, false);
	return stun_build_finish(&b);
}

/* nlegs ICE legs (full, controlled, rtcp-mux), paired two by two and driven to
 * completion by their remote endpoints, so that media flows on the selected pairs. Calls
 * start spread_us apart from first to last, so their consent timers fall due as evenly
 * as in a gateway whose calls came in over time. */
static void make_core(struct dp_core *c, struct emitq *q, uint32_t nlegs, uint64_t spread_us,
		      uint64_t *now)
{
	uint64_t t = T0, t_end = T0 + spread_us + 5000000;
	uint64_t c0 = rte_rdtsc();

	if (dp_core_init(c, GW_IP, gw_mac, nlegs, 7, calloc, t) < 0) {
		fprintf(stderr, "bench_dp: dp_core_init failed\n");
		exit(1);
	}
	if (nlegs > PORTS_PER_ADDR && dp_core_add_addr(c, GW_IP + 1) != 1) {
		fprintf(stderr, "bench_dp: dp_core_add_addr failed\n");
		exit(1);
	}
	memcpy(c->gw_mac, peer_mac, 6);
	c->have_gw_mac = true;
	c->emit = emit_cb;
	c->emit_ctx = q;
	q->keep = true;
	for (uint32_t i = 0; i < nlegs; i++) {
		struct dp_leg_cfg cfg;
		struct ice_remote_cand rc = {.comp = 1, .type = ICE_CAND_HOST, .foundation = "1"};
		char uf[16];

		memset(&cfg, 0, sizeof(cfg));
		snprintf(cfg.name, sizeof(cfg.name), "leg%" PRIu32, i);
		snprintf(uf, sizeof(uf), "g%" PRIu32, i);
		snprintf(cfg.rufrag, sizeof(cfg.rufrag), "r%" PRIu32, i);
		snprintf(cfg.rpwd, sizeof(cfg.rpwd), "%s", RPWD);
		cfg.port = leg_port(i);
		cfg.iface = leg_iface(i);
		cfg.rtcp_mux = true;
		cfg.ice = true;
		cfg.ice_cfg.dialect = ICE_DIALECT_RFC8445;
		cfg.ice_cfg.role = ICE_ROLE_CONTROLLED;
		cfg.ice_cfg.ufrag = uf;
		cfg.ice_cfg.pwd = LPWD;
		ice_addr_set_v4(&cfg.default_remote[0], REMOTE_IP0 + i, REMOTE_PORT);
		rc.addr = cfg.default_remote[0];
		rc.prio = ice_cand_priority(ICE_DIALECT_RFC8445, ICE_CAND_HOST, 65535, 1);
		if (dp_core_add_leg(c, &cfg, t) != (int)i ||
		    dp_core_leg_add_remote(c, i, &rc, t) != 0) {
			fprintf(stderr, "bench_dp: leg %" PRIu32 " set-up failed\n", i);
			exit(1);
		}
	}
	for (uint32_t i = 0; i + 1 < nlegs; i += 2)
		dp_core_pair(c, i, i + 1);
	for (uint32_t i = 0; i < nlegs; i++) {
		uint8_t p[200], f[300];
		uint64_t ti = T0 + spread_us * i / nlegs;
		uint16_t len;
		int n;

		if (ti > t) {
			t = ti;
			dp_core_timers(c, t);
			respond_all(c, q, t);
		}
		dp_core_start_leg(c, i, t);
		/* the controlling peer nominates at once (aggressive), the gateway checks back */
		n = build_check(p, sizeof(p), i, true, 0);
		len = frame_to_leg(f, i, p, (uint16_t)n);
		dp_core_rx(c, t, f, &len, sizeof(f));
		respond_all(c, q, t);
	}
	while (c->st.ice_completed < nlegs && t < t_end) {
		t += 1000;
		dp_core_timers(c, t);
		respond_all(c, q, t);
	}
	q->keep = false;
	if (c->st.ice_completed != nlegs) {
		fprintf(stderr, "bench_dp: only %" PRIu64 " of %" PRIu32 " legs completed ICE\n",
			c->st.ice_completed, nlegs);
		exit(1);
	}
	*now = t;
	printf("set-up: %" PRIu32 " legs completed ICE in %.1f ms of virtual time, %.2f s real\n",
	       nlegs, (double)(t - T0) / 1000, (double)(rte_rdtsc() - c0) / (double)rte_get_tsc_hz());
}

/* ------------------------------------------------------------------ the port */

static uint16_t port;
static struct rte_mempool *pool;

static void port_setup(void)
{
	struct rte_ring *r;
	struct rte_eth_conf conf;
	struct rte_mbuf *m[NMBUF];
	int p;

	pool = rte_pktmbuf_pool_create("bench_dp", 2 * NMBUF + 512, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	/* the port's tx ring is its rx ring: what is sent comes back, like a loop cable */
	r = rte_ring_create("bench_dp_loop", 1024, (int)rte_socket_id(),
			    RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (!pool || !r) {
		fprintf(stderr, "bench_dp: mempool / ring: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	p = rte_eth_from_rings("net_ring_bench", &r, 1, &r, 1, (unsigned)rte_socket_id());
	memset(&conf, 0, sizeof(conf));
	if (p < 0 || rte_eth_dev_configure((uint16_t)p, 1, 1, &conf) < 0 ||
	    rte_eth_rx_queue_setup((uint16_t)p, 0, 1024, rte_socket_id(), NULL, pool) < 0 ||
	    rte_eth_tx_queue_setup((uint16_t)p, 0, 1024, rte_socket_id(), NULL) < 0 ||
	    rte_eth_dev_start((uint16_t)p) < 0) {
		fprintf(stderr, "bench_dp: net_ring port set-up failed\n");
		exit(1);
	}
	port = (uint16_t)p;
	if (rte_pktmbuf_alloc_bulk(pool, m, NMBUF) != 0) {
		fprintf(stderr, "bench_dp: no mbufs\n");
		exit(1);
	}
	for (int i = 0; i < NMBUF; i++) {
		/* any valid frame: every variant restores its own before use */
		uint8_t *f = (uint8_t *)rte_pktmbuf_append(m[i], DP_HDRS_LEN + RTP_PAY);
		memcpy(f, t_rtp_b.t[0].hdr, 64);
		memcpy(f + 64, t_rtp_b.payload + 64 - DP_HDRS_LEN, RTP_PAY - (64 - DP_HDRS_LEN));
	}
	if (rte_eth_tx_burst(port, 0, m, NMBUF) != NMBUF) {
		fprintf(stderr, "bench_dp: cannot prime the ring\n");
		exit(1);
	}
}

/* ------------------------------------------------------------------ variants */

enum { V_SWAP, V_R_SWAP, V_RELAY, V_HANDOFF, V_S_SWAP, V_S_BASE, V_STUN, V_C_SWAP, V_MIX, V_N };

struct variant {
	const char *name;
	double cyc[64];
	uint64_t pkts, bad, timers, emitted, tsc, timer_tsc;
};

static struct variant var[V_N] = {
	[V_SWAP] = {.name = "(0) 5tswap, no restore"},
	[V_R_SWAP] = {.name = "(0b) restore RTP + 5tswap"},
	[V_RELAY] = {.name = "(b) restore RTP + dp_core relay"},
	[V_HANDOFF] = {.name = "(d) (b) via a hand-over ring"},
	[V_S_SWAP] = {.name = "(0a) restore STUN + 5tswap"},
	[V_S_BASE] = {.name = "(0a') + 2 HMAC + 2 CRC"},
	[V_STUN] = {.name = "(a) restore STUN + dp_core answer"},
	[V_C_SWAP] = {.name = "(0c) restore RTP(c) + 5tswap"},
	[V_MIX] = {.name = "(c) restore RTP(c) + timers + relay"},
};

static struct dp_core core_b, core_c;
static struct emitq q_b, q_c;
static uint64_t now_b, now_c;
static double c_dt_us;         /* (c): virtual time per burst */
static double c_clock;
static uint32_t stun_mi_off, stun_fp_off;
static volatile uint32_t sink;
static struct rte_ring *handoff;   /* (d): the owner's ring (multi-producer, single consumer) */

/* Two MACs and two CRCs over the request, as the answer costs at the least. */
static inline void stun_floor(const uint8_t *p)
{
	uint8_t hdr[STUN_HDR_LEN], mac[20];

	memcpy(hdr, p, STUN_HDR_LEN);
	dp_wr16(hdr + 2, (uint16_t)(stun_mi_off + 24 - STUN_HDR_LEN)); /* RFC 8489 §14.5 */
	for (int k = 0; k < 2; k++) {
		stun_hmac_sha1(&lkey, hdr, STUN_HDR_LEN, p + STUN_HDR_LEN,
			       stun_mi_off - STUN_HDR_LEN, NULL, 0, mac);
		sink += mac[0] + stun_crc32(p, stun_fp_off);
	}
}

static void run(int v, unsigned bursts, unsigned round)
{
	struct rte_mbuf *pk[BURST];
	struct variant *vr = &var[v];
	uint64_t pkts = 0, bad = 0, t0, fired0 = core_c.st.timers_fired, em0 = q_c.emitted;

	t0 = rte_rdtsc();
	for (unsigned b = 0; b < bursts; b++) {
		uint16_t n = rte_eth_rx_burst(port, 0, pk, BURST), sent;
		uint64_t now = 0;

		if (v == V_RELAY || v == V_STUN || v == V_HANDOFF) {
			now = now_b;
			dp_core_timers(&core_b, now);
		} else if (v == V_MIX) {
			uint64_t tt = rte_rdtsc();
			c_clock += c_dt_us;
			now = now_c + (uint64_t)c_clock;
			dp_core_timers(&core_c, now);
			vr->timer_tsc += rte_rdtsc() - tt;
		}
		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = pk[i];
			uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
			uint16_t len;

			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pk[i + 1], void *));
			switch (v) {
			case V_SWAP:
				five_tuple_swap(f);
				break;
			case V_R_SWAP:
				restore(&t_rtp_b, m);
				five_tuple_swap(f);
				break;
			case V_C_SWAP:
				restore(&t_rtp_c, m);
				five_tuple_swap(f);
				break;
			case V_S_SWAP:
				restore(&t_stun, m);
				five_tuple_swap(f);
				break;
			case V_S_BASE:
				restore(&t_stun, m);
				stun_floor(f + DP_HDRS_LEN);
				five_tuple_swap(f);
				break;
			case V_HANDOFF: {
				/* dp_main.c's receiving side: the owner of the destination port
				 * (read from the frame), the frame queued for it */
				uint16_t ihl;
				restore(&t_rtp_b, m);
				ihl = (uint16_t)((f[DP_ETH_LEN] & 0xf) * 4);
				sink += dp_owner(dp_rd16(f + DP_ETH_LEN + ihl + 2), 2);
				break;
			}
			case V_RELAY:
			case V_STUN:
			case V_MIX: {
				struct dp_core *c = v == V_MIX ? &core_c : &core_b;
				restore(v == V_STUN ? &t_stun : v == V_MIX ? &t_rtp_c : &t_rtp_b, m);
				len = m->data_len;
				if (dp_core_rx(c, now, f, &len, (uint16_t)(rte_pktmbuf_tailroom(m) + len)) ==
				    DP_VERDICT_TX)
					m->data_len = m->pkt_len = len;
				else
					bad++; /* kept in the loop all the same: restore resets it */
				break;
			}
			default:
				break;
			}
		}
		if (v == V_HANDOFF) {
			/* and the owner's side: the burst through the ring, then processed as
			 * its own rx. Same core: the ring's own cost, without the cache-line
			 * transfers a second core adds */
			struct rte_mbuf *got[BURST];
			unsigned q = rte_ring_mp_enqueue_burst(handoff, (void **)pk, n, NULL), d;

			d = rte_ring_sc_dequeue_burst(handoff, (void **)got, BURST, NULL);
			if (q != n || d != n) {
				fprintf(stderr, "bench_dp: the hand-over ring lost mbufs\n");
				exit(1);
			}
			for (unsigned i = 0; i < d; i++) {
				struct rte_mbuf *m = got[i];
				uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
				uint16_t len = m->data_len;

				if (i + 1 < d)
					rte_prefetch0(rte_pktmbuf_mtod(got[i + 1], void *));
				if (dp_core_rx(&core_b, now, f, &len,
					       (uint16_t)(rte_pktmbuf_tailroom(m) + len)) == DP_VERDICT_TX)
					m->data_len = m->pkt_len = len;
				else
					bad++;
				pk[i] = m;
			}
		}
		sent = rte_eth_tx_burst(port, 0, pk, n);
		if (sent != n) {
			fprintf(stderr, "bench_dp: the loop ring lost mbufs\n");
			exit(1);
		}
		pkts += n;
	}
	vr->tsc += rte_rdtsc() - t0;
	vr->cyc[round] = (double)(rte_rdtsc() - t0) / (double)(pkts ? pkts : 1);
	vr->pkts += pkts;
	vr->bad += bad;
	if (v == V_MIX) {
		vr->timers += core_c.st.timers_fired - fired0;
		vr->emitted += q_c.emitted - em0;
	}
}

/* ------------------------------------------------------------------ checks */

/* The answer to the request must be a Binding success the remote can verify. */
static int check_stun_answer(void)
{
	uint8_t f[512];
	uint16_t len = t_stun.t[0].len;
	struct stun_msg m;
	struct ice_addr xma, want;
	uint64_t out0 = core_b.legs[0].st.pkts_out;

	memcpy(f, t_stun.t[0].hdr, 64);
	memcpy(f + 64, t_stun.payload, (size_t)(len - 64));
	if (dp_core_rx(&core_b, now_b, f, &len, sizeof(f)) != DP_VERDICT_TX)
		return -1;
	ice_addr_set_v4(&want, REMOTE_IP0, REMOTE_PORT);
	if (len <= DP_HDRS_LEN || dp_rd32(f + 30) != REMOTE_IP0 || dp_rd16(f + 36) != REMOTE_PORT ||
	    dp_rd16(f + 34) != FIRST_PORT || memcmp(f, peer_mac, 6) ||
	    stun_parse(&m, f + DP_HDRS_LEN, len - DP_HDRS_LEN, 0) != 0 ||
	    m.cls != STUN_C_SUCCESS || !m.fp_off ||
	    stun_msg_check_integrity(&m, &lkey, STUN_MI_RFC) != 0 ||
	    stun_msg_get_addr(&m, STUN_A_XOR_MAPPED_ADDRESS, &xma) != 0 || !ice_addr_eq(&xma, &want) ||
	    core_b.legs[0].st.pkts_out != out0 + 1)
		return -1;
	return 0;
}

/* A relayed frame leaves from the peer leg's port towards the peer leg's endpoint. */
static int check_relay(void)
{
	uint8_t f[512];
	uint16_t len = t_rtp_b.t[0].len;

	memcpy(f, t_rtp_b.t[0].hdr, 64);
	memcpy(f + 64, t_rtp_b.payload + 64 - DP_HDRS_LEN, (size_t)(len - 64));
	if (dp_core_rx(&core_b, now_b, f, &len, sizeof(f)) != DP_VERDICT_TX)
		return -1;
	return dp_rd32(f + 26) == GW_IP && dp_rd16(f + 34) == FIRST_PORT + 1 &&
			       dp_rd32(f + 30) == REMOTE_IP0 + 1 && dp_rd16(f + 36) == REMOTE_PORT &&
			       len == t_rtp_b.t[0].len
		       ? 0
		       : -1;
}

static void stun_templates(void)
{
	uint8_t p[200], f[300];
	struct stun_msg m;
	int n = build_check(p, sizeof(p), 0, false, 1);

	if (n < 0 || stun_parse(&m, p, (size_t)n, 0) != 0 ||
	    stun_msg_check_integrity(&m, &lkey, STUN_MI_RFC) != 0) {
		fprintf(stderr, "bench_dp: cannot build the request\n");
		exit(1);
	}
	stun_mi_off = m.mi_off;
	stun_fp_off = m.fp_off;
	t_stun.t = xcalloc(1, sizeof(*t_stun.t));
	t_stun.n = 1;
	t_stun.t[0].len = frame_to_leg(f, 0, p, (uint16_t)n);
	memcpy(t_stun.t[0].hdr, f, 64);
	memcpy(t_stun.payload, f + 64, (size_t)(t_stun.t[0].len - 64));
	if (t_stun.t[0].len > 64 + sizeof(t_stun.payload)) {
		fprintf(stderr, "bench_dp: request too long\n");
		exit(1);
	}
}

/* ------------------------------------------------------------------ main */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *v, unsigned n)
{
	double tmp[64];
	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static void mem_line(const char *what, const struct dp_core *c, uint32_t nlegs)
{
	/* the port maps (one per local address) shared by the legs; free-slot list entry; the
	 * pool of TURN state (c->max_turn legs with relays at once) shared by the legs */
	double maps = 65536.0 * sizeof(uint32_t) * c->naddr / nlegs;
	double turn = (double)c->max_turn * (sizeof(struct dp_turn_leg) + sizeof(uint32_t)) / nlegs;
	double share = (double)(sizeof(struct dp_leg) - sizeof(struct ice_agent)) + maps + turn +
		       sizeof(struct dp_tw_link) + sizeof(uint64_t) + sizeof(uint32_t);
	printf("  %-4s %u legs, %u address%s: dataplane %zu + port maps %.1f + TURN pool %.1f + "
	       "timer link %zu + rng %zu + free slot %zu = %.1f B/leg; with the agent %.0f B/leg, "
	       "%.1f MiB\n",
	       what, nlegs, c->naddr, c->naddr > 1 ? "es" : "",
	       sizeof(struct dp_leg) - sizeof(struct ice_agent), maps, turn, sizeof(struct dp_tw_link),
	       sizeof(uint64_t), sizeof(uint32_t), share, share + (double)sizeof(struct ice_agent),
	       (share + (double)sizeof(struct ice_agent)) * nlegs / 1048576.0);
}

/* (d) Wrapping one RTP packet for a relay, side by side: ChannelData, an RFC 8656 Send
 * indication (FINGERPRINT), an MS-TURN Send request (MESSAGE-INTEGRITY: one HMAC-SHA1 per
 * packet, which [MS-TURN] §3.2.4.4 asks for and libnice does), and the bare datagram the
 * active destination gets. The packet is copied in first each time, as turn_encap() does. */
enum { W_CHAN, W_SEND_IND, W_MS_SEND, W_MS_BARE, W_N };

static int wrap_bench(unsigned rounds, unsigned iters)
{
	static const char *const name[W_N] = {"ChannelData (RFC 8656 §12)",
					       "Send indication + FINGERPRINT",
					       "MS-TURN Send + MESSAGE-INTEGRITY", "MS-TURN bare (active)"};
	static struct dp_turn_leg tl;
	static struct dp_turn_cmd cmd;
	struct stun_builder b;
	struct stun_key key;
	struct ice_addr peer, other, none;
	uint8_t rtp[RTP_PAY], buf[2048], tid[16] = {1, 2, 3};
	uint8_t seq[MSTURN_MS_SEQ_LEN] = {0x11};
	double cyc[W_N][64];
	uint64_t chk = 0;

	memset(rtp, 0x5a, sizeof(rtp));
	rtp[0] = 0x80;
	ice_addr_set_v4(&peer, REMOTE_IP0, REMOTE_PORT);
	ice_addr_set_v4(&other, REMOTE_IP0 + 1, REMOTE_PORT);
	ice_addr_set_v4(&none, 0, 0);
	/* the template the control thread hands over: turn_wrap()'s order, 17-byte user */
	stun_key_init_long_term(&key, "alice@example.com", "edge.example", "s3cret-from-mras");
	stun_build_init(&b, cmd.buf, sizeof(cmd.buf), stun_type(MSTURN_M_SEND, STUN_C_REQUEST), tid,
			STUN_BF_LEGACY | STUN_BF_UNPADDED);
	stun_build_u32(&b, MSTURN_A_MAGIC_COOKIE, MSTURN_MAGIC_COOKIE_VALUE);
	stun_build_str(&b, STUN_A_USERNAME, "alice@example.com");
	stun_build_addr(&b, MSTURN_A_DESTINATION_ADDRESS, &none);
	stun_build_u32(&b, MSTURN_A_MS_VERSION, MSTURN_VERSION);
	stun_build_attr(&b, MSTURN_A_MS_SEQUENCE_NUMBER, seq, sizeof(seq));
	stun_build_str(&b, MSTURN_A_REALM, "edge.example");
	stun_build_attr(&b, TURN_A_DATA, "", 0);
	stun_build_integrity(&b, &key, STUN_MI_PAD64);
	cmd.len = (uint16_t)stun_build_finish(&b);
	cmd.ms_key = key;
	if (dp_turn_ms_install(&tl, 1, &cmd) != 0 || !dp_turn_chan_set(&tl.comp[1], &peer, 0x4000))
		return -1;
	dp_turn_ms_set_active(&tl.comp[0], &peer);
	for (unsigned r = 0; r < rounds; r++) {
		for (int w = 0; w < W_N; w++) {
			uint64_t t0 = rte_rdtsc();
			for (unsigned i = 0; i < iters; i++) {
				uint16_t h, n;
				switch (w) {
				case W_CHAN:
				case W_SEND_IND: {
					const struct ice_addr *to = w == W_CHAN ? &peer : &other;
					h = dp_turn_head_len(&tl.comp[1], to);
					memcpy(buf + h, rtp, sizeof(rtp));
					n = dp_turn_wrap(&tl.comp[1], to, buf, h, sizeof(rtp), tid);
					break;
				}
				default: {
					const struct ice_addr *to = w == W_MS_SEND ? &other : &peer;
					h = dp_turn_ms_head_len(&tl, 1, to);
					memcpy(buf + h, rtp, sizeof(rtp));
					n = dp_turn_ms_wrap(&tl, 1, to, buf, h, sizeof(rtp), tid);
					break;
				}
				}
				chk += n + buf[n - 1];
			}
			cyc[w][r] = (double)(rte_rdtsc() - t0) / iters;
		}
	}
	sink = (uint32_t)chk;
	printf("\n(d) wrapping a %u-byte RTP packet for a relay, %u rounds x %u, median TSC/pkt:\n",
	       RTP_PAY, rounds, iters);
	for (int w = 0; w < W_N; w++) {
		double m = median(cyc[w], rounds);
		printf("  %-38s %9.1f   x ChannelData %5.2f\n", name[w], m, m / median(cyc[W_CHAN], rounds));
	}
	printf("  MS-TURN Send header %u bytes + %u after the data; sequence now %u\n",
	       tl.ms.head_len, DP_MSTURN_TAIL, tl.comp[0].ms_seq);
	return 0;
}

int main(int argc, char **argv)
{
	char *eal_argv[] = {(char *)"bench_dp", (char *)"-l", (char *)"0", (char *)"--no-huge",
			    (char *)"--no-pci", (char *)"--no-shconf", (char *)"-m", (char *)"1024",
			    (char *)"--log-level=1", (char *)"--no-telemetry", NULL};
	unsigned rounds = 11, bursts = 20000;
	uint32_t legs_b = 10000, legs_c = 100000;
	bool crc_simd;
	int c, only = -1;

	while ((c = getopt(argc, argv, "qr:n:b:c:x:h")) != -1) {
		switch (c) {
		case 'q':
			rounds = 3;
			bursts = 200;
			legs_b = 100;
			legs_c = 400;
			break;
		case 'r': rounds = (unsigned)atoi(optarg); break;
		case 'n': bursts = (unsigned)atoi(optarg); break;
		case 'b': legs_b = (uint32_t)atoi(optarg); break;
		case 'c': legs_c = (uint32_t)atoi(optarg); break;
		case 'x': only = atoi(optarg); break;
		default:
			printf("usage: bench_dp [-q] [-r ROUNDS] [-n BURSTS] [-b LEGS_B] [-c LEGS_C] [-x V]\n"
			       "  -q  quick smoke run; LEGS_* even, 2..%u\n"
			       "  -x  time only variant V (0..%d, table order), for a profiler\n",
			       MAX_LEGS, V_N - 1);
			return c == 'h' ? 0 : 2;
		}
	}
	if (rounds < 1 || rounds > 64 || bursts < 1 || legs_b < 2 || legs_c < 2 ||
	    legs_b > MAX_LEGS || legs_c > MAX_LEGS || legs_b % 2 || legs_c % 2) {
		fprintf(stderr, "bench_dp: rounds 1..64, bursts >= 1, legs even in 2..%u "
				"(64 512 ports on each of two addresses)\n", MAX_LEGS);
		return 2;
	}
	if (rte_eal_init(10, eal_argv) < 0) {
		fprintf(stderr, "bench_dp: EAL init failed\n");
		return 1;
	}
	/* as dp_main.c does: DPDK's CRC-32 where the CPU has carry-less multiply */
	crc_simd = rte_cpu_get_flag_enabled(RTE_CPUFLAG_SSE4_2) > 0 &&
		   rte_cpu_get_flag_enabled(RTE_CPUFLAG_PCLMULQDQ) > 0;
	if (crc_simd) {
		rte_net_crc_set_alg(RTE_NET_CRC_SSE42);
		stun_set_crc32(crc_dpdk);
	}
	stun_key_init(&lkey, LPWD, strlen(LPWD));
	stun_key_init(&rkey, RPWD, strlen(RPWD));
	rtp_templates(&t_rtp_b, legs_b);
	rtp_templates(&t_rtp_c, legs_c);
	stun_templates();
	port_setup();
	handoff = rte_ring_create("bench_dp_handoff", 1024, (int)rte_socket_id(), RING_F_SC_DEQ);
	if (!handoff) {
		fprintf(stderr, "bench_dp: ring: %s\n", rte_strerror(rte_errno));
		return 1;
	}

	make_core(&core_b, &q_b, legs_b, 0, &now_b);
	make_core(&core_c, &q_c, legs_c, 5000000, &now_c);
	if (check_stun_answer() || check_relay()) {
		fprintf(stderr, "bench_dp: the gateway's answer / relay is not what it must be\n");
		return 1;
	}
	/* (c): run the clock until every leg has had its first consent check (RFC 7675:
	 * every 4-6 s), then as if every leg sent RTP_PPS packets a second. Stop short of
	 * the first leg's 30 s consent expiry: the endpoints do not answer consent here. */
	for (uint64_t t = now_c; t < T0 + 11000000; t += 1000000)
		dp_core_timers(&core_c, t);
	now_c = T0 + 11000000;
	dp_core_timers(&core_c, now_c);
	c_dt_us = (double)BURST * 1e6 / ((double)legs_c * RTP_PPS);
	unsigned bursts_c = bursts;
	if ((double)(bursts_c + 1) * (rounds + 1) * c_dt_us > 17e6)
		bursts_c = (unsigned)(17e6 / (c_dt_us * (rounds + 1))) - 1;
	if (bursts_c == 0)
		bursts_c = 1;

	printf("CRC-32: %s; TSC %.3f GHz; %u mbufs looping through one net_ring port, bursts of %u\n",
	       crc_simd ? "rte_net_crc SSE4.2" : "zlib", (double)rte_get_tsc_hz() / 1e9, NMBUF, BURST);
	printf("%u rounds x %u bursts ((c): %u bursts, %.2f us virtual per burst), variants "
	       "interleaved; median of rounds\n\n", rounds, bursts, bursts_c, c_dt_us);

	/* warm caches, then rounds with every variant in turn */
	if (only >= 0) {
		/* one variant, no table: what a profiler should see */
		if (only >= V_N)
			return 2;
		for (unsigned r = 0; r < rounds; r++)
			run(only, only == V_MIX || only == V_C_SWAP ? bursts_c : bursts, r);
		printf("%s: %.1f TSC/pkt (median), %" PRIu64 " packets, %" PRIu64 " not sent, %" PRIu64
		       " timers fired, %" PRIu64 " frames emitted\n", var[only].name,
		       median(var[only].cyc, rounds), var[only].pkts, var[only].bad, var[only].timers,
		       var[only].emitted);
		return var[only].bad ? 1 : 0;
	}
	for (int v = 0; v < V_N; v++)
		run(v, v == V_MIX ? 1 : bursts / 4 + 1, 0);
	for (int v = 0; v < V_N; v++)
		var[v].pkts = var[v].bad = var[v].timers = var[v].emitted = var[v].tsc =
			var[v].timer_tsc = 0;
	for (unsigned r = 0; r < rounds; r++) {
		for (int v = 0; v < V_N; v++) {
			run(v, v == V_MIX || v == V_C_SWAP ? bursts_c : bursts, r);
		}
	}
	for (int v = 0; v < V_N; v++)
		if (var[v].bad) {
			fprintf(stderr, "bench_dp: %s: %" PRIu64 " frames not transmitted\n",
				var[v].name, var[v].bad);
			return 1;
		}

	double hz = (double)rte_get_tsc_hz();
	double m[V_N];
	double lo[V_N];
	for (int v = 0; v < V_N; v++) {
		m[v] = median(var[v].cyc, rounds);
		lo[v] = var[v].cyc[0];
		for (unsigned r = 1; r < rounds; r++)
			lo[v] = var[v].cyc[r] < lo[v] ? var[v].cyc[r] : lo[v];
	}
	printf("%-40s %9s %9s %8s %9s\n", "variant", "TSC/pkt", "(min)", "Mpps", "x 5tswap");
	for (int v = 0; v < V_N; v++) {
		int b = v == V_SWAP ? V_SWAP : v <= V_HANDOFF ? V_R_SWAP : v <= V_STUN ? V_S_SWAP : V_C_SWAP;
		printf("  %-38s %9.1f %9.1f %8.2f %9.2f\n", var[v].name, m[v], lo[v], hz / m[v] / 1e6,
		       m[v] / m[b]);
	}
	printf("\n(a) dp_core answer / (2 HMAC + 2 CRC + 5tswap), same restore: %.2f (aim <= 1.3)\n",
	       m[V_STUN] / m[V_S_BASE]);
	printf("(b) relay, %u legs: %.1f TSC/pkt more than 5tswap behind the same restore "
	       "(aim: relay <= 100)\n", legs_b, m[V_RELAY] - m[V_R_SWAP]);
	printf("(d) hand-over (owner lookup + MP enqueue + SC dequeue, bursts of %u) + relay: "
	       "%.1f TSC/pkt, %.2f x (b), +%.1f TSC/pkt\n", BURST, m[V_HANDOFF],
	       m[V_HANDOFF] / m[V_RELAY], m[V_HANDOFF] - m[V_RELAY]);
	printf("(c) mix, %u legs: %.1f TSC/pkt; %" PRIu64 " timers fired in %.3f s of loop = %.0f "
	       "timers/s real (%.0f/s virtual), %" PRIu64 " frames emitted; consent lost %" PRIu64 "\n",
	       legs_c, m[V_MIX], var[V_MIX].timers, (double)var[V_MIX].tsc / hz,
	       (double)var[V_MIX].timers / ((double)var[V_MIX].tsc / hz),
	       (double)var[V_MIX].timers / ((double)var[V_MIX].pkts / ((double)legs_c * RTP_PPS)),
	       var[V_MIX].emitted, core_c.st.consent_lost);
	printf("    timer work (dp_core_timers, rdtsc around each call): %.1f TSC/pkt, %.0f TSC "
	       "per timer fired\n", (double)var[V_MIX].timer_tsc / (double)var[V_MIX].pkts,
	       var[V_MIX].timers ? (double)var[V_MIX].timer_tsc / (double)var[V_MIX].timers : 0);
	printf("\nmemory: sizeof(struct ice_agent) %zu, sizeof(struct dp_leg) %zu\n",
	       sizeof(struct ice_agent), sizeof(struct dp_leg));
	mem_line("(b)", &core_b, legs_b);
	mem_line("(c)", &core_c, legs_c);
	if (core_c.st.consent_lost) {
		fprintf(stderr, "bench_dp: consent expired during (c): run shorter\n");
		return 1;
	}
	if (wrap_bench(rounds, bursts * 4) != 0) {
		fprintf(stderr, "bench_dp: (d): the MS-TURN template was refused\n");
		return 1;
	}
	return 0;
}

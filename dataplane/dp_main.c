/* icegw: the DPDK daemon. EAL and port set-up, one run-to-completion worker per worker lcore
 * (rx burst, owner check, classify in dp_core, tx buffers drained on a TSC interval), frames
 * handed to their owner by rte_flow or by rings, telemetry, and the software mode where a
 * pcap drives both the packets and the clock. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cpuflags.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_net_crc.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_telemetry.h>

#include "ctl_config.h"
#include "ctl_metrics.h"
#include "ctl_session.h"
#include "ctl_turn.h"
#include "ng_proto.h"
#include "dp_cmd.h"
#include "dp_core.h"
#include "dp_legs.h"
#include "dp_owner.h"
#include "dp_pkt.h"
#include "icegw_config.h"
#include "ice_warn.h"
#include "stun.h"

#define BURST 32
#define TX_DRAIN_US 100          /* l3fwd's BURST_TX_DRAIN_US */
#define IDLE_POLLS_EOF 2000      /* software mode: this many empty polls = end of capture */
#define MAX_WORKERS CTL_MAX_WORKERS
#define HANDOFF_RING 4096        /* frames in flight to one worker from the others */

enum rx_mode { RX_AUTO, RX_FLOW, RX_DISPATCH };
static const char *const rx_mode_names[] = {"auto", "flow", "dispatch"};

struct opts {
	const char *legs_path;
	const char *trace_path;
	const char *tx_capture;
	uint32_t ip;
	uint64_t seed;
	uint32_t max_legs;
	uint32_t turn_legs;       /* legs with TURN state at once, per worker (0: a quarter) */
	uint32_t linger_ms;
	double duration_s;
	bool pcap_clock;         /* software mode: time from packet timestamps */
	bool pcap_clock_set;
	bool quiet;
	const char *ng;           /* NG control socket address (enables the control thread) */
	const char *metrics;      /* Prometheus endpoint address (TCP) */
	const char *ng_tcp;       /* NG over TCP (stream of "<cookie> <dict>" messages) */
	uint32_t adv_ip;
	uint16_t port_min, port_max;
	uint32_t max_sessions;
	enum rx_mode rx_mode;
	uint32_t extra_ip[DP_MAX_IFACES - 1]; /* interfaces after the first (config file) */
	uint32_t extra_adv[DP_MAX_IFACES - 1]; /* their advertised addresses (0 = local) */
	unsigned n_extra;
	char iface_name[DP_MAX_IFACES][CTL_CFG_IFACE_NAME]; /* NG direction names them */
};

struct worker {
	struct dp_core core;
	struct rte_ring *cmd_ring;   /* control -> worker (single producer, single consumer) */
	struct rte_ring *done_ring;  /* worker -> control: commands handed back */
	struct rte_ring *handoff;    /* other workers -> this one: its frames (MP, SC) */
	uint16_t port, rxq, txq;
	bool polls_rx;            /* owns rx queue rxq (workers past the port's queues do not) */
	unsigned idx;             /* worker index: owner of the UDP ports dp_owner() gives it */
	int socket;
	struct rte_mempool *pool; /* its NUMA socket's pool */
	struct rte_mbuf *tx[BURST];
	uint16_t ntx;
	uint64_t tx_dropped;
	uint64_t last_drain_tsc;
	/* frames received here that another worker owns, flushed once per burst */
	struct rte_mbuf *ho[MAX_WORKERS][BURST];
	uint16_t nho[MAX_WORKERS];
	uint64_t handoff_out, handoff_in, handoff_drops, arp_shared;
	pcap_dumper_t *cap;      /* --tx-capture: what was sent, stamped with the run's clock */
	pcap_t *cap_pcap;
	FILE *trace;
	uint64_t first_us, last_us;
	uint64_t rx_frames;
	unsigned lcore;           /* where the worker loop runs */
	bool input_done;
};

static volatile bool stop;
static bool single_lcore_control;   /* one lcore: the worker polls the control socket too */
static struct opts O;
static struct worker *WK[MAX_WORKERS];
static unsigned NW = 1;          /* workers: one per worker lcore (all but main), at least 1 */
static struct worker *W;         /* WK[0] */
static enum rx_mode rx_mode_used = RX_DISPATCH;
static uint16_t n_rxq = 1;
static int alloc_socket;         /* where zalloc puts a core's memory while it is set up */
/* software mode with several workers: worker 0 receives, hands frames over and publishes
 * the capture time it has reached; the others fire their timers up to it */
static uint64_t pcap_now_us;
static bool pcap_eof;
static int ts_off = -1;
static uint64_t ts_flag;
static uint64_t tsc_hz;

static void on_signal(int sig)
{
	(void)sig;
	stop = true;
}

static void *zalloc(size_t n, size_t size)
{
	return rte_zmalloc_socket("icegw", n * size, RTE_CACHE_LINE_SIZE, alloc_socket);
}

static uint32_t dpdk_crc32(const uint8_t *p, size_t len)
{
	return rte_net_crc_calc(p, (uint32_t)len, RTE_NET_CRC32_ETH);
}

static void zfree(void *p)
{
	rte_free(p);
}

static uint64_t tsc_us(void)
{
	return rte_get_tsc_cycles() / (tsc_hz / 1000000);
}

static void tx_flush(struct worker *w)
{
	uint16_t sent;

	if (!w->ntx)
		return;
	sent = rte_eth_tx_burst(w->port, w->txq, w->tx, w->ntx);
	if (unlikely(sent < w->ntx)) {
		/* the packet path never blocks: what cannot be sent is counted and freed */
		w->tx_dropped += (uint64_t)(w->ntx - sent);
		w->core.st.drops[DP_DROP_TX_FULL] += (uint64_t)(w->ntx - sent);
		rte_pktmbuf_free_bulk(&w->tx[sent], w->ntx - sent);
	}
	w->core.st.tx += sent;
	w->ntx = 0;
}

static void tx_capture(struct worker *w, const uint8_t *f, uint16_t len)
{
	struct pcap_pkthdr h;

	if (!w->cap)
		return;
	h.ts.tv_sec = (time_t)(w->core.now / 1000000);
	h.ts.tv_usec = (suseconds_t)(w->core.now % 1000000);
	h.caplen = h.len = len;
	pcap_dump((u_char *)w->cap, &h, f);
}

static void tx_enqueue(struct worker *w, struct rte_mbuf *m)
{
	tx_capture(w, rte_pktmbuf_mtod(m, const uint8_t *), (uint16_t)rte_pktmbuf_data_len(m));
	w->tx[w->ntx++] = m;
	if (w->ntx == BURST)
		tx_flush(w);
}

/* Frames the core makes itself: a fresh mbuf each (from the pool, not the heap). */
static void emit(void *ctx, const uint8_t *frame, uint16_t len)
{
	struct worker *w = ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->pool);
	char *d;

	if (unlikely(!m)) {
		w->core.st.drops[DP_DROP_TX_FULL]++;
		return;
	}
	d = rte_pktmbuf_append(m, len);
	if (unlikely(!d)) {
		rte_pktmbuf_free(m);
		w->core.st.drops[DP_DROP_TX_FULL]++;
		return;
	}
	memcpy(d, frame, len);
	tx_enqueue(w, m);
}

static void trace_to_file(void *ctx, const char *line)
{
	struct worker *w = ctx;

	if (w->trace)
		fprintf(w->trace, "%s\n", line);
}

static inline uint64_t pkt_time_us(const struct rte_mbuf *m, uint64_t fallback)
{
	if (ts_off >= 0 && (m->ol_flags & ts_flag)) {
		uint64_t t = *RTE_MBUF_DYNFIELD(m, ts_off, const rte_mbuf_timestamp_t *);
		/* DPDK 22.11's net_pcap gives microseconds; later releases nanoseconds. A
		 * capture's epoch time tells them apart (1e17 us is year 5138). */
		return t >= 100000000000000000ull ? t / 1000 : t;
	}
	return fallback;
}

static inline void handle(struct worker *w, struct rte_mbuf *m, uint64_t now)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	uint16_t len = rte_pktmbuf_data_len(m);
	uint16_t cap = (uint16_t)(rte_pktmbuf_tailroom(m) + len);
	enum dp_verdict v;

	if (unlikely(m->nb_segs != 1)) {
		w->core.st.drops[DP_DROP_TOO_BIG]++;
		rte_pktmbuf_free(m);
		return;
	}
	v = dp_core_rx(&w->core, now, f, &len, cap);
	if (v == DP_VERDICT_TX) {
		m->data_len = len;
		m->pkt_len = len;
		tx_enqueue(w, m);
	} else {
		rte_pktmbuf_free(m);
	}
}

/* ------------------------------------------------------------------ ownership */

#define OWNER_ALL (-1)      /* an ARP reply: every worker learns the sender */
#define OWNER_ARP_ASK (-2)  /* an ARP request for us: answered here, learned everywhere */

/* Which worker a frame belongs to: a UDP datagram to the owner of its destination port, ARP
 * (a next hop learned) to every worker, anything else (malformed or foreign frames) to the
 * worker that received it, which counts it. */
static inline int frame_owner(const struct worker *w, const struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *), *ip = f + DP_ETH_LEN;
	uint16_t len = rte_pktmbuf_data_len(m), ihl;

	if (NW == 1 || len < DP_ETH_LEN + 28)
		return (int)w->idx;
	switch (dp_rd16(f + 12)) {
	case DP_ETHERTYPE_ARP:
		if (dp_rd16(ip + 6) == 2) /* RFC 826 op 2: reply */
			return OWNER_ALL;
		for (unsigned a = 0; a < w->core.naddr; a++)
			if (dp_rd32(ip + 24) == w->core.ips[a])
				return OWNER_ARP_ASK;
		return (int)w->idx;
	case DP_ETHERTYPE_IP4:
		break;
	default:
		return (int)w->idx;
	}
	ihl = (uint16_t)((ip[0] & 0xf) * 4);
	if ((ip[0] >> 4) != 4 || ip[9] != 17 || (dp_rd16(ip + 6) & 0x3fff) || ihl < DP_IP4_LEN ||
	    len < DP_ETH_LEN + ihl + DP_UDP_LEN)
		return (int)w->idx;
	return (int)dp_owner(dp_rd16(ip + ihl + 2), NW);
}

static void ho_flush_one(struct worker *w, unsigned o)
{
	unsigned n = w->nho[o], sent;

	sent = rte_ring_mp_enqueue_burst(WK[o]->handoff, (void **)w->ho[o], n, NULL);
	/* a replay must not lose frames: the owner drains its ring without waiting on anyone */
	while (O.pcap_clock && sent < n && !stop) {
		rte_pause();
		sent += rte_ring_mp_enqueue_burst(WK[o]->handoff, (void **)&w->ho[o][sent], n - sent,
						  NULL);
	}
	w->handoff_out += sent;
	if (unlikely(sent < n)) {
		/* the owner is behind: counted and freed, never waited for */
		w->handoff_drops += n - sent;
		rte_pktmbuf_free_bulk(&w->ho[o][sent], n - sent);
	}
	w->nho[o] = 0;
}

static inline void ho_add(struct worker *w, unsigned o, struct rte_mbuf *m)
{
	w->ho[o][w->nho[o]++] = m;
	if (unlikely(w->nho[o] == BURST))
		ho_flush_one(w, o);
}

static inline void ho_flush(struct worker *w)
{
	for (unsigned o = 0; o < NW; o++)
		if (w->nho[o])
			ho_flush_one(w, o);
}

/* A received frame: handled here if this worker owns it, else handed to its owner. */
static inline void route(struct worker *w, struct rte_mbuf *m, uint64_t now)
{
	int o = frame_owner(w, m);

	if (likely(o == (int)w->idx)) {
		handle(w, m, now);
		return;
	}
	if (o == OWNER_ALL) {
		/* every core keeps its own ARP table (no locks): each reads the same reply,
		 * which dp_core never writes, so the mbuf is shared by reference */
		rte_mbuf_refcnt_update(m, (int16_t)(NW - 1));
		for (unsigned k = 0; k < NW; k++)
			if (k != w->idx)
				ho_add(w, k, m);
		w->arp_shared++;
		handle(w, m, now);
		return;
	}
	if (o == OWNER_ARP_ASK) {
		/* RFC 826: the asker's address is learned as the request is answered. The
		 * answer rewrites the frame, so the others get a copy turned into the reply
		 * they learn from (and do not answer twice) */
		struct rte_mbuf *c = rte_pktmbuf_copy(m, w->pool, 0, UINT32_MAX);

		if (likely(c != NULL)) {
			dp_wr16(rte_pktmbuf_mtod(c, uint8_t *) + DP_ETH_LEN + 6, 2);
			if (NW > 2)
				rte_mbuf_refcnt_update(c, (int16_t)(NW - 2));
			for (unsigned k = 0; k < NW; k++)
				if (k != w->idx)
					ho_add(w, k, c);
			w->arp_shared++;
		} else {
			w->handoff_drops += NW - 1;
		}
		handle(w, m, now);
		return;
	}
	ho_add(w, (unsigned)o, m);
}

/* Software mode: the worker's clock moves to a frame's capture time (never back, for a
 * capture that steps back in time) and the timers due by then fire. */
static inline uint64_t pcap_advance(struct worker *w, const struct rte_mbuf *m)
{
	uint64_t now = pkt_time_us(m, w->last_us);

	if (now < w->last_us)
		now = w->last_us;
	if (!w->first_us)
		w->first_us = now;
	w->last_us = now;
	dp_core_timers(&w->core, now);
	w->core.now = now;
	return now;
}

/* Frames other workers handed over, processed as this worker's own rx. In software mode
 * each carries its capture time (the rx timestamp dynfield travels with the mbuf). */
static inline unsigned handoff_poll(struct worker *w, uint64_t now)
{
	struct rte_mbuf *m[BURST];
	unsigned n = rte_ring_sc_dequeue_burst(w->handoff, (void **)m, BURST, NULL);

	for (unsigned i = 0; i < n; i++) {
		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(m[i + 1], void *));
		if (O.pcap_clock)
			now = pcap_advance(w, m[i]);
		handle(w, m[i], now);
	}
	w->handoff_in += n;
	return n;
}

/* Apply control commands between bursts: a few at a time so a burst of offers cannot
 * starve the packet path. */
static inline void worker_commands(struct worker *w, uint64_t now)
{
	void *cmds[16];
	unsigned n;

	if (!w->cmd_ring)
		return;
	n = rte_ring_sc_dequeue_burst(w->cmd_ring, cmds, 16, NULL);
	for (unsigned i = 0; i < n; i++) {
		dp_cmd_apply(&w->core, cmds[i], now);
		/* the done ring has room for every command in flight: it cannot be full */
		rte_ring_sp_enqueue(w->done_ring, cmds[i]);
	}
}

static void control_poll(void);

/* Software mode: the capture is over at last_us; let the timers play out in capture time. */
static void pcap_finish(struct worker *w, uint64_t last_us)
{
	uint64_t end = last_us + (uint64_t)O.linger_ms * 1000;

	dp_core_timers(&w->core, end);
	w->core.now = end;
	tx_flush(w);
	w->input_done = true;
}

/* Software mode, a worker without the rx queue: it runs what worker 0 hands over, and fires
 * its timers up to the capture time worker 0 has published. Every frame stamped before that
 * time was enqueued before it was published, so draining the ring after reading it keeps
 * this core's frames and timers in the order a single core would see them. */
static int pcap_follower(struct worker *w)
{
	while (!stop) {
		uint64_t t = __atomic_load_n(&pcap_now_us, __ATOMIC_ACQUIRE);
		bool eof = __atomic_load_n(&pcap_eof, __ATOMIC_ACQUIRE);

		if (eof)
			t = __atomic_load_n(&pcap_now_us, __ATOMIC_ACQUIRE);
		while (handoff_poll(w, 0) > 0)
			;
		if (t > w->last_us) {
			dp_core_timers(&w->core, t);
			w->last_us = t;
		}
		tx_flush(w);
		if (eof) {
			pcap_finish(w, t);
			break;
		}
		rte_pause();
	}
	tx_flush(w);
	return 0;
}

static void resolve_turn_servers(struct worker *w, uint64_t now);

static int worker_main(void *arg)
{
	struct worker *w = arg;
	struct rte_mbuf *pkts[BURST];
	uint64_t drain_tsc = (tsc_hz + 999999) / 1000000 * TX_DRAIN_US;
	uint64_t end_tsc = O.duration_s > 0 ? rte_get_tsc_cycles() + (uint64_t)(O.duration_s * (double)tsc_hz) : 0;
	unsigned idle = 0;

	w->lcore = rte_lcore_id();
	if (O.pcap_clock && !w->polls_rx)
		return pcap_follower(w);
	if (!O.pcap_clock)
		resolve_turn_servers(w, tsc_us());
	while (!stop) {
		uint16_t n = w->polls_rx ? rte_eth_rx_burst(w->port, w->rxq, pkts, BURST) : 0;
		uint64_t now;

		if (O.pcap_clock) {
			if (n == 0) {
				if (++idle >= IDLE_POLLS_EOF) {
					/* the capture is over: tell the other workers, then finish */
					__atomic_store_n(&pcap_now_us, w->last_us, __ATOMIC_RELEASE);
					__atomic_store_n(&pcap_eof, true, __ATOMIC_RELEASE);
					pcap_finish(w, w->last_us);
					break;
				}
				continue;
			}
			idle = 0;
			for (uint16_t i = 0; i < n; i++) {
				now = pcap_advance(w, pkts[i]);
				w->rx_frames++;
				route(w, pkts[i], now);
			}
			if (NW > 1) {
				ho_flush(w);
				__atomic_store_n(&pcap_now_us, w->last_us, __ATOMIC_RELEASE);
			}
			tx_flush(w);
			continue;
		}

		now = tsc_us();
		dp_core_timers(&w->core, now);
		worker_commands(w, now);
		if (single_lcore_control)
			control_poll();
		for (uint16_t i = 0; i < n; i++) {
			if (i + 1 < n)
				rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
			w->rx_frames++;
			route(w, pkts[i], now);
		}
		if (NW > 1) {
			ho_flush(w);
			handoff_poll(w, now);
		}
		{
			uint64_t t = rte_get_tsc_cycles();
			if (t - w->last_drain_tsc > drain_tsc) {
				tx_flush(w);
				w->last_drain_tsc = t;
			}
			if (end_tsc && t > end_tsc)
				break;
		}
	}
	tx_flush(w);
	return 0;
}


/* ------------------------------------------------------------------ control thread */

static struct ctl *CTL;
/* ring entries one NG request may need: a re-offer of 16 sections deletes, creates and
 * describes 2 legs each */
#define NG_CMD_RESERVE 128
static int ng_fd = -1;
static int metrics_fd = -1;          /* Prometheus scrape endpoint (--metrics), TCP */
static int ng_tcp_fd = -1;           /* NG over TCP listener (--ng-tcp) */
#define NG_TCP_CONNS 16
static struct ng_tcp_conn {
	int fd;
	struct ng_stream st;
	char buf[65536 + 4096];
} ng_conns[NG_TCP_CONNS];
static unsigned workers_left;       /* launched workers still running */
static uint64_t last_poll_tsc;

/* Can every worker's command ring take a whole request's commands? (A request goes to the
 * worker of its call, unknown before it is parsed.) */
static bool cmd_rings_have_room(void)
{
	for (unsigned w = 0; w < NW; w++)
		if (rte_ring_free_count(WK[w]->cmd_ring) < NG_CMD_RESERVE)
			return false;
	return true;
}

/* ---- TURN responses worker -> control: preallocated buffers on two rings (no malloc on the
 * worker); a full ring drops the response (counted) and the client retransmits. */
#define TURN_MSGS 1024
struct turn_msg {
	uint32_t leg;
	uint8_t worker;
	uint8_t comp;
	uint16_t len;
	struct ice_addr from;
	uint8_t data[1500];
};
static struct ctl_turn_cfg TURN_CFG;
static uint64_t mono_ms(void);
static struct turn_msg *turn_msgs;
static struct rte_ring *turn_free, *turn_up_ring;

/* Each worker asks ARP for the configured TURN servers as it starts (each core keeps its own
 * table): the first Allocate of the first relayed offer then finds the server's MAC instead
 * of being dropped and sent again at its first retransmission, 500 ms later. */
static void resolve_turn_servers(struct worker *w, uint64_t now)
{
	for (unsigned i = 0; i < TURN_CFG.n_server; i++)
		if (TURN_CFG.server[i].family == ICE_AF_INET)
			dp_core_arp_resolve(&w->core, ice_addr_v4(&TURN_CFG.server[i]), 0, now);
	tx_flush(w);
}

static int turn_up(void *ctx, uint32_t leg, uint8_t comp, const struct ice_addr *from,
		   const uint8_t *p, uint16_t len)
{
	struct turn_msg *m;

	if (len > sizeof(m->data) || rte_ring_mc_dequeue(turn_free, (void **)&m) != 0)
		return -ENOBUFS;
	m->worker = (uint8_t)((const struct worker *)ctx)->idx;
	m->leg = leg;
	m->comp = comp;
	m->from = *from;
	m->len = len;
	memcpy(m->data, p, len);
	rte_ring_mp_enqueue(turn_up_ring, m); /* as many slots as buffers: cannot be full */
	return 0;
}

static int turn_rings_init(void)
{
	if (!TURN_CFG.n_server)
		return 0;
	turn_msgs = rte_zmalloc("icegw_turn", TURN_MSGS * sizeof(*turn_msgs), RTE_CACHE_LINE_SIZE);
	/* any worker takes buffers and queues them up; the control thread alone gives back */
	turn_free = rte_ring_create("icegw_turn_free", TURN_MSGS * 2, (int)rte_socket_id(),
				    RING_F_SP_ENQ);
	turn_up_ring = rte_ring_create("icegw_turn_up", TURN_MSGS * 2, (int)rte_socket_id(),
				       RING_F_SC_DEQ);
	if (!turn_msgs || !turn_free || !turn_up_ring)
		return -ENOMEM;
	for (unsigned i = 0; i < TURN_MSGS; i++)
		rte_ring_sp_enqueue(turn_free, &turn_msgs[i]);
	for (unsigned w = 0; w < NW; w++) {
		WK[w]->core.turn_up = turn_up;
		WK[w]->core.turn_up_ctx = WK[w];
	}
	return 0;
}

static void turn_drain(void)
{
	void *m[32];
	unsigned n;

	if (!turn_up_ring)
		return;
	while ((n = rte_ring_sc_dequeue_burst(turn_up_ring, m, 32, NULL)) > 0)
		for (unsigned i = 0; i < n; i++) {
			struct turn_msg *t = m[i];
			ctl_turn_rx(CTL, t->worker, t->leg, t->comp, &t->from, t->data, t->len, mono_ms());
			rte_ring_sp_enqueue(turn_free, t);
		}
}

/* A deferred NG reply (an offer that waited for its relays) to whoever asked: a UDP peer's
 * sockaddr, or "T" and a TCP connection's index. */
static void ng_send_deferred(void)
{
	static char out[65536];
	struct ctl_peer peer;
	size_t rl;

	while ((rl = ctl_poll(CTL, mono_ms(), out, sizeof(out), &peer)) > 0) {
		if (peer.len == 2 && peer.addr[0] == 'T') {
			if (peer.addr[1] < NG_TCP_CONNS && ng_conns[peer.addr[1]].fd >= 0)
				(void)send(ng_conns[peer.addr[1]].fd, out, rl, MSG_NOSIGNAL);
		} else if (peer.len) {
			sendto(ng_fd, out, rl, 0, (struct sockaddr *)peer.addr, peer.len);
		}
	}
}

static int be_submit(void *ctx, unsigned w, struct dp_cmd *cmd)
{
	(void)ctx;
	if (w >= NW)
		return -EINVAL;
	return rte_ring_sp_enqueue(WK[w]->cmd_ring, cmd) == 0 ? 0 : -EBUSY;
}

static const struct dp_core *be_core(void *ctx, unsigned w)
{
	(void)ctx;
	return w < NW ? &WK[w]->core : NULL;
}

static const struct dp_leg *be_view(void *ctx, unsigned w, uint32_t slot)
{
	(void)ctx;
	if (w >= NW)
		return NULL;
	return slot < WK[w]->core.max_legs ? &WK[w]->core.legs[slot] : NULL;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One scrape: read the request (bounded in size and time), answer, close. */
static void metrics_serve(void)
{
	static char req[8192], body[65536], resp[70000];
	int fd = accept4(metrics_fd, NULL, NULL, SOCK_CLOEXEC);
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	size_t len = 0;
	long blen, n;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < sizeof(req) && !ctl_metrics_http_ready(req, len)) {
		ssize_t r = recv(fd, req + len, sizeof(req) - len, 0);
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	{
		const struct dp_core *cores[MAX_WORKERS];
		for (unsigned i = 0; i < NW; i++)
			cores[i] = &WK[i]->core;
		blen = ctl_metrics_render(body, sizeof(body), ctl_stats(CTL), cores, NW);
	}
	n = ctl_metrics_http(req, len, resp, sizeof(resp), blen > 0 ? body : NULL,
			     blen > 0 ? (size_t)blen : 0);
	if (n > 0)
		(void)send(fd, resp, (size_t)n, MSG_NOSIGNAL);
	close(fd);
}

/* NG over TCP: accept into a free slot, then read what each connection has and answer every
 * complete message on the same stream. A connection sending garbage or too much is closed. */
static void ng_tcp_serve(void)
{
	static char out[65536];
	int fd;

	while ((fd = accept4(ng_tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		unsigned i;
		for (i = 0; i < NG_TCP_CONNS && ng_conns[i].fd >= 0; i++)
			;
		if (i == NG_TCP_CONNS) {
			close(fd); /* full: the proxy reconnects or uses UDP */
			continue;
		}
		ng_conns[i].fd = fd;
		ng_stream_init(&ng_conns[i].st, ng_conns[i].buf, sizeof(ng_conns[i].buf));
	}
	for (unsigned i = 0; i < NG_TCP_CONNS; i++) {
		struct ng_tcp_conn *cn = &ng_conns[i];
		char in[8192];
		ssize_t r;
		bool bad = false;

		if (cn->fd < 0)
			continue;
		while ((r = recv(cn->fd, in, sizeof(in), MSG_DONTWAIT)) > 0) {
			const char *msg;
			long n;
			if (ng_stream_feed(&cn->st, in, (size_t)r) < 0) {
				bad = true;
				break;
			}
			while ((n = ng_stream_next(&cn->st, &msg)) > 0) {
				struct ctl_peer peer = {.len = 2, .addr = {'T', (uint8_t)i}};
				bool pending;
				size_t rl = ctl_handle_from(CTL, msg, (size_t)n, out, sizeof(out), mono_ms(),
							    &peer, &pending);
				if (rl && send(cn->fd, out, rl, MSG_NOSIGNAL) < 0)
					bad = true;
			}
			if (n < 0)
				bad = true;
			if (bad)
				break;
		}
		if (bad || r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			close(cn->fd);
			cn->fd = -1;
		}
	}
}

/* One round of control work: commands handed back, then up to 32 NG datagrams. */
static void control_poll(void)
{
	static char in[65536], out[65536];
	void *done[64];
	unsigned n;

	if (single_lcore_control) {
		/* sharing the worker's core: at most once a millisecond */
		uint64_t t = rte_get_tsc_cycles();
		if (t - last_poll_tsc < tsc_hz / 1000)
			return;
		last_poll_tsc = t;
	}
	for (unsigned w = 0; w < NW; w++)
		while ((n = rte_ring_sc_dequeue_burst(WK[w]->done_ring, done, 64, NULL)) > 0)
			for (unsigned i = 0; i < n; i++)
				ctl_cmd_done(CTL, done[i]);
	for (int k = 0; k < 32; k++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t r;
		size_t rl;

		/* backpressure: while the worker's ring could not take a whole request's commands,
		 * requests wait in the socket (then the client retransmits) rather than being
		 * refused "worker busy" (docs/benchmarks.md, icegw-load) */
		if (!cmd_rings_have_room())
			break;
		r = recvfrom(ng_fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
		if (r <= 0)
			break;
		{
			struct ctl_peer peer;
			bool pending;

			peer.len = fl <= sizeof(peer.addr) ? (uint32_t)fl : 0;
			memcpy(peer.addr, &from, peer.len);
			rl = ctl_handle_from(CTL, in, (size_t)r, out, sizeof(out), mono_ms(), &peer,
					     &pending);
		}
		if (rl)
			sendto(ng_fd, out, rl, 0, (struct sockaddr *)&from, fl);
	}
	turn_drain();
	ng_send_deferred();
	if (metrics_fd >= 0)
		metrics_serve();
	if (ng_tcp_fd >= 0 && cmd_rings_have_room())
		ng_tcp_serve();
}

static int ng_open(const char *spec, int type, const char *what)
{
	struct ice_addr a;
	struct sockaddr_in sin;
	int fd, one = 1;

	if (ice_addr_parse(&a, spec) || a.family != ICE_AF_INET || !a.port) {
		fprintf(stderr, "icegw: %s: '%s' must be IPv4:PORT\n", what, spec);
		return -1;
	}
	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(a.port);
	memcpy(&sin.sin_addr, a.ip, 4);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 16) < 0)) {
		fprintf(stderr, "icegw: %s %s: %s\n", what, spec, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int worker_launch(void *arg)
{
	int r = worker_main(arg);

	__atomic_fetch_sub(&workers_left, 1, __ATOMIC_RELEASE);
	return r;
}

/* The main lcore's loop when a worker lcore runs the packets. */
static void control_main(void)
{
	struct pollfd pfd = {.fd = ng_fd, .events = POLLIN};

	while (!stop && __atomic_load_n(&workers_left, __ATOMIC_ACQUIRE) == NW) {
		poll(&pfd, 1, 1);
		control_poll();
	}
	stop = true;
}

/* ------------------------------------------------------------------ telemetry */

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct dp_core_stats s;
	uint64_t legs = 0, handoff_drops = 0;

	(void)cmd;
	(void)params;
	/* summed over the workers, each read without a lock (a counter may be a moment old) */
	memset(&s, 0, sizeof(s));
	for (unsigned w = 0; w < NW; w++) {
		const struct dp_core_stats *c = &WK[w]->core.st;
		s.rx += c->rx;
		s.tx += c->tx;
		s.tx_generated += c->tx_generated;
		s.ice_completed += c->ice_completed;
		s.ice_failed += c->ice_failed;
		s.consent_lost += c->consent_lost;
		s.arp_replies += c->arp_replies;
		s.arp_requests += c->arp_requests;
		for (int i = 0; i < DP_DROP_MAX; i++)
			s.drops[i] += c->drops[i];
		legs += WK[w]->core.active;
		handoff_drops += WK[w]->handoff_drops;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx", s.rx);
	rte_tel_data_add_dict_u64(d, "tx", s.tx);
	rte_tel_data_add_dict_u64(d, "tx_generated", s.tx_generated);
	rte_tel_data_add_dict_u64(d, "legs", legs);
	rte_tel_data_add_dict_u64(d, "workers", NW);
	rte_tel_data_add_dict_u64(d, "ice_completed", s.ice_completed);
	rte_tel_data_add_dict_u64(d, "ice_failed", s.ice_failed);
	rte_tel_data_add_dict_u64(d, "consent_lost", s.consent_lost);
	rte_tel_data_add_dict_u64(d, "arp_replies", s.arp_replies);
	rte_tel_data_add_dict_u64(d, "arp_requests", s.arp_requests);
	rte_tel_data_add_dict_u64(d, "handoff_drops", handoff_drops);
	for (int i = 0; i < DP_DROP_MAX; i++) {
		static const char *const ids[DP_DROP_MAX] = {
#define _(n, str) [DP_DROP_##n] = #n,
			foreach_dp_drop
#undef _
		};
		char k[48];
		size_t j;
		/* drop_not_ip, drop_wrong_source, ...: the X-macro names, lower case */
		snprintf(k, sizeof(k), "drop_%s", ids[i]);
		for (j = 5; k[j]; j++)
			k[j] = (char)(k[j] >= 'A' && k[j] <= 'Z' ? k[j] + 32 : k[j]);
		rte_tel_data_add_dict_u64(d, k, s.drops[i]);
	}
	return 0;
}

static int tel_legs(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	for (unsigned w = 0; w < NW; w++)
		for (uint32_t i = 0; i < WK[w]->core.nlegs; i++)
			if (WK[w]->core.legs[i].flags & DP_LEG_USED)
				rte_tel_data_add_array_string(d, WK[w]->core.legs[i].name);
	return 0;
}

static const char *state_name(const struct dp_leg *l)
{
	if (!(l->flags & DP_LEG_ICE))
		return "no-ice";
	switch (ice_agent_state(&l->agent)) {
	case ICE_STATE_NEW: return "new";
	case ICE_STATE_RUNNING: return "running";
	case ICE_STATE_COMPLETED: return "completed";
	default: return "failed";
	}
}

static int tel_leg(const char *cmd, const char *params, struct rte_tel_data *d)
{
	int i;
	const struct dp_leg *l;
	char a[ICE_ADDR_STRLEN];

	unsigned w;

	(void)cmd;
	if (!params)
		return -1;
	for (w = 0, i = -1; w < NW && i < 0; w++)
		i = dp_core_find_leg(&WK[w]->core, params);
	if (i < 0)
		return -1;
	l = &WK[w - 1]->core.legs[i];
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", l->name);
	rte_tel_data_add_dict_u64(d, "worker", w - 1);
	rte_tel_data_add_dict_u64(d, "port", l->port);
	rte_tel_data_add_dict_string(d, "ice_state", state_name(l));
	rte_tel_data_add_dict_u64(d, "icewarn", ice_agent_warn(&l->agent));
	rte_tel_data_add_dict_string(d, "media_remote", ice_addr_fmt(&l->media_remote[0], a, sizeof(a)));
	rte_tel_data_add_dict_u64(d, "pkts_in", l->st.pkts_in);
	rte_tel_data_add_dict_u64(d, "pkts_out", l->st.pkts_out);
	rte_tel_data_add_dict_u64(d, "rtp_in", l->st.rtp_in);
	rte_tel_data_add_dict_u64(d, "stun_in", l->st.stun_in);
	rte_tel_data_add_dict_u64(d, "rtp_received", l->rtp.received);
	rte_tel_data_add_dict_u64(d, "rtp_jitter_ts", l->rtp.jitter >> 4);
	return 0;
}

static int tel_lcores(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "workers", NW);
	rte_tel_data_add_dict_string(d, "rx_mode", NW > 1 ? rx_mode_names[rx_mode_used] : "single");
	rte_tel_data_add_dict_u64(d, "rx_queues", n_rxq);
	/* DPDK 22.11 nests only arrays: one array per counter, indexed by worker */
#define foreach_lcore_counter                                                                  \
	_(lcore, k->lcore) _(socket, (uint64_t)k->socket) _(legs, k->core.active)            \
	_(rx_frames, k->rx_frames) _(rx, k->core.st.rx) _(tx, k->core.st.tx)                 \
	_(handoff_in, k->handoff_in) _(handoff_out, k->handoff_out)                          \
	_(handoff_drops, k->handoff_drops) _(timers_armed, k->core.tw.armed)                 \
	_(timers_fired, k->core.st.timers_fired)
#define _(key, val)                                                                            \
	{                                                                                      \
		struct rte_tel_data *x = rte_tel_data_alloc();                                 \
		if (!x)                                                                        \
			return -ENOMEM;                                                        \
		rte_tel_data_start_array(x, RTE_TEL_U64_VAL);                                  \
		for (unsigned w = 0; w < NW; w++) {                                            \
			const struct worker *k = WK[w];                                        \
			rte_tel_data_add_array_u64(x, val);                                    \
		}                                                                              \
		if (rte_tel_data_add_dict_container(d, #key, x, 0) < 0)                        \
			rte_tel_data_free(x);                                                  \
	}
	foreach_lcore_counter
#undef _
	return 0;
}

/* ------------------------------------------------------------------ report */

static void report_legs(const struct dp_core *c);

static void report(void)
{
	struct dp_core_stats t;
	uint64_t frames = 0, tx_dropped = 0;

	memset(&t, 0, sizeof(t));
	for (unsigned w = 0; w < NW; w++) {
		const struct dp_core_stats *s = &WK[w]->core.st;
		t.rx += s->rx;
		t.tx += s->tx;
		t.tx_generated += s->tx_generated;
		t.arp_replies += s->arp_replies;
		t.arp_requests += s->arp_requests;
		t.ice_completed += s->ice_completed;
		t.ice_failed += s->ice_failed;
		t.consent_lost += s->consent_lost;
		for (int k = 0; k < DP_DROP_MAX; k++)
			t.drops[k] += s->drops[k];
		frames += WK[w]->rx_frames;
		tx_dropped += WK[w]->tx_dropped;
	}
	printf("\n== icegw session report (%s mode)\n", O.pcap_clock ? "software/pcap" : "live");
	if (O.pcap_clock && W->last_us >= W->first_us)
		printf("   %" PRIu64 " frames in over %.3f s of capture time\n", frames,
		       (double)(W->last_us - W->first_us) / 1e6);
	printf("   rx %" PRIu64 "  tx %" PRIu64 " (of which generated by ICE %" PRIu64
	       ")  ARP replies %" PRIu64 ", requests %" PRIu64 "\n",
	       t.rx, t.tx, t.tx_generated, t.arp_replies, t.arp_requests);
	printf("   ICE: %" PRIu64 " legs completed, %" PRIu64 " failed, %" PRIu64 " consent lost\n",
	       t.ice_completed, t.ice_failed, t.consent_lost);
	if (NW > 1) {
		printf("   rx mode %s, %u rx queues\n", rx_mode_names[rx_mode_used], n_rxq);
		for (unsigned w = 0; w < NW; w++) {
			const struct worker *k = WK[w];
			printf("   worker %u (lcore %u, socket %d): %u legs, rx %" PRIu64 " tx %" PRIu64
			       ", handed over in %" PRIu64 " out %" PRIu64 " dropped %" PRIu64 "\n",
			       w, k->lcore, k->socket, k->core.active, k->core.st.rx, k->core.st.tx,
			       k->handoff_in, k->handoff_out, k->handoff_drops);
		}
	}
	printf("\n");
	for (unsigned w = 0; w < NW; w++)
		report_legs(&WK[w]->core);
	{
		bool any = false;
		for (int k = 0; k < DP_DROP_MAX; k++)
			if (t.drops[k]) {
				if (!any)
					printf("\ngateway drops by reason:\n");
				any = true;
				printf("  %-8" PRIu64 " %s\n", t.drops[k], dp_drop_names[k]);
			}
	}
	if (tx_dropped)
		printf("tx dropped (queue full): %" PRIu64 "\n", tx_dropped);
}

static void report_legs(const struct dp_core *c)
{
	char a[ICE_ADDR_STRLEN], b[ICE_ADDR_STRLEN], warn[256];

	for (uint32_t i = 0; i < c->nlegs; i++) {
		const struct dp_leg *l = &c->legs[i];
		const struct ice_agent *ag = &l->agent;

		if (!(l->flags & DP_LEG_USED))
			continue;
		printf("leg %-10s port %u%s  peer %s\n", l->name, l->port,
		       (l->flags & DP_LEG_MUX) ? " (rtcp-mux)" : "",
		       l->peer != DP_NO_LEG ? c->legs[l->peer].name : "-");
		if (l->flags & DP_LEG_ICE) {
			ice_warn_format(warn, sizeof(warn), ice_agent_warn(ag));
			printf("  ICE %s %s%s, role %s: %s", ice_dialect_name(ag->cfg.dialect),
			       ag->cfg.lite ? "lite" : "full", "",
			       ice_agent_role(ag) == ICE_ROLE_CONTROLLING ? "controlling" : "controlled",
			       state_name(l));
			if (l->ice_done_us && ag->start_us)
				printf(" after %.3f s", (double)(l->ice_done_us - ag->start_us) / 1e6);
			printf("; ICEWarn %s\n", warn);
			for (uint8_t comp = 1; comp <= l->ncomp; comp++) {
				struct ice_addr lo, re;
				if (ice_agent_selected(ag, comp, &lo, &re) == 0)
					printf("  selected [%u] %s <-> %s\n", comp,
					       ice_addr_fmt(&lo, a, sizeof(a)), ice_addr_fmt(&re, b, sizeof(b)));
			}
			printf("  checks sent %u (+%u retransmitted), answered %u, errors sent %u, "
			       "consent %u, keep-alives %u\n",
			       ag->stats.tx_checks, ag->stats.tx_retrans, ag->stats.tx_responses,
			       ag->stats.tx_errors, ag->stats.tx_consent, ag->stats.tx_keepalives);
		} else {
			printf("  no ICE; media %s %s\n", l->media_state[0] == 3 ? "latched to" : "to",
			       ice_addr_fmt(&l->media_remote[0], a, sizeof(a)));
		}
		printf("  in %" PRIu64 " pkts %" PRIu64 " bytes (RTP %" PRIu64 ", RTCP %" PRIu64
		       ", STUN %" PRIu64 ", DTLS %" PRIu64 "), out %" PRIu64 " pkts %" PRIu64 " bytes\n",
		       l->st.pkts_in, l->st.bytes_in, l->st.rtp_in, l->st.rtcp_in, l->st.stun_in,
		       l->st.dtls_in, l->st.pkts_out, l->st.bytes_out);
		if (l->rtp.received) {
			uint32_t ext_max = l->rtp.cycles + l->rtp.max_seq;
			int64_t expected = (int64_t)ext_max - (int64_t)l->rtp.base_seq + 1;
			int64_t lost = expected - (int64_t)l->rtp.received;
			printf("  RTP ssrc 0x%08x: received %u, expected %" PRId64 ", lost %" PRId64
			       ", jitter %.2f ms\n",
			       l->rtp.ssrc, l->rtp.received, expected, lost < 0 ? 0 : lost,
			       (double)(l->rtp.jitter >> 4) * 1000.0 / l->rtp.clock_hz);
		}
		for (int k = 0; k < DP_DROP_MAX; k++)
			if (l->st.drops[k])
				printf("  dropped %" PRIu64 ": %s\n", l->st.drops[k], dp_drop_names[k]);
	}
}

/* ------------------------------------------------------------------ set-up */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: icegw [EAL options] -- [options]\n"
		"The icegw media gateway dataplane.\n\n"
		"  --legs FILE         legs to provision ([gateway] and [leg NAME] sections)\n"
		"  --ip A.B.C.D        gateway address on the port (overrides [gateway] ip)\n"
		"  --seed N            seed of every random choice (transaction ids, jitter)\n"
		"  --pcap-clock        take time from packet timestamps (default with net_pcap rx)\n"
		"  --live-clock        take time from the TSC even on a pcap port\n"
		"  --linger-ms N       software mode: run timers N ms past the last packet (2000)\n"
		"  --trace FILE        write the pjnath-style ICE trace of traced legs to FILE\n"
		"  --tx-capture FILE   write what is sent to FILE, stamped with the run's clock\n"
		"                      (several workers: FILE.0, FILE.1, ... one per worker)\n"
		"  --duration S        live mode: stop after S seconds\n"
		"  --max-legs N        legs per worker (default 4096; each needs about 4.4 KiB, see EAL -m)\n"
		"  --turn-legs N       legs per worker with TURN relays at once (default a quarter of\n"
		"                      --max-legs; about 700 B each)\n"
		"  --quiet             no session report at the end\n"
		"  --config-file FILE  rtpengine/coturn-style configuration (listen-ng, interface,\n"
		"                      port-min, port-max, max-sessions; docs/operations.md); serves\n"
		"                      NG on listen-ng. Command-line options override the file\n"
		"  --ng IP:PORT, --listen-ng IP:PORT\n"
		"                      serve the NG control protocol (rtpengine's) on this UDP address\n"
		"  --interface [NAME/]IP[!ADVERTISED]  gateway address (and the one written into SDP);\n"
		"                      repeated: further local addresses, interface 1, 2, ... (a leg's\n"
		"                      'iface =' in the legs file)\n"
		"  --advertise IP      address written into SDP (default: --ip)\n"
		"  --port-min N, --port-max N   media port range (default 30000-39999)\n"
		"  --max-sessions N    calls at most (default: what the legs allow)\n"
		"  --turn-server IP:PORT (repeatable), --turn-username U, --turn-password P,\n"
		"  --turn-realm R, --turn-timeout-ms N\n"
		"                      TURN relays for the legs (docs/operations.md)\n"
		"  --rx-mode MODE      several workers: how frames reach the worker owning their UDP\n"
		"                      port: flow (rte_flow rules steer them to its rx queue),\n"
		"                      dispatch (the receiving worker hands them over by ring) or\n"
		"                      auto (flow when the port accepts the rules; the default)\n"
		"  --help, --version\n");
}

/* --config-file FILE (or --config-file=FILE) wherever it is on the command line: the file is
 * read before the other options so that they override it whatever their order. */
static const char *find_config_file(int argc, char **argv)
{
	const char *path = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--config-file") && i + 1 < argc)
			path = argv[++i];
		else if (!strncmp(argv[i], "--config-file=", 14))
			path = argv[i] + 14;
	}
	return path;
}

static void config_error(const struct ctl_config_err *e)
{
	if (e->line)
		fprintf(stderr, "icegw: %s:%u: %s\n", e->where, e->line, e->msg);
	else
		fprintf(stderr, "icegw: %s: %s\n", e->where, e->msg);
}

/* The gateway address (and the advertised one) from an interface spec's first entry. */
static int apply_interface(const struct ctl_iface *f, const char *where)
{
	char ip[ICE_ADDR_STRLEN];

	if (f->local.family != ICE_AF_INET || (f->has_advertised && f->advertised.family != ICE_AF_INET)) {
		fprintf(stderr, "icegw: %s: interface %s/%s: the dataplane is IPv4 only\n", where,
			f->name, ice_addr_fmt_ip(&f->local, ip, sizeof(ip)));
		return -1;
	}
	O.ip = ice_addr_v4(&f->local);
	O.adv_ip = f->has_advertised ? ice_addr_v4(&f->advertised) : 0;
	snprintf(O.iface_name[0], sizeof(O.iface_name[0]), "%s", f->name);
	return 0;
}

static char ng_spec[ICE_ADDR_STRLEN];

/* Read the file into O: the defaults the command line then overrides. */
static int load_config_file(const char *path)
{
	struct ctl_config cfg;
	struct ctl_config_err e;
	int rc;

	memset(&e, 0, sizeof(e));
	ctl_config_defaults(&cfg);
	rc = ctl_config_load(&cfg, path, &e);
	if (rc < 0) {
		config_error(&e);
		return -1;
	}
	if (cfg.port_min > cfg.port_max || cfg.port_min < 1024 || cfg.port_max - cfg.port_min < 1) {
		fprintf(stderr, "icegw: %s: port range %u-%u: want 1024 <= port-min < port-max\n",
			path, cfg.port_min, cfg.port_max);
		return -1;
	}
	if (cfg.listen_ng.family != ICE_AF_INET) {
		fprintf(stderr, "icegw: %s: listen-ng must be IPv4:PORT\n", path);
		return -1;
	}
	if (cfg.has_listen_tcp_ng && !O.ng_tcp) {
		static char tcp_spec[ICE_ADDR_STRLEN];
		O.ng_tcp = ice_addr_fmt(&cfg.listen_tcp_ng, tcp_spec, sizeof(tcp_spec));
	}
	if (cfg.n_iface && apply_interface(&cfg.iface[0], path) < 0)
		return -1;
	/* every interface is a local address of the dataplane, in the file's order: a leg's
	 * dp_leg_cfg.iface indexes this list */
	O.n_extra = 0;
	for (unsigned i = 1; i < cfg.n_iface; i++) {
		const struct ctl_iface *f = &cfg.iface[i];
		char ip[ICE_ADDR_STRLEN];

		if (f->local.family != ICE_AF_INET) {
			fprintf(stderr, "icegw: %s: interface %s/%s: the dataplane is IPv4 only\n", path,
				f->name, ice_addr_fmt_ip(&f->local, ip, sizeof(ip)));
			return -1;
		}
		if (O.n_extra == DP_MAX_IFACES - 1) {
			fprintf(stderr, "icegw: %s: at most %d interfaces\n", path, DP_MAX_IFACES);
			return -1;
		}
		O.extra_adv[O.n_extra] = f->has_advertised && f->advertised.family == ICE_AF_INET ?
					 ice_addr_v4(&f->advertised) : 0;
		snprintf(O.iface_name[O.n_extra + 1], sizeof(O.iface_name[0]), "%s", f->name);
		O.extra_ip[O.n_extra++] = ice_addr_v4(&f->local);
	}
	TURN_CFG = cfg.turn;
	O.ng = ice_addr_fmt(&cfg.listen_ng, ng_spec, sizeof(ng_spec));
	O.port_min = cfg.port_min;
	O.port_max = cfg.port_max;
	O.max_sessions = cfg.max_sessions;
	return 0;
}

/* --turn-*: the same keys as the file's; a --turn-server on the command line replaces the
 * file's list. */
static int turn_option(const struct option *lo, int c, const char *v)
{
	static bool servers_from_cli;
	struct ctl_config_err e;
	const char *key = NULL;

	for (const struct option *o = lo; o->name; o++)
		if (o->val == c)
			key = o->name;
	if (c == 1000 && !servers_from_cli) {
		servers_from_cli = true;
		TURN_CFG.n_server = 0;
	}
	memset(&e, 0, sizeof(e));
	if (!key || ctl_config_set_turn(&TURN_CFG, key, v, &e) < 0) {
		fprintf(stderr, "icegw: --%s: %s\n", key ? key : "turn", e.msg);
		return -1;
	}
	return 0;
}

static int parse_opts(int argc, char **argv)
{
	static const struct option lo[] = {
		{"legs", required_argument, NULL, 'l'},
		{"ip", required_argument, NULL, 'i'},
		{"seed", required_argument, NULL, 's'},
		{"pcap-clock", no_argument, NULL, 'P'},
		{"live-clock", no_argument, NULL, 'L'},
		{"linger-ms", required_argument, NULL, 'g'},
		{"trace", required_argument, NULL, 't'},
		{"tx-capture", required_argument, NULL, 'c'},
		{"duration", required_argument, NULL, 'd'},
		{"max-legs", required_argument, NULL, 'm'},
		{"turn-legs", required_argument, NULL, 1010},
		{"quiet", no_argument, NULL, 'q'},
		{"ng", required_argument, NULL, 'n'},
		{"metrics", required_argument, NULL, 'M'},
		{"ng-tcp", required_argument, NULL, 'T'},
		{"advertise", required_argument, NULL, 'A'},
		{"port-min", required_argument, NULL, 'p'},
		{"port-max", required_argument, NULL, 'X'},
		{"max-sessions", required_argument, NULL, 'S'},
		{"config-file", required_argument, NULL, 'C'},
		{"listen-ng", required_argument, NULL, 'n'},
		{"interface", required_argument, NULL, 'I'},
		{"turn-server", required_argument, NULL, 1000},
		{"turn-username", required_argument, NULL, 1001},
		{"turn-password", required_argument, NULL, 1002},
		{"turn-realm", required_argument, NULL, 1003},
		{"turn-ms", required_argument, NULL, 1004},
		{"turn-timeout-ms", required_argument, NULL, 1005},
		{"rx-mode", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;
	char *end;
	uint32_t ip_cli = 0, adv_cli = 0;
	unsigned n_iface_cli = 0;

	O.max_legs = 4096;
	O.linger_ms = 2000;
	O.port_min = 30000;
	O.port_max = 39999;
	if (find_config_file(argc, argv) && load_config_file(find_config_file(argc, argv)) < 0)
		return -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l': O.legs_path = optarg; break;
		case 'i': {
			struct ice_addr a;
			if (ice_addr_parse(&a, optarg) || a.family != ICE_AF_INET || a.port) {
				fprintf(stderr, "icegw: --ip: '%s' is not an IPv4 address\n", optarg);
				return -1;
			}
			O.ip = ip_cli = ice_addr_v4(&a);
			break;
		}
		case 's':
			errno = 0;
			O.seed = strtoull(optarg, &end, 0);
			if (errno || *end) {
				fprintf(stderr, "icegw: --seed: '%s' is not a number\n", optarg);
				return -1;
			}
			break;
		case 'P': O.pcap_clock = true; O.pcap_clock_set = true; break;
		case 'L': O.pcap_clock = false; O.pcap_clock_set = true; break;
		case 'g': {
			unsigned long v;
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || v > 3600000) {
				fprintf(stderr, "icegw: --linger-ms: '%s' must be 0-3600000\n", optarg);
				return -1;
			}
			O.linger_ms = (uint32_t)v;
			break;
		}
		case 't': O.trace_path = optarg; break;
		case 'c': O.tx_capture = optarg; break;
		case 'd':
			O.duration_s = strtod(optarg, &end);
			if (*end || O.duration_s <= 0 || O.duration_s > 1e7) {
				fprintf(stderr, "icegw: --duration: '%s' must be seconds > 0\n", optarg);
				return -1;
			}
			break;
		case 'm': {
			unsigned long v;
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || v == 0 || v > 4000000) {
				fprintf(stderr, "icegw: --max-legs: '%s' must be 1-4000000\n", optarg);
				return -1;
			}
			O.max_legs = (uint32_t)v;
			break;
		}
		case 'q': O.quiet = true; break;
		case 'n': O.ng = optarg; break;
		case 'M': O.metrics = optarg; break;
		case 'T': O.ng_tcp = optarg; break;
		case 'C': break; /* read first, by load_config_file */
		case 'R':
			if (!strcmp(optarg, "auto"))
				O.rx_mode = RX_AUTO;
			else if (!strcmp(optarg, "flow"))
				O.rx_mode = RX_FLOW;
			else if (!strcmp(optarg, "dispatch"))
				O.rx_mode = RX_DISPATCH;
			else {
				fprintf(stderr, "icegw: --rx-mode: '%s' is not auto, flow or dispatch\n", optarg);
				return -1;
			}
			break;
		case 'I': {
			struct ctl_config one;
			struct ctl_config_err e;

			memset(&e, 0, sizeof(e));
			memset(&one, 0, sizeof(one));
			if (ctl_config_set(&one, "interface", optarg, &e) < 0) {
				fprintf(stderr, "icegw: --interface: %s\n", e.msg);
				return -1;
			}
			/* the command line's interfaces replace the file's: the first is address 0
			 * (and what SDP advertises), the others follow in order */
			if (n_iface_cli++ == 0) {
				O.n_extra = 0;
			} else {
				if (one.iface[0].local.family != ICE_AF_INET) {
					fprintf(stderr, "icegw: --interface: the dataplane is IPv4 only\n");
					return -1;
				}
				if (O.n_extra == DP_MAX_IFACES - 1) {
					fprintf(stderr, "icegw: --interface: at most %d\n", DP_MAX_IFACES);
					return -1;
				}
				O.extra_adv[O.n_extra] = one.iface[0].has_advertised &&
							 one.iface[0].advertised.family == ICE_AF_INET ?
							 ice_addr_v4(&one.iface[0].advertised) : 0;
				snprintf(O.iface_name[O.n_extra + 1], sizeof(O.iface_name[0]), "%s",
					 one.iface[0].name);
				O.extra_ip[O.n_extra++] = ice_addr_v4(&one.iface[0].local);
				break;
			}
			if (apply_interface(&one.iface[0], "--interface") < 0)
				return -1;
			/* --ip and --advertise win over --interface, whatever the order */
			if (ip_cli)
				O.ip = ip_cli;
			if (adv_cli)
				O.adv_ip = adv_cli;
			break;
		}
		case 'A': {
			struct ice_addr a;
			if (ice_addr_parse(&a, optarg) || a.family != ICE_AF_INET || a.port) {
				fprintf(stderr, "icegw: --advertise: '%s' is not an IPv4 address\n", optarg);
				return -1;
			}
			O.adv_ip = adv_cli = ice_addr_v4(&a);
			break;
		}
		case 'p':
		case 'X': {
			unsigned long v;
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || v < 1024 || v > 65535) {
				fprintf(stderr, "icegw: --port-%s: '%s' must be 1024-65535\n",
					c == 'p' ? "min" : "max", optarg);
				return -1;
			}
			if (c == 'p')
				O.port_min = (uint16_t)v;
			else
				O.port_max = (uint16_t)v;
			break;
		}
		case 'S': {
			unsigned long v;
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || v == 0 || v > 10000000) {
				fprintf(stderr, "icegw: --max-sessions: '%s' must be 1-10000000\n", optarg);
				return -1;
			}
			O.max_sessions = (uint32_t)v;
			break;
		}
		case 1010: {
			unsigned long v;
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || v == 0 || v > 4000000) {
				fprintf(stderr, "icegw: --turn-legs: '%s' must be 1-4000000\n", optarg);
				return -1;
			}
			O.turn_legs = (uint32_t)v;
			break;
		}
		case 1000: case 1001: case 1002: case 1003: case 1004: case 1005:
			if (turn_option(lo, c, optarg) < 0)
				return -1;
			break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("icegw %s\n", ICEGW_VERSION); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "icegw: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (TURN_CFG.n_server && (!TURN_CFG.user[0] || !TURN_CFG.pass[0])) {
		fprintf(stderr, "icegw: turn-server needs turn-username and turn-password\n");
		return -1;
	}
	if (TURN_CFG.n_server && ctl_turn_cfg_check(&TURN_CFG) != 0) {
		/* [MS-TURN]: the Edge's (MRAS's) credentials are base64 */
		fprintf(stderr, "icegw: turn-ms: turn-username and turn-password must be base64, "
				"as MRAS hands them out\n");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ workers and port */

static struct rte_mempool *pools[RTE_MAX_NUMA_NODES];

static int socket_of(int s)
{
	return s < 0 || s >= RTE_MAX_NUMA_NODES ? 0 : s; /* SOCKET_ID_ANY: a virtual device */
}

/* One mbuf pool per NUMA socket that has a worker or the port: a worker allocates what it
 * emits, and its rx queue's buffers, from memory local to it. */
static struct rte_mempool *pool_on(int socket, unsigned nworkers_here)
{
	char name[32];
	unsigned n = 8191;

	if (pools[socket])
		return pools[socket];
	/* a queue's descriptors, the hand-over ring and the per-lcore cache, per worker */
	if (NW > 1)
		n += nworkers_here * (1024 + 1024 + HANDOFF_RING + 512);
	snprintf(name, sizeof(name), "mbufs_s%d", socket);
	pools[socket] = rte_pktmbuf_pool_create(name, n, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	return pools[socket];
}

/* rte_flow: worker w's ports are those whose bits 1.. (mod NW) equal w, one rule per worker
 * matching the UDP destination port under a mask (NW a power of two). Returns 0 when every
 * rule was created, else -1 with the PMD's reason in why (and no rule left behind). */
static int flow_rules(uint16_t port, char *why, size_t whylen)
{
	if (NW & (NW - 1)) {
		snprintf(why, whylen, "%u workers: flow rules need a power of two", NW);
		return -1;
	}
	for (unsigned w = 0; w < NW; w++) {
		struct rte_flow_attr attr = {.ingress = 1};
		struct rte_flow_item_udp spec, mask;
		struct rte_flow_item pat[4];
		struct rte_flow_action_queue q = {.index = (uint16_t)w};
		struct rte_flow_action act[2];
		struct rte_flow_error err;

		memset(&spec, 0, sizeof(spec));
		memset(&mask, 0, sizeof(mask));
		memset(pat, 0, sizeof(pat));
		memset(act, 0, sizeof(act));
		memset(&err, 0, sizeof(err));
		spec.hdr.dst_port = rte_cpu_to_be_16((uint16_t)(w << 1));
		mask.hdr.dst_port = rte_cpu_to_be_16((uint16_t)((NW - 1) << 1));
		pat[0].type = RTE_FLOW_ITEM_TYPE_ETH;
		pat[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
		pat[2].type = RTE_FLOW_ITEM_TYPE_UDP;
		pat[2].spec = &spec;
		pat[2].mask = &mask;
		pat[3].type = RTE_FLOW_ITEM_TYPE_END;
		act[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
		act[0].conf = &q;
		act[1].type = RTE_FLOW_ACTION_TYPE_END;
		if (rte_flow_validate(port, &attr, pat, act, &err) != 0 ||
		    !rte_flow_create(port, &attr, pat, act, &err)) {
			snprintf(why, whylen, "rule for worker %u: %s", w,
				 err.message ? err.message : rte_strerror(rte_errno));
			rte_flow_flush(port, &err);
			return -1;
		}
	}
	return 0;
}

/* The port: NW tx queues (one per worker), rx queues by mode, rte_flow rules if chosen. */
static int port_init(uint16_t port)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_ether_addr mac;
	char why[256] = "";
	bool try_flow;
	int r;

	memset(&conf, 0, sizeof(conf));
	r = rte_eth_dev_info_get(port, &info);
	if (r)
		return r;
	if (O.pcap_clock && (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP))
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
	if (info.max_tx_queues < NW) {
		fprintf(stderr, "icegw: port %u (%s) offers %u tx queues, %u workers need one each%s\n",
			port, info.driver_name, info.max_tx_queues, NW,
			strstr(info.driver_name, "pcap") ? " (give one tx_pcap= per worker)" : "");
		return -EINVAL;
	}
	/* software mode keeps one receiver: it alone orders the capture's frames in time */
	try_flow = NW > 1 && !O.pcap_clock && O.rx_mode != RX_DISPATCH && info.max_rx_queues >= NW;
	if (O.rx_mode == RX_FLOW && !try_flow) {
		fprintf(stderr, "icegw: --rx-mode flow: port %u (%s) has %u rx queues for %u workers%s\n",
			port, info.driver_name, info.max_rx_queues, NW,
			O.pcap_clock ? " (and a pcap replay has one receiver)" : "");
		return -EINVAL;
	}
	n_rxq = O.pcap_clock ? 1 : (uint16_t)RTE_MIN(NW, info.max_rx_queues);
	if (!n_rxq)
		n_rxq = 1;
	/* checksums are computed in software (relay updates them incrementally, RFC 1624) */
	r = rte_eth_dev_configure(port, n_rxq, (uint16_t)NW, &conf);
	if (r)
		return r;
	for (uint16_t q = 0; q < n_rxq; q++) {
		/* queue q is polled by worker q: its buffers come from that worker's socket */
		r = rte_eth_rx_queue_setup(port, q, 1024, (unsigned)WK[q]->socket, NULL, WK[q]->pool);
		if (r)
			return r;
	}
	for (unsigned w = 0; w < NW; w++) {
		r = rte_eth_tx_queue_setup(port, (uint16_t)w, 1024, (unsigned)WK[w]->socket, NULL);
		if (r)
			return r;
		WK[w]->port = port;
		WK[w]->txq = (uint16_t)w;
		WK[w]->rxq = (uint16_t)w;
		WK[w]->polls_rx = w < n_rxq;
		WK[w]->core.udp_csum = true;
	}
	r = rte_eth_dev_start(port);
	if (r)
		return r;
	rte_eth_promiscuous_enable(port);
	rte_eth_macaddr_get(port, &mac);
	for (unsigned w = 0; w < NW; w++)
		memcpy(WK[w]->core.mac, mac.addr_bytes, 6);
	rx_mode_used = RX_DISPATCH;
	if (try_flow) {
		if (flow_rules(port, why, sizeof(why)) == 0) {
			rx_mode_used = RX_FLOW;
		} else if (O.rx_mode == RX_FLOW) {
			fprintf(stderr, "icegw: --rx-mode flow: port %u (%s): %s\n", port,
				info.driver_name, why);
			return -ENOTSUP;
		}
	}
	if (NW > 1 && !O.quiet)
		fprintf(stderr, "icegw: %u workers on port %u (%s): rx mode %s, %u rx queues%s%s\n",
			NW, port, info.driver_name, rx_mode_names[rx_mode_used], n_rxq,
			why[0] ? "; flow rules refused: " : "", why);
	ts_off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	r = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);
	ts_flag = r >= 0 ? RTE_BIT64(r) : 0;
	return 0;
}

/* Workers: one per worker lcore (every lcore but the main one), or one on the main lcore
 * when it is alone. Each is allocated, with its core's memory, on its lcore's socket. */
static int workers_init(uint16_t port)
{
	unsigned lcores[MAX_WORKERS], per_socket[RTE_MAX_NUMA_NODES] = {0}, lc;
	uint8_t zero_mac[6] = {0};
	int psock = socket_of(rte_eth_dev_socket_id(port));

	NW = 0;
	if (rte_lcore_count() == 1) {
		lcores[NW++] = rte_get_main_lcore();
	} else {
		RTE_LCORE_FOREACH_WORKER(lc) {
			if (NW == MAX_WORKERS) {
				fprintf(stderr, "icegw: %u worker lcores, at most %u\n",
					rte_lcore_count() - 1, MAX_WORKERS);
				return -1;
			}
			lcores[NW++] = lc;
		}
	}
	for (unsigned w = 0; w < NW; w++)
		per_socket[socket_of((int)rte_lcore_to_socket_id(lcores[w]))]++;
	/* the port's socket gets a pool too: a NIC's descriptors live there */
	if (!pool_on(psock, per_socket[psock])) {
		fprintf(stderr, "icegw: mbuf pool on socket %d: %s\n", psock, rte_strerror(rte_errno));
		return -1;
	}
	for (unsigned w = 0; w < NW; w++) {
		int sock = socket_of((int)rte_lcore_to_socket_id(lcores[w]));
		struct worker *k = rte_zmalloc_socket("worker", sizeof(*k), RTE_CACHE_LINE_SIZE, sock);
		char name[32];

		if (!k) {
			fprintf(stderr, "icegw: out of memory\n");
			return -1;
		}
		WK[w] = k;
		k->idx = w;
		k->lcore = lcores[w];
		k->socket = sock;
		k->pool = pool_on(sock, per_socket[sock]);
		if (!k->pool) {
			fprintf(stderr, "icegw: mbuf pool on socket %d: %s\n", sock, rte_strerror(rte_errno));
			return -1;
		}
		alloc_socket = sock;
		if (dp_core_init(&k->core, O.ip, zero_mac, O.max_legs, O.seed, zalloc, 0) < 0) {
			fprintf(stderr, "icegw: cannot allocate %u legs (about %zu MiB) on socket %d: "
				"raise EAL -m or lower --max-legs\n", O.max_legs,
				(size_t)O.max_legs * sizeof(struct dp_leg) >> 20, sock);
			return -1;
		}
		if (O.turn_legs &&
		    dp_core_set_turn_legs(&k->core, O.turn_legs < O.max_legs ? O.turn_legs : O.max_legs,
					  zfree) < 0) {
			fprintf(stderr, "icegw: cannot allocate TURN state for %u legs on socket %d\n",
				O.turn_legs, sock);
			return -1;
		}
		k->core.emit = emit;
		k->core.emit_ctx = k;
		for (unsigned a = 0; a < O.n_extra; a++) {
			int r = dp_core_add_addr(&k->core, O.extra_ip[a]);
			if (r < 0) {
				char ip[ICE_ADDR_STRLEN];
				struct ice_addr x;
				ice_addr_set_v4(&x, O.extra_ip[a], 0);
				fprintf(stderr, "icegw: interface %u (%s): %s\n", a + 1,
					ice_addr_fmt_ip(&x, ip, sizeof(ip)),
					r == -EEXIST ? "the same address twice" : strerror(-r));
				return -1;
			}
		}
		if (NW > 1) {
			snprintf(name, sizeof(name), "icegw_ho%u", w);
			k->handoff = rte_ring_create(name, HANDOFF_RING, sock, RING_F_SC_DEQ);
			if (!k->handoff) {
				fprintf(stderr, "icegw: ring %s: %s\n", name, rte_strerror(rte_errno));
				return -1;
			}
		}
	}
	W = WK[0];
	return 0;
}

static void workers_free(void)
{
	for (unsigned w = 0; w < NW; w++) {
		struct worker *k = WK[w];
		if (!k)
			continue;
		if (k->cap) {
			pcap_dump_close(k->cap);
			pcap_close(k->cap_pcap);
		}
		if (k->core.legs)
			dp_core_free(&k->core, zfree);
		rte_ring_free(k->handoff);
		rte_ring_free(k->cmd_ring);
		rte_ring_free(k->done_ring);
		rte_free(k);
		WK[w] = NULL;
	}
}

int main(int argc, char **argv)
{
	struct dp_legs legs;
	char err[512];
	int r, rc = 0;
	uint16_t port = 0;
	struct rte_eth_dev_info info;
	FILE *trace = NULL;

	r = rte_eal_init(argc, argv);
	if (r < 0) {
		fprintf(stderr, "icegw: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= r;
	argv += r;
	argv[0] = (char *)"icegw";
	if (parse_opts(argc, argv) < 0) {
		rte_eal_cleanup();
		return 64;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	tsc_hz = rte_get_tsc_hz();
	if (rte_eth_dev_count_avail() == 0) {
		fprintf(stderr, "icegw: no DPDK port; give one with --vdev (e.g. net_pcap0,rx_pcap=IN,tx_pcap=OUT)\n");
		rte_eal_cleanup();
		return 1;
	}
	if (rte_eth_dev_info_get(port, &info) == 0 && !O.pcap_clock_set)
		O.pcap_clock = info.driver_name && strstr(info.driver_name, "pcap") != NULL;

	memset(&legs, 0, sizeof(legs));
	if (O.legs_path && dp_legs_load(O.legs_path, &legs, err, sizeof(err)) < 0) {
		fprintf(stderr, "icegw: %s\n", err);
		rte_eal_cleanup();
		return 1;
	}
	if (!O.ip)
		O.ip = legs.ip;
	if (!O.seed)
		O.seed = legs.seed;
	if (!O.ip) {
		fprintf(stderr, "icegw: no gateway address: give --ip or 'ip =' in [gateway]\n");
		dp_legs_free(&legs);
		rte_eal_cleanup();
		return 64;
	}

	if (workers_init(port) < 0)
		return 1;
	r = port_init(port);
	if (r) {
		fprintf(stderr, "icegw: port %u: %s\n", port, rte_strerror(-r));
		return 1;
	}
	if (O.pcap_clock && ts_off < 0) {
		fprintf(stderr, "icegw: the port gives no packet timestamps; use --live-clock\n");
		return 1;
	}
	/* FINGERPRINT on the dataplane: DPDK's CRC-32 where the CPU has carry-less multiply
	 * (2.7x to 10x zlib, docs/benchmarks.md); its scalar fallback is slower than zlib */
	if (rte_cpu_get_flag_enabled(RTE_CPUFLAG_SSE4_2) > 0 &&
	    rte_cpu_get_flag_enabled(RTE_CPUFLAG_PCLMULQDQ) > 0) {
		rte_net_crc_set_alg(RTE_NET_CRC_SSE42);
		stun_set_crc32(dpdk_crc32);
	}
	if (O.trace_path) {
		/* one file; each worker writes whole lines (stdio locks the stream per call) */
		trace = fopen(O.trace_path, "w");
		if (!trace) {
			fprintf(stderr, "icegw: --trace %s: %s\n", O.trace_path, strerror(errno));
			return 1;
		}
		for (unsigned w = 0; w < NW; w++) {
			WK[w]->trace = trace;
			WK[w]->core.trace_sink = trace_to_file;
			WK[w]->core.trace_ctx = WK[w];
		}
	}
	if (O.tx_capture) {
		for (unsigned w = 0; w < NW; w++) {
			struct worker *k = WK[w];
			char path[4096];

			/* several workers: one file each, FILE.0, FILE.1, ... */
			if (NW == 1)
				snprintf(path, sizeof(path), "%s", O.tx_capture);
			else
				snprintf(path, sizeof(path), "%s.%u", O.tx_capture, w);
			k->cap_pcap = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535,
									    PCAP_TSTAMP_PRECISION_MICRO);
			k->cap = k->cap_pcap ? pcap_dump_open(k->cap_pcap, path) : NULL;
			if (!k->cap) {
				fprintf(stderr, "icegw: --tx-capture %s: cannot create\n", path);
				return 1;
			}
		}
	}
	/* in software mode legs start at the capture's first packet time; the wheel is
	 * re-based there */
	{
		uint64_t t0 = O.pcap_clock ? 0 : tsc_us();
		struct rte_mbuf *first[1];
		uint16_t n = 0;

		if (O.pcap_clock) {
			/* peek: the first packet's timestamp is the start of the run */
			for (int i = 0; i < IDLE_POLLS_EOF && !n; i++)
				n = rte_eth_rx_burst(port, 0, first, 1);
			if (n)
				t0 = pkt_time_us(first[0], 0);
			else
				fprintf(stderr, "icegw: the capture has no packets\n");
		}
		for (unsigned w = 0; w < NW; w++) {
			struct worker *k = WK[w];
			if (!O.pcap_clock || n) {
				dp_tw_init(&k->core.tw, k->core.tw_links, k->core.max_legs, t0);
				k->core.now = t0;
			}
			if (dp_legs_apply_worker(&legs, &k->core, w, NW, t0, err, sizeof(err)) < 0) {
				fprintf(stderr, "icegw: %s\n", err);
				return 1;
			}
			if (O.pcap_clock && n)
				k->first_us = k->last_us = t0;
		}
		if (n) {
			W->rx_frames++;
			route(W, first[0], t0);
			ho_flush(W);
			tx_flush(W);
		}
	}
	dp_legs_free(&legs);
	rte_telemetry_register_cmd("/icegw/stats", tel_stats, "Gateway counters, summed over the workers. No parameters");
	rte_telemetry_register_cmd("/icegw/legs", tel_legs, "Leg names. No parameters");
	rte_telemetry_register_cmd("/icegw/leg", tel_leg, "One leg's state. Parameter: leg name");
	rte_telemetry_register_cmd("/icegw/lcores", tel_lcores, "Workers: per-worker counters, arrays indexed by worker. No parameters");

	workers_left = NW;
	if (O.ng) {
		struct ctl_cfg cc;
		struct ctl_backend be = {.submit = be_submit, .view = be_view, .core = be_core,
					 .ctx = NULL};

		if (O.pcap_clock) {
			fprintf(stderr, "icegw: --ng needs the live clock (not a pcap replay)\n");
			return 64;
		}
		for (unsigned w = 0; w < NW; w++) {
			char name[32];
			snprintf(name, sizeof(name), "icegw_cmd%u", w);
			WK[w]->cmd_ring = rte_ring_create(name, 4096, WK[w]->socket,
							  RING_F_SP_ENQ | RING_F_SC_DEQ);
			snprintf(name, sizeof(name), "icegw_done%u", w);
			WK[w]->done_ring = rte_ring_create(name, 8192, WK[w]->socket,
							   RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (!WK[w]->cmd_ring || !WK[w]->done_ring) {
				fprintf(stderr, "icegw: command rings: %s\n", rte_strerror(rte_errno));
				return 1;
			}
		}
		memset(&cc, 0, sizeof(cc));
		cc.local_ip = O.ip;
		cc.adv_ip = O.adv_ip;
		cc.port_min = O.port_min;
		cc.port_max = O.port_max;
		cc.max_sessions = O.max_sessions ? O.max_sessions : O.max_legs / 2 * NW;
		cc.nworkers = NW;
		cc.slots_per_worker = O.max_legs;
		cc.seed = O.seed ? O.seed : rte_get_tsc_cycles();
		cc.trace_legs = O.trace_path != NULL;
		cc.turn = &TURN_CFG;
		cc.n_iface = 1 + O.n_extra;
		for (unsigned i = 0; i < cc.n_iface; i++) {
			struct ctl_cfg_iface *f = &cc.iface[i];

			f->local_ip = i ? O.extra_ip[i - 1] : O.ip;
			f->adv_ip = i ? O.extra_adv[i - 1] : O.adv_ip;
			/* NG direction picks by name; addresses under one name are one logical
			 * interface, whose legs take ports of any of them (docs/operations.md) */
			snprintf(f->name, sizeof(f->name), "%s",
				 O.iface_name[i][0] ? O.iface_name[i] : "default");
		}
		if (turn_rings_init() < 0) {
			fprintf(stderr, "icegw: cannot set up the TURN rings\n");
			return 1;
		}
		if (O.port_max <= O.port_min || !(CTL = ctl_new(&cc, &be))) {
			fprintf(stderr, "icegw: cannot start the control plane (port range %u-%u)\n",
				O.port_min, O.port_max);
			return 1;
		}
		ng_fd = ng_open(O.ng, SOCK_DGRAM, "--ng");
		if (ng_fd < 0)
			return 1;
		if (O.metrics) {
			metrics_fd = ng_open(O.metrics, SOCK_STREAM, "--metrics");
			if (metrics_fd < 0)
				return 1;
		}
		for (unsigned i = 0; i < NG_TCP_CONNS; i++)
			ng_conns[i].fd = -1;
		if (O.ng_tcp) {
			ng_tcp_fd = ng_open(O.ng_tcp, SOCK_STREAM, "--ng-tcp");
			if (ng_tcp_fd < 0)
				return 1;
		}
		if (rte_lcore_count() >= 2) {
			for (unsigned w = 0; w < NW; w++)
				rte_eal_remote_launch(worker_launch, WK[w], WK[w]->lcore);
			control_main();
			rte_eal_mp_wait_lcore();
		} else {
			single_lcore_control = true;
			worker_main(W);
		}
	} else if (rte_lcore_count() >= 2) {
		for (unsigned w = 0; w < NW; w++)
			rte_eal_remote_launch(worker_launch, WK[w], WK[w]->lcore);
		rte_eal_mp_wait_lcore();
	} else {
		worker_main(W);
	}

	if (!O.quiet)
		report();
	if (trace)
		fclose(trace);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	workers_free();
	rte_eal_cleanup();
	return rc;
}

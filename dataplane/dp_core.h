/* The per-core packet engine without DPDK types: legs, the port -> leg table, classify and
 * demultiplex (RFC 7983), inline ICE, RTP/RTCP relay with header rewrite, ARP, timers and
 * counters. dp_worker.c feeds it mbuf data; tests feed it byte arrays. */
#ifndef DP_CORE_H
#define DP_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "dp_timer.h"
#include "dp_turn.h"
#include "ice_agent.h"

#define DP_NO_LEG UINT32_MAX
#define DP_LEG_NAME 32
#define DP_ARP_SLOTS 256
#define DP_TRACE_LINES 2048
#define DP_TRACE_LEN 200
#define DP_MAX_IFACES 8         /* local addresses (media interfaces) per core */

/* Drop reasons, declared once (VPP's foreach_..._error) and expanded to enum + strings. */
#define foreach_dp_drop                                                                        \
	_(NOT_IP, "not IPv4 / ARP")                                                            \
	_(BAD_IP, "malformed IPv4 header")                                                     \
	_(FRAGMENT, "IP fragment")                                                             \
	_(NOT_UDP, "not UDP")                                                                  \
	_(BAD_UDP, "malformed UDP header")                                                     \
	_(NOT_FOR_US, "not addressed to a gateway address")                                    \
	_(NO_LEG, "no leg on the destination port")                                            \
	_(STUN, "STUN dropped by the ICE agent")                                               \
	_(UNKNOWN_PAYLOAD, "payload neither STUN, RTP/RTCP nor DTLS")                          \
	_(WRONG_SOURCE, "media from an address other than the selected pair")                  \
	_(NO_PEER, "leg has no peer leg")                                                      \
	_(NO_PATH, "peer leg has no media destination yet")                                    \
	_(NO_NEXTHOP, "next-hop MAC address unknown")                                          \
	_(TOO_BIG, "reply larger than the buffer")                                             \
	_(ARP_OTHER, "ARP not for a gateway address")                                          \
	_(TX_FULL, "transmit queue full")                                                     \
	_(TURN, "TURN datagram from the leg's server not usable")                             \
	_(TURN_RING, "TURN response lost: control ring full")

enum dp_drop {
#define _(n, s) DP_DROP_##n,
	foreach_dp_drop
#undef _
	DP_DROP_MAX
};

extern const char *const dp_drop_names[DP_DROP_MAX];

enum dp_verdict {
	DP_VERDICT_DROP = 0,  /* the caller frees the buffer */
	DP_VERDICT_TX,        /* the frame was rewritten in place: transmit it */
	DP_VERDICT_CONSUMED,  /* handled (e.g. a STUN response); free it */
};

/* RFC 3550 A.1 / A.8 receive statistics of one source. */
struct dp_rtp_stats {
	uint32_t ssrc;
	uint16_t max_seq;
	uint16_t probation;
	uint32_t cycles;
	uint32_t base_seq;
	uint32_t received;
	uint32_t bad_seq;
	int32_t transit;
	uint32_t jitter;          /* in timestamp units, << 4 as RFC 3550 A.8 keeps it */
	uint32_t clock_hz;
};

struct dp_leg_stats {
	uint64_t pkts_in, bytes_in, pkts_out, bytes_out;
	uint64_t rtp_in, rtcp_in, stun_in, dtls_in;
	uint64_t drops[DP_DROP_MAX];
};

/* How a leg is provisioned (by the legs file now, by the control plane later). */
struct dp_leg_cfg {
	char name[DP_LEG_NAME];
	uint16_t port;            /* local RTP port; RTCP on port + 1 unless rtcp_mux */
	bool rtcp_mux;
	bool ice;                 /* false: plain RTP leg with symmetric latching */
	bool trace;
	struct ice_config ice_cfg;
	char rufrag[ICE_UFRAG_MAX + 1], rpwd[ICE_PWD_MAX + 1];
	bool remote_lite;
	struct ice_addr default_remote[2]; /* c= / m= (and a=rtcp) of the peer's SDP */
	uint32_t clock_hz;        /* RTP clock for jitter, 8000 default */
	uint8_t iface;            /* media interface (local address) index; 0 = the first */
	bool relay_only;          /* ICE=force-relay: no host candidates, relays come later */
	/* MS-ICE: the draft-06 identifier and password (base64) the control plane advertised
	 * for the host candidates [0] and the relayed ones [1]; "" = the agent draws them */
	char ms_id[2][ICE_MS_ID_B64 + 1], ms_pwd[2][ICE_MS_PWD_B64 + 1];
};

struct dp_leg {
	/* what the relay reads and writes per packet comes first, together, so that a relayed
	 * packet touches a few cache lines of each leg and not the agent behind them */
	uint16_t port;
	uint8_t ncomp;
	uint8_t flags;
	uint32_t peer;            /* leg index on this core, DP_NO_LEG if none */
	uint8_t media_state[2];   /* 0 none, 1 default, 2 ICE selected, 3 latched */
	uint8_t iface;            /* local address index: its port map, its source address */
	uint32_t media_ip[2];     /* media_remote as host-order words, for the hot compare */
	uint16_t media_port[2];
	uint64_t media_noted_us;  /* last time the agent was told media went out */
	struct dp_leg_stats st;
	struct dp_rtp_stats rtp;
	struct ice_addr media_remote[2]; /* where media for each component goes */
	uint32_t id;
	uint32_t ice_events;
	uint64_t ice_done_us;
	char name[DP_LEG_NAME];
	struct dp_turn_leg *turn; /* relays of the gateway's own (dp_turn.h): from the core's pool
				   * once the leg uses TURN (DP_LEG_TURN set), NULL before */
	struct ice_agent agent;
};

#define DP_LEG_USED 0x01
#define DP_LEG_ICE 0x02
#define DP_LEG_TRACE 0x04
#define DP_LEG_MUX 0x08
#define DP_LEG_TURN 0x10          /* a TURN server is set on a component */

struct dp_arp {
	uint32_t ip;
	uint8_t mac[6];
	uint8_t used;
	uint8_t pending;          /* an ARP request went out for ip and is unanswered */
	uint64_t asked_us;        /* when: requests are repeated at most once a second */
};

struct dp_core_stats {
	uint64_t rx, tx, tx_generated, arp_replies, arp_learned, arp_requests, timers_fired;
	uint64_t drops[DP_DROP_MAX];
	uint64_t ice_completed, ice_failed, consent_lost;
};

/* Frames the core makes itself (checks, keep-alives, ARP replies) go through this. */
typedef void (*dp_emit_fn)(void *ctx, const uint8_t *frame, uint16_t len);

struct dp_core {
	uint32_t ip;              /* gateway IPv4 address, host order: address 0, ips[0] */
	uint8_t mac[6];
	uint8_t gw_mac[6];        /* default next hop when the destination is not learned */
	bool have_gw_mac;
	bool udp_csum;            /* compute UDP checksums in software */
	uint32_t nlegs, max_legs;  /* nlegs: slots ever used (a high-water mark) */
	uint32_t active;           /* legs in use now */
	uint32_t *free_slots;      /* deleted slots, reused first (LIFO: warm in cache) */
	uint32_t nfree;
	/* TURN state of the legs that use relays (most do not): a pool, not a part of every leg */
	struct dp_turn_leg *turn_pool;
	uint32_t *turn_free;
	uint32_t nturn_free, max_turn;
	uint64_t turn_pool_empty;  /* legs refused TURN state: the pool was empty */
	struct dp_leg *legs;
	uint32_t *port_map;       /* address 0's 65536 entries: leg index + 1, 0 = none */
	/* every local address (interface) and its own port map; [0] are ip and port_map. A
	 * leg's ports are taken on its address only, so each address adds 65536 ports */
	uint32_t ips[DP_MAX_IFACES];
	uint32_t *port_maps[DP_MAX_IFACES];
	uint8_t naddr;
	void *(*alloc)(size_t n, size_t size);
	struct dp_tw tw;
	struct dp_tw_link *tw_links;
	struct dp_arp arp[DP_ARP_SLOTS];
	uint64_t seed;            /* per-leg RNG seeds derive from it */
	uint64_t *rng;            /* per-leg RNG state */
	uint16_t ip_id;
	dp_emit_fn emit;
	void *emit_ctx;
	struct dp_core_stats st;
	uint8_t scratch[2048];
	uint8_t reply[1600];
	/* trace ring: pjnath-style lines of legs with tracing on */
	char (*trace)[DP_TRACE_LEN];
	uint32_t trace_head, trace_len;
	void (*trace_sink)(void *ctx, const char *line);
	void *trace_ctx;
	uint64_t now;
	/* TURN responses for the control thread (dp_turn.h): 0, or negative when its ring is
	 * full (the response is dropped and counted; the client retransmits) */
	int (*turn_up)(void *ctx, uint32_t leg, uint8_t comp, const struct ice_addr *from,
		       const uint8_t *p, uint16_t len);
	void *turn_up_ctx;
};

/** Set a core up for at most max_legs legs; memory comes from alloc (rte_zmalloc_socket
 *  in the worker, calloc in tests). Returns 0 or -ENOMEM. */
int dp_core_init(struct dp_core *c, uint32_t ip, const uint8_t mac[6], uint32_t max_legs,
		 uint64_t seed, void *(*alloc)(size_t n, size_t size), uint64_t now_us);
void dp_core_free(struct dp_core *c, void (*release)(void *));
/** Add a local address (host order; the next interface index) with its own port map,
 *  allocated by the init's alloc. Returns the index, -EEXIST, -ENOSPC (DP_MAX_IFACES) or
 *  -ENOMEM. Legs choose their address with dp_leg_cfg.iface. */
int dp_core_add_addr(struct dp_core *c, uint32_t ip);

/** Size the pool of TURN state (legs with relays at once; dp_core_init makes it a quarter of
 *  max_legs, at least 16, at most max_legs). Only before the first leg uses TURN. 0 or -ENOMEM,
 *  -EBUSY when TURN state is in use. */
int dp_core_set_turn_legs(struct dp_core *c, uint32_t n, void (*release)(void *));
/** A leg's TURN state, taken from the pool on first use; NULL when the pool is empty
 *  (counted in turn_pool_empty). */
struct dp_turn_leg *dp_core_leg_turn(struct dp_core *c, uint32_t leg);

/** Create a leg. Returns its index or a negative errno. */
int dp_core_add_leg(struct dp_core *c, const struct dp_leg_cfg *cfg, uint64_t now_us);
/** Create a leg in a slot chosen by the control plane (which mirrors the free slots). */
int dp_core_add_leg_at(struct dp_core *c, const struct dp_leg_cfg *cfg, uint32_t slot,
		       uint64_t now_us);
/** The answer arrived: the peer's credentials, lite flag and default addresses. */
int dp_core_leg_set_remote(struct dp_core *c, uint32_t leg, const char *ufrag, const char *pwd,
			   bool lite, const struct ice_addr def[2]);
/** Add a remote candidate to a leg (SDP or trickle). */
int dp_core_leg_add_remote(struct dp_core *c, uint32_t leg, const struct ice_remote_cand *rc,
			   uint64_t now_us);
/** Delete a leg: its ports stop matching at once, its timers are cancelled, its peer is
 *  unpaired, and the slot is reused by a later leg. Only the owning core calls this. */
int dp_core_del_leg(struct dp_core *c, uint32_t leg);
/** Pair two legs for relay (both directions). */
int dp_core_pair(struct dp_core *c, uint32_t a, uint32_t b);
/** Start ICE on a leg (after its remote description is complete). */
int dp_core_start_leg(struct dp_core *c, uint32_t leg, uint64_t now_us);
int dp_core_find_leg(const struct dp_core *c, const char *name);

/** Process one received frame in place. *len may change (replies). */
enum dp_verdict dp_core_rx(struct dp_core *c, uint64_t now_us, uint8_t *frame, uint16_t *len,
			   uint16_t cap);
/** Fire due timers: checks, retransmissions, nomination, consent, keep-alives. */
void dp_core_timers(struct dp_core *c, uint64_t now_us);
/** Send a datagram from the leg's port of comp (a TURN request): 0 or -errno. */
int dp_core_leg_send(struct dp_core *c, uint32_t leg, uint8_t comp, const struct ice_addr *to,
		     const uint8_t *p, uint16_t len);
/** Give a leg a relayed candidate on comp, allocated on server. */
int dp_core_leg_add_relay(struct dp_core *c, uint32_t leg, uint8_t comp,
			  const struct ice_addr *relayed, const struct ice_addr *server,
			  uint16_t local_pref);
/** The same at now_us: a running agent pairs it now (its trace lines stamped now). */
int dp_core_leg_add_relay_at(struct dp_core *c, uint32_t leg, uint8_t comp,
			     const struct ice_addr *relayed, const struct ice_addr *server,
			     uint16_t local_pref, uint64_t now_us);
/** Learn a next hop (static ARP entry or the default gateway). */
void dp_core_arp_add(struct dp_core *c, uint32_t ip, const uint8_t mac[6]);
/**
 * Resolve a next hop ahead of use (a TURN server at a worker's start): an ARP request for ip
 * from local address index addr, unless its MAC is known or a default gateway MAC stands in.
 * Asked at most once a second per address, as on the packet path. Returns true when a
 * request went out. On the owning core only.
 */
bool dp_core_arp_resolve(struct dp_core *c, uint32_t ip, unsigned addr, uint64_t now_us);

#endif

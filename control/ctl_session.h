/* The session manager of the control thread: NG commands (ping, offer, answer, delete,
 * query, list, statistics) turned into legs on the workers and rewritten SDP. */
#ifndef CTL_SESSION_H
#define CTL_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "ctl_config.h"
#include "dp_cmd.h"

#define CTL_MAX_WORKERS 16
#define CTL_CALL_MEDIA 8     /* m= sections handled per call */

#define CTL_CFG_IFACES 16
#define CTL_CFG_IFACE_NAME 32

/* A local address of a media interface. Entries with the same name form one logical interface
 * (rtpengine's interface given several addresses): NG "direction" picks a logical interface per
 * leg by name, and the leg takes a port of one of its addresses. Each address has its own port
 * pool, so every address adds a full port range of calls. The list's order is the dataplane's
 * address order (dp_leg_cfg.iface); no address may appear twice. */
struct ctl_cfg_iface {
	char name[CTL_CFG_IFACE_NAME];
	uint32_t local_ip;       /* host order */
	uint32_t adv_ip;         /* written into SDP; 0 = local_ip */
};

struct ctl_cfg {
	/* interface 0. With n_iface == 0 it is the only one, named "default"; with an interface
	 * list, a non-zero local_ip / adv_ip overrides iface[0]'s (a command-line --ip). */
	uint32_t local_ip;       /* gateway address the workers answer on (host order) */
	uint32_t adv_ip;         /* address written into SDP (NAT'd SBCs); 0 = local_ip */
	struct ctl_cfg_iface iface[CTL_CFG_IFACES];
	unsigned n_iface;
	uint16_t port_min, port_max;
	uint32_t max_sessions;
	unsigned nworkers;
	uint32_t slots_per_worker;
	uint64_t seed;
	bool trace_legs;         /* keep pjnath-style traces of every leg */
	const struct ctl_turn_cfg *turn; /* TURN servers for relay candidates; NULL = none */
};

/* How the session manager reaches the workers. */
struct ctl_backend {
	/* Hand a command to a worker (ownership passes; the command comes back through
	 * ctl_cmd_done). 0, or -EBUSY when the worker's ring is full. */
	int (*submit)(void *ctx, unsigned worker, struct dp_cmd *cmd);
	/* Read-only view of a worker's leg: counters and ICE state, read without locks
	 * (single writer; a value may be a moment old). */
	const struct dp_leg *(*view)(void *ctx, unsigned worker, uint32_t slot);
	/* Optional: a worker's core, whose trace ring a query with flags ["trace"] reads
	 * (without locks, as view). NULL: such queries get empty traces. */
	const struct dp_core *(*core)(void *ctx, unsigned worker);
	void *ctx;
};

/* ICE outcomes of legs as they end (call deleted or re-offered), by ICEWarn flag: what the
 * seed table's operators count per call, summed over the gateway. */
struct ctl_warn_hist {
	uint64_t completed, failed;   /* legs whose ICE had ended, by outcome */
	uint64_t none;                /* of those, legs with ICEWarn 0 */
	uint64_t bit[32];             /* of those, legs with bit i set */
};

struct ctl_stats {
	uint64_t offers, answers, deletes, queries, pings, lists, statistics, errors, retransmits;
	uint64_t calls_created, calls_deleted, port_exhausted, session_limit;
	uint64_t leg_remakes;         /* legs deleted and made again (answerer's dialect or ICE) */
	uint64_t ms_final_offers;     /* [MS-ICE] final offers handed to an agent */
	uint32_t calls, legs, peak_calls;
	struct ctl_warn_hist ice_warn;
};

struct ctl_call;
struct ctl;

/** Create the session manager. Returns NULL on bad configuration or no memory. */
struct ctl *ctl_new(const struct ctl_cfg *cfg, const struct ctl_backend *be);
void ctl_free(struct ctl *c);

/**
 * Handle one NG datagram ("<cookie> <bencoded dict>") and write the reply into out.
 * Retransmitted cookies get the cached reply. Returns the reply length (0: no reply, the
 * datagram had no usable cookie) .
 */
size_t ctl_handle(struct ctl *c, const char *msg, size_t len, char *out, size_t cap,
		  uint64_t now_ms);

/* Where a deferred reply goes: the caller's own bytes (a sockaddr, a connection number). */
#define CTL_PEER_MAX 128
struct ctl_peer {
	uint32_t len;
	uint8_t addr[CTL_PEER_MAX];
};

/**
 * ctl_handle for a caller that can take a reply later: an offer whose relay candidates are
 * being allocated returns 0 with *pending set, and its reply comes out of ctl_poll with
 * this peer. A retransmission of a pending cookie is swallowed the same way (0, *pending);
 * once answered, retransmissions get the cached reply.
 */
size_t ctl_handle_from(struct ctl *c, const char *msg, size_t len, char *out, size_t cap,
		       uint64_t now_ms, const struct ctl_peer *peer, bool *pending);

/** Run the TURN clients' timers and emit at most one deferred reply into out (its length,
 *  0 when none is ready) with the peer it is for. Call until it returns 0. */
size_t ctl_poll(struct ctl *c, uint64_t now_ms, char *out, size_t cap, struct ctl_peer *peer);

/** A TURN response the worker received on the leg in (worker, slot), component comp. */
void ctl_turn_rx(struct ctl *c, unsigned worker, uint32_t slot, uint8_t comp,
		 const struct ice_addr *from, const uint8_t *p, uint16_t len, uint64_t now_ms);

/** Offers waiting for their relays. */
unsigned ctl_pending(const struct ctl *c);
/** The TURN allocations manager (NULL without TURN servers). */
struct ctl_turn *ctl_turn_mgr(const struct ctl *c);

/** A worker handed a command back: free it (and note a failure). */
void ctl_cmd_done(struct ctl *c, struct dp_cmd *cmd);

const struct ctl_stats *ctl_stats(const struct ctl *c);
/** Free RTP ports of address iface (an index of ctl_cfg.iface) over all workers (a muxed leg
 *  takes one, another two). */
uint32_t ctl_free_ports(const struct ctl *c, unsigned iface);
/** Memory held by the session manager (calls, tables, cache) in bytes. */
size_t ctl_memory(const struct ctl *c);

#endif

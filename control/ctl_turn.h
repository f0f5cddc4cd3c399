/* The control thread's TURN allocations for the gateway's own legs: one sans-IO turn_alloc
 * per leg component, its traffic sent and received through the leg's worker (dp_cmd). */
#ifndef CTL_TURN_H
#define CTL_TURN_H

#include <stdbool.h>
#include <stdint.h>

#include "ctl_config.h"
#include "ctl_session.h"
#include "turn.h"

#define CTL_TURN_DEFAULT_TIMEOUT_MS 2000  /* under Kamailio rtpengine's 5 x 1 s retries */
#define CTL_TURN_LOCAL_PREF 65535

/* ICEWarn bits the control thread sets (seed 000) besides the client's own. */
#define CTL_TURN_WARN_NO_SERVER 0x80000u   /* relay demanded, no TURN configured */
#define CTL_TURN_WARN_SEVERAL 0x100000u    /* several TURN servers configured */

enum ctl_turn_state {
	CTL_TURN_NONE = 0,        /* no allocation for this leg component */
	CTL_TURN_PENDING,         /* Allocate in flight */
	CTL_TURN_READY,           /* relayed address known, candidate given to the leg */
	CTL_TURN_FAILED,          /* gave up: see the warn bits */
};

struct ctl_turn_stats {
	uint64_t started, allocated, failed, released, timeouts, failovers;
	uint64_t permissions, channels, refreshes, rx, rx_unknown, send_busy;
	uint64_t active_dests, active_failed;  /* [MS-TURN] Set-Active-Destination outcomes */
	uint32_t active;
};

struct ctl_turn;

/** A manager for the legs of nworkers x slots_per_worker slots; NULL on bad arguments. The
 *  config is copied; the backend's submit carries the commands. */
struct ctl_turn *ctl_turn_new(const struct ctl_turn_cfg *cfg, const struct ctl_backend *be,
			      unsigned nworkers, uint32_t slots_per_worker, uint64_t seed);
void ctl_turn_free(struct ctl_turn *t);

/** 0 when allocations can be made with these credentials (MS-TURN: they decode as base64),
 *  else -EINVAL. */
int ctl_turn_cfg_check(const struct ctl_turn_cfg *cfg);

/** Servers configured (0: relays cannot be had). */
unsigned ctl_turn_servers(const struct ctl_turn *t);

/** Allocate for component comp of the leg in (worker, slot); its host port sends. 0 or -errno. */
int ctl_turn_start(struct ctl_turn *t, unsigned worker, uint32_t slot, uint8_t comp,
		   uint64_t now_us);
/** State of a leg component's allocation, its relayed address and ICEWarn bits. */
enum ctl_turn_state ctl_turn_state(const struct ctl_turn *t, unsigned worker, uint32_t slot,
				   uint8_t comp, struct ice_addr *relayed, uint32_t *warn);
/** The server-reflexive address the server saw the component's host port as (XOR-MAPPED-
 *  ADDRESS of the Allocate success). 0, or -ENOENT when the allocation is not ready. */
int ctl_turn_mapped(const struct ctl_turn *t, unsigned worker, uint32_t slot, uint8_t comp,
		    struct ice_addr *mapped);
/** Give up a pending allocation (the reply cannot wait longer): its warn bits say why. */
void ctl_turn_abort(struct ctl_turn *t, unsigned worker, uint32_t slot, uint8_t comp);
/** CreatePermission for a remote candidate's address on every component with a relay
 *  (none for MS-TURN relays, which have no permissions). */
void ctl_turn_permit(struct ctl_turn *t, unsigned worker, uint32_t slot, const struct ice_addr *peer,
		     uint64_t now_us);
/** The leg was made again in its slot: give it its relays (and channels) again. */
void ctl_turn_reinstall(struct ctl_turn *t, unsigned worker, uint32_t slot);
/** The leg goes: Deallocate (LIFETIME 0) sent before its delete, allocations freed. */
void ctl_turn_release(struct ctl_turn *t, unsigned worker, uint32_t slot, uint64_t now_us);

/** A TURN response the leg's worker received from its server. */
void ctl_turn_input(struct ctl_turn *t, unsigned worker, uint32_t slot, uint8_t comp,
		    const struct ice_addr *from, const uint8_t *p, uint16_t len, uint64_t now_us);
/** Timers, retransmissions, refreshes, ChannelBind (MS-TURN: Set-Active-Destination) for
 *  relayed pairs the legs selected. */
void ctl_turn_poll(struct ctl_turn *t, uint64_t now_us);

const struct ctl_turn_stats *ctl_turn_stats(const struct ctl_turn *t);

#endif

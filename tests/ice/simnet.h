/* A simulated network for agent tests: a virtual clock, NAT boxes of pjnath's four kinds,
 * latency, loss, duplication and reordering, all driven by a seeded PRNG. */
#ifndef SIMNET_H
#define SIMNET_H

#include <stdbool.h>
#include <stdint.h>

#include "ice_agent.h"

enum sim_nat {
	SIM_NAT_NONE = 0,
	SIM_NAT_FULL_CONE,       /* endpoint-independent mapping and filtering */
	SIM_NAT_RESTRICTED,      /* EIM, address-dependent filtering */
	SIM_NAT_PORT_RESTRICTED, /* EIM, address-and-port-dependent filtering */
	SIM_NAT_SYMMETRIC,       /* address-and-port-dependent mapping and filtering */
};

#define SIM_MAX_MAP 64
#define SIM_MAX_INFLIGHT 512

struct sim_map {
	struct ice_addr inside, outside, dest; /* dest: where the mapping was made to */
	struct ice_addr seen[8];               /* destinations sent to (filtering) */
	unsigned nseen;
};

struct sim_host {
	struct ice_agent agent;
	enum sim_nat nat;
	struct ice_addr priv;      /* host address (port = the agent's port) */
	struct ice_addr pub;       /* NAT public IP (port unused) */
	struct sim_map map[SIM_MAX_MAP];
	unsigned nmap;
	uint16_t next_port;
	bool down;                 /* drop everything to and from this host */
	bool answer_inline;        /* hand ice_agent_recv a reply buffer */
	struct ice_addr relayed;   /* a TURN relay of this host's (family 0: none): datagrams
				    * to it reach the host, its own from it leave unNATed, as a
				    * relay server would carry them (without the encapsulation) */
	unsigned events[16];       /* count per event type */
	unsigned sent, received;
	uint64_t completed_at, failed_at;
	char trace[64][200];       /* last trace lines (ring) */
	unsigned ntrace;
	bool print_trace;
};

struct sim_pkt {
	uint64_t at;
	struct ice_addr from, to;  /* public addresses on the wire */
	uint16_t len;
	uint8_t data[600];
};

struct simnet {
	uint64_t now;
	uint64_t rng;
	unsigned loss_pct, dup_pct, reorder_pct;
	uint32_t latency_us;
	struct sim_host *h[2];
	struct sim_pkt q[SIM_MAX_INFLIGHT];
	unsigned nq;
	unsigned delivered, dropped_filter, dropped_loss;
	/* a hook that may mangle or drop packets: return false to drop */
	bool (*tamper)(struct simnet *n, struct sim_pkt *p);
};

uint64_t sim_rand(void *ctx);
void sim_init(struct simnet *n, uint64_t seed);
/** Host at private address ip:port behind a NAT with public IP pub_ip. */
void sim_host_init(struct sim_host *h, enum sim_nat nat, const char *ip, uint16_t port,
		   const char *pub_ip);
/** Config with the sim's rng and the host's trace sink. */
void sim_config(struct simnet *n, struct sim_host *h, struct ice_config *cfg,
		enum ice_dialect d, enum ice_role role, const char *ufrag, const char *pwd);
/** Add host (+ server-reflexive when behind a NAT) candidates for component comp. */
void sim_gather(struct simnet *n, struct sim_host *h, uint8_t comp, uint16_t port);
/** Give each agent the other's candidates and credentials (as SDP would). */
void sim_exchange(struct simnet *n);
/** Run until both agents finish (completed or failed) and until + extra, or until limit. */
void sim_run(struct simnet *n, uint64_t until_us);
/** Count of a trace substring seen on a host (ring of the last 64 lines). */
bool sim_trace_has(const struct sim_host *h, const char *needle);

#endif

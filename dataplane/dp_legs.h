/* Provisioning legs from a file (INI style: [gateway] and [leg NAME] sections), so the
 * dataplane runs and is tested on its own; the control plane creates the same legs later. */
#ifndef DP_LEGS_H
#define DP_LEGS_H

#include <stddef.h>
#include <stdio.h>

#include "dp_core.h"

#define DP_LEGS_MAX_RC 16

struct dp_leg_spec {
	struct dp_leg_cfg cfg;
	char peer[DP_LEG_NAME];
	char ufrag[ICE_UFRAG_MAX + 1], pwd[ICE_PWD_MAX + 1];
	unsigned nrc;
	struct ice_remote_cand rc[DP_LEGS_MAX_RC];
	char rc_fnd[DP_LEGS_MAX_RC][33];
	char rc_msid[DP_LEGS_MAX_RC][65];
	char rc_mspwd[DP_LEGS_MAX_RC][65];
	unsigned line;
};

struct dp_legs {
	uint32_t ip;              /* [gateway] ip, host order; 0 = not set */
	uint8_t gw_mac[6];
	bool have_gw_mac;
	uint8_t mac[6];           /* [gateway] mac: source MAC of what we send (default: the port's) */
	bool have_mac;
	uint64_t seed;
	unsigned nlegs, cap;
	struct dp_leg_spec *legs; /* heap: provisioning is not the packet path */
};

/** Read a legs file. Returns 0, or -1 with "FILE:LINE: why" in err. */
int dp_legs_load(const char *path, struct dp_legs *out, char *err, size_t errlen);
/** Parse from a string (tests). */
int dp_legs_parse(const char *text, const char *name, struct dp_legs *out, char *err,
		  size_t errlen);
/** Create, pair and start every leg on a core. Returns 0 or -1 with err. */
int dp_legs_apply(const struct dp_legs *legs, struct dp_core *c, uint64_t now_us, char *err,
		  size_t errlen);
/** The legs of one worker of nworkers (those whose port dp_owner() gives it), each in the
 *  slot of its place in the file so that its random choices are those of a one-worker run.
 *  A leg whose peer another worker owns is an error. */
int dp_legs_apply_worker(const struct dp_legs *legs, struct dp_core *c, unsigned worker,
			 unsigned nworkers, uint64_t now_us, char *err, size_t errlen);
void dp_legs_free(struct dp_legs *legs);

#endif

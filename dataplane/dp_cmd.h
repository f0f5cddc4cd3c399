/* Commands from the control thread to a worker, carried by pointer on a single-producer
 * single-consumer ring, applied by the owning core between bursts. The control thread
 * allocates them and frees them when the worker hands them back: the worker never does. */
#ifndef DP_CMD_H
#define DP_CMD_H

#include "dp_core.h"

#define DP_CMD_MAX_RC 16

enum dp_cmd_type {
	DP_CMD_CREATE = 1,   /* cfg at slot; pair with peer if set; remote candidates; start */
	DP_CMD_REMOTE,       /* the other side's description: creds, candidates, start ICE */
	DP_CMD_DELETE,
	DP_CMD_SEND,         /* turn: a TURN request to the server from the leg's port */
	DP_CMD_LOCAL_CAND,   /* turn: a relayed candidate (and its server) for the agent */
	DP_CMD_TURN_CHAN,    /* turn: a channel bound to a peer */
	DP_CMD_TURN_ACTIVE,  /* turn: [MS-TURN] the peer the server made active destination */
};

struct dp_cmd {
	uint8_t type;
	uint8_t start;           /* start ICE once applied */
	uint8_t lite;            /* DP_CMD_REMOTE: the peer is ICE-lite */
	uint8_t nrc;
	int32_t result;          /* set by the worker: 0 or -errno */
	uint32_t slot, peer;     /* peer = DP_NO_LEG for none */
	struct dp_leg_cfg cfg;   /* DP_CMD_CREATE */
	char rufrag[ICE_UFRAG_MAX + 1], rpwd[ICE_PWD_MAX + 1];
	struct ice_addr def_remote[2];
	struct ice_remote_cand rc[DP_CMD_MAX_RC];   /* string pointers refer to the arrays below */
	char rc_fnd[DP_CMD_MAX_RC][33];
	char rc_msid[DP_CMD_MAX_RC][65];
	char rc_mspwd[DP_CMD_MAX_RC][33];
	struct dp_turn_cmd turn; /* DP_CMD_SEND, DP_CMD_LOCAL_CAND, DP_CMD_TURN_CHAN, _ACTIVE */
	/* DP_CMD_REMOTE, [MS-ICE] final offer: the remote candidate id the offerer chose
	 * (a=remote-candidate, base64), handed to ice_agent_ms_final_offer. "" for none. */
	char ms_final[65];
};

/** Apply a command on the core that owns the slot; fills cmd->result. */
void dp_cmd_apply(struct dp_core *c, struct dp_cmd *cmd, uint64_t now_us);

/** Copy a remote candidate (and its strings) into the command. 0 or -ENOSPC. */
int dp_cmd_add_rc(struct dp_cmd *cmd, const struct ice_remote_cand *rc);

#endif

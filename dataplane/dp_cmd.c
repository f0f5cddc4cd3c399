/* Worker side of the control interface: create, describe and delete legs on the core that
 * owns them. Runs between bursts; no allocation, the command memory is the control's. */
#include "dp_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int dp_cmd_add_rc(struct dp_cmd *cmd, const struct ice_remote_cand *rc)
{
	unsigned i = cmd->nrc;

	if (i == DP_CMD_MAX_RC)
		return -ENOSPC;
	cmd->rc[i] = *rc;
	snprintf(cmd->rc_fnd[i], sizeof(cmd->rc_fnd[i]), "%s", rc->foundation ? rc->foundation : "");
	snprintf(cmd->rc_msid[i], sizeof(cmd->rc_msid[i]), "%s", rc->ms_id ? rc->ms_id : "");
	snprintf(cmd->rc_mspwd[i], sizeof(cmd->rc_mspwd[i]), "%s", rc->ms_pwd ? rc->ms_pwd : "");
	cmd->nrc++;
	return 0;
}

static int add_remotes(struct dp_core *c, struct dp_cmd *cmd, uint64_t now)
{
	/* a leg without ICE uses the default address only: candidates have no use there */
	if (!(c->legs[cmd->slot].flags & DP_LEG_ICE))
		return 0;
	for (unsigned i = 0; i < cmd->nrc; i++) {
		struct ice_remote_cand rc = cmd->rc[i];
		int r;
		rc.foundation = cmd->rc_fnd[i];
		rc.ms_id = cmd->rc_msid[i][0] ? cmd->rc_msid[i] : NULL;
		rc.ms_pwd = cmd->rc_mspwd[i][0] ? cmd->rc_mspwd[i] : NULL;
		r = dp_core_leg_add_remote(c, cmd->slot, &rc, now);
		/* a candidate over the caps is dropped and counted by the agent; others are refused */
		if (r < 0 && r != -ENOSPC)
			return r;
	}
	return 0;
}

/* A TURN command's leg and component exist on this core. */
/* The command's leg and component exist and the leg has TURN state (taken from the pool now
 * if need be). */
static bool leg_turn_ok(struct dp_core *c, const struct dp_cmd *cmd)
{
	return cmd->slot < c->nlegs && (c->legs[cmd->slot].flags & DP_LEG_USED) &&
	       cmd->turn.comp >= 1 && cmd->turn.comp <= c->legs[cmd->slot].ncomp &&
	       dp_core_leg_turn(c, cmd->slot) != NULL;
}

void dp_cmd_apply(struct dp_core *c, struct dp_cmd *cmd, uint64_t now)
{
	int r;

	switch (cmd->type) {
	case DP_CMD_CREATE:
		r = dp_core_add_leg_at(c, &cmd->cfg, cmd->slot, now);
		if (r < 0)
			break;
		r = add_remotes(c, cmd, now);
		if (r == 0 && cmd->peer != DP_NO_LEG)
			r = dp_core_pair(c, cmd->slot, cmd->peer);
		if (r == 0 && cmd->start)
			r = dp_core_start_leg(c, cmd->slot, now);
		if (r < 0)
			dp_core_del_leg(c, cmd->slot);
		break;
	case DP_CMD_REMOTE:
		r = dp_core_leg_set_remote(c, cmd->slot, cmd->rufrag[0] ? cmd->rufrag : NULL,
					   cmd->rpwd[0] ? cmd->rpwd : NULL, cmd->lite, cmd->def_remote);
		if (r == 0)
			r = add_remotes(c, cmd, now);
		if (r == 0 && cmd->start)
			r = dp_core_start_leg(c, cmd->slot, now);
		if (r == 0 && cmd->ms_final[0] && (c->legs[cmd->slot].flags & DP_LEG_ICE) &&
		    ice_agent_ms_final_offer(&c->legs[cmd->slot].agent, now, cmd->ms_final) < 0)
			r = -ENOENT; /* no pair with that candidate: checks go on as they were */
		break;
	case DP_CMD_DELETE:
		r = dp_core_del_leg(c, cmd->slot);
		break;
	case DP_CMD_SEND:
		r = 0;
		if (cmd->turn.ms_renumber) {
			/* [MS-TURN]: numbered from the count the worker's Sends use */
			r = -EINVAL;
			if (leg_turn_ok(c, cmd))
				r = dp_turn_ms_renumber(c->legs[cmd->slot].turn, cmd->turn.comp,
							cmd->turn.buf, cmd->turn.len,
							cmd->turn.ms_seq_off);
		}
		if (r == 0 && cmd->turn.ms && leg_turn_ok(c, cmd))
			c->legs[cmd->slot].turn->comp[cmd->turn.comp - 1].ms = 1;
		if (r == 0)
			r = dp_core_leg_send(c, cmd->slot, cmd->turn.comp, &cmd->turn.dst,
					     cmd->turn.buf, cmd->turn.len);
		break;
	case DP_CMD_LOCAL_CAND:
		r = 0;
		if (cmd->turn.ms)
			r = leg_turn_ok(c, cmd) ? dp_turn_ms_install(c->legs[cmd->slot].turn,
								     cmd->turn.comp, &cmd->turn)
						: -EINVAL;
		if (r == 0)
			r = dp_core_leg_add_relay_at(c, cmd->slot, cmd->turn.comp, &cmd->turn.relayed,
						     &cmd->turn.dst, cmd->turn.local_pref, now);
		break;
	case DP_CMD_TURN_ACTIVE:
		r = -EINVAL;
		if (leg_turn_ok(c, cmd) && c->legs[cmd->slot].turn->comp[cmd->turn.comp - 1].ms) {
			dp_turn_ms_set_active(&c->legs[cmd->slot].turn->comp[cmd->turn.comp - 1],
					      &cmd->turn.dst);
			r = 0;
		}
		break;
	case DP_CMD_TURN_CHAN:
		r = -EINVAL;
		if (leg_turn_ok(c, cmd))
			r = dp_turn_chan_set(&c->legs[cmd->slot].turn->comp[cmd->turn.comp - 1],
					     &cmd->turn.dst, cmd->turn.channel) ? 0 : -ENOSPC;
		break;
	default:
		r = -EINVAL;
		break;
	}
	cmd->result = r < 0 ? r : 0;
}

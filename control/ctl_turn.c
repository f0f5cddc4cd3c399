/* TURN allocations of the gateway's legs, owned by the control thread: the turn.c client per
 * leg component, its datagrams carried out by DP_CMD_SEND from the leg's own port and its
 * responses handed back by the worker, relays and channels (MS-TURN: the Send template and the
 * active destination) given to the leg by command. */
#include "ctl_turn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dp_cmd.h"

struct ct_alloc {
	unsigned worker;
	uint32_t slot;
	uint8_t comp;
	uint8_t state;            /* enum ctl_turn_state */
	uint8_t srv;              /* index of the server in use */
	uint32_t warn;
	uint32_t act_idx;         /* position in the active list, UINT32_MAX when not in it */
	uint64_t try_until_us;    /* nothing heard by then: the next server */
	uint64_t chan_check_us;
	uint32_t ms_seq_seen;     /* [MS-TURN] highest number the worker was seen to have used */
	struct ice_addr sad_refused; /* [MS-TURN] a peer the server would not make active */
	struct ice_addr relayed;
	struct turn_alloc ta;
};

struct ctl_turn {
	struct ctl_turn_cfg cfg;
	struct ctl_backend be;
	unsigned nworkers;
	uint32_t slots;
	struct ct_alloc **map;    /* [worker][slot][comp - 1] */
	struct ct_alloc **act;    /* allocations with timers running */
	uint32_t nact;
	uint64_t rng;
	struct ctl_turn_stats st;
	uint8_t buf[DP_TURN_SEND_MAX];
};

#define CHAN_CHECK_US 200000  /* how often selected pairs are looked at for ChannelBind */
/* [MS-TURN] A leg made again starts its Send count here above the last number seen in the
 * worker (read every CHAN_CHECK_US): room for the Sends of one such period, so that the
 * server never sees a number go back. */
#define MS_SEQ_GAP 4096u

static uint64_t ct_rng(void *ctx)
{
	struct ctl_turn *t = ctx;
	uint64_t x = t->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	t->rng = x;
	return x;
}

struct ctl_turn *ctl_turn_new(const struct ctl_turn_cfg *cfg, const struct ctl_backend *be,
			      unsigned nworkers, uint32_t slots_per_worker, uint64_t seed)
{
	struct ctl_turn *t;

	if (!cfg || !be || !be->submit || !nworkers || !slots_per_worker)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cfg = *cfg;
	if (!t->cfg.timeout_ms)
		t->cfg.timeout_ms = CTL_TURN_DEFAULT_TIMEOUT_MS;
	t->be = *be;
	t->nworkers = nworkers;
	t->slots = slots_per_worker;
	t->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	t->map = calloc((size_t)nworkers * slots_per_worker * 2, sizeof(*t->map));
	t->act = calloc((size_t)nworkers * slots_per_worker * 2, sizeof(*t->act));
	if (!t->map || !t->act) {
		ctl_turn_free(t);
		return NULL;
	}
	return t;
}

void ctl_turn_free(struct ctl_turn *t)
{
	if (!t)
		return;
	if (t->map)
		for (size_t i = 0; i < (size_t)t->nworkers * t->slots * 2; i++)
			free(t->map[i]);
	free(t->map);
	free(t->act);
	free(t);
}

static uint64_t check_rng(void *ctx)
{
	(void)ctx;
	return 1;
}

int ctl_turn_cfg_check(const struct ctl_turn_cfg *cfg)
{
	struct turn_config tc = {.user = cfg->user, .pass = cfg->pass, .ms_turn = cfg->ms_turn,
				 .rng = check_rng};
	struct turn_alloc *ta = malloc(sizeof(*ta));
	int r;

	if (!ta)
		return -ENOMEM;
	ice_addr_set_v4(&tc.server, 0x7f000001u, 3478);
	r = turn_init(ta, &tc) == TURN_OK ? 0 : -EINVAL;
	free(ta);
	return r;
}

unsigned ctl_turn_servers(const struct ctl_turn *t)
{
	return t ? t->cfg.n_server : 0;
}

const struct ctl_turn_stats *ctl_turn_stats(const struct ctl_turn *t)
{
	return &t->st;
}

static struct ct_alloc **slot_of(const struct ctl_turn *t, unsigned w, uint32_t slot, uint8_t comp)
{
	if (w >= t->nworkers || slot >= t->slots || comp < 1 || comp > 2)
		return NULL;
	return &t->map[((size_t)w * t->slots + slot) * 2 + comp - 1];
}

static void act_add(struct ctl_turn *t, struct ct_alloc *a)
{
	a->act_idx = t->nact;
	t->act[t->nact++] = a;
}

static void act_del(struct ctl_turn *t, struct ct_alloc *a)
{
	if (a->act_idx == UINT32_MAX)
		return;
	t->act[a->act_idx] = t->act[--t->nact];
	t->act[a->act_idx]->act_idx = a->act_idx;
	a->act_idx = UINT32_MAX;
}

static struct dp_cmd *new_cmd(uint8_t type, const struct ct_alloc *a)
{
	struct dp_cmd *cmd = calloc(1, sizeof(*cmd));

	if (!cmd)
		return NULL;
	cmd->type = type;
	cmd->slot = a->slot;
	cmd->peer = DP_NO_LEG;
	cmd->turn.comp = a->comp;
	return cmd;
}

static void send_cmd(struct ctl_turn *t, unsigned w, struct dp_cmd *cmd)
{
	if (!cmd) {
		t->st.send_busy++;
		return;
	}
	if (t->be.submit(t->be.ctx, w, cmd) < 0) {
		/* a lost request is retransmitted by the client; a lost candidate is not, but
		 * the reply then has no relay either (the worker's ring is full of offers) */
		t->st.send_busy++;
		free(cmd);
	}
}

/* [MS-TURN] The worker wraps Sends itself: it gets one made by turn_wrap() (so byte for byte
 * what msturn_check compares with libnice's) with empty DATA, to copy and patch per packet,
 * the key to sign it, and the number to count on from. */
static int ms_template(struct ct_alloc *a, struct dp_turn_cmd *tc, uint32_t seq)
{
	struct ice_addr none;
	uint32_t keep = a->ta.ms_seq;
	int n;

	ice_addr_set_v4(&none, 0, 0); /* never an active destination: a Send is built */
	n = turn_wrap(&a->ta, &none, "", 0, tc->buf, sizeof(tc->buf));
	a->ta.ms_seq = keep;
	if (n <= 0)
		return -EINVAL;
	tc->len = (uint16_t)n;
	tc->ms = 1;
	tc->ms_seq = seq;
	tc->ms_key = a->ta.lt.key;
	return 0;
}

static void give_relay(struct ctl_turn *t, struct ct_alloc *a, uint32_t seq)
{
	struct dp_cmd *cmd = new_cmd(DP_CMD_LOCAL_CAND, a);

	if (cmd) {
		cmd->turn.relayed = a->relayed;
		cmd->turn.dst = a->ta.server;
		cmd->turn.local_pref = CTL_TURN_LOCAL_PREF;
		if (t->cfg.ms_turn && ms_template(a, &cmd->turn, seq) != 0) {
			free(cmd);
			cmd = NULL;
		}
	}
	send_cmd(t, a->worker, cmd);
}

/* [MS-TURN] The peer the server relays bare data for (family 0: none any more). */
static void give_active(struct ctl_turn *t, struct ct_alloc *a, const struct ice_addr *peer)
{
	struct dp_cmd *cmd = new_cmd(DP_CMD_TURN_ACTIVE, a);

	if (cmd)
		cmd->turn.dst = *peer;
	send_cmd(t, a->worker, cmd);
}

/* [MS-TURN] A signed Set-Active-Destination goes out numbered by the worker, from the count
 * its Sends use (the server sees one rising sequence per connection id); where the number is. */
static void ms_renumber(const struct ct_alloc *a, struct dp_turn_cmd *tc)
{
	struct stun_msg m;
	const struct stun_attr *at;

	if (!a->ta.cfg.ms_turn || !a->ta.lt.have_key || !a->ta.ms_seq_valid ||
	    stun_parse(&m, tc->buf, tc->len, STUN_PF_MS_ATTRS | STUN_PF_UNPADDED) != 0 ||
	    m.method != MSTURN_M_SET_ACTIVE_DEST || m.cls != STUN_C_REQUEST ||
	    !(at = stun_msg_find(&m, MSTURN_A_MS_SEQUENCE_NUMBER)) || at->len != MSTURN_MS_SEQ_LEN)
		return;
	tc->ms_renumber = 1;
	tc->ms_seq_off = at->off;
}

static void give_channel(struct ctl_turn *t, struct ct_alloc *a, const struct ice_addr *peer,
			 uint16_t number)
{
	struct dp_cmd *cmd = new_cmd(DP_CMD_TURN_CHAN, a);

	if (cmd) {
		cmd->turn.dst = *peer;
		cmd->turn.channel = number;
	}
	send_cmd(t, a->worker, cmd);
}

/* What the client wants sent goes out of the leg's port, by command. */
static void transmit(struct ctl_turn *t, struct ct_alloc *a, uint64_t now)
{
	struct ice_addr to;
	int n;

	while ((n = turn_poll_transmit(&a->ta, now, t->buf, sizeof(t->buf), &to)) > 0) {
		struct dp_cmd *cmd = new_cmd(DP_CMD_SEND, a);

		if (cmd) {
			cmd->turn.dst = to;
			cmd->turn.len = (uint16_t)n;
			memcpy(cmd->turn.buf, t->buf, (size_t)n);
			cmd->turn.ms = t->cfg.ms_turn;
			ms_renumber(a, &cmd->turn);
		}
		send_cmd(t, a->worker, cmd);
	}
}

static int begin(struct ctl_turn *t, struct ct_alloc *a, uint64_t now)
{
	struct turn_config tc = {
		.server = t->cfg.server[a->srv], .user = t->cfg.user, .pass = t->cfg.pass,
		.ms_turn = t->cfg.ms_turn, .rng = ct_rng, .rng_ctx = t,
	};

	if (turn_init(&a->ta, &tc) != 0 || turn_start(&a->ta, now) != 0)
		return -EINVAL;
	/* each server gets its share of the time an offer waits */
	a->try_until_us = t->cfg.n_server > 1 && a->srv + 1u < t->cfg.n_server ?
				  now + (uint64_t)t->cfg.timeout_ms * 1000 / t->cfg.n_server :
				  UINT64_MAX;
	a->state = CTL_TURN_PENDING;
	return 0;
}

static void fail(struct ctl_turn *t, struct ct_alloc *a)
{
	a->state = CTL_TURN_FAILED;
	t->st.failed++;
	act_del(t, a);
}

/* The next configured server, after one that never answered. */
static bool failover(struct ctl_turn *t, struct ct_alloc *a, uint64_t now)
{
	if (a->srv + 1u >= t->cfg.n_server)
		return false;
	a->warn |= TURN_WARN_UNREACHABLE;
	a->srv++;
	t->st.failovers++;
	if (begin(t, a, now) != 0)
		return false;
	transmit(t, a, now);
	return true;
}

static bool has_channel(const struct turn_alloc *ta, const struct ice_addr *peer)
{
	for (int i = 0; i < TURN_MAX_CHANNELS; i++)
		if (ta->chan[i].state && ice_addr_eq(&ta->chan[i].peer, peer))
			return true;
	return false;
}

/* Send what is due, then act on the client's events. */
static void flush(struct ctl_turn *t, struct ct_alloc *a, uint64_t now)
{
	struct turn_event ev;

	transmit(t, a, now);
	while (a->state != CTL_TURN_FAILED && turn_poll_event(&a->ta, &ev)) {
		a->warn |= a->ta.warn;
		switch (ev.type) {
		case TURN_EV_ALLOCATED:
			if (t->cfg.realm[0] && strcmp(a->ta.lt.realm, t->cfg.realm) != 0) {
				/* not the realm our credentials are for: give it back */
				a->warn |= TURN_WARN_CREDENTIALS;
				turn_release(&a->ta, now);
				transmit(t, a, now);
				fail(t, a);
				break;
			}
			a->relayed = ev.relayed;
			a->state = CTL_TURN_READY;
			a->chan_check_us = now + CHAN_CHECK_US;
			t->st.allocated++;
			give_relay(t, a, a->ta.ms_seq);
			break;
		case TURN_EV_FAILED:
			a->warn |= ev.warn;
			if ((ev.warn & TURN_WARN_UNREACHABLE) && a->state == CTL_TURN_PENDING &&
			    failover(t, a, now))
				break;
			fail(t, a);
			break;
		case TURN_EV_CHANNEL_BOUND:
			t->st.channels++;
			give_channel(t, a, &ev.peer, ev.channel);
			break;
		case TURN_EV_PERMISSION:
			t->st.permissions++;
			break;
		case TURN_EV_REFRESHED:
			t->st.refreshes++;
			break;
		case TURN_EV_ACTIVE_DEST:
			t->st.active_dests++;
			give_active(t, a, &ev.peer);
			break;
		case TURN_EV_ACTIVE_DEST_FAILED: {
			/* 0x4 (turn.c set it); not asked again for that peer. The server's old
			 * destination may stand, but nothing bare is taken from it any more. */
			struct ice_addr none = {0};
			a->warn |= ev.warn;
			a->sad_refused = ev.peer;
			t->st.active_failed++;
			give_active(t, a, &none);
			break;
		}
		default:
			break;
		}
	}
}

int ctl_turn_start(struct ctl_turn *t, unsigned w, uint32_t slot, uint8_t comp, uint64_t now)
{
	struct ct_alloc **pp = slot_of(t, w, slot, comp), *a;

	if (!pp)
		return -EINVAL;
	if (!t->cfg.n_server)
		return -ENOENT;
	if (*pp)
		return -EEXIST;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->worker = w;
	a->slot = slot;
	a->comp = comp;
	a->act_idx = UINT32_MAX;
	a->warn = t->cfg.n_server > 1 ? CTL_TURN_WARN_SEVERAL : 0;
	if (begin(t, a, now) != 0) {
		free(a);
		return -EINVAL;
	}
	*pp = a;
	act_add(t, a);
	t->st.started++;
	t->st.active++;
	flush(t, a, now);
	return 0;
}

enum ctl_turn_state ctl_turn_state(const struct ctl_turn *t, unsigned w, uint32_t slot,
				   uint8_t comp, struct ice_addr *relayed, uint32_t *warn)
{
	struct ct_alloc **pp = t ? slot_of(t, w, slot, comp) : NULL;

	if (!pp || !*pp)
		return CTL_TURN_NONE;
	if (relayed)
		*relayed = (*pp)->relayed;
	if (warn)
		*warn = (*pp)->warn | (*pp)->ta.warn;
	return (enum ctl_turn_state)(*pp)->state;
}

int ctl_turn_mapped(const struct ctl_turn *t, unsigned w, uint32_t slot, uint8_t comp,
		    struct ice_addr *mapped)
{
	struct ct_alloc **pp = t ? slot_of(t, w, slot, comp) : NULL;

	if (!pp || !*pp || (*pp)->state != CTL_TURN_READY || !(*pp)->ta.mapped.family)
		return -ENOENT;
	*mapped = (*pp)->ta.mapped;
	return 0;
}

void ctl_turn_abort(struct ctl_turn *t, unsigned w, uint32_t slot, uint8_t comp)
{
	struct ct_alloc **pp = slot_of(t, w, slot, comp);

	if (!pp || !*pp || (*pp)->state != CTL_TURN_PENDING)
		return;
	/* never answered: unreachable (0x1); answered but not allocated: allocate failed (0x2) */
	(*pp)->warn |= (*pp)->ta.heard ? TURN_WARN_ALLOC_FAILED : TURN_WARN_UNREACHABLE;
	t->st.timeouts++;
	fail(t, *pp);
}

void ctl_turn_permit(struct ctl_turn *t, unsigned w, uint32_t slot, const struct ice_addr *peer,
		     uint64_t now)
{
	for (uint8_t comp = 1; comp <= 2; comp++) {
		struct ct_alloc **pp = slot_of(t, w, slot, comp);

		if (!pp || !*pp || (*pp)->state != CTL_TURN_READY || peer->family != ICE_AF_INET ||
		    t->cfg.ms_turn) /* [MS-TURN] has no permissions: the Send is enough */
			continue;
		/* RFC 8656 §9: permissions are per IP; turn.c keeps one per address */
		if (turn_permit(&(*pp)->ta, now, peer) >= 0)
			flush(t, *pp, now);
	}
}

void ctl_turn_reinstall(struct ctl_turn *t, unsigned w, uint32_t slot)
{
	for (uint8_t comp = 1; comp <= 2; comp++) {
		struct ct_alloc **pp = slot_of(t, w, slot, comp), *a;

		if (!pp || !*pp || (*pp)->state != CTL_TURN_READY)
			continue;
		a = *pp;
		give_relay(t, a, (a->ms_seq_seen > a->ta.ms_seq ? a->ms_seq_seen : a->ta.ms_seq) +
				     (t->cfg.ms_turn ? MS_SEQ_GAP : 0));
		for (int i = 0; i < TURN_MAX_CHANNELS; i++)
			if (a->ta.chan[i].state == 2)
				give_channel(t, a, &a->ta.chan[i].peer, a->ta.chan[i].number);
		if (t->cfg.ms_turn && a->ta.active_state == 2)
			give_active(t, a, &a->ta.active_dest);
	}
}

void ctl_turn_release(struct ctl_turn *t, unsigned w, uint32_t slot, uint64_t now)
{
	for (uint8_t comp = 1; comp <= 2; comp++) {
		struct ct_alloc **pp = slot_of(t, w, slot, comp), *a;
		struct ice_addr to;
		int n;

		if (!pp || !*pp)
			continue;
		a = *pp;
		if (a->state == CTL_TURN_READY && turn_release(&a->ta, now) == 0) {
			/* RFC 8656 §7: Refresh with LIFETIME 0, sent once, ahead of the leg's delete
			 * in the worker's ring; unanswered, the allocation expires on its own */
			n = turn_poll_transmit(&a->ta, now, t->buf, sizeof(t->buf), &to);
			if (n > 0) {
				struct dp_cmd *cmd = new_cmd(DP_CMD_SEND, a);
				if (cmd) {
					cmd->turn.dst = to;
					cmd->turn.len = (uint16_t)n;
					cmd->turn.ms = t->cfg.ms_turn;
					memcpy(cmd->turn.buf, t->buf, (size_t)n);
				}
				send_cmd(t, w, cmd);
			}
		}
		act_del(t, a);
		free(a);
		*pp = NULL;
		t->st.released++;
		t->st.active--;
	}
}

void ctl_turn_input(struct ctl_turn *t, unsigned w, uint32_t slot, uint8_t comp,
		    const struct ice_addr *from, const uint8_t *p, uint16_t len, uint64_t now)
{
	struct ct_alloc **pp = slot_of(t, w, slot, comp);

	t->st.rx++;
	if (!pp || !*pp || (*pp)->state == CTL_TURN_FAILED ||
	    turn_handle(&(*pp)->ta, now, from, p, len) != TURN_RX_HANDLED) {
		t->st.rx_unknown++;
		return;
	}
	flush(t, *pp, now);
}

/* A leg whose selected pair is on its relay gets a channel for that peer (RFC 8656 §12):
 * 4 bytes of overhead instead of a Send indication's 36. [MS-TURN] §3.2.4.6: the peer is
 * made the active destination instead, and its data then goes bare. */
static void check_channel(struct ctl_turn *t, struct ct_alloc *a, uint64_t now)
{
	const struct dp_leg *l;
	struct ice_addr loc, rem;

	a->chan_check_us = now + CHAN_CHECK_US;
	if (!t->be.view)
		return;
	l = t->be.view(t->be.ctx, a->worker, a->slot);
	if (!l || !(l->flags & DP_LEG_USED) || a->comp > l->ncomp || !l->turn)
		return;
	if (t->cfg.ms_turn && l->turn->comp[a->comp - 1].ms &&
	    l->turn->comp[a->comp - 1].ms_seq > a->ms_seq_seen)
		a->ms_seq_seen = l->turn->comp[a->comp - 1].ms_seq; /* a racy read, only a floor */
	if (!(l->flags & DP_LEG_ICE) || !l->turn->comp[a->comp - 1].selected)
		return;
	if (ice_agent_selected(&l->agent, a->comp, &loc, &rem) != 0 || !ice_addr_eq(&loc, &a->relayed) ||
	    rem.family != ICE_AF_INET)
		return;
	if (t->cfg.ms_turn) {
		if ((a->ta.active_state && ice_addr_eq(&a->ta.active_dest, &rem)) ||
		    ice_addr_eq(&a->sad_refused, &rem))
			return;
		if (turn_set_active_dest(&a->ta, now, &rem) == 0)
			flush(t, a, now);
		return;
	}
	if (has_channel(&a->ta, &rem))
		return;
	if (turn_bind_channel(&a->ta, now, &rem) >= 0)
		flush(t, a, now);
}

void ctl_turn_poll(struct ctl_turn *t, uint64_t now)
{
	for (uint32_t i = 0; i < t->nact;) {
		struct ct_alloc *a = t->act[i];

		if (a->state == CTL_TURN_PENDING && !a->ta.heard && now >= a->try_until_us) {
			failover(t, a, now);
		} else if (now >= turn_next_timeout(&a->ta)) {
			turn_handle_timeout(&a->ta, now);
			flush(t, a, now);
		}
		if (a->state == CTL_TURN_READY && now >= a->chan_check_us)
			check_channel(t, a, now);
		/* a failed allocation left the list: the same index holds another now */
		if (i < t->nact && t->act[i] == a)
			i++;
	}
}

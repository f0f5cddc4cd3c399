/* Session manager: calls keyed by Call-ID, two legs per m= section (one facing each side),
 * ports and worker slots allocated here, legs created on the owning worker by command,
 * and the SDP of each side rewritten to point at the gateway. Control thread only. */
#include "ctl_session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_metrics.h"
#include "ctl_sdp.h"
#include "dp_owner.h"
#include "ice_warn.h"
#include "ng_bencode.h"
#include "ng_proto.h"

#define CALLID_MAX 255
#define TAG_MAX 127
#define REPLY_MAX 65000
#define CACHE_ENTRIES 4096
/* query with flags ["trace"]: at most this many lines per leg and bytes per reply, so the
 * reply stays one datagram (the rest of a query reply is well under 4 KB) */
#define TRACE_LEG_LINES 128
#define TRACE_REPLY_BYTES 40000

struct ctl_media {
	uint32_t slot_a, slot_b;     /* a faces the offerer, b the answerer */
	uint16_t port_a, port_b;     /* even RTP ports; RTCP on +1 unless muxed */
	bool active;                 /* port 0 in the offer: nothing allocated */
	bool mux, ice_a, ice_b;
	char ufrag_a[9], pwd_a[25], ufrag_b[9], pwd_b[25];
	char peer_ufrag_a[ICE_UFRAG_MAX + 1]; /* the offerer's ufrag: a change means ICE restart */
};

struct ctl_call {
	struct ctl_call *next;       /* hash chain */
	char call_id[CALLID_MAX + 1];
	char from_tag[TAG_MAX + 1], to_tag[TAG_MAX + 1];
	unsigned worker;
	unsigned nmedia;
	bool answered;
	uint64_t created_ms, last_ms;
	struct ctl_media media[CTL_CALL_MEDIA];
};

struct ctl {
	struct ctl_cfg cfg;
	struct ctl_backend be;
	struct ctl_stats st;
	uint64_t rng;
	unsigned next_worker;
	/* free RTP ports (even) and free leg slots, per worker: stacks */
	uint16_t *ports[CTL_MAX_WORKERS];
	uint32_t nports[CTL_MAX_WORKERS];
	uint32_t *slots[CTL_MAX_WORKERS];
	uint32_t nslots[CTL_MAX_WORKERS];
	struct ctl_call **table;
	uint32_t table_size;
	struct ng_cache cache;
	struct ctl_sdp *sdp;         /* one parse at a time: large, so on the heap once */
	struct ng_benc_node *nodes;
	char *out;
	char *trace;                 /* strings of the query reply being built (trace lines, addresses) */
};

static uint64_t rnd(struct ctl *c)
{
	uint64_t x = c->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	c->rng = x;
	return x;
}

/* ice-chars (RFC 8839 §5.4): ALPHA / DIGIT / "+" / "/" */
static void rnd_token(struct ctl *c, char *out, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < n; i++)
		out[i] = set[rnd(c) % 64];
	out[n] = 0;
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

struct ctl *ctl_new(const struct ctl_cfg *cfg, const struct ctl_backend *be)
{
	struct ctl *c;

	if (!cfg->local_ip || cfg->nworkers == 0 || cfg->nworkers > CTL_MAX_WORKERS ||
	    cfg->port_min < 1024 || cfg->port_max <= cfg->port_min || !cfg->slots_per_worker)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	if (!c->cfg.adv_ip)
		c->cfg.adv_ip = cfg->local_ip;
	if (!c->cfg.max_sessions)
		c->cfg.max_sessions = 100000;
	c->be = *be;
	c->rng = cfg->seed ? cfg->seed : 0x5851f42d4c957f2dull;
	for (unsigned w = 0; w < cfg->nworkers; w++) {
		c->ports[w] = calloc(65536 / 2, sizeof(uint16_t));
		c->slots[w] = calloc(cfg->slots_per_worker, sizeof(uint32_t));
		if (!c->ports[w] || !c->slots[w])
			goto fail;
		for (uint32_t s = cfg->slots_per_worker; s-- > 0;)
			c->slots[w][c->nslots[w]++] = s;
	}
	/* even RTP ports; a port pair belongs to worker (port / 2) % nworkers, which is how the
	 * dispatcher (or RSS on the port) steers a packet to the core owning its leg */
	for (uint32_t p = (cfg->port_max - 1) & ~1u; p >= cfg->port_min; p -= 2) {
		unsigned w = dp_owner((uint16_t)p, cfg->nworkers);
		c->ports[w][c->nports[w]++] = (uint16_t)p;
		if (p < 2)
			break;
	}
	c->table_size = 1u << 16;
	c->table = calloc(c->table_size, sizeof(*c->table));
	c->sdp = malloc(sizeof(*c->sdp));
	c->nodes = calloc(NG_NODES_MAX, sizeof(*c->nodes));
	c->out = malloc(REPLY_MAX);
	c->trace = malloc(TRACE_REPLY_BYTES);
	if (!c->table || !c->sdp || !c->nodes || !c->out || !c->trace ||
	    ng_cache_init(&c->cache, CACHE_ENTRIES, 16u << 20, NG_CACHE_TTL_MS) != 0)
		goto fail;
	return c;
fail:
	ctl_free(c);
	return NULL;
}

void ctl_free(struct ctl *c)
{
	if (!c)
		return;
	if (c->table)
		for (uint32_t i = 0; i < c->table_size; i++)
			while (c->table[i]) {
				struct ctl_call *n = c->table[i]->next;
				free(c->table[i]);
				c->table[i] = n;
			}
	for (unsigned w = 0; w < CTL_MAX_WORKERS; w++) {
		free(c->ports[w]);
		free(c->slots[w]);
	}
	ng_cache_free(&c->cache);
	free(c->table);
	free(c->sdp);
	free(c->nodes);
	free(c->out);
	free(c->trace);
	free(c);
}

const struct ctl_stats *ctl_stats(const struct ctl *c)
{
	return &c->st;
}

size_t ctl_memory(const struct ctl *c)
{
	size_t m = sizeof(*c) + c->table_size * sizeof(*c->table) + sizeof(*c->sdp) +
		   NG_NODES_MAX * sizeof(*c->nodes) + REPLY_MAX + TRACE_REPLY_BYTES + c->cache.bytes;
	m += (size_t)c->st.calls * sizeof(struct ctl_call);
	for (unsigned w = 0; w < c->cfg.nworkers; w++)
		m += 65536 / 2 * sizeof(uint16_t) + c->cfg.slots_per_worker * sizeof(uint32_t);
	return m;
}

static struct ctl_call *find_call(struct ctl *c, const char *id)
{
	for (struct ctl_call *k = c->table[hash_str(id) & (c->table_size - 1)]; k; k = k->next)
		if (!strcmp(k->call_id, id))
			return k;
	return NULL;
}

static void unlink_call(struct ctl *c, struct ctl_call *call)
{
	struct ctl_call **pp = &c->table[hash_str(call->call_id) & (c->table_size - 1)];

	while (*pp && *pp != call)
		pp = &(*pp)->next;
	if (*pp)
		*pp = call->next;
}

static int submit(struct ctl *c, unsigned w, struct dp_cmd *cmd)
{
	int r = c->be.submit(c->be.ctx, w, cmd);

	if (r < 0)
		free(cmd);
	return r;
}

void ctl_cmd_done(struct ctl *c, struct dp_cmd *cmd)
{
	if (cmd->result < 0)
		c->st.errors++;
	free(cmd);
}

/* A leg about to go: if its ICE ended, count the outcome and its ICEWarn flags. Read before
 * the delete is queued, while the slot is still this leg's. */
static void note_outcome(struct ctl *c, unsigned w, uint32_t slot)
{
	const struct dp_leg *l = c->be.view(c->be.ctx, w, slot);
	enum ice_state s;

	if (!l || !(l->flags & DP_LEG_USED) || !(l->flags & DP_LEG_ICE))
		return;
	s = ice_agent_state(&l->agent);
	if (s == ICE_STATE_COMPLETED || s == ICE_STATE_FAILED)
		ctl_metrics_note_warn(&c->st.ice_warn, s == ICE_STATE_FAILED,
				      ice_agent_warn(&l->agent));
}

/* Give back a call's ports and slots and delete its legs on the worker. */
static void release_media(struct ctl *c, struct ctl_call *call)
{
	unsigned w = call->worker;

	for (unsigned i = 0; i < call->nmedia; i++) {
		struct ctl_media *m = &call->media[i];
		uint32_t slots[2] = {m->slot_a, m->slot_b};
		uint16_t ports[2] = {m->port_a, m->port_b};

		if (!m->active)
			continue;
		for (int k = 0; k < 2; k++) {
			struct dp_cmd *cmd = calloc(1, sizeof(*cmd));

			note_outcome(c, w, slots[k]);
			if (cmd) {
				cmd->type = DP_CMD_DELETE;
				cmd->slot = slots[k];
				cmd->peer = DP_NO_LEG;
				submit(c, w, cmd);
			}
			/* the worker applies commands in order: a later create at this slot or
			 * on these ports comes after the delete */
			c->slots[w][c->nslots[w]++] = slots[k];
			c->ports[w][c->nports[w]++] = ports[k];
			c->st.legs--;
		}
		m->active = false;
	}
	call->nmedia = 0;
}

static void delete_call(struct ctl *c, struct ctl_call *call)
{
	release_media(c, call);
	unlink_call(c, call);
	c->st.calls--;
	c->st.calls_deleted++;
	free(call);
}

static void copy_str(char *dst, size_t cap, struct ng_str s)
{
	size_t n = s.n < cap - 1 ? s.n : cap - 1;

	memcpy(dst, s.p, n);
	dst[n] = 0;
}

static enum ice_cand_type cand_type(uint8_t t)
{
	switch (t) {
	case SDP_CAND_SRFLX: return ICE_CAND_SRFLX;
	case SDP_CAND_PRFLX: return ICE_CAND_PRFLX;
	case SDP_CAND_RELAY: return ICE_CAND_RELAY;
	default: return ICE_CAND_HOST;
	}
}

/* The peer's side of one m= section, as a command's remote description. */
static void describe_remote(struct dp_cmd *cmd, const struct ctl_sdp_media *pm, bool *dialect_ms)
{
	const struct sdp_ice_media *im = &pm->sdp->ice;

	/* credentials longer than the agent keeps cannot be checked: such a leg gets no ICE */
	if (strlen(pm->ice.ufrag) < sizeof(cmd->rufrag) && strlen(pm->ice.pwd) < sizeof(cmd->rpwd)) {
		memcpy(cmd->rufrag, pm->ice.ufrag, strlen(pm->ice.ufrag) + 1);
		memcpy(cmd->rpwd, pm->ice.pwd, strlen(pm->ice.pwd) + 1);
	}
	cmd->lite = pm->ice.lite;
	memset(cmd->def_remote, 0, sizeof(cmd->def_remote));
	if (pm->has_conn && pm->conn.family == ICE_AF_INET && !pm->hold) {
		cmd->def_remote[0] = pm->conn;
		cmd->def_remote[0].port = pm->port;
		if (!pm->rtcp_mux) {
			cmd->def_remote[1] = pm->rtcp_addr.family ? pm->rtcp_addr : pm->conn;
			cmd->def_remote[1].port = pm->rtcp_port;
		}
	}
	*dialect_ms = false;
	for (unsigned i = 0; i < im->n_cand; i++) {
		const struct sdp_candidate *sc = &im->cand[i];
		struct ice_remote_cand rc;

		if (sc->transport != SDP_TP_UDP || sc->addr.family != ICE_AF_INET ||
		    sc->component < 1 || sc->component > 2)
			continue;
		if (pm->rtcp_mux && sc->component != 1)
			continue;
		memset(&rc, 0, sizeof(rc));
		rc.comp = (uint8_t)sc->component;
		rc.type = cand_type(sc->type);
		rc.addr = sc->addr;
		rc.foundation = sc->foundation;
		if (sc->form == SDP_FORM_DRAFT06) {
			*dialect_ms = true;
			rc.prio = sc->qvalue;
			rc.ms_id = sc->foundation;
			rc.ms_pwd = sc->password;
		} else {
			rc.prio = sc->priority;
		}
		dp_cmd_add_rc(cmd, &rc);
	}
}

/* Leg names prefix the leg's trace lines: a query with flags ["trace"] finds them by it. */
/* A command telling the leg in slot what the peer's side of a section now says. */
static struct dp_cmd *remote_cmd(uint32_t slot, const struct ctl_sdp_media *pm, bool *ms)
{
	struct dp_cmd *cmd = calloc(1, sizeof(*cmd));

	if (!cmd)
		return NULL;
	cmd->type = DP_CMD_REMOTE;
	cmd->slot = slot;
	cmd->peer = DP_NO_LEG;
	describe_remote(cmd, pm, ms);
	return cmd;
}

static int leg_name(char *out, size_t cap, const struct ctl_call *call, unsigned i, char side)
{
	return snprintf(out, cap, "%.16s/%u%c", call->call_id, i, side);
}

/* Our host candidates for one side of a section, for the rewritten SDP. */
static unsigned host_cands(struct ctl *c, struct sdp_candidate *out, uint16_t port, bool mux,
			   bool draft06, const char *id, const char *pwd)
{
	unsigned n = mux ? 1 : 2;

	for (unsigned k = 0; k < n; k++) {
		struct sdp_candidate *sc = &out[k];
		memset(sc, 0, sizeof(*sc));
		sc->component = (uint16_t)(k + 1);
		sc->transport = SDP_TP_UDP;
		sc->type = SDP_CAND_HOST;
		ice_addr_set_v4(&sc->addr, c->cfg.adv_ip, (uint16_t)(port + k));
		if (draft06) {
			sc->form = SDP_FORM_DRAFT06;
			sc->qvalue = 830;
			snprintf(sc->foundation, sizeof(sc->foundation), "%s", id);
			snprintf(sc->password, sizeof(sc->password), "%s", pwd);
		} else {
			sc->form = SDP_FORM_RFC8839;
			snprintf(sc->foundation, sizeof(sc->foundation), "1");
			sc->priority = ice_cand_priority(ICE_DIALECT_RFC8445, ICE_CAND_HOST, 65535,
							 (uint8_t)(k + 1));
		}
	}
	return n;
}

static bool want_ice(enum ng_ice mode, bool peer_has_ice)
{
	switch (mode) {
	case NG_ICE_REMOVE: return false;
	case NG_ICE_FORCE:
	case NG_ICE_FORCE_RELAY: return true;
	default: return peer_has_ice;
	}
}

/* A leg's ICE dialect from its peer's SDP and request: draft-06 candidates are MS-ICE
 * (OCS 2007); MS-ICE2 (OCS 2007 R2 and later, libnice OC2007R2) writes RFC-form candidates and
 * ice-ufrag / ice-pwd, so nothing in its SDP tells it from RFC 8445: the request says so with
 * the flag "MS-ICE2" (Kamailio: rtpengine_offer("... MS-ICE2") on the offerer's side,
 * rtpengine_answer("... MS-ICE2") on the answerer's). Its STUN differs (MESSAGE-INTEGRITY over
 * the zero-padded message): an RFC 8445 leg answers its every check 431. */
static enum ice_dialect leg_dialect(const struct ng_request *r, bool draft06)
{
	if (draft06)
		return ICE_DIALECT_MSICE;
	return ng_request_has_flag(r, "MS-ICE2") ? ICE_DIALECT_MSICE2 : ICE_DIALECT_RFC8445;
}

/* The command creating leg b of section i (it faces the answerer: we offer, so we control),
 * its remote side not yet known. ice_config strings are copied by ice_agent_init on the worker,
 * but the command outlives its maker: they point into the command itself, into the last
 * remote-candidate slot (the caller keeps nrc below DP_CMD_MAX_RC). */
static void leg_b_create(struct ctl *c, const struct ctl_call *call, unsigned i,
			 const struct ctl_media *m, enum ice_dialect dialect, struct dp_cmd *cb)
{
	cb->type = DP_CMD_CREATE;
	cb->slot = m->slot_b;
	cb->peer = m->slot_a;
	leg_name(cb->cfg.name, sizeof(cb->cfg.name), call, i, 'b');
	cb->cfg.port = m->port_b;
	cb->cfg.rtcp_mux = m->mux;
	cb->cfg.ice = m->ice_b;
	cb->cfg.trace = c->cfg.trace_legs;
	cb->cfg.clock_hz = 8000;
	cb->cfg.ice_cfg.dialect = dialect;
	cb->cfg.ice_cfg.role = ICE_ROLE_CONTROLLING;
	cb->cfg.ice_cfg.nomination = ICE_NOM_REGULAR;
	snprintf(cb->rc_msid[DP_CMD_MAX_RC - 1], 65, "%s", m->ufrag_b);
	snprintf(cb->rc_mspwd[DP_CMD_MAX_RC - 1], 33, "%s", m->pwd_b);
	cb->cfg.ice_cfg.ufrag = cb->rc_msid[DP_CMD_MAX_RC - 1];
	cb->cfg.ice_cfg.pwd = cb->rc_mspwd[DP_CMD_MAX_RC - 1];
}

static long reply_error(struct ctl *c, const struct ng_request *r, const char *why, char *out,
			size_t cap)
{
	c->st.errors++;
	return ng_reply_error(out, cap, r->cookie, why);
}

/* Rewrite a body for the other side with one side's local ports and ICE. */
static long rewrite(struct ctl *c, const struct ng_request *r, struct ctl_call *call, bool side_b,
		    bool offer_ice_mode_force, char *out, size_t cap)
{
	struct ctl_sdp_rewrite rw;
	static struct sdp_candidate cands[CTL_CALL_MEDIA][2];

	memset(&rw, 0, sizeof(rw));
	rw.ice = r->ice == NG_ICE_REMOVE ? CTL_ICE_REMOVE :
		 offer_ice_mode_force ? CTL_ICE_FORCE : CTL_ICE_DEFAULT;
	rw.replace_origin = (r->replace & NG_REPLACE_ORIGIN) != 0;
	rw.n_media = c->sdp->n_media;
	for (unsigned i = 0; i < c->sdp->n_media; i++) {
		struct ctl_sdp_local *lo = &rw.media[i];
		const struct ctl_media *m = i < call->nmedia ? &call->media[i] : NULL;
		bool ice;
		uint16_t port;

		if (!m || !m->active) {
			ice_addr_set_v4(&lo->addr, c->cfg.adv_ip, 0);
			continue;
		}
		port = side_b ? m->port_b : m->port_a;
		ice = side_b ? m->ice_b : m->ice_a;
		ice_addr_set_v4(&lo->addr, c->cfg.adv_ip, port);
		lo->rtcp_port = m->mux ? 0 : (uint16_t)(port + 1);
		lo->rtcp_mux = m->mux;
		if (ice) {
			lo->ufrag = side_b ? m->ufrag_b : m->ufrag_a;
			lo->pwd = side_b ? m->pwd_b : m->pwd_a;
			lo->n_cand = host_cands(c, cands[i], port, m->mux, false, NULL, NULL);
			lo->cand = cands[i];
		}
	}
	return ctl_sdp_rewrite(out, cap, c->sdp, r->sdp.p, r->sdp.n, &rw);
}

/* rtpengine's error-reason texts for a full gateway. Kamailio's rtpengine module compares
 * them byte for byte (RTPENGINE_SESS_LIMIT_MSG, RTPENGINE_SESS_OUT_OF_PORTS_MSG in its
 * rtpengine.c) and on either tries the next gateway of its set: no decoration allowed. */
#define NG_ERR_SESSION_LIMIT "Parallel session limit reached"
#define NG_ERR_OUT_OF_PORTS "Ran out of ports"

/* A new call this gateway cannot take. A client that understands "load limit" is told so
 * with our reason; any other client gets rtpengine's error text, which Kamailio also takes
 * as "try the next gateway". */
static long reply_full(struct ctl *c, const struct ng_request *r, const char *why,
		       const char *rtpengine_why, char *out, size_t cap)
{
	if (!(r->supports & NG_SUPPORTS_LOAD_LIMIT))
		return reply_error(c, r, rtpengine_why, out, cap);
	c->st.errors++;
	return ng_reply_load_limit(out, cap, r->cookie, why);
}

/* A re-offer from the same side, same streams and the same ICE credentials keeps its legs. */
static bool reoffer_keeps_legs(const struct ctl_call *call, const struct ctl_sdp *sdp,
			       const struct ng_request *r)
{
	if (sdp->n_media != call->nmedia || r->from_tag.n != strlen(call->from_tag) ||
	    memcmp(r->from_tag.p, call->from_tag, r->from_tag.n))
		return false;
	for (unsigned i = 0; i < call->nmedia; i++) {
		const struct ctl_media *m = &call->media[i];
		const struct ctl_sdp_media *pm = &sdp->media[i];
		if (m->active != (pm->port != 0) || (m->active && m->mux != pm->rtcp_mux))
			return false;
		if (m->active && strcmp(m->peer_ufrag_a, pm->ice.ufrag))
			return false;
	}
	return true;
}

static long rewrite(struct ctl *c, const struct ng_request *r, struct ctl_call *call, bool side_b,
		    bool offer_ice_mode_force, char *out, size_t cap);

static long reoffer_in_place(struct ctl *c, const struct ng_request *r, struct ctl_call *call,
			     char *out, size_t cap, uint64_t now)
{
	long n;

	call->last_ms = now;
	for (unsigned i = 0; i < call->nmedia; i++) {
		const struct ctl_sdp_media *pm = &c->sdp->media[i];
		struct ctl_media *m = &call->media[i];
		struct dp_cmd *cmd;
		bool ms;

		if (!m->active)
			continue;
		/* a hold address (c=0.0.0.0) leaves the media address as it was; candidates the
		 * agent already has are ignored, new ones are trickled in */
		cmd = remote_cmd(m->slot_a, pm, &ms);
		if (!cmd)
			return reply_error(c, r, "out of memory", out, cap);
		if (submit(c, call->worker, cmd) < 0)
			return reply_error(c, r, "worker busy, try again", out, cap);
	}
	n = rewrite(c, r, call, true, r->ice == NG_ICE_FORCE, c->out, REPLY_MAX);
	if (n < 0)
		return reply_error(c, r, "cannot rewrite SDP", out, cap);
	return ng_reply_ok(out, cap, r->cookie, c->out, (size_t)n, NULL);
}

static long do_offer(struct ctl *c, const struct ng_request *r, char *out, size_t cap, uint64_t now)
{
	char id[CALLID_MAX + 1];
	struct ctl_call *call;
	int e;
	long n;
	unsigned w, need = 0;
	bool fresh = false;

	c->st.offers++;
	if (!r->call_id.n || !r->from_tag.n || !r->sdp.n)
		return reply_error(c, r, "offer needs call-id, from-tag and sdp", out, cap);
	e = ctl_sdp_parse(c->sdp, r->sdp.p, r->sdp.n);
	if (e < 0) {
		char why[160];
		snprintf(why, sizeof(why), "cannot parse SDP (line %u): %s", c->sdp->err_line,
			 ctl_sdp_strerror(e));
		return reply_error(c, r, why, out, cap);
	}
	if (c->sdp->n_media > CTL_CALL_MEDIA)
		return reply_error(c, r, "too many media sections", out, cap);
	copy_str(id, sizeof(id), r->call_id);
	call = find_call(c, id);
	if (call && reoffer_keeps_legs(call, c->sdp, r)) {
		/* hold, resume, a new address from the same endpoint: same legs, same ports,
		 * media goes on (RFC 3264 §8) */
		return reoffer_in_place(c, r, call, out, cap, now);
	}
	if (call) {
		/* an ICE restart or a changed set of streams: the legs are made again on the
		 * same worker (see docs/control.md) */
		release_media(c, call);
	} else {
		if (c->st.calls >= c->cfg.max_sessions) {
			c->st.session_limit++;
			return reply_full(c, r, "session limit reached (ICEWarn 0x200000)",
					  NG_ERR_SESSION_LIMIT, out, cap);
		}
		call = calloc(1, sizeof(*call));
		if (!call)
			return reply_error(c, r, "out of memory", out, cap);
		snprintf(call->call_id, sizeof(call->call_id), "%s", id);
		call->worker = c->next_worker++ % c->cfg.nworkers;
		call->created_ms = now;
		call->next = c->table[hash_str(id) & (c->table_size - 1)];
		c->table[hash_str(id) & (c->table_size - 1)] = call;
		c->st.calls++;
		c->st.calls_created++;
		fresh = true;
		if (c->st.calls > c->st.peak_calls)
			c->st.peak_calls = c->st.calls;
	}
	copy_str(call->from_tag, sizeof(call->from_tag), r->from_tag);
	call->to_tag[0] = 0;
	call->answered = false;
	call->last_ms = now;
	w = call->worker;
	for (unsigned i = 0; i < c->sdp->n_media; i++)
		if (c->sdp->media[i].port)
			need++;
	if (c->nports[w] < 2 * need || c->nslots[w] < 2 * need) {
		/* [ICEWarn 0x200000] port range exhausted: refuse now, cleanly */
		c->st.port_exhausted++;
		delete_call(c, call);
		/* a re-offer stays an error: the call lives here, another gateway has not heard of it */
		if (fresh)
			return reply_full(c, r, "port range exhausted (ICEWarn 0x200000)",
					  NG_ERR_OUT_OF_PORTS, out, cap);
		return reply_error(c, r, "port range exhausted (ICEWarn 0x200000)", out, cap);
	}
	call->nmedia = c->sdp->n_media;
	for (unsigned i = 0; i < c->sdp->n_media; i++) {
		const struct ctl_sdp_media *pm = &c->sdp->media[i];
		struct ctl_media *m = &call->media[i];
		struct dp_cmd *ca, *cb;
		bool ms = false;

		memset(m, 0, sizeof(*m));
		if (!pm->port)
			continue;
		m->active = true;
		m->mux = pm->rtcp_mux;
		m->slot_a = c->slots[w][--c->nslots[w]];
		m->slot_b = c->slots[w][--c->nslots[w]];
		m->port_a = c->ports[w][--c->nports[w]];
		m->port_b = c->ports[w][--c->nports[w]];
		c->st.legs += 2;
		m->ice_a = want_ice(r->ice, pm->has_ice);
		m->ice_b = want_ice(r->ice, pm->has_ice);
		rnd_token(c, m->ufrag_a, 8);
		rnd_token(c, m->pwd_a, 24);
		rnd_token(c, m->ufrag_b, 8);
		rnd_token(c, m->pwd_b, 24);

		ca = calloc(1, sizeof(*ca));
		cb = calloc(1, sizeof(*cb));
		if (!ca || !cb) {
			free(ca);
			free(cb);
			delete_call(c, call);
			return reply_error(c, r, "out of memory", out, cap);
		}
		/* leg a faces the offerer: it answered their offer, so it is controlled
		 * (RFC 8445 §6.1.1); its remote side is known now and its checks can start */
		ca->type = DP_CMD_CREATE;
		ca->slot = m->slot_a;
		ca->peer = DP_NO_LEG;
		leg_name(ca->cfg.name, sizeof(ca->cfg.name), call, i, 'a');
		ca->cfg.port = m->port_a;
		ca->cfg.rtcp_mux = m->mux;
		ca->cfg.ice = m->ice_a && pm->has_ice;
		ca->cfg.trace = c->cfg.trace_legs;
		ca->cfg.clock_hz = 8000;
		describe_remote(ca, pm, &ms);
		snprintf(m->peer_ufrag_a, sizeof(m->peer_ufrag_a), "%s", ca->rufrag);
		ca->cfg.ice_cfg.dialect = leg_dialect(r, ms);
		ca->cfg.ice_cfg.role = ICE_ROLE_CONTROLLED;
		ca->cfg.ice_cfg.nomination = ICE_NOM_REGULAR;
		ca->cfg.ice_cfg.ufrag = m->ufrag_a;
		ca->cfg.ice_cfg.pwd = m->pwd_a;
		snprintf(ca->cfg.rufrag, sizeof(ca->cfg.rufrag), "%s", ca->rufrag);
		snprintf(ca->cfg.rpwd, sizeof(ca->cfg.rpwd), "%s", ca->rpwd);
		ca->cfg.remote_lite = ca->lite;
		ca->cfg.default_remote[0] = ca->def_remote[0];
		ca->cfg.default_remote[1] = ca->def_remote[1];
		ca->start = ca->cfg.ice && (ms || (ca->rufrag[0] && ca->rpwd[0]));
		if (!ca->start)
			ca->cfg.ice = ca->cfg.ice && ms;
		m->ice_a = m->ice_a && (ca->cfg.ice || r->ice == NG_ICE_FORCE);

		/* leg b faces the answerer: it waits for the answer. RFC 8445 until the answer
		 * says otherwise (do_answer makes it again in the answerer's dialect). */
		leg_b_create(c, call, i, m, ICE_DIALECT_RFC8445, cb);
		/* ice_config strings are copied by ice_agent_init on the worker, but the command
		 * outlives this function: point them into the command itself */
		snprintf(ca->rc_msid[DP_CMD_MAX_RC - 1], 65, "%s", m->ufrag_a);
		snprintf(ca->rc_mspwd[DP_CMD_MAX_RC - 1], 33, "%s", m->pwd_a);
		ca->cfg.ice_cfg.ufrag = ca->rc_msid[DP_CMD_MAX_RC - 1];
		ca->cfg.ice_cfg.pwd = ca->rc_mspwd[DP_CMD_MAX_RC - 1];
		if (ca->nrc == DP_CMD_MAX_RC)
			ca->nrc--; /* the last slot carries the credentials */
		if (submit(c, w, ca) < 0 || submit(c, w, cb) < 0) {
			delete_call(c, call);
			return reply_error(c, r, "worker busy, try again", out, cap);
		}
	}
	n = rewrite(c, r, call, true, r->ice == NG_ICE_FORCE, c->out, REPLY_MAX);
	if (n < 0) {
		delete_call(c, call);
		return reply_error(c, r, "cannot rewrite SDP", out, cap);
	}
	{
		char warn[256];
		int wl = ng_request_warning(r, warn, sizeof(warn));
		return ng_reply_ok(out, cap, r->cookie, c->out, (size_t)n, wl > 0 ? warn : NULL);
	}
}

static long do_answer(struct ctl *c, const struct ng_request *r, char *out, size_t cap, uint64_t now)
{
	char id[CALLID_MAX + 1];
	struct ctl_call *call;
	int e;
	long n;

	c->st.answers++;
	if (!r->call_id.n || !r->sdp.n)
		return reply_error(c, r, "answer needs call-id and sdp", out, cap);
	copy_str(id, sizeof(id), r->call_id);
	call = find_call(c, id);
	if (!call)
		return reply_error(c, r, "Unknown call-id", out, cap);
	e = ctl_sdp_parse(c->sdp, r->sdp.p, r->sdp.n);
	if (e < 0)
		return reply_error(c, r, "cannot parse SDP", out, cap);
	if (c->sdp->n_media != call->nmedia)
		return reply_error(c, r, "answer has a different number of media sections", out, cap);
	copy_str(call->to_tag, sizeof(call->to_tag), r->to_tag);
	call->answered = true;
	call->last_ms = now;
	for (unsigned i = 0; i < call->nmedia; i++) {
		const struct ctl_sdp_media *pm = &c->sdp->media[i];
		struct ctl_media *m = &call->media[i];
		struct dp_cmd *cmd;
		bool ms;

		if (!m->active)
			continue;
		cmd = remote_cmd(m->slot_b, pm, &ms);
		if (!cmd)
			return reply_error(c, r, "out of memory", out, cap);
		/* without ICE in the answer the leg stays on the answer's c= / m= address */
		cmd->start = m->ice_b && pm->has_ice && cmd->rufrag[0] && cmd->rpwd[0];
		if (leg_dialect(r, ms) != ICE_DIALECT_RFC8445) {
			/* leg b was made RFC 8445 at the offer and an agent keeps its dialect: delete
			 * it and make it again, same slot, port and credentials (the rewritten offer
			 * gave them to the answerer), in the answerer's dialect, with its remote side.
			 * The worker applies the two in order; the create pairs it with leg a again. */
			struct dp_cmd *del = calloc(1, sizeof(*del));
			struct dp_cmd rem = *cmd;

			if (!del) {
				free(cmd);
				return reply_error(c, r, "out of memory", out, cap);
			}
			del->type = DP_CMD_DELETE;
			del->slot = m->slot_b;
			del->peer = DP_NO_LEG;
			memset(cmd, 0, sizeof(*cmd));
			leg_b_create(c, call, i, m, leg_dialect(r, ms), cmd);
			for (unsigned k = 0; k < rem.nrc && k < DP_CMD_MAX_RC - 1; k++) {
				struct ice_remote_cand rc = rem.rc[k];

				rc.foundation = rem.rc_fnd[k];
				rc.ms_id = rem.rc_msid[k][0] ? rem.rc_msid[k] : NULL;
				rc.ms_pwd = rem.rc_mspwd[k][0] ? rem.rc_mspwd[k] : NULL;
				dp_cmd_add_rc(cmd, &rc);
			}
			/* the last slot carries our credentials, written again after the candidates */
			snprintf(cmd->rc_msid[DP_CMD_MAX_RC - 1], 65, "%s", m->ufrag_b);
			snprintf(cmd->rc_mspwd[DP_CMD_MAX_RC - 1], 33, "%s", m->pwd_b);
			snprintf(cmd->cfg.rufrag, sizeof(cmd->cfg.rufrag), "%s", rem.rufrag);
			snprintf(cmd->cfg.rpwd, sizeof(cmd->cfg.rpwd), "%s", rem.rpwd);
			cmd->cfg.remote_lite = rem.lite;
			cmd->cfg.default_remote[0] = rem.def_remote[0];
			cmd->cfg.default_remote[1] = rem.def_remote[1];
			/* MS-ICE (draft-06) carries the credentials in its candidates */
			cmd->start = m->ice_b && pm->has_ice && (ms || (rem.rufrag[0] && rem.rpwd[0]));
			cmd->cfg.ice = m->ice_b && (cmd->start || ms);
			note_outcome(c, call->worker, m->slot_b);
			if (submit(c, call->worker, del) < 0) {
				free(cmd);
				return reply_error(c, r, "worker busy, try again", out, cap);
			}
		}
		if (submit(c, call->worker, cmd) < 0)
			return reply_error(c, r, "worker busy, try again", out, cap);
		m->ice_a = m->ice_a && (pm->has_ice || r->ice == NG_ICE_FORCE || true);
	}
	n = rewrite(c, r, call, false, false, c->out, REPLY_MAX);
	if (n < 0)
		return reply_error(c, r, "cannot rewrite SDP", out, cap);
	return ng_reply_ok(out, cap, r->cookie, c->out, (size_t)n, NULL);
}

static const char *ice_state(const struct dp_leg *l)
{
	if (!(l->flags & DP_LEG_ICE))
		return "none";
	switch (ice_agent_state(&l->agent)) {
	case ICE_STATE_NEW: return "new";
	case ICE_STATE_RUNNING: return "running";
	case ICE_STATE_COMPLETED: return "completed";
	default: return "failed";
	}
}

/* Strings of the reply being built: bencode nodes refer to them until the reply is encoded,
 * after call_dict has returned, so they cannot live on its stack. */
struct trace_out {
	char *p;
	size_t left;
};

/* Add key -> a copy of s to dict; a string that does not fit is left out. */
static void add_copy(struct ng_benc_doc *d, int dict, const char *key, const char *s,
		     struct trace_out *out)
{
	size_t n = strlen(s);

	if (n > out->left)
		return;
	memcpy(out->p, s, n);
	ng_benc_dict_add_str(d, dict, key, out->p, n);
	out->p += n;
	out->left -= n;
}

struct trace_hit {
	uint32_t k;                  /* age rank in the snapshot: 0 is the oldest line */
	const char *line;
	size_t len;
};

static uint32_t load_u32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* "HH:MM:SS.mmm <name> ...": the stamp dp_core puts first, then the agent's name prefix */
static bool trace_is_leg(const char *line, size_t len, const char *name, size_t nlen)
{
	return len > 13 + nlen + 1 && line[2] == ':' && line[5] == ':' && line[8] == '.' &&
	       line[12] == ' ' && !memcmp(line + 13, name, nlen) && line[13 + nlen] == ' ';
}

/*
 * The lines of leg `name` in a core's trace ring, newest first into hits (at most max), copied
 * into out. The ring has one writer, the worker, and no lock: each slot is copied and must hold
 * its NUL, and after the scan the ring's position is read again and every slot the worker may
 * have rewritten meanwhile (the oldest ones, and the one being written) is dropped. Returns the
 * hits kept; *more counts the leg's lines left out for want of room.
 */
static unsigned trace_collect(const struct dp_core *core, const char *name, struct trace_out *out,
			      struct trace_hit *hits, unsigned max, unsigned *more)
{
	const uint32_t N = DP_TRACE_LINES;
	size_t nlen = strlen(name);
	uint32_t head0, len0, head1, len1, wrote, first_ok;
	unsigned n = 0;

	*more = 0;
	if (!core || !core->trace)
		return 0;
	head0 = load_u32(&core->trace_head);
	len0 = load_u32(&core->trace_len);
	if (head0 >= N || len0 > N)
		return 0;
	for (uint32_t k = len0; k-- > 0;) {
		const char *slot = core->trace[(head0 + k) % N];
		char tmp[DP_TRACE_LEN];
		const char *nul;
		size_t l;

		/* cheap filter on the live slot, then the copy that is checked and kept */
		if (memcmp(slot + 13, name, nlen) != 0)
			continue;
		memcpy(tmp, slot, sizeof(tmp));
		nul = memchr(tmp, 0, sizeof(tmp));
		if (!nul)
			continue;
		l = (size_t)(nul - tmp);
		if (!trace_is_leg(tmp, l, name, nlen))
			continue;
		if (n == max || l > out->left) {
			(*more)++;
			continue;
		}
		memcpy(out->p, tmp, l);
		hits[n++] = (struct trace_hit){.k = k, .line = out->p, .len = l};
		out->p += l;
		out->left -= l;
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head1 = load_u32(&core->trace_head);
	len1 = load_u32(&core->trace_len);
	/* writes since the snapshot went to ranks len0, len0 + 1, ... (mod N), the last of them
	 * perhaps still in progress: ranks below first_ok may have been overwritten */
	wrote = (len1 - len0) + (head1 + N - head0) % N;
	first_ok = wrote + len0 + 1 > N ? wrote + len0 + 1 - N : 0;
	while (n > 0 && hits[n - 1].k < first_ok) {
		n--;
		(*more)++;
	}
	return n;
}

/* A leg's trace lines as a list, oldest first, under "trace" in its dict. */
static void add_trace(struct ctl *c, struct ng_benc_doc *d, int ld, unsigned worker,
		      const char *name, struct trace_out *out)
{
	static struct trace_hit hits[TRACE_LEG_LINES];
	const struct dp_core *core = c->be.core ? c->be.core(c->be.ctx, worker) : NULL;
	unsigned more, n, max = TRACE_LEG_LINES;
	int list = ng_benc_new_list(d);

	/* leave the arena room for the rest of the reply: a leg's other keys take ~30 nodes */
	if (d->cap - d->used < 64 + 2 * 32)
		max = 0;
	else if (max > (d->cap - d->used - 64) / 2)
		max = (d->cap - d->used - 64) / 2;
	n = trace_collect(core, name, out, hits, max, &more);
	while (n-- > 0)
		ng_benc_list_add(d, list, ng_benc_new_str(d, hits[n].line, hits[n].len));
	ng_benc_dict_add(d, ld, "trace", list);
	if (more)
		ng_benc_dict_add_int(d, ld, "trace-dropped", more);
}

/* A call's legs and counters as a bencode dict (query and delete replies); with trace, each
 * leg's name and lines from its core's trace ring. Strings go into c->trace (see add_copy). */
static int call_dict(struct ctl *c, struct ng_benc_doc *d, const struct ctl_call *call, uint64_t now,
		     bool trace)
{
	struct trace_out tout = {.p = c->trace, .left = TRACE_REPLY_BYTES};

	int dict = ng_benc_new_dict(d), legs = ng_benc_new_list(d);

	ng_benc_dict_add_cstr(d, dict, "result", "ok");
	ng_benc_dict_add_int(d, dict, "created", (int64_t)(call->created_ms / 1000));
	ng_benc_dict_add_int(d, dict, "duration", (int64_t)((now - call->created_ms) / 1000));
	for (unsigned i = 0; i < call->nmedia; i++) {
		const struct ctl_media *m = &call->media[i];
		if (!m->active)
			continue;
		for (int k = 0; k < 2; k++) {
			const struct dp_leg *l = c->be.view(c->be.ctx, call->worker, k ? m->slot_b : m->slot_a);
			int ld = ng_benc_new_dict(d);
			char sel[2 * ICE_ADDR_STRLEN + 8];
			char a1[ICE_ADDR_STRLEN], a2[ICE_ADDR_STRLEN];
			struct ice_addr lo, re;

			ng_benc_dict_add_cstr(d, ld, "tag", k ? call->to_tag : call->from_tag);
			ng_benc_dict_add_int(d, ld, "media", i);
			ng_benc_dict_add_int(d, ld, "local-port", k ? m->port_b : m->port_a);
			if (l && (l->flags & DP_LEG_USED)) {
				uint32_t ext_max = l->rtp.cycles + l->rtp.max_seq;
				int64_t expected = l->rtp.received ? (int64_t)ext_max - l->rtp.base_seq + 1 : 0;
				int64_t lost = expected - (int64_t)l->rtp.received;
				ng_benc_dict_add_cstr(d, ld, "ICE", ice_state(l));
				ng_benc_dict_add_int(d, ld, "ICEWarn", ice_agent_warn(&l->agent));
				if ((l->flags & DP_LEG_ICE) && ice_agent_selected(&l->agent, 1, &lo, &re) == 0) {
					snprintf(sel, sizeof(sel), "%s <-> %s", ice_addr_fmt(&lo, a1, sizeof(a1)),
						 ice_addr_fmt(&re, a2, sizeof(a2)));
					add_copy(d, ld, "selected-pair", sel, &tout);
				}
				add_copy(d, ld, "media-address",
					 ice_addr_fmt(&l->media_remote[0], a1, sizeof(a1)), &tout);
				ng_benc_dict_add_int(d, ld, "packets-in", (int64_t)l->st.pkts_in);
				ng_benc_dict_add_int(d, ld, "bytes-in", (int64_t)l->st.bytes_in);
				ng_benc_dict_add_int(d, ld, "packets-out", (int64_t)l->st.pkts_out);
				ng_benc_dict_add_int(d, ld, "bytes-out", (int64_t)l->st.bytes_out);
				ng_benc_dict_add_int(d, ld, "RTP-received", l->rtp.received);
				ng_benc_dict_add_int(d, ld, "RTP-lost", lost > 0 ? lost : 0);
				ng_benc_dict_add_int(d, ld, "jitter-us",
						     (int64_t)(l->rtp.jitter >> 4) * 1000000 / l->rtp.clock_hz);
			}
			if (trace) {
				char name[DP_LEG_NAME];

				leg_name(name, sizeof(name), call, i, k ? 'b' : 'a');
				add_copy(d, ld, "name", name, &tout);
				add_trace(c, d, ld, call->worker, name, &tout);
			}
			ng_benc_list_add(d, legs, ld);
		}
	}
	ng_benc_dict_add(d, dict, "legs", legs);
	return dict;
}

static long do_query_delete(struct ctl *c, const struct ng_request *r, char *out, size_t cap,
			    uint64_t now, bool del)
{
	char id[CALLID_MAX + 1];
	struct ctl_call *call;
	struct ng_benc_doc d;
	long n;
	int dict;

	if (del)
		c->st.deletes++;
	else
		c->st.queries++;
	copy_str(id, sizeof(id), r->call_id);
	call = find_call(c, id);
	if (!call)
		return reply_error(c, r, "Unknown call-id", out, cap);
	ng_benc_init(&d, c->nodes, NG_NODES_MAX);
	dict = call_dict(c, &d, call, now, !del && ng_request_has_flag(r, "trace"));
	n = ng_reply_dict(out, cap, r->cookie, &d, dict);
	if (del)
		delete_call(c, call);
	if (n < 0)
		return reply_error(c, r, "reply too large", out, cap);
	return n;
}

static long do_list(struct ctl *c, const struct ng_request *r, char *out, size_t cap)
{
	struct ng_benc_doc d;
	int dict, list;
	int64_t limit = r->limit >= 0 ? r->limit : 32;

	c->st.lists++;
	ng_benc_init(&d, c->nodes, NG_NODES_MAX);
	dict = ng_benc_new_dict(&d);
	list = ng_benc_new_list(&d);
	ng_benc_dict_add_cstr(&d, dict, "result", "ok");
	for (uint32_t i = 0; i < c->table_size && limit > 0; i++)
		for (struct ctl_call *k = c->table[i]; k && limit > 0; k = k->next, limit--)
			ng_benc_list_add(&d, list, ng_benc_new_cstr(&d, k->call_id));
	ng_benc_dict_add(&d, dict, "calls", list);
	return ng_reply_dict(out, cap, r->cookie, &d, dict);
}

static long do_statistics(struct ctl *c, const struct ng_request *r, char *out, size_t cap)
{
	struct ng_benc_doc d;
	int dict, st, cur, tot;

	c->st.statistics++;
	ng_benc_init(&d, c->nodes, NG_NODES_MAX);
	dict = ng_benc_new_dict(&d);
	st = ng_benc_new_dict(&d);
	cur = ng_benc_new_dict(&d);
	tot = ng_benc_new_dict(&d);
	ng_benc_dict_add_cstr(&d, dict, "result", "ok");
	ng_benc_dict_add_int(&d, cur, "sessionsown", c->st.calls);
	ng_benc_dict_add_int(&d, cur, "legs", c->st.legs);
	ng_benc_dict_add_int(&d, cur, "peak-sessions", c->st.peak_calls);
	ng_benc_dict_add_int(&d, tot, "created", (int64_t)c->st.calls_created);
	ng_benc_dict_add_int(&d, tot, "deleted", (int64_t)c->st.calls_deleted);
	ng_benc_dict_add_int(&d, tot, "offers", (int64_t)c->st.offers);
	ng_benc_dict_add_int(&d, tot, "answers", (int64_t)c->st.answers);
	ng_benc_dict_add_int(&d, tot, "errors", (int64_t)c->st.errors);
	ng_benc_dict_add_int(&d, tot, "retransmissions", (int64_t)c->st.retransmits);
	ng_benc_dict_add_int(&d, tot, "port-exhausted", (int64_t)c->st.port_exhausted);
	ng_benc_dict_add_int(&d, tot, "session-limit", (int64_t)c->st.session_limit);
	ng_benc_dict_add(&d, st, "currentstatistics", cur);
	ng_benc_dict_add(&d, st, "totalstatistics", tot);
	ng_benc_dict_add(&d, dict, "statistics", st);
	return ng_reply_dict(out, cap, r->cookie, &d, dict);
}

size_t ctl_handle(struct ctl *c, const char *msg, size_t len, char *out, size_t cap, uint64_t now)
{
	struct ng_request r;
	struct ng_benc_doc d;
	const char *cached;
	size_t clen;
	long n;
	int e;

	memset(&r, 0, sizeof(r));
	ng_benc_init(&d, c->nodes, NG_NODES_MAX);
	e = ng_request_parse(&r, &d, msg, len);
	if (!r.cookie.n)
		return 0; /* no cookie: nothing to answer to */
	cached = ng_cache_get(&c->cache, r.cookie.p, r.cookie.n, now, &clen);
	if (cached && clen <= cap) {
		/* a retransmission: the same reply, the command not run again */
		c->st.retransmits++;
		memcpy(out, cached, clen);
		return clen;
	}
	if (e < 0) {
		char why[160];
		snprintf(why, sizeof(why), "%s%s%s", ng_strerror(e),
			 r.missing ? ": " : r.bad_key ? ": " : "",
			 r.missing ? r.missing : r.bad_key ? r.bad_key : "");
		n = reply_error(c, &r, why, out, cap);
	} else {
		switch (r.cmd) {
		case NG_CMD_PING:
			c->st.pings++;
			n = ng_reply_pong(out, cap, r.cookie);
			break;
		case NG_CMD_OFFER:
			n = do_offer(c, &r, out, cap, now);
			break;
		case NG_CMD_ANSWER:
			n = do_answer(c, &r, out, cap, now);
			break;
		case NG_CMD_DELETE:
			n = do_query_delete(c, &r, out, cap, now, true);
			break;
		case NG_CMD_QUERY:
			n = do_query_delete(c, &r, out, cap, now, false);
			break;
		case NG_CMD_LIST:
			n = do_list(c, &r, out, cap);
			break;
		case NG_CMD_STATISTICS:
			n = do_statistics(c, &r, out, cap);
			break;
		default:
			n = reply_error(c, &r, "Unrecognized command", out, cap);
			break;
		}
	}
	if (n < 0)
		return 0;
	ng_cache_put(&c->cache, r.cookie.p, r.cookie.n, out, (size_t)n, now);
	return (size_t)n;
}

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
#include "ctl_turn.h"
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
	uint16_t port_a, port_b;     /* RTP ports: one each when muxed, else an even one and +1 */
	bool active;                 /* port 0 in the offer: nothing allocated */
	bool mux, ice_a, ice_b;
	uint8_t iface_a, iface_b;    /* local address of each leg (an address of the logical
				      * interface NG "direction" picked): dp_leg_cfg.iface */
	uint8_t dialect_a, dialect_b;/* enum ice_dialect the leg was made in */
	bool b_described;            /* an answer gave leg b its remote side */
	uint32_t rhash_b;            /* ... with these credentials (hash): a repeat changes nothing */
	char ufrag_a[9], pwd_a[25], ufrag_b[9], pwd_b[25];
	/* [MS-ICE] (draft-06) per-candidate credentials of each side, raw: a 32-byte identifier
	 * then a 16-byte password, as Microsoft's stacks draw them (ms_cred) */
	uint8_t ms_a[ICE_MS_ID_MAX + ICE_MS_PWD_MAX], ms_b[ICE_MS_ID_MAX + ICE_MS_PWD_MAX];
	char peer_ufrag_a[ICE_UFRAG_MAX + 1]; /* the offerer's ufrag: a change means ICE restart */
	bool relay_b, relay_only_b;  /* leg b advertises relays (ICE=force-relay: only relays) */
	uint32_t turn_warn_b;        /* ICEWarn bits of leg b's relays (seed 000) */
	/* leg a's relays: allocated at the offer with leg b's, advertised in the answer (the
	 * answer's ICE=force-relay: only them, leg a made again without host candidates) */
	bool relay_a, relay_only_a;
	uint32_t turn_warn_a;
	struct dp_cmd *a_create;     /* leg a's create, kept from the offer until the answer
				      * settles leg a: what remaking it relay-only needs */
	/* leg a is made idle at the offer and starts its checks when the first answer goes to
	 * the offerer, who cannot check with us before it has our credentials (RFC 8445 §7.2) */
	bool start_a;                /* the offer gave leg a what its checks need */
	bool a_started;              /* the start went to the worker (or never will) */
};

struct ctl_call {
	struct ctl_call *next;       /* hash chain */
	char call_id[CALLID_MAX + 1];
	char from_tag[TAG_MAX + 1], to_tag[TAG_MAX + 1];
	unsigned worker;
	uint8_t iface_from, iface_to; /* logical interfaces facing the from-tag's and the to-tag's side */
	unsigned nmedia;
	bool answered;
	uint64_t created_ms, last_ms;
	unsigned media_cap;          /* entries behind media: as many as the largest offer had */
	struct ctl_media *media;     /* most calls have one or two streams: sized to fit */
};

/* An offer answered once its relays are allocated (or not): the request is kept whole and
 * parsed again then. */
struct ctl_pending {
	struct ctl_pending *next;
	bool answer;                 /* an answer waiting for leg a's relays, else an offer */
	char *msg;
	size_t len;
	size_t cookie_off, cookie_len;
	char call_id[CALLID_MAX + 1];
	struct ctl_peer peer;
	uint64_t deadline_ms;
};

/* Free ports of one interface owned by one worker. A port pair (even p, p + 1) belongs to worker
 * (p / 2) % nworkers, which is how the dispatcher (or RSS on the port) steers a packet to the
 * core owning its leg; a muxed leg takes one port of a pair, a leg with RTCP both. */
struct ctl_pool {
	uint16_t *pairs;             /* even ports whose pair is wholly free: a stack */
	uint32_t npairs;
	uint16_t *singles;           /* free ports whose buddy is taken; may hold stale entries */
	uint32_t nsingles, cap;
	uint32_t free_singles;       /* entries that are not stale */
};

/* port_state values (per interface, per port) */
#define PS_USED 0                /* taken, or outside the range */
#define PS_PAIR 1                /* free, with its buddy, as a pair on the pairs stack */
#define PS_SINGLE 2              /* free, alone on the singles stack */

/* One local address (index = the dataplane's address index, dp_leg_cfg.iface). */
struct ctl_ifc {
	struct ctl_cfg_iface cfg;
	uint8_t lif;                 /* the logical interface it belongs to */
	uint8_t *port_state;         /* 65536 entries, PS_* */
	struct ctl_pool pool[CTL_MAX_WORKERS];
};

/* A logical interface: every address configured under one name (rtpengine's way of giving an
 * interface more ports than one address has). A leg takes a port of one of them. */
struct ctl_lif {
	const char *name;            /* the first address's cfg.name */
	uint8_t addr[CTL_CFG_IFACES];
	unsigned n_addr;
	uint8_t next[CTL_MAX_WORKERS]; /* round robin per worker: the address a call tries first */
};

struct ctl {
	struct ctl_cfg cfg;
	struct ctl_turn *turn;
	struct ctl_pending *pending;
	unsigned npending;
	struct ctl_call *pending_call; /* set by do_offer when its reply waits */
	uint32_t turn_timeout_ms;
	uint64_t now_ms;
	struct ctl_backend be;
	struct ctl_stats st;
	uint64_t rng;
	unsigned next_worker;
	size_t media_slots;          /* struct ctl_media held by all calls */
	struct ctl_ifc ifc[CTL_CFG_IFACES];
	unsigned n_ifc;
	struct ctl_lif lif[CTL_CFG_IFACES];
	unsigned n_lif;
	/* free leg slots, per worker: stacks */
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

/* [MS-ICE] credentials of one side: a 32-byte identifier and a 16-byte password. The host
 * candidates take them; the relayed ones the identifier with its first byte's top bit
 * flipped (one identifier per candidate) and the same password. ':' separates the parts of
 * an MS-ICE USERNAME: neither identifier may hold it. */
static void ms_cred_draw(struct ctl *c, uint8_t *raw)
{
	for (size_t i = 0; i < ICE_MS_ID_MAX + ICE_MS_PWD_MAX; i += 8) {
		uint64_t v = rnd(c);
		memcpy(raw + i, &v, 8);
	}
	for (size_t i = 0; i < ICE_MS_ID_MAX; i++)
		if ((raw[i] & 0x7f) == ':')
			raw[i] ^= 0x01;
}

static void b64_put(const uint8_t *p, size_t n, char *out)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		size_t k = n - i >= 3 ? 4 : n - i + 1; /* '=' padding left out, as SIPE writes it */
		for (size_t j = 0; j < k; j++)
			out[o++] = set[(v >> (18 - 6 * j)) & 63];
	}
	out[o] = 0;
}

/* The base64 identifier (host: k = 0, relayed: k = 1) and password of one side's credentials. */
static void ms_cred_b64(const uint8_t *raw, unsigned k, char id[ICE_MS_ID_B64 + 1],
			char pwd[ICE_MS_PWD_B64 + 1])
{
	uint8_t v[ICE_MS_ID_MAX];

	memcpy(v, raw, sizeof(v));
	if (k)
		v[0] ^= 0x80;
	b64_put(v, sizeof(v), id);
	b64_put(raw + ICE_MS_ID_MAX, ICE_MS_PWD_MAX, pwd);
}

/* A create command carries the credentials its leg's draft-06 lines advertise. */
static void ms_cred_cfg(struct dp_leg_cfg *cfg, const uint8_t *raw)
{
	for (unsigned k = 0; k < 2; k++)
		ms_cred_b64(raw, k, cfg->ms_id[k], cfg->ms_pwd[k]);
}

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/* ---- port pools: one per interface and worker ---- */

static unsigned port_worker(const struct ctl *c, uint32_t port)
{
	return dp_owner(port, c->cfg.nworkers);
}

/* Rebuild a worker's singles stack from the port states: drops the stale entries. */
static void pool_compact(struct ctl *c, struct ctl_ifc *f, unsigned w)
{
	struct ctl_pool *pl = &f->pool[w];

	pl->nsingles = 0;
	for (uint32_t p = c->cfg.port_max + 1u; p-- > c->cfg.port_min;)
		if (f->port_state[p] == PS_SINGLE && port_worker(c, p) == w && pl->nsingles < pl->cap)
			pl->singles[pl->nsingles++] = (uint16_t)p;
}

static void push_single(struct ctl *c, struct ctl_ifc *f, unsigned w, uint16_t p)
{
	struct ctl_pool *pl = &f->pool[w];

	f->port_state[p] = PS_SINGLE;
	pl->free_singles++;
	if (pl->nsingles == pl->cap)
		pool_compact(c, f, w); /* p is among them now */
	else
		pl->singles[pl->nsingles++] = p;
}

/* A port for a muxed leg: a lone free port first, else half of a pair. 0 if none. */
static uint16_t pool_take_single(struct ctl *c, unsigned iface, unsigned w)
{
	struct ctl_ifc *f = &c->ifc[iface];
	struct ctl_pool *pl = &f->pool[w];

	while (pl->nsingles) {
		uint16_t p = pl->singles[--pl->nsingles];
		if (f->port_state[p] == PS_SINGLE) {
			f->port_state[p] = PS_USED;
			pl->free_singles--;
			return p;
		}
	}
	if (pl->npairs) {
		uint16_t p = pl->pairs[--pl->npairs];
		f->port_state[p] = PS_USED;
		push_single(c, f, w, (uint16_t)(p + 1));
		return p;
	}
	return 0;
}

/* An even port whose odd buddy carries RTCP. 0 if none. */
static uint16_t pool_take_pair(struct ctl *c, unsigned iface, unsigned w)
{
	struct ctl_ifc *f = &c->ifc[iface];
	struct ctl_pool *pl = &f->pool[w];
	uint16_t p;

	if (!pl->npairs)
		return 0;
	p = pl->pairs[--pl->npairs];
	f->port_state[p] = f->port_state[p + 1] = PS_USED;
	return p;
}

static void pool_give(struct ctl *c, unsigned iface, uint16_t port, bool mux)
{
	struct ctl_ifc *f = &c->ifc[iface];
	unsigned w = port_worker(c, port);
	struct ctl_pool *pl = &f->pool[w];
	uint16_t buddy = port ^ 1u;

	if (!mux) {
		f->port_state[port] = f->port_state[port + 1] = PS_PAIR;
		pl->pairs[pl->npairs++] = port;
	} else if (f->port_state[buddy] == PS_SINGLE) {
		/* both halves free again: a pair, for a leg that needs one (the buddy's entry on
		 * the singles stack goes stale) */
		uint16_t even = port & (uint16_t)~1u;
		f->port_state[port] = f->port_state[buddy] = PS_PAIR;
		pl->free_singles--;
		pl->pairs[pl->npairs++] = even;
	} else {
		push_single(c, f, w, port);
	}
}

uint32_t ctl_free_ports(const struct ctl *c, unsigned iface)
{
	uint32_t n = 0;

	if (!c || iface >= c->n_ifc)
		return 0;
	for (unsigned w = 0; w < c->cfg.nworkers; w++)
		n += 2 * c->ifc[iface].pool[w].npairs + c->ifc[iface].pool[w].free_singles;
	return n;
}

static int ifc_init(struct ctl *c, unsigned i, const struct ctl_cfg_iface *ci)
{
	struct ctl_ifc *f = &c->ifc[i];
	uint32_t npairs[CTL_MAX_WORKERS] = {0};
	unsigned nw = c->cfg.nworkers;

	f->cfg = *ci;
	f->cfg.name[sizeof(f->cfg.name) - 1] = 0;
	if (!f->cfg.local_ip)
		return -1;
	if (!f->cfg.adv_ip)
		f->cfg.adv_ip = f->cfg.local_ip;
	f->port_state = calloc(65536, 1);
	if (!f->port_state)
		return -1;
	for (uint32_t p = c->cfg.port_min & ~1u; p <= c->cfg.port_max; p += 2)
		npairs[port_worker(c, p)]++;
	for (unsigned w = 0; w < nw; w++) {
		f->pool[w].pairs = calloc(npairs[w] + 1, sizeof(uint16_t));
		f->pool[w].cap = 2 * npairs[w] + 2;
		f->pool[w].singles = calloc(f->pool[w].cap, sizeof(uint16_t));
		if (!f->pool[w].pairs || !f->pool[w].singles)
			return -1;
	}
	/* pushed from the top down so that the lowest ports go first; a port at either end of
	 * the range without its buddy is a lone port */
	for (uint32_t p = c->cfg.port_max + 1u; p-- > c->cfg.port_min;) {
		uint32_t even = p & ~1u;
		if (even >= c->cfg.port_min && even + 1 <= c->cfg.port_max) {
			if (p == even) {
				struct ctl_pool *pl = &f->pool[port_worker(c, p)];
				f->port_state[p] = f->port_state[p + 1] = PS_PAIR;
				pl->pairs[pl->npairs++] = (uint16_t)p;
			}
		} else {
			push_single(c, f, port_worker(c, p), (uint16_t)p);
		}
	}
	return 0;
}

static void ifc_free(struct ctl_ifc *f)
{
	free(f->port_state);
	for (unsigned w = 0; w < CTL_MAX_WORKERS; w++) {
		free(f->pool[w].pairs);
		free(f->pool[w].singles);
	}
}

/* Logical interface index by name; "internal" / "external" (rtpengine's legacy address-family
 * words) mean interface 0 when no interface carries the name. -1 if unknown. */
static int ifc_find(const struct ctl *c, const char *name, size_t n)
{
	for (unsigned i = 0; i < c->n_lif; i++)
		if (strlen(c->lif[i].name) == n && !memcmp(c->lif[i].name, name, n))
			return (int)i;
	if ((n == 8 && !memcmp(name, "internal", 8)) || (n == 8 && !memcmp(name, "external", 8)))
		return 0;
	return -1;
}

struct ctl *ctl_new(const struct ctl_cfg *cfg, const struct ctl_backend *be)
{
	struct ctl *c;

	if ((!cfg->local_ip && !cfg->n_iface) || cfg->n_iface > CTL_CFG_IFACES || cfg->nworkers == 0 ||
	    cfg->nworkers > CTL_MAX_WORKERS || cfg->port_min < 1024 || cfg->port_max <= cfg->port_min ||
	    !cfg->slots_per_worker)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	if (!c->cfg.max_sessions)
		c->cfg.max_sessions = 100000;
	c->be = *be;
	c->cfg.turn = NULL; /* the caller's memory: what is needed is copied */
	c->turn_timeout_ms = cfg->turn && cfg->turn->timeout_ms ? cfg->turn->timeout_ms :
			     CTL_TURN_DEFAULT_TIMEOUT_MS;
	c->rng = cfg->seed ? cfg->seed : 0x5851f42d4c957f2dull;
	if (cfg->turn && cfg->turn->n_server) {
		c->turn = ctl_turn_new(cfg->turn, be, cfg->nworkers, cfg->slots_per_worker, c->rng ^ 0x7475726e);
		if (!c->turn)
			goto fail;
	}
	for (unsigned w = 0; w < cfg->nworkers; w++) {
		c->slots[w] = calloc(cfg->slots_per_worker, sizeof(uint32_t));
		if (!c->slots[w])
			goto fail;
		for (uint32_t s = cfg->slots_per_worker; s-- > 0;)
			c->slots[w][c->nslots[w]++] = s;
	}
	{
		struct ctl_cfg_iface list[CTL_CFG_IFACES];
		unsigned n = cfg->n_iface ? cfg->n_iface : 1;

		memcpy(list, cfg->iface, sizeof(list));
		if (!cfg->n_iface)
			snprintf(list[0].name, sizeof(list[0].name), "default");
		if (cfg->local_ip) {
			list[0].local_ip = cfg->local_ip;
			list[0].adv_ip = cfg->adv_ip;
		}
		for (unsigned i = 0; i < n; i++) {
			unsigned l;

			if (ifc_init(c, i, &list[i]) < 0)
				goto fail;
			c->n_ifc = i + 1;
			for (unsigned j = 0; j < i; j++)
				if (c->ifc[j].cfg.local_ip == c->ifc[i].cfg.local_ip)
					goto fail; /* one address, two pools: ports handed out twice */
			/* addresses under one name are one logical interface, in the list's order */
			for (l = 0; l < c->n_lif; l++)
				if (!strcmp(c->lif[l].name, c->ifc[i].cfg.name))
					break;
			if (l == c->n_lif)
				c->lif[c->n_lif++].name = c->ifc[i].cfg.name;
			c->lif[l].addr[c->lif[l].n_addr++] = (uint8_t)i;
			c->ifc[i].lif = (uint8_t)l;
		}
		c->cfg.local_ip = c->ifc[0].cfg.local_ip;
		c->cfg.adv_ip = c->ifc[0].cfg.adv_ip;
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
				for (unsigned k = 0; k < c->table[i]->media_cap; k++)
					free(c->table[i]->media[k].a_create);
				free(c->table[i]->media);
				free(c->table[i]);
				c->table[i] = n;
			}
	for (unsigned w = 0; w < CTL_MAX_WORKERS; w++)
		free(c->slots[w]);
	while (c->pending) {
		struct ctl_pending *p = c->pending->next;
		free(c->pending->msg);
		free(c->pending);
		c->pending = p;
	}
	ctl_turn_free(c->turn);
	for (unsigned i = 0; i < CTL_CFG_IFACES; i++)
		ifc_free(&c->ifc[i]);
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
	m += (size_t)c->st.calls * sizeof(struct ctl_call) + c->media_slots * sizeof(struct ctl_media);
	for (unsigned w = 0; w < c->cfg.nworkers; w++)
		m += c->cfg.slots_per_worker * sizeof(uint32_t);
	for (unsigned i = 0; i < c->n_ifc; i++) {
		m += 65536;
		for (unsigned w = 0; w < c->cfg.nworkers; w++)
			m += (c->ifc[i].pool[w].cap + c->ifc[i].pool[w].cap / 2) * sizeof(uint16_t);
	}
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
static void note_outcome(struct ctl *c, unsigned w, uint32_t slot, uint32_t turn_warn)
{
	const struct dp_leg *l = c->be.view(c->be.ctx, w, slot);
	enum ice_state s;

	if (!l || !(l->flags & DP_LEG_USED) || !(l->flags & DP_LEG_ICE))
		return;
	s = ice_agent_state(&l->agent);
	if (s == ICE_STATE_COMPLETED || s == ICE_STATE_FAILED)
		ctl_metrics_note_warn(&c->st.ice_warn, s == ICE_STATE_FAILED,
				      ice_agent_warn(&l->agent) | turn_warn);
}

/* Give back a call's ports and slots and delete its legs on the worker. */
static void release_media(struct ctl *c, struct ctl_call *call)
{
	unsigned w = call->worker;

	for (unsigned i = 0; i < call->nmedia; i++) {
		struct ctl_media *m = &call->media[i];
		uint32_t slots[2] = {m->slot_a, m->slot_b};
		uint16_t ports[2] = {m->port_a, m->port_b};
		uint8_t ifaces[2] = {m->iface_a, m->iface_b};

		free(m->a_create);
		m->a_create = NULL;
		if (!m->active)
			continue;
		for (int k = 0; k < 2; k++) {
			struct dp_cmd *cmd = calloc(1, sizeof(*cmd));

			note_outcome(c, w, slots[k], k ? m->turn_warn_b : m->turn_warn_a);
			if (k ? m->relay_b : m->relay_a)
				ctl_turn_release(c->turn, w, slots[k], c->now_ms * 1000);
			if (cmd) {
				cmd->type = DP_CMD_DELETE;
				cmd->slot = slots[k];
				cmd->peer = DP_NO_LEG;
				submit(c, w, cmd);
			}
			/* the worker applies commands in order: a later create at this slot or
			 * on these ports comes after the delete */
			c->slots[w][c->nslots[w]++] = slots[k];
			pool_give(c, ifaces[k], ports[k], m->mux);
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
	c->media_slots -= call->media_cap;
	free(call->media);
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

/* The peer's side of one m= section, as a command's remote description, for a leg in dialect
 * d: an MS-ICE leg takes the draft-06 candidates, any other the RFC-form ones (a Lync body may
 * carry both sets; each agent reads the one of its dialect). */
static void describe_remote(struct dp_cmd *cmd, const struct ctl_sdp_media *pm, enum ice_dialect d)
{
	const struct sdp_ice_media *im = &pm->sdp->ice;

	/* credentials longer than the agent keeps cannot be checked: such a leg gets no ICE */
	if (d != ICE_DIALECT_MSICE && strlen(pm->ice.ufrag) < sizeof(cmd->rufrag) &&
	    strlen(pm->ice.pwd) < sizeof(cmd->rpwd)) {
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
	for (unsigned i = 0; i < im->n_cand; i++) {
		const struct sdp_candidate *sc = &im->cand[i];
		struct ice_remote_cand rc;

		if (sc->transport != SDP_TP_UDP || sc->addr.family != ICE_AF_INET ||
		    sc->component < 1 || sc->component > 2)
			continue;
		if ((sc->form == SDP_FORM_DRAFT06) != (d == ICE_DIALECT_MSICE))
			continue;
		if (pm->rtcp_mux && sc->component != 1)
			continue;
		/* the last slot is kept for the leg's own credentials (leg_b_create) */
		if (cmd->nrc >= DP_CMD_MAX_RC - 1)
			break;
		memset(&rc, 0, sizeof(rc));
		rc.comp = (uint8_t)sc->component;
		rc.type = cand_type(sc->type);
		rc.addr = sc->addr;
		rc.foundation = sc->foundation;
		if (sc->form == SDP_FORM_DRAFT06) {
			rc.prio = sc->qvalue;
			rc.ms_id = sc->foundation;
			rc.ms_pwd = sc->password;
		} else {
			rc.prio = sc->priority;
		}
		dp_cmd_add_rc(cmd, &rc);
	}
}

/* A command telling the leg in slot what the peer's side of a section now says. */
static struct dp_cmd *remote_cmd(uint32_t slot, const struct ctl_sdp_media *pm, enum ice_dialect d)
{
	struct dp_cmd *cmd = calloc(1, sizeof(*cmd));

	if (!cmd)
		return NULL;
	cmd->type = DP_CMD_REMOTE;
	cmd->slot = slot;
	cmd->peer = DP_NO_LEG;
	describe_remote(cmd, pm, d);
	return cmd;
}

/* Leg names prefix the leg's trace lines: a query with flags ["trace"] finds them by it. */
static int leg_name(char *out, size_t cap, const struct ctl_call *call, unsigned i, char side)
{
	return snprintf(out, cap, "%.16s/%u%c", call->call_id, i, side);
}

/* Our host candidates for one side of a section, for the rewritten SDP (the rewrite turns
 * them into draft-06 lines where that side speaks MS-ICE). */
static unsigned host_cands(struct sdp_candidate *out, uint32_t ip, uint16_t port, bool mux)
{
	unsigned n = mux ? 1 : 2;

	for (unsigned k = 0; k < n; k++) {
		struct sdp_candidate *sc = &out[k];
		memset(sc, 0, sizeof(*sc));
		sc->component = (uint16_t)(k + 1);
		sc->transport = SDP_TP_UDP;
		sc->type = SDP_CAND_HOST;
		ice_addr_set_v4(&sc->addr, ip, (uint16_t)(port + k));
		sc->form = SDP_FORM_RFC8839;
		snprintf(sc->foundation, sizeof(sc->foundation), "1");
		sc->priority = ice_cand_priority(ICE_DIALECT_RFC8445, ICE_CAND_HOST, 65535, (uint8_t)(k + 1));
		sc->qvalue = 830; /* [MS-ICE] host */
	}
	return n;
}

/* A leg's relayed candidates, as allocated: after its host ones (RFC 8445 §5.1.2.2: type
 * preference 0, so the lowest priority), rel-addr naming the host transport they stand for,
 * the priority the leg's agent gives them in its dialect (ice_cand_priority). */
static unsigned relay_cands(struct ctl *c, const struct ctl_call *call, const struct ctl_media *m,
			    uint32_t slot, enum ice_dialect d, struct sdp_candidate *out, uint32_t ip,
			    uint16_t port)
{
	unsigned n = 0;

	for (uint8_t comp = 1; comp <= (m->mux ? 1 : 2); comp++) {
		struct sdp_candidate *sc = &out[n];
		struct ice_addr rel;

		struct ice_addr mapped, host;

		if (ctl_turn_state(c->turn, call->worker, slot, comp, &rel, NULL) != CTL_TURN_READY)
			continue;
		/* behind a NAT the server saw the host port as another address: that is a
		 * server-reflexive candidate (RFC 8445 §5.1.1.2), advertised for the peer's sake;
		 * its base is the host candidate, so it adds no pair of its own (§6.1.2.4) */
		ice_addr_set_v4(&host, ip, (uint16_t)(port + comp - 1));
		/* (not for draft-06 legs: a candidate there carries its own identifier, which
		 * the agent would not know for one that is not its own local candidate) */
		if (d != ICE_DIALECT_MSICE &&
		    ctl_turn_mapped(c->turn, call->worker, slot, comp, &mapped) == 0 &&
		    mapped.family == ICE_AF_INET && !ice_addr_eq(&mapped, &host)) {
			memset(sc, 0, sizeof(*sc));
			sc->component = comp;
			sc->transport = SDP_TP_UDP;
			sc->type = SDP_CAND_SRFLX;
			sc->form = SDP_FORM_RFC8839;
			sc->addr = mapped;
			sc->flags = SDP_CAND_F_RADDR;
			sc->raddr = host;
			snprintf(sc->foundation, sizeof(sc->foundation), "3");
			sc->priority = ice_cand_priority(d, ICE_CAND_SRFLX, CTL_TURN_LOCAL_PREF, comp);
			sc = &out[++n];
		}
		memset(sc, 0, sizeof(*sc));
		sc->component = comp;
		sc->transport = SDP_TP_UDP;
		sc->type = SDP_CAND_RELAY;
		sc->form = SDP_FORM_RFC8839;
		sc->addr = rel;
		sc->flags = SDP_CAND_F_RADDR;
		ice_addr_set_v4(&sc->raddr, ip, (uint16_t)(port + comp - 1));
		snprintf(sc->foundation, sizeof(sc->foundation), "2");
		sc->priority = ice_cand_priority(d, ICE_CAND_RELAY, CTL_TURN_LOCAL_PREF, comp);
		n++;
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

/*
 * The ICE dialect of section i of a peer's body. Draft-06 candidates alone are MS-ICE (OCS
 * 2007). MS-ICE2 (OCS 2007 R2 and later, libnice OC2007R2) writes RFC-form candidates and
 * ice-ufrag / ice-pwd like RFC 8445, and its STUN differs (MESSAGE-INTEGRITY over the
 * zero-padded message: an RFC 8445 leg answers its every check 431), so ctl_sdp_dialect looks
 * for what only Microsoft writes: the draft-06 set beside the RFC one (in the section or in the
 * multipart's fallback part), TCP-ACT / TCP-PASS, x-candidate-ipv6 / -info, MS-ICE2's priority
 * layout. The NG flags "MS-ICE2" and "no-MS-ICE2" override the guess (draft-06 alone cannot be
 * anything else).
 */
static enum ice_dialect sdp_dialect(const struct ng_request *r, const struct ctl_sdp *s, unsigned i,
				    bool fallback_body)
{
	enum ctl_sdp_dialect d = ctl_sdp_dialect(s, i, fallback_body);

	if (d == CTL_DIALECT_MSICE)
		return ICE_DIALECT_MSICE;
	if (ng_request_has_flag(r, "MS-ICE2"))
		return ICE_DIALECT_MSICE2;
	if (ng_request_has_flag(r, "no-MS-ICE2"))
		return ICE_DIALECT_RFC8445;
	return d == CTL_DIALECT_MSICE2 ? ICE_DIALECT_MSICE2 : ICE_DIALECT_RFC8445;
}

static uint8_t form_of(uint8_t dialect)
{
	return dialect == ICE_DIALECT_MSICE ? CTL_FORM_DRAFT06 : CTL_FORM_RFC;
}

/* The command creating leg b of section i (it faces the answerer: we offer, so we control),
 * its remote side not yet known. ice_config strings are copied by ice_agent_init on the worker,
 * but the command outlives its maker: they point into the command itself, into the last
 * remote-candidate slot (describe_remote keeps nrc below DP_CMD_MAX_RC). */
static void leg_b_create(struct ctl *c, const struct ctl_call *call, unsigned i,
			 const struct ctl_media *m, enum ice_dialect dialect, struct dp_cmd *cb)
{
	cb->type = DP_CMD_CREATE;
	cb->slot = m->slot_b;
	cb->peer = m->slot_a;
	leg_name(cb->cfg.name, sizeof(cb->cfg.name), call, i, 'b');
	cb->cfg.port = m->port_b;
	cb->cfg.iface = m->iface_b;
	cb->cfg.rtcp_mux = m->mux;
	cb->cfg.ice = m->ice_b;
	cb->cfg.trace = c->cfg.trace_legs;
	cb->cfg.clock_hz = 8000;
	cb->cfg.ice_cfg.dialect = dialect;
	ms_cred_cfg(&cb->cfg, m->ms_b);
	cb->cfg.ice_cfg.role = ICE_ROLE_CONTROLLING;
	cb->cfg.ice_cfg.nomination = ICE_NOM_REGULAR;
	snprintf(cb->rc_msid[DP_CMD_MAX_RC - 1], 65, "%s", m->ufrag_b);
	snprintf(cb->rc_mspwd[DP_CMD_MAX_RC - 1], 33, "%s", m->pwd_b);
	cb->cfg.ice_cfg.ufrag = cb->rc_msid[DP_CMD_MAX_RC - 1];
	cb->cfg.ice_cfg.pwd = cb->rc_mspwd[DP_CMD_MAX_RC - 1];
	cb->cfg.relay_only = m->relay_only_b;
}

#define PENDING_REPLY (-1000L)  /* do_offer: the reply waits for relays (ctl_poll) */

static long reply_error(struct ctl *c, const struct ng_request *r, const char *why, char *out,
			size_t cap)
{
	c->st.errors++;
	return ng_reply_error(out, cap, r->cookie, why);
}

/* Rewrite one SDP (c->sdp holds its parse) for the other side with one side's local ports and
 * ICE: side_b writes leg b's (the offer going to the answerer), else leg a's. A side whose
 * dialect is known gets candidates in it; an offer to an answerer not heard from yet mirrors
 * the forms the offerer wrote (ctl_sdp's CTL_FORM_PEER). */
static long rewrite(struct ctl *c, const struct ng_request *r, struct ctl_call *call, bool side_b,
		    bool offer_ice_mode_force, const char *body, size_t len, char *out, size_t cap)
{
	struct ctl_sdp_rewrite rw;
	static struct sdp_candidate cands[CTL_CALL_MEDIA][6];
	static char ms_id[CTL_CALL_MEDIA][2][ICE_MS_ID_B64 + 1];
	static char ms_pwd[CTL_CALL_MEDIA][2][ICE_MS_PWD_B64 + 1];

	memset(&rw, 0, sizeof(rw));
	rw.ice = r->ice == NG_ICE_REMOVE ? CTL_ICE_REMOVE :
		 offer_ice_mode_force ? CTL_ICE_FORCE : CTL_ICE_DEFAULT;
	rw.replace_origin = (r->replace & NG_REPLACE_ORIGIN) != 0;
	rw.n_media = c->sdp->n_media;
	for (unsigned i = 0; i < c->sdp->n_media; i++) {
		struct ctl_sdp_local *lo = &rw.media[i];
		const struct ctl_media *m = i < call->nmedia ? &call->media[i] : NULL;
		/* an inactive stream names its side's interface's first address */
		uint8_t iface = c->lif[side_b ? call->iface_to : call->iface_from].addr[0];
		uint32_t ip;
		bool ice;
		uint16_t port;

		if (m && m->active)
			iface = side_b ? m->iface_b : m->iface_a;
		ip = c->ifc[iface].cfg.adv_ip;
		if (!m || !m->active) {
			ice_addr_set_v4(&lo->addr, ip, 0);
			continue;
		}
		port = side_b ? m->port_b : m->port_a;
		ice = side_b ? m->ice_b : m->ice_a;
		ice_addr_set_v4(&lo->addr, ip, port);
		lo->rtcp_port = m->mux ? 0 : (uint16_t)(port + 1);
		lo->rtcp_mux = m->mux;
		if (ice) {
			lo->ufrag = side_b ? m->ufrag_b : m->ufrag_a;
			lo->pwd = side_b ? m->pwd_b : m->pwd_a;
			/* what the leg's MS-ICE agent was given (ms_cred_cfg) */
			for (unsigned k = 0; k < 2; k++) {
				ms_cred_b64(side_b ? m->ms_b : m->ms_a, k, ms_id[i][k], ms_pwd[i][k]);
				lo->ms_id[k] = ms_id[i][k];
				lo->ms_pwd[k] = ms_pwd[i][k];
			}
			lo->n_cand = 0;
			if (!(side_b ? m->relay_only_b : m->relay_only_a))
				lo->n_cand = host_cands(cands[i], ip, port, m->mux);
			if (side_b && m->relay_b)
				lo->n_cand += relay_cands(c, call, m, m->slot_b, ICE_DIALECT_RFC8445,
							  cands[i] + lo->n_cand, ip, port);
			if (!side_b && m->relay_a)
				lo->n_cand += relay_cands(c, call, m, m->slot_a,
							  (enum ice_dialect)m->dialect_a,
							  cands[i] + lo->n_cand, ip, port);
			lo->cand = cands[i];
			lo->form = side_b ? (m->b_described ? form_of(m->dialect_b) : CTL_FORM_PEER)
				   : form_of(m->dialect_a);
		}
	}
	return ctl_sdp_rewrite(out, cap, c->sdp, body, len, &rw);
}

/* ---- bodies: a plain SDP or a multipart of several (ctl_body_split) ---- */

static int parse_part(struct ctl *c, const struct ng_request *r, const struct ctl_body *b, unsigned k)
{
	return ctl_sdp_parse(c->sdp, r->sdp.p + b->sdp[k].off, b->sdp[k].len);
}

/* A multipart made for Lync carries its fallback (ICEv6) part beside the ICEv19 one. */
static bool fallback_body(const struct ctl_body *b)
{
	if (!b->multipart)
		return false;
	for (unsigned k = 0; k < b->n_sdp; k++)
		if (b->sdp[k].fallback)
			return true;
	return b->n_sdp > 1;
}

/* Split the request's body and parse its primary SDP part into c->sdp. 0, or an NG error
 * reply's length already written to out. */
static long parse_body(struct ctl *c, const struct ng_request *r, struct ctl_body *b, char *out,
		       size_t cap)
{
	char why[160];
	int e = ctl_body_split(b, r->sdp.p, r->sdp.n);

	if (e < 0) {
		snprintf(why, sizeof(why), "cannot split multipart body: %s", ctl_sdp_strerror(e));
		return reply_error(c, r, why, out, cap);
	}
	e = parse_part(c, r, b, b->primary);
	if (e < 0) {
		snprintf(why, sizeof(why), "cannot parse SDP (line %u): %s", c->sdp->err_line,
			 ctl_sdp_strerror(e));
		return reply_error(c, r, why, out, cap);
	}
	return 0;
}

/* Every SDP part of the body rewritten (see rewrite), the bytes around them (MIME headers,
 * boundaries, other parts) copied as they came: both candidate sets of a Lync multipart name
 * the same gateway ports. c->sdp holds the primary part's parse on entry, another's after. */
static long rewrite_body(struct ctl *c, const struct ng_request *r, const struct ctl_body *b,
			 struct ctl_call *call, bool side_b, bool force, char *out, size_t cap)
{
	size_t pos = 0, o = 0;

	if (!b->multipart)
		return rewrite(c, r, call, side_b, force, r->sdp.p, r->sdp.n, out, cap);
	for (unsigned k = 0; k < b->n_sdp; k++) {
		const struct ctl_body_part *pt = &b->sdp[k];
		long n;

		if (pt->off - pos > cap - o)
			return CTL_SDP_E_NOSPACE;
		memcpy(out + o, r->sdp.p + pos, pt->off - pos);
		o += pt->off - pos;
		if (parse_part(c, r, b, k) < 0)
			return CTL_SDP_E_SYNTAX;
		n = rewrite(c, r, call, side_b, force, r->sdp.p + pt->off, pt->len, out + o, cap - o);
		if (n < 0)
			return n;
		/* a part whose last line had no terminator (the delimiter's own took its place)
		 * keeps it that way, or the part would grow a blank line */
		if (pt->len && r->sdp.p[pt->off + pt->len - 1] != '\n') {
			if (n >= 1 && out[o + (size_t)n - 1] == '\n')
				n--;
			if (n >= 1 && out[o + (size_t)n - 1] == '\r')
				n--;
		}
		o += (size_t)n;
		pos = pt->off + pt->len;
	}
	if (r->sdp.n - pos > cap - o)
		return CTL_SDP_E_NOSPACE;
	memcpy(out + o, r->sdp.p + pos, r->sdp.n - pos);
	return (long)(o + r->sdp.n - pos);
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

/* ---- media interfaces (NG "direction") ---- */

/* The interfaces of an offer's two sides: "direction" names them (the first the side the
 * offer comes from, the second the side it goes to: rtpengine's order); without it a known
 * call keeps its own, swapped when the offer comes from the answerer's side; else interface 0.
 * -1 with why filled for a name no interface has. */
static int offer_ifaces(const struct ctl *c, const struct ng_request *r, const struct ctl_call *call,
			uint8_t out[2], char *why, size_t wn)
{
	if (r->n_direction) {
		for (unsigned k = 0; k < r->n_direction && k < 2; k++) {
			int i = ifc_find(c, r->direction[k].p, r->direction[k].n);

			if (i < 0) {
				snprintf(why, wn, "Unknown interface '%.*s' in direction",
					 (int)(r->direction[k].n > 64 ? 64 : r->direction[k].n),
					 r->direction[k].p);
				return -1;
			}
			out[k] = (uint8_t)i;
		}
		if (r->n_direction == 1)
			out[1] = out[0];
		return 0;
	}
	out[0] = out[1] = 0;
	if (call) {
		bool from_answerer = call->to_tag[0] && r->from_tag.n == strlen(call->to_tag) &&
				     !memcmp(r->from_tag.p, call->to_tag, r->from_tag.n);

		out[0] = from_answerer ? call->iface_to : call->iface_from;
		out[1] = from_answerer ? call->iface_from : call->iface_to;
	}
	return 0;
}

/* ---- offer ---- */

/* A re-offer from the same side, same streams, interfaces, ICE dialect and credentials keeps
 * its legs (hold / resume, a new address, the final offer once checks complete). */
static bool reoffer_keeps_legs(const struct ctl *c, const struct ctl_call *call,
			       const struct ctl_sdp *sdp, const struct ng_request *r,
			       const uint8_t ifaces[2], bool fb)
{
	if (sdp->n_media != call->nmedia || r->from_tag.n != strlen(call->from_tag) ||
	    memcmp(r->from_tag.p, call->from_tag, r->from_tag.n))
		return false;
	for (unsigned i = 0; i < call->nmedia; i++) {
		const struct ctl_media *m = &call->media[i];
		const struct ctl_sdp_media *pm = &sdp->media[i];
		if (m->active != (pm->port != 0) || (m->active && m->mux != pm->rtcp_mux))
			return false;
		if (!m->active)
			continue;
		if (strcmp(m->peer_ufrag_a, pm->ice.ufrag) || c->ifc[m->iface_a].lif != ifaces[0] ||
		    c->ifc[m->iface_b].lif != ifaces[1])
			return false;
		if (pm->has_ice && m->dialect_a != sdp_dialect(r, sdp, i, fb))
			return false;
	}
	return true;
}

static void permit_remotes(struct ctl *c, unsigned w, uint32_t slot, const struct ctl_sdp_media *pm,
			   uint64_t now);

/* The same endpoint again: tell leg a what its SDP now says. The [MS-ICE] final offer
 * (a=remote-candidate:<id>, once the offerer's checks completed) nominates the pair it names on
 * an MS-ICE leg; an RFC 8445 / MS-ICE2 final offer's a=remote-candidates name the pair the
 * controlled leg already nominated on USE-CANDIDATE, so the candidates it lists change nothing. */
static long reoffer_in_place(struct ctl *c, const struct ng_request *r, struct ctl_call *call,
			     const struct ctl_body *b, char *out, size_t cap, uint64_t now)
{
	long n;

	call->last_ms = now;
	for (unsigned i = 0; i < call->nmedia; i++) {
		const struct ctl_sdp_media *pm = &c->sdp->media[i];
		struct ctl_media *m = &call->media[i];
		struct dp_cmd *cmd;

		if (!m->active)
			continue;
		/* a hold address (c=0.0.0.0) leaves the media address as it was; candidates the
		 * agent already has are ignored, new ones are trickled in */
		cmd = remote_cmd(m->slot_a, pm, (enum ice_dialect)m->dialect_a);
		if (!cmd)
			return reply_error(c, r, "out of memory", out, cap);
		if (m->dialect_a == ICE_DIALECT_MSICE && pm->sdp->ice.remote_candidate[0]) {
			snprintf(cmd->ms_final, sizeof(cmd->ms_final), "%s", pm->sdp->ice.remote_candidate);
			c->st.ms_final_offers++;
		}
		if (submit(c, call->worker, cmd) < 0)
			return reply_error(c, r, "worker busy, try again", out, cap);
		if (m->relay_a)
			permit_remotes(c, call->worker, m->slot_a, pm, now);
	}
	n = rewrite_body(c, r, b, call, true, r->ice == NG_ICE_FORCE || r->ice == NG_ICE_FORCE_RELAY,
			 c->out, REPLY_MAX);
	if (n < 0)
		return reply_error(c, r, "cannot rewrite SDP", out, cap);
	return ng_reply_ok(out, cap, r->cookie, c->out, (size_t)n, NULL);
}

/* Addresses for a call's active sections on their logical interfaces (lifs[0] leg a's, lifs[1]
 * leg b's): every leg gets an address of its interface with a free port on worker w, tried
 * round robin from the interface's cursor (per worker), so calls spread over the addresses and
 * one address full sends them to the next. Counted on a copy of the pools, taking exactly as
 * pool_take_single / pool_take_pair would: true with plan[i][k] filled (and the cursors moved
 * on) only when every leg fits, so an exhausted interface allocates nothing. */
static bool ports_plan(struct ctl *c, unsigned w, const struct ctl_sdp *sdp, const uint8_t lifs[2],
		       uint8_t plan[][2])
{
	uint32_t pairs[CTL_CFG_IFACES], singles[CTL_CFG_IFACES];
	unsigned start[2];

	for (unsigned a = 0; a < c->n_ifc; a++) {
		pairs[a] = c->ifc[a].pool[w].npairs;
		singles[a] = c->ifc[a].pool[w].free_singles;
	}
	for (int k = 0; k < 2; k++)
		start[k] = c->lif[lifs[k]].next[w] % c->lif[lifs[k]].n_addr;
	for (unsigned i = 0; i < sdp->n_media; i++) {
		if (!sdp->media[i].port)
			continue;
		for (int k = 0; k < 2; k++) {
			const struct ctl_lif *l = &c->lif[lifs[k]];
			bool mux = sdp->media[i].rtcp_mux;
			unsigned j;

			for (j = 0; j < l->n_addr; j++) {
				unsigned a = l->addr[(start[k] + j) % l->n_addr];

				if (mux && singles[a]) {
					singles[a]--;
				} else if (pairs[a]) {
					pairs[a]--;
					if (mux)
						singles[a]++; /* the pair's other half */
				} else {
					continue;
				}
				plan[i][k] = (uint8_t)a;
				break;
			}
			if (j == l->n_addr)
				return false;
		}
	}
	for (int k = 0; k < 2; k++)
		if (k == 0 || lifs[1] != lifs[0])
			c->lif[lifs[k]].next[w] = (uint8_t)((start[k] + 1) % c->lif[lifs[k]].n_addr);
	return true;
}

static uint16_t take_port(struct ctl *c, unsigned iface, unsigned w, bool mux)
{
	return mux ? pool_take_single(c, iface, w) : pool_take_pair(c, iface, w);
}

static long do_offer(struct ctl *c, const struct ng_request *r, char *out, size_t cap, uint64_t now)
{
	char id[CALLID_MAX + 1], why[160];
	struct ctl_call *call;
	struct ctl_body body;
	uint8_t ifaces[2], plan[CTL_CALL_MEDIA][2];
	long n;
	unsigned w, need = 0, relays = 0;
	bool fresh = false, fb;

	c->st.offers++;
	if (!r->call_id.n || !r->from_tag.n || !r->sdp.n)
		return reply_error(c, r, "offer needs call-id, from-tag and sdp", out, cap);
	if ((n = parse_body(c, r, &body, out, cap)) != 0)
		return n;
	fb = fallback_body(&body);
	if (c->sdp->n_media > CTL_CALL_MEDIA)
		return reply_error(c, r, "too many media sections", out, cap);
	copy_str(id, sizeof(id), r->call_id);
	call = find_call(c, id);
	if (offer_ifaces(c, r, call, ifaces, why, sizeof(why)) < 0)
		return reply_error(c, r, why, out, cap);
	if (call && reoffer_keeps_legs(c, call, c->sdp, r, ifaces, fb)) {
		/* hold, resume, a new address from the same endpoint, the final offer: same legs,
		 * same ports, media goes on (RFC 3264 §8) */
		return reoffer_in_place(c, r, call, &body, out, cap, now);
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
	call->iface_from = ifaces[0];
	call->iface_to = ifaces[1];
	w = call->worker;
	for (unsigned i = 0; i < c->sdp->n_media; i++)
		if (c->sdp->media[i].port)
			need++;
	if (c->nslots[w] < 2 * need || !ports_plan(c, w, c->sdp, ifaces, plan)) {
		/* [ICEWarn 0x200000] port range exhausted: refuse now, cleanly */
		c->st.port_exhausted++;
		delete_call(c, call);
		if (c->n_ifc > 1)
			snprintf(why, sizeof(why), "port range exhausted on interface %s%s%s (ICEWarn 0x200000)",
				 c->lif[ifaces[0]].name, ifaces[0] != ifaces[1] ? " or " : "",
				 ifaces[0] != ifaces[1] ? c->lif[ifaces[1]].name : "");
		else
			snprintf(why, sizeof(why), "port range exhausted (ICEWarn 0x200000)");
		/* a re-offer stays an error: the call lives here, another gateway has not heard of it */
		if (fresh)
			return reply_full(c, r, why, NG_ERR_OUT_OF_PORTS, out, cap);
		return reply_error(c, r, why, out, cap);
	}
	if (c->sdp->n_media > call->media_cap) {
		struct ctl_media *nm = realloc(call->media, c->sdp->n_media * sizeof(*nm));

		if (!nm) {
			delete_call(c, call);
			return reply_error(c, r, "out of memory", out, cap);
		}
		memset(nm + call->media_cap, 0, (c->sdp->n_media - call->media_cap) * sizeof(*nm));
		c->media_slots += c->sdp->n_media - call->media_cap;
		call->media = nm;
		call->media_cap = c->sdp->n_media;
	}
	call->nmedia = c->sdp->n_media;
	for (unsigned i = 0; i < c->sdp->n_media; i++) {
		const struct ctl_sdp_media *pm = &c->sdp->media[i];
		struct ctl_media *m = &call->media[i];
		struct dp_cmd *ca, *cb;
		enum ice_dialect da;

		memset(m, 0, sizeof(*m));
		if (!pm->port)
			continue;
		m->active = true;
		m->mux = pm->rtcp_mux;
		m->iface_a = plan[i][0];
		m->iface_b = plan[i][1];
		m->slot_a = c->slots[w][--c->nslots[w]];
		m->slot_b = c->slots[w][--c->nslots[w]];
		/* ports_plan said yes: neither take fails */
		m->port_a = take_port(c, m->iface_a, w, m->mux);
		m->port_b = take_port(c, m->iface_b, w, m->mux);
		c->st.legs += 2;
		m->ice_a = want_ice(r->ice, pm->has_ice);
		m->ice_b = want_ice(r->ice, pm->has_ice);
		rnd_token(c, m->ufrag_a, 8);
		rnd_token(c, m->pwd_a, 24);
		rnd_token(c, m->ufrag_b, 8);
		rnd_token(c, m->pwd_b, 24);
		ms_cred_draw(c, m->ms_a);
		ms_cred_draw(c, m->ms_b);
		da = sdp_dialect(r, c->sdp, i, fb);
		m->dialect_a = (uint8_t)da;
		m->dialect_b = ICE_DIALECT_RFC8445;

		/* relays for leg b (it faces the answerer, who gets this SDP): demanded by
		 * ICE=force-relay, or offered next to the host candidates when TURN is configured */
		m->relay_b = m->ice_b && (r->ice == NG_ICE_FORCE_RELAY || ctl_turn_servers(c->turn));
		m->relay_only_b = m->ice_b && r->ice == NG_ICE_FORCE_RELAY;
		if (m->relay_only_b && !ctl_turn_servers(c->turn))
			m->turn_warn_b |= CTL_TURN_WARN_NO_SERVER;

		ca = calloc(1, sizeof(*ca));
		cb = calloc(1, sizeof(*cb));
		if (!ca || !cb) {
			free(ca);
			free(cb);
			delete_call(c, call);
			return reply_error(c, r, "out of memory", out, cap);
		}
		/* leg a faces the offerer: it answered their offer, so it is controlled
		 * (RFC 8445 §6.1.1); its remote side is known now, but its checks wait for the
		 * answer that gives the offerer our credentials (start_leg_a): checks sent
		 * before it go unanswered and fail the agent long before a ringing call is
		 * answered. Made now, it answers (and caches) early checks all the same. */
		ca->type = DP_CMD_CREATE;
		ca->slot = m->slot_a;
		ca->peer = DP_NO_LEG;
		leg_name(ca->cfg.name, sizeof(ca->cfg.name), call, i, 'a');
		ca->cfg.port = m->port_a;
		ca->cfg.iface = m->iface_a;
		ca->cfg.rtcp_mux = m->mux;
		ca->cfg.ice = m->ice_a && pm->has_ice;
		ca->cfg.trace = c->cfg.trace_legs;
		ca->cfg.clock_hz = 8000;
		describe_remote(ca, pm, da);
		snprintf(m->peer_ufrag_a, sizeof(m->peer_ufrag_a), "%.*s", ICE_UFRAG_MAX, pm->ice.ufrag);
		ca->cfg.ice_cfg.dialect = da;
		ms_cred_cfg(&ca->cfg, m->ms_a);
		ca->cfg.ice_cfg.role = ICE_ROLE_CONTROLLED;
		ca->cfg.ice_cfg.nomination = ICE_NOM_REGULAR;
		snprintf(ca->cfg.rufrag, sizeof(ca->cfg.rufrag), "%s", ca->rufrag);
		snprintf(ca->cfg.rpwd, sizeof(ca->cfg.rpwd), "%s", ca->rpwd);
		ca->cfg.remote_lite = ca->lite;
		ca->cfg.default_remote[0] = ca->def_remote[0];
		ca->cfg.default_remote[1] = ca->def_remote[1];
		/* MS-ICE (draft-06) carries the credentials in its candidates */
		ca->start = ca->cfg.ice && (da == ICE_DIALECT_MSICE ? ca->nrc > 0
								    : (ca->rufrag[0] && ca->rpwd[0]));
		if (!ca->start)
			ca->cfg.ice = ca->cfg.ice && da == ICE_DIALECT_MSICE;
		m->start_a = ca->start;
		ca->start = 0;
		m->ice_a = m->ice_a && (ca->cfg.ice || r->ice == NG_ICE_FORCE);
		/* relays for leg a too (it faces the offerer; the answer advertises them):
		 * allocated now, beside leg b's, given to its agent as they come (it pairs them
		 * while its checks run). An MS-ICE (draft-06) leg's relays take the relayed
		 * identifier of its credentials (ms_cred_cfg), which the answer writes for them. */
		m->relay_a = ca->cfg.ice && m->ice_a && ctl_turn_servers(c->turn);

		/* leg b faces the answerer: it waits for the answer. RFC 8445 until the answer
		 * says otherwise (answer_leg_b makes it again in the answerer's dialect). */
		leg_b_create(c, call, i, m, ICE_DIALECT_RFC8445, cb);
		/* ice_config strings are copied by ice_agent_init on the worker, but the command
		 * outlives this function: point them into the command itself */
		snprintf(ca->rc_msid[DP_CMD_MAX_RC - 1], 65, "%s", m->ufrag_a);
		snprintf(ca->rc_mspwd[DP_CMD_MAX_RC - 1], 33, "%s", m->pwd_a);
		ca->cfg.ice_cfg.ufrag = ca->rc_msid[DP_CMD_MAX_RC - 1];
		ca->cfg.ice_cfg.pwd = ca->rc_mspwd[DP_CMD_MAX_RC - 1];
		if (ca->nrc == DP_CMD_MAX_RC)
			ca->nrc--; /* the last slot carries the credentials */
		if (m->relay_a) {
			/* an answer with ICE=force-relay makes leg a again from this */
			m->a_create = malloc(sizeof(*m->a_create));
			if (m->a_create)
				*m->a_create = *ca;
			else
				m->relay_a = false;
		}
		if (submit(c, w, ca) < 0 || submit(c, w, cb) < 0) {
			delete_call(c, call);
			return reply_error(c, r, "worker busy, try again", out, cap);
		}
		if (m->relay_b && c->turn) {
			/* after the create in the ring: the worker knows the leg when the Allocate goes */
			for (uint8_t comp = 1; comp <= (m->mux ? 1 : 2); comp++)
				if (ctl_turn_start(c->turn, w, m->slot_b, comp, now * 1000) == 0)
					relays++;
		}
		/* leg a's: the offer's reply does not wait for them, the answer's does */
		for (uint8_t comp = 1; m->relay_a && comp <= (m->mux ? 1 : 2); comp++)
			ctl_turn_start(c->turn, w, m->slot_a, comp, now * 1000);
	}
	if (relays) {
		c->pending_call = call;
		return PENDING_REPLY;
	}
	n = rewrite_body(c, r, &body, call, true, r->ice == NG_ICE_FORCE || r->ice == NG_ICE_FORCE_RELAY,
			 c->out, REPLY_MAX);
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

/* CreatePermission on leg b's relays for every address the answer names (RFC 8656 §9),
 * ahead of the checks that will go through them. */
static void permit_remotes(struct ctl *c, unsigned w, uint32_t slot, const struct ctl_sdp_media *pm,
			   uint64_t now)
{
	const struct sdp_ice_media *im = &pm->sdp->ice;

	for (unsigned i = 0; i < im->n_cand; i++)
		if (im->cand[i].transport == SDP_TP_UDP && im->cand[i].addr.family == ICE_AF_INET)
			ctl_turn_permit(c->turn, w, slot, &im->cand[i].addr, now * 1000);
	if (pm->has_conn && pm->conn.family == ICE_AF_INET && !pm->hold)
		ctl_turn_permit(c->turn, w, slot, &pm->conn, now * 1000);
}

/* ---- answer ---- */

/* What an answer said to leg b, as a hash: the credentials, or for MS-ICE each candidate's
 * identifier and password, and the dialect. */
static uint32_t remote_hash(const struct ctl_sdp_media *pm, enum ice_dialect d)
{
	const struct sdp_ice_media *im = &pm->sdp->ice;
	uint64_t h = 14695981039346656037ull ^ (uint64_t)(d + 1);
	const char *parts[2] = {pm->ice.ufrag, pm->ice.pwd};

#define MIX(s)                                                    \
	for (const char *q = (s); *q; q++)                        \
		h = (h ^ (uint8_t)*q) * 1099511628211ull;         \
	h = (h ^ 0x3a) * 1099511628211ull
	if (d != ICE_DIALECT_MSICE) {
		MIX(parts[0]);
		MIX(parts[1]);
	} else {
		for (unsigned i = 0; i < im->n_cand; i++)
			if (im->cand[i].form == SDP_FORM_DRAFT06) {
				MIX(im->cand[i].foundation);
				MIX(im->cand[i].password);
			}
	}
#undef MIX
	h ^= h >> 32;
	return (uint32_t)h ? (uint32_t)h : 1;
}

/*
 * Leg b learns the answerer's side of section i. The first answer in the dialect leg b was made
 * in describes it and starts its checks. The same answer again (a 183 and then the 200 with the
 * same SDP, or one more provisional answer) only trickles new candidates: the running agent
 * keeps its state. An answer in another dialect, or with other credentials (a 200 from a fork
 * other than the 183's, an ICE restart), makes leg b again at the same slot and port with the
 * same local credentials (the rewritten offer gave them out), so no leg is ever duplicated.
 */
static int answer_leg_b(struct ctl *c, struct ctl_call *call, unsigned i,
			const struct ctl_sdp_media *pm, enum ice_dialect d, uint64_t now)
{
	struct ctl_media *m = &call->media[i];
	uint32_t h = remote_hash(pm, d);
	struct dp_cmd *cmd = remote_cmd(m->slot_b, pm, d);
	bool creds;

	if (!cmd)
		return -ENOMEM;
	creds = d == ICE_DIALECT_MSICE ? cmd->nrc > 0 : (cmd->rufrag[0] && cmd->rpwd[0]);
	if (m->b_described && m->dialect_b == d && m->rhash_b == h) {
		cmd->start = 0;
	} else if (!m->b_described && m->dialect_b == d) {
		/* without ICE in the answer the leg stays on the answer's c= / m= address */
		cmd->start = m->ice_b && pm->has_ice && creds;
	} else {
		/* an agent keeps its dialect and remote credentials: delete leg b and make it
		 * again, same slot, port and local credentials, with its remote side. The worker
		 * applies the two in order; the create pairs it with leg a again. */
		struct dp_cmd *del = calloc(1, sizeof(*del));
		struct dp_cmd rem = *cmd;

		if (!del) {
			free(cmd);
			return -ENOMEM;
		}
		del->type = DP_CMD_DELETE;
		del->slot = m->slot_b;
		del->peer = DP_NO_LEG;
		memset(cmd, 0, sizeof(*cmd));
		leg_b_create(c, call, i, m, d, cmd);
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
		cmd->start = m->ice_b && pm->has_ice && creds;
		cmd->cfg.ice = m->ice_b && (cmd->start || d == ICE_DIALECT_MSICE);
		note_outcome(c, call->worker, m->slot_b, m->turn_warn_b);
		c->st.leg_remakes++;
		if (submit(c, call->worker, del) < 0) {
			free(cmd);
			return -EBUSY;
		}
		if (m->relay_b && c->turn) {
			/* the new agent needs its relays before its checks start: made idle, given
			 * them, then started by a REMOTE without news */
			struct dp_cmd *go = calloc(1, sizeof(*go));
			bool start = cmd->start;

			if (!go) {
				free(cmd);
				return -ENOMEM;
			}
			cmd->start = 0;
			if (submit(c, call->worker, cmd) < 0) {
				free(go);
				return -EBUSY;
			}
			ctl_turn_reinstall(c->turn, call->worker, m->slot_b);
			go->type = DP_CMD_REMOTE;
			go->slot = m->slot_b;
			go->peer = DP_NO_LEG;
			go->start = start;
			cmd = go;
		}
	}
	if (m->relay_b && c->turn)
		permit_remotes(c, call->worker, m->slot_b, pm, now);
	m->b_described = true;
	m->dialect_b = (uint8_t)d;
	m->rhash_b = h;
	return submit(c, call->worker, cmd) < 0 ? -EBUSY : 0;
}

/* CreatePermission on leg a's relays for the offerer's addresses: the candidates and
 * default address its offer gave leg a (kept in leg a's create). */
static void permit_offerer(struct ctl *c, unsigned w, uint32_t slot, const struct dp_cmd *ca,
			   uint64_t now)
{
	for (unsigned k = 0; k < ca->nrc; k++)
		ctl_turn_permit(c->turn, w, slot, &ca->rc[k].addr, now * 1000);
	for (unsigned k = 0; k < 2; k++)
		if (ca->def_remote[k].family)
			ctl_turn_permit(c->turn, w, slot, &ca->def_remote[k], now * 1000);
}

/* Any of leg a's relays still being allocated? Past the deadline they are given up. */
static bool leg_a_settled(struct ctl *c, struct ctl_call *call, bool give_up)
{
	bool done = true;

	for (unsigned i = 0; i < call->nmedia; i++) {
		struct ctl_media *m = &call->media[i];

		if (!m->active || !m->relay_a)
			continue;
		for (uint8_t comp = 1; comp <= (m->mux ? 1 : 2); comp++) {
			if (ctl_turn_state(c->turn, call->worker, m->slot_a, comp, NULL, NULL) != CTL_TURN_PENDING)
				continue;
			if (give_up)
				ctl_turn_abort(c->turn, call->worker, m->slot_a, comp);
			else
				done = false;
		}
	}
	return done;
}

/*
 * The first answer settles leg a once its relays are allocated or given up: their ICEWarn
 * bits noted, permissions asked for the offerer's addresses, and with the answer's
 * ICE=force-relay (rtpengine: a message's flags apply to the SDP it produces, here the answer
 * going to the offerer) leg a made again at its slot and port, with its credentials and the
 * offerer's side, but relay-only: the agent that ran since the offer with host candidates is
 * deleted, the new one gets the relays and only then starts (no relay: it stays idle). Its
 * checks start over; the offerer heard of none of its candidates before this answer.
 */
static void settle_leg_a(struct ctl *c, struct ctl_call *call, uint64_t now)
{
	unsigned w = call->worker;

	for (unsigned i = 0; i < call->nmedia; i++) {
		struct ctl_media *m = &call->media[i];
		struct dp_cmd *ca = m->a_create, *del, *go;
		bool any = false;

		if (!m->active || !ca)
			continue;
		m->a_create = NULL;
		for (uint8_t comp = 1; comp <= (m->mux ? 1 : 2); comp++) {
			uint32_t x = 0;
			enum ctl_turn_state st = ctl_turn_state(c->turn, w, m->slot_a, comp, NULL, &x);

			if (st != CTL_TURN_NONE)
				m->turn_warn_a |= x;
			any |= st == CTL_TURN_READY;
		}
		permit_offerer(c, w, m->slot_a, ca, now);
		if (!m->relay_only_a) {
			free(ca);
			continue;
		}
		del = calloc(1, sizeof(*del));
		go = calloc(1, sizeof(*go));
		if (!del || !go) {
			free(del);
			free(go);
			free(ca);
			continue;
		}
		note_outcome(c, w, m->slot_a, m->turn_warn_a);
		del->type = DP_CMD_DELETE;
		del->slot = m->slot_a;
		del->peer = DP_NO_LEG;
		ca->cfg.relay_only = true;
		ca->peer = m->slot_b; /* the delete unpaired leg b */
		ca->cfg.ice_cfg.ufrag = ca->rc_msid[DP_CMD_MAX_RC - 1];
		ca->cfg.ice_cfg.pwd = ca->rc_mspwd[DP_CMD_MAX_RC - 1];
		ca->result = 0;
		go->type = DP_CMD_REMOTE;
		go->slot = m->slot_a;
		go->peer = DP_NO_LEG;
		/* relay-only and started here (or never, without a relay): start_leg_a skips it */
		go->start = m->start_a && any;
		m->a_started = true;
		ca->start = 0;
		c->st.leg_remakes++;
		if (submit(c, w, del) < 0) {
			free(ca);
			free(go);
			continue;
		}
		if (submit(c, w, ca) < 0) {
			free(go);
			continue;
		}
		ctl_turn_reinstall(c->turn, w, m->slot_a);
		if (submit(c, w, go) < 0)
			c->st.errors++;
	}
}

/* Leg a's checks start with the first answer sent to the offerer (a 183's or the 200's):
 * RFC 8445 §6.1.1 / §7.2, the answerer's side checks once its answer is out. Its check
 * timeout counts from here; what the offerer sent before (the agent answered and cached it)
 * is replayed into the check list. Later answers find it started. */
static void start_leg_a(struct ctl *c, struct ctl_call *call)
{
	for (unsigned i = 0; i < call->nmedia; i++) {
		struct ctl_media *m = &call->media[i];
		struct dp_cmd *go;

		if (!m->active || m->a_started)
			continue;
		m->a_started = true;
		if (!m->start_a)
			continue;
		go = calloc(1, sizeof(*go));
		if (!go) {
			c->st.errors++;
			continue;
		}
		go->type = DP_CMD_REMOTE;
		go->slot = m->slot_a;
		go->peer = DP_NO_LEG;
		go->start = 1;
		if (submit(c, call->worker, go) < 0)
			c->st.errors++;
	}
}

/* The answer's reply: leg a settled and started, the SDP rewritten with leg a's ports and
 * candidates, the ICEWarn bits of leg a's relays that failed in the warning. */
static long answer_reply(struct ctl *c, const struct ng_request *r, const struct ctl_body *body,
			 struct ctl_call *call, uint64_t now, char *out, size_t cap)
{
	char warn[256];
	uint32_t bits = 0;
	long n;
	int wl;

	settle_leg_a(c, call, now);
	for (unsigned i = 0; i < call->nmedia; i++) {
		struct ctl_media *m = &call->media[i];

		if (!m->active)
			continue;
		if (!m->relay_a) {
			bits |= m->turn_warn_a; /* force-relay without TURN: 0x80000 */
			continue;
		}
		for (uint8_t comp = 1; comp <= (m->mux ? 1 : 2); comp++)
			if (ctl_turn_state(c->turn, call->worker, m->slot_a, comp, NULL, NULL) == CTL_TURN_FAILED)
				bits |= m->turn_warn_a;
	}
	n = rewrite_body(c, r, body, call, false, false, c->out, REPLY_MAX);
	if (n < 0)
		return reply_error(c, r, "cannot rewrite SDP", out, cap);
	start_leg_a(c, call);
	wl = ng_request_warning(r, warn, sizeof(warn));
	if (wl < 0)
		wl = 0;
	if (bits)
		snprintf(warn + wl, sizeof(warn) - (size_t)wl, "%sTURN relay not allocated (ICEWarn 0x%x)",
			 wl ? "; " : "", bits);
	return ng_reply_ok(out, cap, r->cookie, c->out, (size_t)n, warn[0] ? warn : NULL);
}

static long do_answer(struct ctl *c, const struct ng_request *r, char *out, size_t cap, uint64_t now)
{
	char id[CALLID_MAX + 1];
	struct ctl_call *call;
	struct ctl_body body;
	long n;
	bool fb;

	c->st.answers++;
	if (!r->call_id.n || !r->sdp.n)
		return reply_error(c, r, "answer needs call-id and sdp", out, cap);
	copy_str(id, sizeof(id), r->call_id);
	call = find_call(c, id);
	if (!call)
		return reply_error(c, r, "Unknown call-id", out, cap);
	if ((n = parse_body(c, r, &body, out, cap)) != 0)
		return n;
	fb = fallback_body(&body);
	if (c->sdp->n_media != call->nmedia)
		return reply_error(c, r, "answer has a different number of media sections", out, cap);
	copy_str(call->to_tag, sizeof(call->to_tag), r->to_tag);
	call->answered = true;
	call->last_ms = now;
	for (unsigned i = 0; i < call->nmedia; i++) {
		const struct ctl_sdp_media *pm = &c->sdp->media[i];
		int e;

		if (!call->media[i].active)
			continue;
		e = answer_leg_b(c, call, i, pm, sdp_dialect(r, c->sdp, i, fb), now);
		if (e == -ENOMEM)
			return reply_error(c, r, "out of memory", out, cap);
		if (e < 0)
			return reply_error(c, r, "worker busy, try again", out, cap);
	}
	for (unsigned i = 0; i < call->nmedia; i++) {
		struct ctl_media *m = &call->media[i];

		/* the first answer decides whether leg a is relay-only (see settle_leg_a) */
		if (!m->active || !m->ice_a || (m->relay_a && !m->a_create))
			continue;
		if (m->relay_a) {
			m->relay_only_a = r->ice == NG_ICE_FORCE_RELAY;
		} else if (r->ice == NG_ICE_FORCE_RELAY && !m->relay_only_a) {
			/* relays demanded, none to be had: no candidate at all, 0x80000 */
			m->relay_only_a = true;
			if (!ctl_turn_servers(c->turn))
				m->turn_warn_a |= CTL_TURN_WARN_NO_SERVER;
		}
	}
	if (!leg_a_settled(c, call, false)) {
		c->pending_call = call;
		return PENDING_REPLY;
	}
	return answer_reply(c, r, &body, call, now, out, cap);
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

/* A leg's ICEWarn bits from its relays: those noted when its reply went, and any since
 * (a refresh that failed). */
static uint32_t leg_turn_warn(const struct ctl *c, const struct ctl_call *call, uint32_t slot,
			      uint32_t noted)
{
	uint32_t w = noted, x;

	for (uint8_t comp = 1; comp <= 2; comp++)
		if (ctl_turn_state(c->turn, call->worker, slot, comp, NULL, &x) != CTL_TURN_NONE)
			w |= x;
	return w;
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
				ng_benc_dict_add_int(d, ld, "ICEWarn",
						     ice_agent_warn(&l->agent) |
							     (k ? leg_turn_warn(c, call, m->slot_b, m->turn_warn_b)
								: leg_turn_warn(c, call, m->slot_a, m->turn_warn_a)));
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
				if (k ? m->relay_b : m->relay_a) {
					struct ice_addr rel;

					if (ctl_turn_state(c->turn, call->worker, k ? m->slot_b : m->slot_a, 1,
							   &rel, NULL) ==
					    CTL_TURN_READY)
						add_copy(d, ld, "relayed-address", ice_addr_fmt(&rel, a1, sizeof(a1)),
							 &tout);
					ng_benc_dict_add_int(d, ld, "relayed-in", (int64_t)(l->turn ? l->turn->relayed_in : 0));
					ng_benc_dict_add_int(d, ld, "relayed-out", (int64_t)(l->turn ? l->turn->relayed_out : 0));
					ng_benc_dict_add_int(d, ld, "TURN-drops", (int64_t)(l->turn ? l->turn->drops : 0));
				}
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

static struct ctl_pending *find_pending(struct ctl *c, const char *cookie, size_t n)
{
	for (struct ctl_pending *p = c->pending; p; p = p->next)
		if (p->cookie_len == n && !memcmp(p->msg + p->cookie_off, cookie, n))
			return p;
	return NULL;
}

size_t ctl_handle(struct ctl *c, const char *msg, size_t len, char *out, size_t cap, uint64_t now)
{
	bool pending;

	return ctl_handle_from(c, msg, len, out, cap, now, NULL, &pending);
}

size_t ctl_handle_from(struct ctl *c, const char *msg, size_t len, char *out, size_t cap,
		       uint64_t now, const struct ctl_peer *peer, bool *pending)
{
	struct ng_request r;
	struct ng_benc_doc d;
	const char *cached;
	size_t clen;
	long n;
	int e;

	*pending = false;
	c->now_ms = now;
	memset(&r, 0, sizeof(r));
	ng_benc_init(&d, c->nodes, NG_NODES_MAX);
	e = ng_request_parse(&r, &d, msg, len);
	if (!r.cookie.n)
		return 0; /* no cookie: nothing to answer to */
	if (find_pending(c, r.cookie.p, r.cookie.n)) {
		/* the proxy retries while relays are being allocated: the reply will come */
		c->st.retransmits++;
		*pending = true;
		return 0;
	}
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
	if (n == PENDING_REPLY) {
		struct ctl_pending *p = calloc(1, sizeof(*p));
		struct ctl_call *call = c->pending_call;

		c->pending_call = NULL;
		if (p)
			p->msg = malloc(len);
		if (!p || !p->msg) {
			free(p);
			n = reply_error(c, &r, "out of memory", out, cap);
		} else {
			memcpy(p->msg, msg, len);
			p->len = len;
			p->cookie_off = (size_t)(r.cookie.p - msg);
			p->cookie_len = r.cookie.n;
			p->answer = r.cmd == NG_CMD_ANSWER;
			snprintf(p->call_id, sizeof(p->call_id), "%s", call->call_id);
			if (peer)
				p->peer = *peer;
			p->deadline_ms = now + c->turn_timeout_ms;
			p->next = c->pending;
			c->pending = p;
			c->npending++;
			*pending = true;
			return 0;
		}
	}
	if (n < 0)
		return 0;
	ng_cache_put(&c->cache, r.cookie.p, r.cookie.n, out, (size_t)n, now);
	return (size_t)n;
}

/* Are leg b's relays of every section settled? Past the deadline, the pending are given up. */
static bool relays_settled(struct ctl *c, struct ctl_call *call, bool give_up)
{
	bool done = true;

	for (unsigned i = 0; i < call->nmedia; i++) {
		struct ctl_media *m = &call->media[i];

		if (!m->active || !m->relay_b)
			continue;
		for (uint8_t comp = 1; comp <= (m->mux ? 1 : 2); comp++) {
			if (ctl_turn_state(c->turn, call->worker, m->slot_b, comp, NULL, NULL) != CTL_TURN_PENDING)
				continue;
			if (give_up)
				ctl_turn_abort(c->turn, call->worker, m->slot_b, comp);
			else
				done = false;
		}
	}
	return done;
}

/* The deferred offer (or answer) reply: the request parsed again, the SDP rewritten with what
 * the relays gave; the ICEWarn bits of failed relays in the reply's warning. */
static long finish_pending(struct ctl *c, struct ctl_pending *p, struct ctl_call *call, char *out,
			   size_t cap)
{
	struct ng_request r;
	struct ng_benc_doc d;
	struct ctl_body body;
	char warn[256];
	uint32_t bits = 0;
	long n;
	int wl;

	memset(&r, 0, sizeof(r));
	ng_benc_init(&d, c->nodes, NG_NODES_MAX);
	if (ng_request_parse(&r, &d, p->msg, p->len) < 0)
		return reply_error(c, &r, p->answer ? "answer no longer parses" : "offer no longer parses",
				   out, cap);
	if (!call)
		return reply_error(c, &r, "call deleted while its relays were allocated", out, cap);
	if (ctl_body_split(&body, r.sdp.p, r.sdp.n) < 0 || parse_part(c, &r, &body, body.primary) < 0 ||
	    c->sdp->n_media != call->nmedia)
		return reply_error(c, &r, "cannot parse SDP", out, cap);
	if (p->answer)
		return answer_reply(c, &r, &body, call, c->now_ms, out, cap);
	for (unsigned i = 0; i < call->nmedia; i++) {
		struct ctl_media *m = &call->media[i];

		if (m->active && m->relay_b) {
			m->turn_warn_b |= leg_turn_warn(c, call, m->slot_b, m->turn_warn_b);
			for (uint8_t comp = 1; comp <= (m->mux ? 1 : 2); comp++)
				if (ctl_turn_state(c->turn, call->worker, m->slot_b, comp, NULL, NULL) ==
				    CTL_TURN_FAILED)
					bits |= m->turn_warn_b;
		}
	}
	n = rewrite_body(c, &r, &body, call, true, r.ice == NG_ICE_FORCE || r.ice == NG_ICE_FORCE_RELAY,
			 c->out, REPLY_MAX);
	if (n < 0)
		return reply_error(c, &r, "cannot rewrite SDP", out, cap);
	wl = ng_request_warning(&r, warn, sizeof(warn));
	if (wl < 0)
		wl = 0;
	if (bits)
		snprintf(warn + wl, sizeof(warn) - (size_t)wl, "%sTURN relay not allocated (ICEWarn 0x%x)",
			 wl ? "; " : "", bits);
	return ng_reply_ok(out, cap, r.cookie, c->out, (size_t)n, warn[0] ? warn : NULL);
}

size_t ctl_poll(struct ctl *c, uint64_t now, char *out, size_t cap, struct ctl_peer *peer)
{
	c->now_ms = now;
	if (c->turn)
		ctl_turn_poll(c->turn, now * 1000);
	for (struct ctl_pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		struct ctl_pending *p = *pp;
		struct ctl_call *call = find_call(c, p->call_id);
		long n;

		if (call && !(p->answer ? leg_a_settled(c, call, now >= p->deadline_ms)
					: relays_settled(c, call, now >= p->deadline_ms)))
			continue;
		n = finish_pending(c, p, call, out, cap);
		*pp = p->next;
		c->npending--;
		if (n > 0) {
			ng_cache_put(&c->cache, p->msg + p->cookie_off, p->cookie_len, out, (size_t)n, now);
			*peer = p->peer;
		}
		free(p->msg);
		free(p);
		return n > 0 ? (size_t)n : 0;
	}
	return 0;
}

void ctl_turn_rx(struct ctl *c, unsigned worker, uint32_t slot, uint8_t comp,
		 const struct ice_addr *from, const uint8_t *p, uint16_t len, uint64_t now)
{
	c->now_ms = now;
	if (c->turn)
		ctl_turn_input(c->turn, worker, slot, comp, from, p, len, now * 1000);
}

unsigned ctl_pending(const struct ctl *c)
{
	return c->npending;
}

struct ctl_turn *ctl_turn_mgr(const struct ctl *c)
{
	return c->turn;
}

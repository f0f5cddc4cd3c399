/* Per-core packet engine: classify, inline ICE, relay with header rewrite, ARP, timers.
 * No locks, no heap, no syscalls, no logging per packet: drops are counted by reason. */
#include "dp_core.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_pkt.h"
#include "stun.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

const char *const dp_drop_names[DP_DROP_MAX] = {
#define _(n, s) [DP_DROP_##n] = s,
	foreach_dp_drop
#undef _
};

static uint64_t leg_rng(void *ctx)
{
	uint64_t *s = ctx, x = *s;

	/* xorshift64: reproducible from --seed, cheap, and only used for ids and jitter */
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void trace_line(void *ctx, uint64_t now, const char *line)
{
	struct dp_core *c = ctx;
	char *slot;

	if (!c->trace)
		return;
	slot = c->trace[(c->trace_head + c->trace_len) % DP_TRACE_LINES];
	/* time of day (UTC) to the millisecond, as pjnath's traces read */
	snprintf(slot, DP_TRACE_LEN, "%02u:%02u:%02u.%03u %s", (unsigned)(now / 3600000000u % 24),
		 (unsigned)(now / 60000000 % 60), (unsigned)(now / 1000000 % 60),
		 (unsigned)(now / 1000 % 1000), line);
	/* the control thread reads the ring without a lock: the line before the index */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (c->trace_len < DP_TRACE_LINES)
		c->trace_len++;
	else
		c->trace_head = (c->trace_head + 1) % DP_TRACE_LINES;
	if (c->trace_sink)
		c->trace_sink(c->trace_ctx, slot);
}

int dp_core_init(struct dp_core *c, uint32_t ip, const uint8_t mac[6], uint32_t max_legs,
		 uint64_t seed, void *(*alloc)(size_t n, size_t size), uint64_t now_us)
{
	memset(c, 0, sizeof(*c));
	c->ip = ip;
	c->ips[0] = ip;
	c->naddr = 1;
	c->alloc = alloc;
	memcpy(c->mac, mac, 6);
	c->max_legs = max_legs;
	c->seed = seed ? seed : 0x243f6a8885a308d3ull;
	c->udp_csum = true;
	c->legs = alloc(max_legs, sizeof(*c->legs));
	c->port_map = alloc(65536, sizeof(*c->port_map));
	c->tw_links = alloc(max_legs, sizeof(*c->tw_links));
	c->rng = alloc(max_legs, sizeof(*c->rng));
	c->trace = alloc(DP_TRACE_LINES, DP_TRACE_LEN);
	c->free_slots = alloc(max_legs, sizeof(*c->free_slots));
	if (!c->legs || !c->port_map || !c->tw_links || !c->rng || !c->trace || !c->free_slots)
		return -ENOMEM;
	if (dp_core_set_turn_legs(c, max_legs / 4 < 16 ? (max_legs < 16 ? max_legs : 16) : max_legs / 4,
				  NULL) < 0)
		return -ENOMEM;
	c->port_maps[0] = c->port_map;
	dp_tw_init(&c->tw, c->tw_links, max_legs, now_us);
	c->now = now_us;
	return 0;
}

void dp_core_free(struct dp_core *c, void (*release)(void *))
{
	release(c->legs);
	release(c->port_map);
	release(c->tw_links);
	release(c->rng);
	release(c->trace);
	release(c->free_slots);
	release(c->turn_pool);
	release(c->turn_free);
	for (unsigned a = 1; a < c->naddr; a++)
		release(c->port_maps[a]);
	c->naddr = 1;
	c->legs = NULL;
}

int dp_core_set_turn_legs(struct dp_core *c, uint32_t n, void (*release)(void *))
{
	struct dp_turn_leg *pool;
	uint32_t *fr;

	if (c->turn_pool && c->nturn_free != c->max_turn)
		return -EBUSY;
	pool = n ? c->alloc(n, sizeof(*pool)) : NULL;
	fr = n ? c->alloc(n, sizeof(*fr)) : NULL;
	if (n && (!pool || !fr)) {
		if (release) {
			release(pool);
			release(fr);
		}
		return -ENOMEM;
	}
	if (release) {
		release(c->turn_pool);
		release(c->turn_free);
	}
	c->turn_pool = pool;
	c->turn_free = fr;
	c->max_turn = n;
	c->nturn_free = 0;
	for (uint32_t i = n; i-- > 0;)
		c->turn_free[c->nturn_free++] = i;
	return 0;
}

struct dp_turn_leg *dp_core_leg_turn(struct dp_core *c, uint32_t leg)
{
	struct dp_leg *l = &c->legs[leg];

	if (l->turn)
		return l->turn;
	if (!c->nturn_free) {
		c->turn_pool_empty++;
		return NULL;
	}
	l->turn = &c->turn_pool[c->turn_free[--c->nturn_free]];
	memset(l->turn, 0, sizeof(*l->turn));
	return l->turn;
}

int dp_core_add_addr(struct dp_core *c, uint32_t ip)
{
	uint32_t *map;

	for (unsigned a = 0; a < c->naddr; a++)
		if (c->ips[a] == ip)
			return -EEXIST;
	if (c->naddr == DP_MAX_IFACES)
		return -ENOSPC;
	map = c->alloc(65536, sizeof(*map));
	if (!map)
		return -ENOMEM;
	c->ips[c->naddr] = ip;
	c->port_maps[c->naddr] = map;
	return c->naddr++;
}

/* The index of a local address, or -1. At most DP_MAX_IFACES compares; one on a core with
 * one address. */
static inline int addr_index(const struct dp_core *c, uint32_t ip)
{
	for (unsigned a = 0; a < c->naddr; a++)
		if (c->ips[a] == ip)
			return (int)a;
	return -1;
}

int dp_core_find_leg(const struct dp_core *c, const char *name)
{
	for (uint32_t i = 0; i < c->nlegs; i++)
		if ((c->legs[i].flags & DP_LEG_USED) && !strcmp(c->legs[i].name, name))
			return (int)i;
	return -ENOENT;
}

/* Where media for component k goes (and comes from), kept twice: as an address for
 * reports and as two words for the per-packet compare. */
static void set_media(struct dp_leg *l, unsigned k, const struct ice_addr *a, uint8_t state)
{
	l->media_remote[k] = *a;
	l->media_ip[k] = ice_addr_v4(a);
	l->media_port[k] = a->family == ICE_AF_INET ? a->port : 0;
	l->media_state[k] = a->family == ICE_AF_INET ? state : 0;
}

static void rearm(struct dp_core *c, uint32_t idx)
{
	struct dp_leg *l = &c->legs[idx];

	if (l->flags & DP_LEG_ICE)
		dp_tw_arm(&c->tw, idx, ice_agent_next_timeout(&l->agent));
}

static int add_leg(struct dp_core *c, const struct dp_leg_cfg *cfg, uint32_t idx, uint64_t now);

int dp_core_add_leg(struct dp_core *c, const struct dp_leg_cfg *cfg, uint64_t now)
{
	if (c->nfree == 0 && c->nlegs == c->max_legs)
		return -ENOSPC;
	return add_leg(c, cfg, c->nfree ? c->free_slots[c->nfree - 1] : c->nlegs, now);
}

int dp_core_add_leg_at(struct dp_core *c, const struct dp_leg_cfg *cfg, uint32_t slot, uint64_t now)
{
	if (slot >= c->max_legs)
		return -ENOSPC;
	if (slot < c->nlegs && (c->legs[slot].flags & DP_LEG_USED))
		return -EBUSY;
	return add_leg(c, cfg, slot, now);
}

static int add_leg(struct dp_core *c, const struct dp_leg_cfg *cfg, uint32_t idx, uint64_t now)
{
	struct dp_leg *l;
	struct ice_addr host;
	int r;

	uint32_t *map;

	if (cfg->port == 0 || (!cfg->rtcp_mux && cfg->port == 65535) || cfg->iface >= c->naddr)
		return -EINVAL;
	map = c->port_maps[cfg->iface];
	if (map[cfg->port] || (!cfg->rtcp_mux && map[cfg->port + 1]))
		return -EADDRINUSE;
	/* names are unique by construction (the legs file refuses duplicates, the control plane
	 * derives them from the call): no O(legs) search here */
	l = &c->legs[idx];
	memset(l, 0, sizeof(*l));
	snprintf(l->name, sizeof(l->name), "%s", cfg->name);
	l->port = cfg->port;
	l->ncomp = cfg->rtcp_mux ? 1 : 2;
	l->peer = DP_NO_LEG;
	l->id = idx;
	l->iface = cfg->iface;
	l->flags = DP_LEG_USED | (cfg->rtcp_mux ? DP_LEG_MUX : 0) | (cfg->ice ? DP_LEG_ICE : 0) |
		   (cfg->trace ? DP_LEG_TRACE : 0);
	l->rtp.clock_hz = cfg->clock_hz ? cfg->clock_hz : 8000;
	l->rtp.probation = 2;
	for (int k = 0; k < 2; k++)
		set_media(l, (unsigned)k, &cfg->default_remote[k], 1);
	c->rng[idx] = c->seed ^ ((uint64_t)(idx + 1) * 0x9e3779b97f4a7c15ull);
	if (!c->rng[idx])
		c->rng[idx] = 1;
	if (cfg->ice) {
		struct ice_config ic = cfg->ice_cfg;
		ic.ncomp = l->ncomp;
		ic.rng = leg_rng;
		ic.rng_ctx = &c->rng[idx];
		ic.name = l->name;
		ic.trace = cfg->trace ? trace_line : NULL;
		ic.trace_ctx = c;
		r = ice_agent_init(&l->agent, &ic);
		if (r)
			return -EINVAL;
		/* MS-ICE: the checks must use what the draft-06 lines said (ice_agent.h) */
		for (unsigned k = 0; k < 2 && ic.dialect == ICE_DIALECT_MSICE; k++)
			if (cfg->ms_id[k][0] &&
			    ice_agent_set_local_ms_cred(&l->agent, k ? ICE_CAND_RELAY : ICE_CAND_HOST,
							cfg->ms_id[k], cfg->ms_pwd[k]) < 0)
				return -EINVAL;
		for (uint8_t comp = 1; comp <= l->ncomp && !cfg->relay_only; comp++) {
			ice_addr_set_v4(&host, c->ips[cfg->iface], (uint16_t)(cfg->port + comp - 1));
			if (ice_agent_add_local(&l->agent, comp, ICE_CAND_HOST, &host, -1, 65535) < 0)
				return -EINVAL;
		}
		if (cfg->rufrag[0] && ice_agent_set_remote_credentials(&l->agent, cfg->rufrag, cfg->rpwd))
			return -EINVAL;
		if (cfg->remote_lite)
			ice_agent_set_remote_lite(&l->agent, true);
	}
	map[cfg->port] = idx + 1;
	if (!cfg->rtcp_mux)
		map[cfg->port + 1] = idx + 1;
	/* take the slot off the free list (wherever it is) or raise the high-water mark */
	for (uint32_t k = c->nfree; k-- > 0;)
		if (c->free_slots[k] == idx) {
			c->free_slots[k] = c->free_slots[--c->nfree];
			break;
		}
	if (idx >= c->nlegs) {
		/* slots skipped over by a control plane's choice become free */
		for (uint32_t k = c->nlegs; k < idx; k++)
			c->free_slots[c->nfree++] = k;
		c->nlegs = idx + 1;
	}
	c->active++;
	(void)now;
	return (int)idx;
}

static bool leg_ok(const struct dp_core *c, uint32_t leg)
{
	return leg < c->nlegs && (c->legs[leg].flags & DP_LEG_USED);
}

static inline void drop_count(struct dp_core *c, struct dp_leg *l, enum dp_drop why)
{
	c->st.drops[why]++;
	if (l)
		l->st.drops[why]++;
}

int dp_core_del_leg(struct dp_core *c, uint32_t leg)
{
	struct dp_leg *l;

	if (!leg_ok(c, leg))
		return -ENOENT;
	l = &c->legs[leg];
	dp_tw_cancel(&c->tw, leg);
	c->port_maps[l->iface][l->port] = 0;
	if (!(l->flags & DP_LEG_MUX))
		c->port_maps[l->iface][l->port + 1] = 0;
	if (l->peer != DP_NO_LEG && leg_ok(c, l->peer) && c->legs[l->peer].peer == leg)
		c->legs[l->peer].peer = DP_NO_LEG;
	l->flags = 0;
	l->name[0] = 0;
	if (l->turn) {
		c->turn_free[c->nturn_free++] = (uint32_t)(l->turn - c->turn_pool);
		l->turn = NULL;
	}
	c->free_slots[c->nfree++] = leg;
	c->active--;
	return 0;
}

int dp_core_leg_add_remote(struct dp_core *c, uint32_t leg, const struct ice_remote_cand *rc,
			   uint64_t now)
{
	int r;

	if (!leg_ok(c, leg) || !(c->legs[leg].flags & DP_LEG_ICE))
		return -EINVAL;
	r = ice_agent_add_remote(&c->legs[leg].agent, now, rc);
	rearm(c, leg);
	return r < 0 ? (r == ICE_E_FULL ? -ENOSPC : -EINVAL) : 0;
}

int dp_core_leg_set_remote(struct dp_core *c, uint32_t leg, const char *ufrag, const char *pwd,
			   bool lite, const struct ice_addr def[2])
{
	struct dp_leg *l;

	if (!leg_ok(c, leg))
		return -EINVAL;
	l = &c->legs[leg];
	for (int k = 0; k < 2; k++)
		if (def[k].family && l->media_state[k] < 2)
			set_media(l, (unsigned)k, &def[k], 1);
	if (!(l->flags & DP_LEG_ICE))
		return 0;
	if (ufrag && pwd && ice_agent_set_remote_credentials(&l->agent, ufrag, pwd))
		return -EINVAL;
	if (lite)
		ice_agent_set_remote_lite(&l->agent, true);
	return 0;
}

int dp_core_pair(struct dp_core *c, uint32_t a, uint32_t b)
{
	if (!leg_ok(c, a) || !leg_ok(c, b) || a == b)
		return -EINVAL;
	c->legs[a].peer = b;
	c->legs[b].peer = a;
	return 0;
}

static void drain(struct dp_core *c, uint32_t idx, uint64_t now);

int dp_core_start_leg(struct dp_core *c, uint32_t leg, uint64_t now)
{
	struct dp_leg *l;

	if (!leg_ok(c, leg))
		return -EINVAL;
	l = &c->legs[leg];
	if (!(l->flags & DP_LEG_ICE))
		return 0;
	ice_agent_end_of_candidates(&l->agent);
	if (ice_agent_start(&l->agent, now) < 0)
		return -EINVAL;
	drain(c, leg, now);
	return 0;
}

/* The ARP table is 4-way set associative: with one slot per hash value, two peers whose
 * addresses collide evicted each other on every packet and relay failed with NO_NEXTHOP. */
#define DP_ARP_WAYS 4

static inline uint32_t arp_idx(uint32_t ip, unsigned way)
{
	return (((ip * 2654435761u) >> 24) + way) & (DP_ARP_SLOTS - 1);
}

/* The entry holding ip, else a free one of its set, else the set's first (evicted). */
static struct dp_arp *arp_entry(struct dp_core *c, uint32_t ip)
{
	struct dp_arp *free_e = NULL;

	for (unsigned w = 0; w < DP_ARP_WAYS; w++) {
		struct dp_arp *e = &c->arp[arp_idx(ip, w)];
		if (e->used && e->ip == ip)
			return e;
		if (!e->used && !free_e)
			free_e = e;
	}
	return free_e ? free_e : &c->arp[arp_idx(ip, 0)];
}

void dp_core_arp_add(struct dp_core *c, uint32_t ip, const uint8_t mac[6])
{
	struct dp_arp *e = arp_entry(c, ip);

	e->ip = ip;
	memcpy(e->mac, mac, 6);
	e->used = 1;
	e->pending = 0;
}

static inline void arp_learn(struct dp_core *c, uint32_t ip, const uint8_t *mac)
{
	struct dp_arp *e = arp_entry(c, ip);

	if (e->used && e->ip == ip && !memcmp(e->mac, mac, 6))
		return;
	e->ip = ip;
	memcpy(e->mac, mac, 6);
	e->used = 1;
	e->pending = 0;
	c->st.arp_learned++;
}

/* RFC 826: who has ip? tell us. Sent at most once a second per address (the slot
 * remembers the question); the frame the caller could not send is dropped and counted. */
static void arp_ask(struct dp_core *c, uint32_t ip, uint32_t src)
{
	struct dp_arp *e = NULL;
	uint8_t f[42];

	for (unsigned w = 0; w < DP_ARP_WAYS && !e; w++) {
		struct dp_arp *x = &c->arp[arp_idx(ip, w)];
		if (!x->used && x->pending && x->ip == ip)
			e = x;
	}
	if (e && c->now < e->asked_us + 1000000)
		return;
	if (!e) {
		/* remember the question in a free way of the set; never evict a known MAC */
		for (unsigned w = 0; w < DP_ARP_WAYS && !e; w++) {
			struct dp_arp *x = &c->arp[arp_idx(ip, w)];
			if (!x->used && (!x->pending || c->now >= x->asked_us + 1000000))
				e = x;
		}
	}
	if (e) {
		e->ip = ip;
		e->pending = 1;
		e->asked_us = c->now;
	}
	memset(f, 0xff, 6);
	memcpy(f + 6, c->mac, 6);
	dp_wr16(f + 12, DP_ETHERTYPE_ARP);
	dp_wr16(f + 14, 1);
	dp_wr16(f + 16, DP_ETHERTYPE_IP4);
	f[18] = 6;
	f[19] = 4;
	dp_wr16(f + 20, 1);
	memcpy(f + 22, c->mac, 6);
	dp_wr32(f + 28, src);
	memset(f + 32, 0, 6);
	dp_wr32(f + 38, ip);
	c->st.arp_requests++;
	c->emit(c->emit_ctx, f, sizeof(f));
}

/* The MAC address for ip; unknown: ask (from local address src) and return NULL. */
static inline const uint8_t *nexthop(struct dp_core *c, uint32_t ip, uint32_t src)
{
	for (unsigned w = 0; w < DP_ARP_WAYS; w++) {
		const struct dp_arp *e = &c->arp[arp_idx(ip, w)];
		if (e->used && e->ip == ip)
			return e->mac;
	}
	if (c->have_gw_mac)
		return c->gw_mac;
	arp_ask(c, ip, src);
	return NULL;
}

bool dp_core_arp_resolve(struct dp_core *c, uint32_t ip, unsigned addr, uint64_t now)
{
	uint64_t asked = c->st.arp_requests;

	if (addr >= c->naddr || !ip)
		return false;
	c->now = now;
	return !nexthop(c, ip, c->ips[addr]) && c->st.arp_requests != asked;
}

/* A whole frame into f for the leg's TURN server: the dlen bytes at data (which may lie
 * inside f) wrapped for peer, from the component's host port. 0 when it cannot go (counted). */
static uint16_t turn_encap(struct dp_core *c, uint32_t idx, uint8_t comp, const struct ice_addr *peer,
			   uint8_t *f, uint16_t cap, const uint8_t *data, uint16_t dlen)
{
	struct dp_leg *l = &c->legs[idx];
	const struct dp_turn_comp *tc = &l->turn->comp[comp - 1];
	bool ms = tc->ms;
	uint16_t head = ms ? dp_turn_ms_head_len(l->turn, comp, peer) : dp_turn_head_len(tc, peer), n;
	uint8_t tid[16];
	const uint8_t *mac;

	if ((uint32_t)DP_HDRS_LEN + head + dlen + DP_TURN_WRAP_MAX > cap) {
		l->turn->drops++;
		drop_count(c, l, DP_DROP_TOO_BIG);
		return 0;
	}
	mac = nexthop(c, tc->srv_ip, c->ips[l->iface]);
	if (!mac) {
		l->turn->drops++;
		drop_count(c, l, DP_DROP_NO_NEXTHOP);
		return 0;
	}
	if (head != 4 && head != 0) {
		/* a Send's transaction id (12 bytes, [MS-TURN] 16): the leg's RNG, no syscall */
		uint64_t a = leg_rng(&c->rng[idx]), b = leg_rng(&c->rng[idx]);
		memcpy(tid, &a, 8);
		memcpy(tid + 8, &b, 8);
	}
	memmove(f + DP_HDRS_LEN + head, data, dlen);
	n = ms ? dp_turn_ms_wrap(l->turn, comp, peer, f + DP_HDRS_LEN, head, dlen, tid)
	       : dp_turn_wrap(tc, peer, f + DP_HDRS_LEN, head, dlen, tid);
	l->turn->relayed_out++;
	return dp_build_udp4(f, mac, c->mac, c->ips[l->iface], (uint16_t)(l->port + comp - 1), tc->srv_ip,
			     tc->srv_port, n, c->ip_id++, true);
}

/* The component whose relayed candidate is a, or 0. */
static inline uint8_t relay_comp(const struct dp_leg *l, const struct ice_addr *a)
{
	for (uint8_t k = 0; k < l->ncomp; k++)
		if (l->turn->comp[k].has_relay && ice_addr_eq(&l->turn->comp[k].relayed, a))
			return (uint8_t)(k + 1);
	return 0;
}

int dp_core_leg_send(struct dp_core *c, uint32_t leg, uint8_t comp, const struct ice_addr *to,
		     const uint8_t *p, uint16_t len)
{
	struct dp_leg *l;
	struct dp_turn_comp *tc;
	const uint8_t *mac;
	uint16_t n;

	if (!leg_ok(c, leg) || comp < 1 || comp > c->legs[leg].ncomp || to->family != ICE_AF_INET ||
	    !to->port || len == 0 || len > sizeof(c->scratch) - DP_HDRS_LEN)
		return -EINVAL;
	l = &c->legs[leg];
	if (!dp_core_leg_turn(c, leg)) {
		drop_count(c, l, DP_DROP_TURN);
		return -ENOSPC;
	}
	tc = &l->turn->comp[comp - 1];
	/* what comes back from here on this component is the TURN server's */
	tc->srv_ip = ice_addr_v4(to);
	tc->srv_port = to->port;
	l->flags |= DP_LEG_TURN;
	mac = nexthop(c, tc->srv_ip, c->ips[l->iface]);
	if (!mac) {
		/* the client retransmits; by then the server's MAC is known (workers resolve
		 * the configured servers at their start: this is for the others, an alternate
		 * server, or a server that did not answer ARP then) */
		l->turn->drops++;
		drop_count(c, l, DP_DROP_NO_NEXTHOP);
		return 0;
	}
	memcpy(c->scratch + DP_HDRS_LEN, p, len);
	n = dp_build_udp4(c->scratch, mac, c->mac, c->ips[l->iface], (uint16_t)(l->port + comp - 1), tc->srv_ip,
			  tc->srv_port, len, c->ip_id++, true);
	l->st.pkts_out++;
	l->st.bytes_out += n;
	c->st.tx_generated++;
	c->emit(c->emit_ctx, c->scratch, n);
	return 0;
}

int dp_core_leg_add_relay(struct dp_core *c, uint32_t leg, uint8_t comp,
			  const struct ice_addr *relayed, const struct ice_addr *server,
			  uint16_t local_pref)
{
	return dp_core_leg_add_relay_at(c, leg, comp, relayed, server, local_pref,
					leg_ok(c, leg) ? c->legs[leg].agent.start_us : 0);
}

int dp_core_leg_add_relay_at(struct dp_core *c, uint32_t leg, uint8_t comp,
			     const struct ice_addr *relayed, const struct ice_addr *server,
			     uint16_t local_pref, uint64_t now)
{
	struct dp_leg *l;
	struct dp_turn_comp *tc;

	if (!leg_ok(c, leg) || comp < 1 || comp > c->legs[leg].ncomp ||
	    relayed->family != ICE_AF_INET || server->family != ICE_AF_INET || !server->port)
		return -EINVAL;
	l = &c->legs[leg];
	if (!dp_core_leg_turn(c, leg))
		return -ENOSPC;
	tc = &l->turn->comp[comp - 1];
	tc->srv_ip = ice_addr_v4(server);
	tc->srv_port = server->port;
	tc->relayed = *relayed;
	tc->has_relay = 1;
	l->flags |= DP_LEG_TURN;
	if ((l->flags & DP_LEG_ICE) &&
	    ice_agent_add_local_at(&l->agent, now, comp, ICE_CAND_RELAY, relayed, -1, local_pref) < 0)
		return -ENOSPC;
	/* a running agent pairs it now: its checks are due */
	rearm(c, leg);
	return 0;
}

/* Send what the agent has queued, handle its events, re-arm its timer. */
static void drain(struct dp_core *c, uint32_t idx, uint64_t now)
{
	struct dp_leg *l = &c->legs[idx];
	struct ice_out out = {.buf = c->scratch + DP_HDRS_LEN, .cap = sizeof(c->scratch) - DP_HDRS_LEN};
	struct ice_event ev;

	while (ice_agent_poll_transmit(&l->agent, now, &out) == 1) {
		uint32_t dip = ice_addr_v4(&out.to), sip = c->ips[l->iface];
		const uint8_t *mac;
		uint16_t n;
		uint8_t rk;

		if (unlikely(l->flags & DP_LEG_TURN) && (rk = relay_comp(l, &out.from)) != 0) {
			/* from the relayed candidate: through the server, from the host port */
			n = turn_encap(c, idx, rk, &out.to, c->scratch, sizeof(c->scratch),
				       c->scratch + DP_HDRS_LEN, (uint16_t)out.len);
			if (n) {
				l->st.pkts_out++;
				l->st.bytes_out += n;
				c->st.tx_generated++;
				c->emit(c->emit_ctx, c->scratch, n);
			}
			continue;
		}
		mac = nexthop(c, dip, sip);

		if (!mac || out.to.family != ICE_AF_INET) {
			l->st.drops[DP_DROP_NO_NEXTHOP]++;
			c->st.drops[DP_DROP_NO_NEXTHOP]++;
			continue;
		}
		n = dp_build_udp4(c->scratch, mac, c->mac, sip, out.from.port, dip, out.to.port,
				  (uint16_t)out.len, c->ip_id++, true);
		l->st.pkts_out++;
		l->st.bytes_out += n;
		c->st.tx_generated++;
		c->emit(c->emit_ctx, c->scratch, n);
	}
	while (ice_agent_poll_event(&l->agent, &ev)) {
		l->ice_events++;
		switch (ev.type) {
		case ICE_EV_SELECTED: {
			struct ice_addr loc, rem;
			if (ice_agent_selected(&l->agent, ev.comp, &loc, &rem) == 0) {
				set_media(l, ev.comp - 1u, &rem, 2);
				if (ev.comp <= 2 && l->turn)
					l->turn->comp[ev.comp - 1].selected = relay_comp(l, &loc) == ev.comp;
			}
			break;
		}
		case ICE_EV_COMPLETED:
			c->st.ice_completed++;
			l->ice_done_us = now;
			break;
		case ICE_EV_FAILED:
			c->st.ice_failed++;
			l->ice_done_us = now;
			break;
		case ICE_EV_CONSENT_LOST:
			/* RFC 7675 §5.1: stop sending on that component */
			c->st.consent_lost++;
			if (ev.comp >= 1 && ev.comp <= 2)
				l->media_state[ev.comp - 1] = 0;
			break;
		default:
			break;
		}
	}
	rearm(c, idx);
}

static void timer_fire(void *ctx, uint32_t idx, uint64_t now)
{
	struct dp_core *c = ctx;
	struct dp_leg *l = &c->legs[idx];

	c->st.timers_fired++;
	/* what the timer sends is stamped with the tick's time, however the walk was split */
	c->now = now;
	ice_agent_handle_timeout(&l->agent, now);
	drain(c, idx, now);
}

void dp_core_timers(struct dp_core *c, uint64_t now)
{
	/* dp_tw_advance walks at most one turn per call; a longer jump (a replay's linger, a
	 * stalled core) must still fire everything due by now, so walk until caught up */
	while (c->tw.tick < now / DP_TW_TICK_US)
		dp_tw_advance(&c->tw, now, DP_TW_SLOTS, timer_fire, c);
	c->now = now;
}

static inline enum dp_verdict drop(struct dp_core *c, struct dp_leg *l, enum dp_drop why)
{
	c->st.drops[why]++;
	if (l)
		l->st.drops[why]++;
	return DP_VERDICT_DROP;
}

/* RFC 3550 A.1 sequence bookkeeping and A.8 interarrival jitter. */
static void rtp_stats(struct dp_leg *l, const uint8_t *p, uint16_t len, uint64_t now)
{
	struct dp_rtp_stats *s = &l->rtp;
	uint16_t seq;
	uint32_t ssrc, ts, arrival;
	int32_t transit, d;

	if (len < 12)
		return;
	seq = dp_rd16(p + 2);
	ts = dp_rd32(p + 4);
	ssrc = dp_rd32(p + 8);
	if (ssrc != s->ssrc || s->received == 0) {
		s->ssrc = ssrc;
		s->base_seq = seq;
		s->max_seq = seq;
		s->cycles = 0;
		s->received = 0;
		s->jitter = 0;
		s->transit = 0;
		s->bad_seq = 1u << 16 | 1; /* RTP_SEQ_MOD + 1 */
	} else {
		uint16_t udelta = (uint16_t)(seq - s->max_seq);
		if (udelta < 3000) {
			if (seq < s->max_seq)
				s->cycles += 1u << 16;
			s->max_seq = seq;
		} else if (udelta <= 65536 - 100) { /* RTP_SEQ_MOD - MAX_MISORDER */
			/* a big jump: restart after two in sequence, as A.1 does */
			if (seq == s->bad_seq) {
				s->base_seq = seq;
				s->max_seq = seq;
				s->cycles = 0;
				s->received = 0;
			} else {
				s->bad_seq = (uint32_t)(seq + 1) & 0xffff;
				return;
			}
		}
	}
	s->received++;
	arrival = (uint32_t)(now * s->clock_hz / 1000000);
	transit = (int32_t)(arrival - ts);
	if (s->received > 1) {
		d = transit - s->transit;
		if (d < 0)
			d = -d;
		s->jitter += (uint32_t)d - ((s->jitter + 8) >> 4);
	}
	s->transit = transit;
}

static enum dp_verdict rx_arp(struct dp_core *c, uint8_t *f, uint16_t len)
{
	uint8_t *a = f + DP_ETH_LEN;
	uint32_t sip, tip;

	if (len < DP_ETH_LEN + 28 || dp_rd16(a) != 1 || dp_rd16(a + 2) != DP_ETHERTYPE_IP4 ||
	    a[4] != 6 || a[5] != 4)
		return drop(c, NULL, DP_DROP_ARP_OTHER);
	sip = dp_rd32(a + 14);
	tip = dp_rd32(a + 24);
	if (addr_index(c, tip) < 0)
		return drop(c, NULL, DP_DROP_ARP_OTHER);
	arp_learn(c, sip, a + 8);
	if (dp_rd16(a + 6) != 1) /* a reply: learned, nothing to send */
		return DP_VERDICT_CONSUMED;
	/* RFC 826: answer in place */
	memcpy(f, a + 8, 6);
	memcpy(f + 6, c->mac, 6);
	dp_wr16(a + 6, 2);
	memcpy(a + 18, a + 8, 6);
	dp_wr32(a + 24, sip);
	memcpy(a + 8, c->mac, 6);
	dp_wr32(a + 14, tip); /* the address asked for: any of ours */
	c->st.arp_replies++;
	return DP_VERDICT_TX;
}

enum dp_verdict dp_core_rx(struct dp_core *c, uint64_t now, uint8_t *f, uint16_t *lenp,
			   uint16_t cap)
{
	uint16_t len = *lenp, ihl, tot, ulen, plen, dport, sport;
	uint8_t *ip, *udp, *pay;
	uint32_t sip, li, lip;
	struct dp_leg *l;
	uint8_t comp, b0;
	struct ice_addr via_peer;
	bool via = false;
	int ai;

	c->st.rx++;
	c->now = now;
	if (len < DP_ETH_LEN)
		return drop(c, NULL, DP_DROP_NOT_IP);
	switch (dp_rd16(f + 12)) {
	case DP_ETHERTYPE_IP4:
		break;
	case DP_ETHERTYPE_ARP:
		return rx_arp(c, f, len);
	default:
		return drop(c, NULL, DP_DROP_NOT_IP);
	}
	ip = f + DP_ETH_LEN;
	if (len < DP_ETH_LEN + DP_IP4_LEN || (ip[0] >> 4) != 4)
		return drop(c, NULL, DP_DROP_BAD_IP);
	ihl = (uint16_t)((ip[0] & 0xf) * 4);
	tot = dp_rd16(ip + 2);
	if (ihl < DP_IP4_LEN || tot < ihl || tot > len - DP_ETH_LEN)
		return drop(c, NULL, DP_DROP_BAD_IP);
	if (dp_rd16(ip + 6) & 0x3fff)
		return drop(c, NULL, DP_DROP_FRAGMENT);
	if (ip[9] != 17)
		return drop(c, NULL, DP_DROP_NOT_UDP);
	lip = dp_rd32(ip + 16);
	ai = likely(lip == c->ip) ? 0 : addr_index(c, lip);
	if (ai < 0)
		return drop(c, NULL, DP_DROP_NOT_FOR_US);
	udp = ip + ihl;
	if (tot < ihl + DP_UDP_LEN)
		return drop(c, NULL, DP_DROP_BAD_UDP);
	ulen = dp_rd16(udp + 4);
	if (ulen < DP_UDP_LEN || ulen > tot - ihl)
		return drop(c, NULL, DP_DROP_BAD_UDP);
	sip = dp_rd32(ip + 12);
	sport = dp_rd16(udp);
	dport = dp_rd16(udp + 2);
	li = c->port_maps[ai][dport];
	if (!li)
		return drop(c, NULL, DP_DROP_NO_LEG);
	l = &c->legs[li - 1];
	comp = (uint8_t)(dport - l->port + 1);
	pay = udp + DP_UDP_LEN;
	plen = (uint16_t)(ulen - DP_UDP_LEN);
	l->st.pkts_in++;
	l->st.bytes_in += len;
	if (plen == 0)
		return drop(c, l, DP_DROP_UNKNOWN_PAYLOAD);
	if (unlikely(l->flags & DP_LEG_TURN) && l->turn->comp[comp - 1].srv_port == sport &&
	    l->turn->comp[comp - 1].srv_ip == sip) {
		/* from the leg's TURN server: a response for the control thread, or data
		 * relayed from a peer, demultiplexed again as if it had come from the peer
		 * to the relayed address */
		const struct dp_turn_comp *tc = &l->turn->comp[comp - 1];
		const uint8_t *d;
		uint16_t dl;
		struct ice_addr src;

		switch (dp_turn_classify(tc, pay, plen, &via_peer, &d, &dl)) {
		case DP_TURN_RX_CONTROL:
			ice_addr_set_v4(&src, sip, sport);
			if (!c->turn_up || c->turn_up(c->turn_up_ctx, li - 1, comp, &src, pay, plen) < 0) {
				l->turn->drops++;
				return drop(c, l, DP_DROP_TURN_RING);
			}
			l->turn->to_control++;
			return DP_VERDICT_CONSUMED;
		case DP_TURN_RX_DATA:
			if (!tc->has_relay || dl == 0)
				goto turn_bad;
			memmove(pay, d, dl);
			plen = dl;
			ulen = (uint16_t)(plen + DP_UDP_LEN);
			tot = (uint16_t)(ihl + ulen);
			dp_wr16(ip + 2, tot);
			dp_wr16(udp + 4, ulen);
			dp_wr16(udp + 6, 0); /* recomputed if it leaves again; 0 stays 0 on relay */
			sip = ice_addr_v4(&via_peer);
			sport = via_peer.port;
			via = true;
			l->turn->relayed_in++;
			break;
		default:
		turn_bad:
			l->turn->drops++;
			return drop(c, l, DP_DROP_TURN);
		}
	}
	b0 = pay[0];

	/* RFC 7983 §7 demultiplexing on the first byte */
	if (b0 <= 3) {
		struct ice_addr local, remote;
		struct ice_out reply = {.buf = c->reply, .cap = sizeof(c->reply)};
		enum ice_rx r;

		l->st.stun_in++;
		if (!(l->flags & DP_LEG_ICE))
			return drop(c, l, DP_DROP_STUN);
		/* next hops are learned from checks (media follows them), not per media packet */
		if (likely(!via)) {
			arp_learn(c, sip, f + 6);
			ice_addr_set_v4(&local, lip, dport);
		} else {
			local = l->turn->comp[comp - 1].relayed;
		}
		ice_addr_set_v4(&remote, sip, sport);
		r = ice_agent_recv(&l->agent, now, &local, &remote, pay, plen, &reply);
		if (unlikely(via) && r == ICE_RX_REPLIED) {
			uint16_t n = turn_encap(c, li - 1, comp, &remote, f, cap, c->reply,
						(uint16_t)reply.len);
			drain(c, li - 1, now);
			if (!n)
				return DP_VERDICT_DROP;
			*lenp = n;
			l->st.pkts_out++;
			l->st.bytes_out += n;
			return DP_VERDICT_TX;
		}
		if (r == ICE_RX_REPLIED) {
			uint8_t smac[6];
			if (DP_HDRS_LEN + reply.len > cap) {
				drain(c, li - 1, now);
				return drop(c, l, DP_DROP_TOO_BIG);
			}
			memcpy(smac, f + 6, 6);
			/* the answer goes back where the request came from, from the port it hit */
			memcpy(f + DP_HDRS_LEN, c->reply, reply.len);
			*lenp = dp_build_udp4(f, smac, c->mac, lip, dport, sip, sport,
					      (uint16_t)reply.len, c->ip_id++, c->udp_csum);
			l->st.pkts_out++;
			l->st.bytes_out += *lenp;
			drain(c, li - 1, now);
			return DP_VERDICT_TX;
		}
		drain(c, li - 1, now);
		/* NOT_STUN: first byte says STUN (RFC 7983) but the header does not; not media */
		if (r == ICE_RX_DROPPED || r == ICE_RX_NOT_STUN)
			return drop(c, l, DP_DROP_STUN);
		return DP_VERDICT_CONSUMED;
	}
	if (b0 >= 128 && b0 <= 191) {
		if (plen >= 2 && pay[1] >= 192 && pay[1] <= 223)
			l->st.rtcp_in++; /* RFC 5761 §4: RTCP packet types */
		else
			l->st.rtp_in++;
	} else if (b0 >= 20 && b0 <= 63) {
		l->st.dtls_in++; /* passed through to the peer leg untouched */
	} else {
		return drop(c, l, DP_DROP_UNKNOWN_PAYLOAD);
	}

	/* media: only from where this leg's media is expected */
	{
		uint8_t k = (uint8_t)(comp - 1);
		if (unlikely(!l->media_state[k] || l->media_ip[k] != sip || l->media_port[k] != sport)) {
			struct ice_addr src;
			bool ok = false;
			ice_addr_set_v4(&src, sip, sport);
			if (l->flags & DP_LEG_ICE) {
				/* a pair the agent validated may carry media before nomination */
				for (unsigned i = 0; i < l->agent.npairs && !ok; i++) {
					const struct ice_pair *p = &l->agent.pairs[i];
					ok = (p->flags & ICE_PF_VALID) && p->comp == comp &&
					     ice_addr_eq(&l->agent.remote[p->remote].addr, &src);
				}
			} else if (l->media_state[k] != 3) {
				/* symmetric RTP: latch onto the first source, and learn its MAC */
				set_media(l, k, &src, 3);
				arp_learn(c, sip, f + 6);
				ok = true;
			}
			if (!ok)
				return drop(c, l, DP_DROP_WRONG_SOURCE);
		}
	}
	/* receive statistics only for media from the negotiated source */
	if (b0 >= 128 && b0 <= 191 && !(plen >= 2 && pay[1] >= 192 && pay[1] <= 223))
		rtp_stats(l, pay, plen, now);
	if (l->peer == DP_NO_LEG)
		return drop(c, l, DP_DROP_NO_PEER);
	{
		struct dp_leg *pl = &c->legs[l->peer];
		uint8_t pk = (pl->flags & DP_LEG_MUX) ? 0 : (uint8_t)(comp - 1);
		uint16_t oport = (uint16_t)(pl->port + pk), odport = pl->media_port[pk];
		const uint8_t *mac;
		uint32_t dip = pl->media_ip[pk], oip = c->ips[pl->iface]; /* out from the peer's */
		uint16_t hc;

		if (unlikely(!pl->media_state[pk]))
			return drop(c, l, DP_DROP_NO_PATH);
		if (unlikely(pl->flags & DP_LEG_TURN) && pl->turn->comp[pk].selected) {
			/* the peer leg's selected pair is on its relay: wrapped, to its server */
			uint16_t n = turn_encap(c, l->peer, (uint8_t)(pk + 1), &pl->media_remote[pk], f,
						cap, pay, plen);
			if (!n)
				return DP_VERDICT_DROP;
			*lenp = n;
			pl->st.pkts_out++;
			pl->st.bytes_out += n;
			if ((pl->flags & DP_LEG_ICE) && now - pl->media_noted_us >= 1000000) {
				pl->media_noted_us = now;
				ice_agent_note_media_sent(&pl->agent, (uint8_t)(pk + 1), now);
			}
			return DP_VERDICT_TX;
		}
		mac = nexthop(c, dip, oip);
		if (unlikely(!mac))
			return drop(c, l, DP_DROP_NO_NEXTHOP);
		if (unlikely(ihl != DP_IP4_LEN)) {
			/* IP options are not forwarded: close the gap */
			memmove(f + DP_HDRS_LEN - DP_UDP_LEN, udp, ulen);
			udp = f + DP_HDRS_LEN - DP_UDP_LEN;
			ip[0] = 0x45;
			tot = (uint16_t)(DP_IP4_LEN + ulen);
			dp_wr16(ip + 2, tot);
			ihl = DP_IP4_LEN;
		}
		memcpy(f, mac, 6);
		memcpy(f + 6, c->mac, 6);
		/* UDP checksum by RFC 1624, all six changed words in one sum; 0 stays 0 */
		hc = dp_rd16(udp + 6);
		if (hc) {
			uint32_t sum = (uint16_t)~hc;
			sum += (uint16_t)~dp_rd16(ip + 12) + (uint16_t)~dp_rd16(ip + 14) +
			       (uint16_t)~dp_rd16(ip + 16) + (uint16_t)~dp_rd16(ip + 18) +
			       (uint16_t)~sport + (uint16_t)~dport;
			sum += (oip >> 16) + (oip & 0xffff) + (dip >> 16) + (dip & 0xffff) + oport +
			       odport;
			hc = dp_csum_fold(sum);
			dp_wr16(udp + 6, hc ? hc : 0xffff);
		}
		dp_wr32(ip + 12, oip);
		dp_wr32(ip + 16, dip);
		ip[8] = 64; /* we are the media endpoint towards the peer, not a router */
		dp_ip4_csum(ip);
		dp_wr16(udp, oport);
		dp_wr16(udp + 2, odport);
		*lenp = (uint16_t)(DP_ETH_LEN + tot);
		pl->st.pkts_out++;
		pl->st.bytes_out += *lenp;
		/* keep-alives are only for silence: telling the agent once a second is enough,
		 * and spares a write into the agent's cache lines per packet */
		if ((pl->flags & DP_LEG_ICE) && now - pl->media_noted_us >= 1000000) {
			pl->media_noted_us = now;
			ice_agent_note_media_sent(&pl->agent, (uint8_t)(pk + 1), now);
		}
		return DP_VERDICT_TX;
	}
}

/* Simulated network and clock that drive two ICE agents for the agent tests. All
 * randomness is from one seeded xorshift, so every run of a test is the same. */
#include "simnet.h"

#include <stdio.h>
#include <string.h>

uint64_t sim_rand(void *ctx)
{
	uint64_t *s = ctx;
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

void sim_init(struct simnet *n, uint64_t seed)
{
	memset(n, 0, sizeof(*n));
	n->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	n->latency_us = 5000;
	n->now = 1000000;
}

void sim_host_init(struct sim_host *h, enum sim_nat nat, const char *ip, uint16_t port,
		   const char *pub_ip)
{
	memset(h, 0, sizeof(*h));
	h->nat = nat;
	ice_addr_parse(&h->priv, ip);
	h->priv.port = port;
	if (pub_ip)
		ice_addr_parse(&h->pub, pub_ip);
	h->next_port = 40000;
	h->answer_inline = true;
}

static void trace_sink(void *ctx, uint64_t now, const char *line)
{
	struct sim_host *h = ctx;

	snprintf(h->trace[h->ntrace % 64], sizeof(h->trace[0]), "%s", line);
	h->ntrace++;
	if (h->print_trace)
		printf("%8.3f %s\n", (double)now / 1e6, line);
}

void sim_config(struct simnet *n, struct sim_host *h, struct ice_config *cfg,
		enum ice_dialect d, enum ice_role role, const char *ufrag, const char *pwd)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dialect = d;
	cfg->role = role;
	cfg->ncomp = 1;
	cfg->ufrag = ufrag;
	cfg->pwd = pwd;
	cfg->rng = sim_rand;
	cfg->rng_ctx = &n->rng;
	cfg->trace = trace_sink;
	cfg->trace_ctx = h;
	cfg->nomination = ICE_NOM_AGGRESSIVE;
}

bool sim_trace_has(const struct sim_host *h, const char *needle)
{
	unsigned n = h->ntrace < 64 ? h->ntrace : 64;

	for (unsigned i = 0; i < n; i++)
		if (strstr(h->trace[i], needle))
			return true;
	return false;
}

/* NAT outbound: find or make the mapping for inside -> dest. */
static struct sim_map *nat_out(struct sim_host *h, const struct ice_addr *inside,
			       const struct ice_addr *dest)
{
	for (unsigned i = 0; i < h->nmap; i++) {
		struct sim_map *m = &h->map[i];
		if (!ice_addr_eq(&m->inside, inside))
			continue;
		if (h->nat == SIM_NAT_SYMMETRIC && !ice_addr_eq(&m->dest, dest))
			continue;
		return m;
	}
	if (h->nmap == SIM_MAX_MAP)
		return NULL;
	struct sim_map *m = &h->map[h->nmap++];
	memset(m, 0, sizeof(*m));
	m->inside = *inside;
	m->dest = *dest;
	m->outside = h->pub;
	m->outside.port = h->next_port++;
	return m;
}

static void nat_seen(struct sim_map *m, const struct ice_addr *dest)
{
	for (unsigned i = 0; i < m->nseen; i++)
		if (ice_addr_eq(&m->seen[i], dest))
			return;
	if (m->nseen < 8)
		m->seen[m->nseen++] = *dest;
}

/* NAT inbound: translate to the inside address if the filter lets it through. */
static bool nat_in(struct sim_host *h, const struct ice_addr *from, struct ice_addr *to)
{
	for (unsigned i = 0; i < h->nmap; i++) {
		struct sim_map *m = &h->map[i];
		bool ok = false;
		if (!ice_addr_eq(&m->outside, to))
			continue;
		switch (h->nat) {
		case SIM_NAT_FULL_CONE:
			ok = true;
			break;
		case SIM_NAT_RESTRICTED:
			for (unsigned k = 0; k < m->nseen; k++)
				ok |= ice_addr_eq_ip(&m->seen[k], from);
			break;
		default:
			for (unsigned k = 0; k < m->nseen; k++)
				ok |= ice_addr_eq(&m->seen[k], from);
			break;
		}
		if (!ok)
			return false;
		*to = m->inside;
		return true;
	}
	return false;
}

void sim_gather(struct simnet *n, struct sim_host *h, uint8_t comp, uint16_t port)
{
	struct ice_addr host = h->priv;
	int hi;

	(void)n;
	host.port = port;
	hi = ice_agent_add_local(&h->agent, comp, ICE_CAND_HOST, &host, -1, 65535);
	if (h->nat != SIM_NAT_NONE) {
		/* the mapping a STUN server at 203.0.113.1:3478 would report */
		struct ice_addr stun;
		struct sim_map *m;
		ice_addr_parse(&stun, "203.0.113.1:3478");
		m = nat_out(h, &host, &stun);
		nat_seen(m, &stun);
		ice_agent_add_local(&h->agent, comp, ICE_CAND_SRFLX, &m->outside, hi, 65535);
	}
}

void sim_exchange(struct simnet *n)
{
	for (int i = 0; i < 2; i++) {
		struct ice_agent *me = &n->h[i]->agent, *peer = &n->h[1 - i]->agent;
		ice_agent_set_remote_credentials(me, peer->ufrag, peer->pwd);
		if (peer->cfg.lite)
			ice_agent_set_remote_lite(me, true);
		for (unsigned c = 0; c < peer->nlocal; c++) {
			struct ice_remote_cand rc = {
				.comp = peer->local[c].comp,
				.type = peer->local[c].type,
				.prio = peer->local[c].prio,
				.addr = peer->local[c].addr,
				.foundation = peer->local[c].fnd_str,
			};
			char id[64], pw[32];
			if (me->cfg.dialect == ICE_DIALECT_MSICE) {
				ice_agent_local_ms_cred(peer, (int)c, id, sizeof(id), pw, sizeof(pw));
				rc.ms_id = id;
				rc.ms_pwd = pw;
			}
			ice_agent_add_remote(me, n->now, &rc);
		}
		ice_agent_end_of_candidates(me);
	}
}

static void enqueue(struct simnet *n, const struct ice_addr *from, const struct ice_addr *to,
		    const uint8_t *data, size_t len, uint32_t extra)
{
	struct sim_pkt *p;

	if (n->nq == SIM_MAX_INFLIGHT || len > sizeof(p->data))
		return;
	p = &n->q[n->nq++];
	p->at = n->now + n->latency_us + extra;
	p->from = *from;
	p->to = *to;
	p->len = (uint16_t)len;
	memcpy(p->data, data, len);
}

/* A datagram leaves host h from inside address src. */
static void host_send(struct simnet *n, struct sim_host *h, const struct ice_addr *src,
		      const struct ice_addr *dst, const uint8_t *data, size_t len)
{
	struct ice_addr from = *src;

	if (h->down)
		return;
	h->sent++;
	if (h->relayed.family && ice_addr_eq(src, &h->relayed)) {
		/* through the host's relay: the server sends it from the relayed address */
	} else if (h->nat != SIM_NAT_NONE) {
		struct sim_map *m = nat_out(h, src, dst);
		if (!m)
			return;
		nat_seen(m, dst);
		from = m->outside;
	}
	if (n->loss_pct && sim_rand(&n->rng) % 100 < n->loss_pct) {
		n->dropped_loss++;
		return;
	}
	uint32_t extra = 0;
	if (n->reorder_pct && sim_rand(&n->rng) % 100 < n->reorder_pct)
		extra = (uint32_t)(sim_rand(&n->rng) % (4 * n->latency_us + 1));
	enqueue(n, &from, dst, data, len, extra);
	if (n->dup_pct && sim_rand(&n->rng) % 100 < n->dup_pct)
		enqueue(n, &from, dst, data, len, extra + 1000);
}

static struct sim_host *owner(struct simnet *n, const struct ice_addr *to)
{
	for (int i = 0; i < 2; i++)
		if (n->h[i]->relayed.family && ice_addr_eq(&n->h[i]->relayed, to))
			return n->h[i];
	for (int i = 0; i < 2; i++) {
		struct sim_host *h = n->h[i];
		if (h->nat == SIM_NAT_NONE ? ice_addr_eq_ip(&h->priv, to) : ice_addr_eq_ip(&h->pub, to))
			return h;
	}
	return NULL;
}

static void drain_host(struct simnet *n, struct sim_host *h)
{
	uint8_t buf[600];
	struct ice_out out = {.buf = buf, .cap = sizeof(buf)};
	struct ice_event ev;

	while (ice_agent_poll_transmit(&h->agent, n->now, &out) == 1)
		host_send(n, h, &out.from, &out.to, buf, out.len);
	while (ice_agent_poll_event(&h->agent, &ev)) {
		if (ev.type < 16)
			h->events[ev.type]++;
		if (ev.type == ICE_EV_COMPLETED)
			h->completed_at = n->now;
		if (ev.type == ICE_EV_FAILED)
			h->failed_at = n->now;
	}
}

static void deliver(struct simnet *n, struct sim_pkt *p)
{
	struct sim_host *h = owner(n, &p->to);
	struct ice_addr to = p->to;
	uint8_t rbuf[600];
	struct ice_out reply = {.buf = rbuf, .cap = sizeof(rbuf)};

	if (!h || h->down)
		return;
	if (n->tamper && !n->tamper(n, p))
		return;
	if (h->nat != SIM_NAT_NONE && !(h->relayed.family && ice_addr_eq(&h->relayed, &to)) &&
	    !nat_in(h, &p->from, &to)) {
		n->dropped_filter++;
		return;
	}
	n->delivered++;
	h->received++;
	if (ice_agent_recv(&h->agent, n->now, &to, &p->from, p->data, p->len,
			   h->answer_inline ? &reply : NULL) == ICE_RX_REPLIED)
		host_send(n, h, &reply.from, &reply.to, rbuf, reply.len);
	drain_host(n, h);
}

void sim_run(struct simnet *n, uint64_t until)
{
	for (int i = 0; i < 2; i++)
		drain_host(n, n->h[i]);
	for (unsigned guard = 0; guard < 2000000; guard++) {
		uint64_t next = until;
		int pi = -1;

		for (unsigned i = 0; i < n->nq; i++)
			if (n->q[i].at <= next) {
				next = n->q[i].at;
				pi = (int)i;
			}
		for (int i = 0; i < 2; i++) {
			uint64_t t = ice_agent_next_timeout(&n->h[i]->agent);
			if (t < next) {
				next = t;
				pi = -1;
			}
		}
		if (next >= until && pi < 0) {
			n->now = until;
			return;
		}
		if (next > n->now)
			n->now = next;
		if (pi >= 0) {
			struct sim_pkt p = n->q[pi];
			n->q[pi] = n->q[--n->nq];
			deliver(n, &p);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			struct sim_host *h = n->h[i];
			if (ice_agent_next_timeout(&h->agent) <= n->now) {
				ice_agent_handle_timeout(&h->agent, n->now);
				drain_host(n, h);
			}
		}
	}
}

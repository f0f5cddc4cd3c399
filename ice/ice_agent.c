/* The ICE agent state machine: candidates, check list, checks and responses, nomination,
 * consent and keep-alives, for RFC 8445 and the two Microsoft dialects. No I/O, no heap. */
#include "ice_agent.h"
#include "ice_warn.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define NONE 0xff
#define NEVER UINT64_MAX

/* ICEWarn bits this agent can observe (seed 000) */
#define WARN_LOCAL_FAILED ICE_WARN_LOCAL_CONNECTIVITY_FAILED
#define WARN_NAT_FAILED ICE_WARN_UDP_NAT_FAILED
#define WARN_TURN_FAILED ICE_WARN_UDP_TURN_FAILED
#define WARN_INTEGRITY ICE_WARN_INTEGRITY_FAILED
#define WARN_SEND_FAILED ICE_WARN_CHECK_SEND_FAILED
#define WARN_USE_CAND_FAILED ICE_WARN_USE_CANDIDATE_FAILED

/* RFC 8445 §5.1.2.2 recommended type preferences */
static const uint8_t rfc_type_pref[] = {126, 100, 110, 0};
/* libnice's MS-ICE2 type preferences (host 120, srflx 100, prflx 110, UDP relay 30) */
static const uint8_t ms2_type_pref[] = {120, 100, 110, 30};

static const char *const err_names[] = {"ok", "invalid argument", "capacity reached",
					"wrong state", "buffer too small"};

const char *ice_strerror(int err)
{
	if (err > 0 || err < ICE_E_NOSPACE)
		return "unknown error";
	return err_names[-err];
}

const char *ice_pair_state_name(enum ice_pair_state s)
{
	static const char *const n[] = {"Frozen", "Waiting", "In Progress", "Succeeded", "Failed"};
	return (unsigned)s < 5 ? n[s] : "?";
}

const char *ice_cand_type_name(enum ice_cand_type t)
{
	static const char *const n[] = {"Host", "Server Reflexive", "Peer Reflexive", "Relayed"};
	return (unsigned)t < 4 ? n[t] : "?";
}

const char *ice_dialect_name(enum ice_dialect d)
{
	switch (d) {
	case ICE_DIALECT_RFC8445: return "rfc8445";
	case ICE_DIALECT_MSICE2: return "ms-ice2";
	case ICE_DIALECT_MSICE: return "ms-ice";
	}
	return "?";
}

uint32_t ice_cand_priority(enum ice_dialect d, enum ice_cand_type type, uint16_t local_pref,
			   uint8_t comp)
{
	if (d == ICE_DIALECT_MSICE2) {
		/* local preference: transport in bits 12-15 (UDP = 15), direction in 9-11 (UDP
		 * = 0), the rest an interface rank (libnice's layout of [MS-ICE2] §3.1.4.1) */
		uint32_t lp = (15u << 12) | (local_pref & 0x1ffu);
		return ((uint32_t)ms2_type_pref[type] << 24) | (lp << 8) | (uint32_t)(256 - comp);
	}
	if (d == ICE_DIALECT_MSICE) {
		/* draft-06 q-values, as a thousandth: host 0.830, reflexive 0.550, relay 0.450 */
		static const uint16_t q[] = {830, 550, 550, 450};
		return q[type];
	}
	/* RFC 8445 §5.1.2.1 */
	return ((uint32_t)rfc_type_pref[type] << 24) | ((uint32_t)local_pref << 8) |
	       (uint32_t)(256 - comp);
}

uint64_t ice_pair_priority(uint32_t g, uint32_t d)
{
	/* RFC 8445 §6.1.2.3 */
	uint64_t mn = g < d ? g : d, mx = g > d ? g : d;
	return (mn << 32) + 2 * mx + (g > d ? 1 : 0);
}

/* ------------------------------------------------------------------ small helpers */

static uint64_t rnd(struct ice_agent *a)
{
	return a->cfg.rng(a->cfg.rng_ctx);
}

static void rnd_bytes(struct ice_agent *a, uint8_t *p, size_t n)
{
	while (n) {
		uint64_t r = rnd(a);
		for (int i = 0; i < 8 && n; i++, n--)
			*p++ = (uint8_t)(r >> (8 * i));
	}
}

static bool tracing(const struct ice_agent *a)
{
	return a->cfg.trace != NULL;
}

__attribute__((format(printf, 3, 4))) static void trace(struct ice_agent *a, uint64_t now,
							const char *fmt, ...)
{
	char line[320];
	va_list ap;
	int n;

	if (!a->cfg.trace)
		return;
	n = snprintf(line, sizeof(line), "%s ", a->cfg.name ? a->cfg.name : "ice");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	a->cfg.trace(a->cfg.trace_ctx, now, line);
}

static const char *pair_str(const struct ice_agent *a, const struct ice_pair *p, char *buf,
			    size_t len)
{
	char l[ICE_ADDR_STRLEN], r[ICE_ADDR_STRLEN];
	const struct ice_cand *lc = &a->local[p->local];

	ice_addr_fmt(&lc->addr, l, sizeof(l));
	ice_addr_fmt(&a->remote[p->remote].addr, r, sizeof(r));
	snprintf(buf, len, "[%u] %s-->%s", p->comp, l, r);
	return buf;
}

static void emit(struct ice_agent *a, uint8_t type, uint8_t comp, uint8_t pair)
{
	struct ice_event *e;

	if (a->ev_len == ICE_EVQ) {
		a->stats.drop_queue_full++;
		return;
	}
	e = &a->ev[(a->ev_head + a->ev_len) % ICE_EVQ];
	e->type = type;
	e->comp = comp;
	e->pair = pair;
	a->ev_len++;
}

static void set_state(struct ice_agent *a, uint64_t now, unsigned idx, enum ice_pair_state s)
{
	struct ice_pair *p = &a->pairs[idx];
	char ps[128];

	if (p->state == s)
		return;
	if (tracing(a))
		trace(a, now, "Check %u: %s: state changed from %s to %s", idx,
		      pair_str(a, p, ps, sizeof(ps)), ice_pair_state_name(p->state),
		      ice_pair_state_name(s));
	p->state = (uint8_t)s;
}

static void arm_checks(struct ice_agent *a, uint64_t now)
{
	if (a->cfg.lite || a->state != ICE_STATE_RUNNING)
		return;
	if (a->next_check_us == NEVER)
		a->next_check_us = now;
}

static void push_triggered(struct ice_agent *a, unsigned idx)
{
	for (unsigned i = 0; i < a->trig_len; i++)
		if (a->trig[(a->trig_head + i) % ICE_MAX_PAIRS] == idx)
			return;
	if (a->trig_len == ICE_MAX_PAIRS)
		return;
	a->trig[(a->trig_head + a->trig_len) % ICE_MAX_PAIRS] = (uint8_t)idx;
	a->trig_len++;
	a->pairs[idx].flags |= ICE_PF_TRIGGERED;
}

static int pop_triggered(struct ice_agent *a)
{
	uint8_t idx;

	if (!a->trig_len)
		return -1;
	idx = a->trig[a->trig_head];
	a->trig_head = (uint8_t)((a->trig_head + 1) % ICE_MAX_PAIRS);
	a->trig_len--;
	a->pairs[idx].flags &= (uint8_t)~ICE_PF_TRIGGERED;
	return idx;
}

static uint32_t fnv1a(const void *p, size_t n, uint32_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* ------------------------------------------------------------------ base64 (MS-ICE) */

static int b64_decode(const char *s, uint8_t *out, size_t cap)
{
	char tmp[128];
	uint8_t buf[96];
	size_t n = strlen(s), pad;
	int r;

	/* SIPE and Lync strip the '=' padding in SDP: put it back before decoding */
	if (n == 0 || n + 3 >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	pad = (4 - n % 4) % 4;
	if (pad == 3)
		return -1;
	memset(tmp + n, '=', pad);
	tmp[n + pad] = 0;
	for (size_t i = 0; i < n; i++)
		if (tmp[i] == '=' && i + 2 < n)
			return -1;
	r = EVP_DecodeBlock(buf, (const unsigned char *)tmp, (int)(n + pad));
	if (r < 0)
		return -1;
	for (size_t i = n + pad; i > 0 && tmp[i - 1] == '='; i--)
		r--;
	if ((size_t)r > cap)
		return -1;
	memcpy(out, buf, (size_t)r);
	return r;
}

static void b64_encode(const uint8_t *p, size_t n, char *out, size_t cap)
{
	char tmp[128];
	int r;

	if (n * 4 / 3 + 4 >= sizeof(tmp)) {
		if (cap)
			out[0] = 0;
		return;
	}
	r = EVP_EncodeBlock((unsigned char *)tmp, p, (int)n);
	while (r > 0 && tmp[r - 1] == '=')
		r--;
	tmp[r] = 0;
	snprintf(out, cap, "%s", tmp);
}

/* ------------------------------------------------------------------ init and candidates */

int ice_agent_init(struct ice_agent *a, const struct ice_config *cfg)
{
	bool ms = cfg->dialect != ICE_DIALECT_RFC8445;

	if (!cfg->rng || (cfg->ncomp != 1 && cfg->ncomp != 2) ||
	    cfg->dialect > ICE_DIALECT_MSICE)
		return ICE_E_INVAL;
	if (cfg->dialect != ICE_DIALECT_MSICE &&
	    (!cfg->ufrag || !cfg->pwd || !*cfg->ufrag || strlen(cfg->ufrag) > ICE_UFRAG_MAX ||
	     strlen(cfg->pwd) > ICE_PWD_MAX || strchr(cfg->ufrag, ':')))
		return ICE_E_INVAL;
	/* cfg may point into *a (a re-init from a->cfg): take the strings first */
	char ufrag[ICE_UFRAG_MAX + 1] = "", pwd[ICE_PWD_MAX + 1] = "";
	if (cfg->ufrag) {
		snprintf(ufrag, sizeof(ufrag), "%s", cfg->ufrag);
		snprintf(pwd, sizeof(pwd), "%s", cfg->pwd);
	}
	struct ice_config cc = *cfg;
	memset(a, 0, sizeof(*a));
	a->cfg = cc;
	/* defaults: RFC 8445 §14, RFC 7675 §5.1, [MS-ICE] §3.1.2 */
	if (!a->cfg.ta_us)
		a->cfg.ta_us = 20000;
	if (!a->cfg.rto_us)
		a->cfg.rto_us = 100000;
	if (!a->cfg.max_tx)
		a->cfg.max_tx = 7;
	if (!a->cfg.max_rto_us)
		a->cfg.max_rto_us = 1600000;
	if (!a->cfg.nominate_delay_us)
		a->cfg.nominate_delay_us = 400000;
	if (!a->cfg.check_timeout_us)
		a->cfg.check_timeout_us = ms ? 10000000 : 30000000;
	if (!a->cfg.consent_us)
		a->cfg.consent_us = 5000000;
	if (!a->cfg.consent_expiry_us)
		a->cfg.consent_expiry_us = 30000000;
	if (!a->cfg.keepalive_us)
		a->cfg.keepalive_us = ms ? 19000000 : 15000000;
	if (!a->cfg.max_pairs || a->cfg.max_pairs > ICE_MAX_PAIRS)
		a->cfg.max_pairs = ICE_MAX_PAIRS;
	if (!a->cfg.max_remote || a->cfg.max_remote > ICE_MAX_REMOTE)
		a->cfg.max_remote = ICE_MAX_REMOTE;
	a->ncomp = cc.ncomp;
	a->role = (uint8_t)(cc.lite ? ICE_ROLE_CONTROLLED : cc.role);
	a->tie_breaker = cc.tie_breaker ? cc.tie_breaker : rnd(a);
	a->selected[0] = a->selected[1] = NONE;
	a->next_check_us = a->nominate_at_us = a->check_deadline_us = NEVER;
	for (int c = 0; c < ICE_MAX_COMPS; c++)
		a->consent_next_us[c] = NEVER;
	if (cc.ufrag) {
		memcpy(a->ufrag, ufrag, sizeof(ufrag));
		memcpy(a->pwd, pwd, sizeof(pwd));
		stun_key_init(&a->lkey, a->pwd, strlen(a->pwd));
	}
	a->cfg.ufrag = a->ufrag;
	a->cfg.pwd = a->pwd;
	return 0;
}

static void fnd_string(const struct ice_cand *c, const struct ice_addr *base, char *out)
{
	static const char letter[] = "HSPR";

	if (base->family == ICE_AF_INET)
		snprintf(out, ICE_MAX_FND, "%c%02x%02x%02x%02x", letter[c->type], base->ip[0],
			 base->ip[1], base->ip[2], base->ip[3]);
	else
		snprintf(out, ICE_MAX_FND, "%c%08x", letter[c->type],
			 fnv1a(base->ip, 16, 2166136261u));
}

static void pair_local(struct ice_agent *a, uint64_t now, unsigned l);

/* MS-ICE: a local candidate of component comp uses credential slot s. */
static bool ms_cred_comp_used(const struct ice_agent *a, unsigned s, uint8_t comp)
{
	for (unsigned i = 0; i < a->nlocal; i++)
		if (a->local[i].cred == s && (comp == 0 || a->local[i].comp == comp))
			return true;
	return false;
}

int ice_agent_add_local(struct ice_agent *a, uint8_t comp, enum ice_cand_type type,
			const struct ice_addr *addr, int base_idx, uint16_t local_pref)
{
	/* no clock here: a running agent's new pairs are due at once, traced at its start */
	return ice_agent_add_local_at(a, a->start_us, comp, type, addr, base_idx, local_pref);
}

int ice_agent_add_local_at(struct ice_agent *a, uint64_t now, uint8_t comp,
			   enum ice_cand_type type, const struct ice_addr *addr, int base_idx,
			   uint16_t local_pref)
{
	struct ice_cand *c;
	const struct ice_addr *base;
	unsigned idx = a->nlocal;

	if (comp < 1 || comp > a->ncomp || (unsigned)type > ICE_CAND_RELAY ||
	    (addr->family != ICE_AF_INET && addr->family != ICE_AF_INET6))
		return ICE_E_INVAL;
	if (base_idx >= (int)a->nlocal || (base_idx >= 0 && a->local[base_idx].comp != comp))
		return ICE_E_INVAL;
	if (a->nlocal == ICE_MAX_LOCAL)
		return ICE_E_FULL;
	c = &a->local[idx];
	memset(c, 0, sizeof(*c));
	c->addr = *addr;
	c->comp = comp;
	c->type = (uint8_t)type;
	c->base = (uint8_t)(base_idx >= 0 ? base_idx : (int)idx);
	c->prio = ice_cand_priority(a->cfg.dialect, type, local_pref, comp);
	base = &a->local[c->base].addr;
	/* RFC 8445 §5.1.1.3: same type and base address share a foundation */
	fnd_string(c, base, c->fnd_str);
	c->fnd = fnv1a(c->fnd_str, strlen(c->fnd_str), 2166136261u);
	c->cred = NONE;
	if (a->cfg.dialect == ICE_DIALECT_MSICE) {
		/* [MS-ICE]: one identifier and password per candidate, shared by its components */
		for (unsigned i = 0; i < idx; i++)
			if (a->local[i].fnd == c->fnd && a->local[i].cred != NONE &&
			    a->local[i].comp != comp) {
				c->cred = a->local[i].cred;
				break;
			}
		/* credentials the control plane chose for this type (set_local_ms_cred), unless
		 * a candidate of this component holds them already */
		for (unsigned s = 0; s < a->nlocal_ms && c->cred == NONE; s++)
			if (a->ms_local_type[s] == (uint8_t)type + 1 && !ms_cred_comp_used(a, s, comp))
				c->cred = (uint8_t)s;
		if (c->cred == NONE) {
			struct ice_ms_cred *mc;
			if (a->nlocal_ms == ICE_MAX_LOCAL / 2)
				return ICE_E_FULL;
			mc = &a->ms_local[a->nlocal_ms];
			rnd_bytes(a, mc->id, ICE_MS_ID_MAX);
			rnd_bytes(a, mc->pwd, ICE_MS_PWD_MAX);
			/* ':' separates USERNAME parts: keep it out of the identifier */
			for (int i = 0; i < ICE_MS_ID_MAX; i++)
				if (mc->id[i] == ':')
					mc->id[i] = ';';
			mc->idlen = ICE_MS_ID_MAX;
			mc->pwdlen = ICE_MS_PWD_MAX;
			c->cred = a->nlocal_ms++;
		}
	}
	a->nlocal++;
	if (a->state != ICE_STATE_NEW && tracing(a)) {
		char as[ICE_ADDR_STRLEN];
		trace(a, now, "Candidate %u added: comp_id=%u, type=%s, foundation=%s, addr=%s, "
			      "prio=0x%x (%u) (trickled)", idx, comp, ice_cand_type_name(type),
		      c->fnd_str, ice_addr_fmt(&c->addr, as, sizeof(as)), c->prio, c->prio);
	}
	/* RFC 8838 §8.1.1: a local candidate gathered after the checks began is paired with
	 * the remote candidates known so far; a completed agent keeps its selected pairs and
	 * checks no more (RFC 8445 §8.1.2), a failed one stays failed; a lite agent pairs as
	 * it did at its start and still sends nothing */
	if (a->state == ICE_STATE_RUNNING && type != ICE_CAND_PRFLX)
		pair_local(a, now, idx);
	return (int)idx;
}

int ice_agent_set_local_ms_cred(struct ice_agent *a, enum ice_cand_type type, const char *id_b64,
				const char *pwd_b64)
{
	uint8_t id[ICE_MS_ID_MAX + 8], pwd[ICE_MS_PWD_MAX + 8];
	unsigned slot = NONE;
	int il, pl;

	if (a->cfg.dialect != ICE_DIALECT_MSICE || (unsigned)type > ICE_CAND_RELAY || !id_b64 ||
	    !pwd_b64)
		return ICE_E_INVAL;
	il = b64_decode(id_b64, id, sizeof(id));
	pl = b64_decode(pwd_b64, pwd, sizeof(pwd));
	if (il <= 0 || il > ICE_MS_ID_MAX || pl <= 0 || pl > ICE_MS_PWD_MAX ||
	    memchr(id, ':', (size_t)il))
		return ICE_E_INVAL;
	/* the slot preset for this type, else the one a candidate of this type drew */
	for (unsigned s = 0; s < a->nlocal_ms && slot == NONE; s++)
		if (a->ms_local_type[s] == (uint8_t)type + 1)
			slot = s;
	for (unsigned i = 0; i < a->nlocal && slot == NONE; i++)
		if (a->local[i].type == (uint8_t)type && a->local[i].cred != NONE)
			slot = a->local[i].cred;
	/* the identifier names one candidate: checks find their local credentials by it */
	for (unsigned s = 0; s < a->nlocal_ms; s++)
		if (s != slot && a->ms_local[s].idlen == il && !memcmp(a->ms_local[s].id, id, (size_t)il))
			return ICE_E_INVAL;
	if (slot == NONE) {
		if (a->nlocal_ms == ICE_MAX_LOCAL / 2)
			return ICE_E_FULL;
		slot = a->nlocal_ms++;
	}
	memcpy(a->ms_local[slot].id, id, (size_t)il);
	memcpy(a->ms_local[slot].pwd, pwd, (size_t)pl);
	a->ms_local[slot].idlen = (uint8_t)il;
	a->ms_local[slot].pwdlen = (uint8_t)pl;
	a->ms_local_type[slot] = (uint8_t)type + 1;
	return 0;
}

int ice_agent_local_ms_cred(struct ice_agent *a, int cand, char *id_b64, size_t idlen,
			    char *pwd_b64, size_t pwdlen)
{
	const struct ice_ms_cred *mc;

	if (a->cfg.dialect != ICE_DIALECT_MSICE || cand < 0 || cand >= a->nlocal ||
	    a->local[cand].cred == NONE)
		return ICE_E_INVAL;
	mc = &a->ms_local[a->local[cand].cred];
	b64_encode(mc->id, mc->idlen, id_b64, idlen);
	b64_encode(mc->pwd, mc->pwdlen, pwd_b64, pwdlen);
	return 0;
}

int ice_agent_set_remote_credentials(struct ice_agent *a, const char *ufrag, const char *pwd)
{
	if (!ufrag || !pwd || !*ufrag || strlen(ufrag) > ICE_UFRAG_MAX || strchr(ufrag, ':'))
		return ICE_E_INVAL;
	snprintf(a->rufrag, sizeof(a->rufrag), "%s", ufrag);
	stun_key_init(&a->rkey, pwd, strlen(pwd));
	a->have_rkey = 1;
	return 0;
}

void ice_agent_set_remote_lite(struct ice_agent *a, bool lite)
{
	a->remote_lite = lite;
	/* RFC 8445 §6.1.1: a full agent facing a lite one is controlling */
	if (lite && !a->cfg.lite)
		a->role = ICE_ROLE_CONTROLLING;
}

void ice_agent_end_of_candidates(struct ice_agent *a)
{
	a->remote_eoc = 1;
}

static int find_remote(const struct ice_agent *a, uint8_t comp, const struct ice_addr *addr)
{
	for (unsigned i = 0; i < a->nremote; i++)
		if (a->remote[i].comp == comp && ice_addr_eq(&a->remote[i].addr, addr))
			return (int)i;
	return -1;
}

static int find_local_by_addr(const struct ice_agent *a, uint8_t comp, const struct ice_addr *addr)
{
	for (unsigned i = 0; i < a->nlocal; i++)
		if (a->local[i].comp == comp && ice_addr_eq(&a->local[i].addr, addr))
			return (int)i;
	return -1;
}

static int find_pair(const struct ice_agent *a, unsigned local_base, unsigned remote)
{
	for (unsigned i = 0; i < a->npairs; i++)
		if (a->pairs[i].local == local_base && a->pairs[i].remote == remote)
			return (int)i;
	return -1;
}

static uint64_t pair_prio(const struct ice_agent *a, unsigned l, unsigned r)
{
	uint32_t lp = a->local[l].prio, rp = a->remote[r].prio;

	return a->role == ICE_ROLE_CONTROLLING ? ice_pair_priority(lp, rp) : ice_pair_priority(rp, lp);
}

/* A pair's priority follows from its candidates and the current role (RFC 8445 §6.1.2.3):
 * computed when needed rather than stored, which keeps a pair at 32 bytes and makes a role
 * switch need no recomputation. */
#define PRIO(a, p) pair_prio((a), (p)->local, (p)->remote)

static int add_pair(struct ice_agent *a, uint64_t now, unsigned l, unsigned r,
		    enum ice_pair_state st)
{
	struct ice_pair *p;
	char ps[128];

	if (a->npairs >= a->cfg.max_pairs) {
		a->stats.pairs_dropped++;
		return ICE_E_FULL;
	}
	p = &a->pairs[a->npairs];
	memset(p, 0, sizeof(*p));
	p->local = (uint8_t)l;
	p->remote = (uint8_t)r;
	p->comp = a->local[l].comp;
	p->state = (uint8_t)st;
	p->valid_local = NONE;
	p->next_us = NEVER;
	a->npairs++;
	if (tracing(a) && a->state != ICE_STATE_NEW)
		trace(a, now, "Check %u: %s added (%s)", a->npairs - 1,
		      pair_str(a, p, ps, sizeof(ps)), ice_pair_state_name(p->state));
	return a->npairs - 1;
}

/* Pairs a remote candidate with every local base of its component (RFC 8445 §6.1.2.2,
 * server-reflexive locals replaced by their base, §6.1.2.4). */
static void pair_remote(struct ice_agent *a, uint64_t now, unsigned r, enum ice_pair_state st)
{
	for (unsigned l = 0; l < a->nlocal; l++) {
		const struct ice_cand *lc = &a->local[l];
		unsigned base = lc->base;
		char ps[128];

		if (lc->comp != a->remote[r].comp || lc->addr.family != a->remote[r].addr.family)
			continue;
		if (lc->type == ICE_CAND_PRFLX)
			continue;
		if (find_pair(a, base, r) >= 0) {
			if (tracing(a)) {
				struct ice_pair tmp = {.local = (uint8_t)l, .remote = (uint8_t)r,
						       .comp = lc->comp};
				trace(a, now, "Check %u: %s pruned (%s)", a->npairs,
				      pair_str(a, &tmp, ps, sizeof(ps)),
				      base != l ? "equal base" : "duplicate found");
			}
			continue;
		}
		add_pair(a, now, base, r, st);
	}
}

int ice_agent_add_remote(struct ice_agent *a, uint64_t now, const struct ice_remote_cand *rc)
{
	struct ice_cand *c;
	int idx;

	if (rc->comp < 1 || rc->comp > a->ncomp || rc->type > ICE_CAND_RELAY ||
	    (rc->addr.family != ICE_AF_INET && rc->addr.family != ICE_AF_INET6) ||
	    rc->addr.port == 0)
		return ICE_E_INVAL;
	idx = find_remote(a, rc->comp, &rc->addr);
	if (idx >= 0) {
		/* learned as peer-reflexive first: signalling tells the real type */
		if (a->remote[idx].type == ICE_CAND_PRFLX && rc->type != ICE_CAND_PRFLX)
			a->remote[idx].type = rc->type;
		return idx;
	}
	if (a->nremote >= a->cfg.max_remote) {
		a->stats.remote_cands_dropped++;
		return ICE_E_FULL;
	}
	c = &a->remote[a->nremote];
	memset(c, 0, sizeof(*c));
	c->addr = rc->addr;
	c->comp = rc->comp;
	c->type = rc->type;
	c->prio = rc->prio;
	c->cred = NONE;
	snprintf(c->fnd_str, sizeof(c->fnd_str), "%s", rc->foundation ? rc->foundation : "");
	c->fnd = rc->foundation ? fnv1a(rc->foundation, strlen(rc->foundation), 2166136261u) : 0;
	if (a->cfg.dialect == ICE_DIALECT_MSICE) {
		uint8_t id[ICE_MS_ID_MAX + 8], pwd[ICE_MS_PWD_MAX + 8];
		int il, pl;

		if (!rc->ms_id || !rc->ms_pwd)
			return ICE_E_INVAL;
		il = b64_decode(rc->ms_id, id, sizeof(id));
		pl = b64_decode(rc->ms_pwd, pwd, sizeof(pwd));
		if (il <= 0 || il > ICE_MS_ID_MAX || pl <= 0 || pl > ICE_MS_PWD_MAX)
			return ICE_E_INVAL;
		for (unsigned i = 0; i < a->nremote_ms; i++)
			if (a->ms_remote[i].idlen == il && !memcmp(a->ms_remote[i].id, id, (size_t)il))
				c->cred = (uint8_t)i;
		if (c->cred == NONE) {
			if (a->nremote_ms == ICE_MAX_REMOTE / 2) {
				a->stats.remote_cands_dropped++;
				return ICE_E_FULL;
			}
			memcpy(a->ms_remote[a->nremote_ms].id, id, (size_t)il);
			memcpy(a->ms_remote[a->nremote_ms].pwd, pwd, (size_t)pl);
			a->ms_remote[a->nremote_ms].idlen = (uint8_t)il;
			a->ms_remote[a->nremote_ms].pwdlen = (uint8_t)pl;
			c->cred = a->nremote_ms++;
		}
		c->fnd = fnv1a(id, (size_t)il, 2166136261u);
		snprintf(c->fnd_str, sizeof(c->fnd_str), "%.11s", rc->ms_id);
	}
	idx = a->nremote++;
	if (a->state == ICE_STATE_RUNNING) {
		/* trickled (RFC 8838 §11): pair now and let the scheduler find it */
		pair_remote(a, now, (unsigned)idx, ICE_PAIR_WAITING);
		arm_checks(a, now);
	}
	return idx;
}

/* ------------------------------------------------------------------ starting */

static int cmp_pair_desc(const void *x, const void *y, void *ctx)
{
	const struct ice_pair *p = x, *q = y;
	const struct ice_agent *a = ctx;
	uint64_t pp = PRIO(a, p), qp = PRIO(a, q);

	if (pp != qp)
		return pp < qp ? 1 : -1;
	return p->comp - q->comp;
}

static uint32_t pair_fnd(const struct ice_agent *a, const struct ice_pair *p)
{
	return a->local[p->local].fnd * 31u + a->remote[p->remote].fnd;
}

/* Where a pair formed while the checks run goes in at the cap: in place of the
 * lowest-priority pair below it that nothing refers to yet (Frozen or Waiting, not queued
 * as triggered), as the cap at the start keeps the highest-priority pairs (RFC 8445
 * §6.1.2.5). -1 when every pair ranks above it. */
static int pair_victim(const struct ice_agent *a, uint64_t prio)
{
	int worst = -1;

	for (unsigned i = 0; i < a->npairs; i++) {
		const struct ice_pair *p = &a->pairs[i];

		if ((p->state != ICE_PAIR_FROZEN && p->state != ICE_PAIR_WAITING) ||
		    (p->flags & (ICE_PF_TRIGGERED | ICE_PF_TXN_OPEN | ICE_PF_VALID)) ||
		    PRIO(a, p) >= prio)
			continue;
		if (worst < 0 || PRIO(a, p) < PRIO(a, &a->pairs[worst]))
			worst = (int)i;
	}
	return worst;
}

/* Pairs local candidate l, gathered while the checks run, with every remote candidate of
 * its component and family (RFC 8838 §8.1.1): its base stands for it (§6.1.2.4), a pair
 * already there is pruned. A new pair is Waiting, or Frozen when a pair of its foundation
 * is already Waiting or In Progress (that one's success unfreezes it, §7.2.5.3.3). The
 * scheduler picks the highest-priority Waiting pair wherever it sits in the list. */
static void pair_local(struct ice_agent *a, uint64_t now, unsigned l)
{
	const struct ice_cand *lc = &a->local[l];
	unsigned base = lc->base;
	bool added = false;
	char ps[128];

	for (unsigned r = 0; r < a->nremote; r++) {
		const struct ice_cand *rc = &a->remote[r];
		enum ice_pair_state st = ICE_PAIR_WAITING;
		uint32_t f;
		int pi;

		if (rc->comp != lc->comp || rc->addr.family != lc->addr.family)
			continue;
		if (find_pair(a, base, r) >= 0) {
			if (tracing(a)) {
				struct ice_pair tmp = {.local = (uint8_t)l, .remote = (uint8_t)r,
						       .comp = lc->comp};
				trace(a, now, "Check %u: %s pruned (%s)", a->npairs,
				      pair_str(a, &tmp, ps, sizeof(ps)),
				      base != l ? "equal base" : "duplicate found");
			}
			continue;
		}
		if (a->npairs >= a->cfg.max_pairs) {
			int v = pair_victim(a, pair_prio(a, base, r));

			if (v < 0) {
				a->stats.pairs_dropped++;
				continue;
			}
			if (tracing(a))
				trace(a, now, "Check %d: %s dropped for a higher-priority pair", v,
				      pair_str(a, &a->pairs[v], ps, sizeof(ps)));
			a->stats.pairs_dropped++;
			/* in place: indices of the other pairs (selected, triggered, events) hold */
			memset(&a->pairs[v], 0, sizeof(a->pairs[v]));
			a->pairs[v].local = (uint8_t)base;
			a->pairs[v].remote = (uint8_t)r;
			a->pairs[v].comp = lc->comp;
			a->pairs[v].valid_local = NONE;
			a->pairs[v].next_us = NEVER;
			pi = v;
			if (tracing(a))
				trace(a, now, "Check %d: %s added", pi,
				      pair_str(a, &a->pairs[pi], ps, sizeof(ps)));
		} else {
			pi = add_pair(a, now, base, r, ICE_PAIR_WAITING);
			if (pi < 0)
				continue;
		}
		f = pair_fnd(a, &a->pairs[pi]);
		for (unsigned j = 0; j < a->npairs; j++)
			if ((int)j != pi && pair_fnd(a, &a->pairs[j]) == f &&
			    (a->pairs[j].state == ICE_PAIR_WAITING ||
			     a->pairs[j].state == ICE_PAIR_IN_PROGRESS))
				st = ICE_PAIR_FROZEN;
		a->pairs[pi].state = (uint8_t)st;
		added = true;
	}
	if (added)
		arm_checks(a, now);
}

static void replay_early(struct ice_agent *a, uint64_t now);

int ice_agent_start(struct ice_agent *a, uint64_t now)
{
	char ps[128];

	if (a->state != ICE_STATE_NEW)
		return ICE_E_STATE;
	if (!a->nlocal)
		return ICE_E_INVAL;
	if (a->cfg.dialect != ICE_DIALECT_MSICE && !a->have_rkey)
		return ICE_E_INVAL;
	a->start_us = now;
	if (tracing(a))
		trace(a, now, "ICE session created, comp_cnt=%u, role is %s agent%s (%s)", a->ncomp,
		      a->role == ICE_ROLE_CONTROLLING ? "Controlling" : "Controlled",
		      a->cfg.lite ? ", lite" : "", ice_dialect_name(a->cfg.dialect));
	for (unsigned i = 0; i < a->nlocal && tracing(a); i++) {
		const struct ice_cand *c = &a->local[i];
		char as[ICE_ADDR_STRLEN], bs[ICE_ADDR_STRLEN];
		trace(a, now,
		      "Candidate %u added: comp_id=%u, type=%s, foundation=%s, addr=%s, base=%s, "
		      "prio=0x%x (%u)",
		      i, c->comp, ice_cand_type_name((enum ice_cand_type)c->type), c->fnd_str,
		      ice_addr_fmt(&c->addr, as, sizeof(as)),
		      ice_addr_fmt(&a->local[c->base].addr, bs, sizeof(bs)), c->prio, c->prio);
	}
	for (unsigned r = 0; r < a->nremote; r++)
		pair_remote(a, now, r, ICE_PAIR_FROZEN);
	/* RFC 8445 §6.1.2.5: order by priority (the pair cap already kept the first ones) */
	qsort_r(a->pairs, a->npairs, sizeof(a->pairs[0]), cmp_pair_desc, a);
	/* RFC 8445 §6.1.2.6: for each foundation, the pair of the lowest component with the
	 * highest priority starts Waiting */
	for (unsigned i = 0; i < a->npairs; i++) {
		bool first = true;
		uint32_t f = pair_fnd(a, &a->pairs[i]);
		for (unsigned j = 0; j < a->npairs; j++) {
			if (j == i || pair_fnd(a, &a->pairs[j]) != f)
				continue;
			if (a->pairs[j].comp < a->pairs[i].comp ||
			    (a->pairs[j].comp == a->pairs[i].comp && j < i)) {
				first = false;
				break;
			}
		}
		a->pairs[i].state = first ? ICE_PAIR_WAITING : ICE_PAIR_FROZEN;
	}
	a->state = ICE_STATE_RUNNING;
	if (tracing(a)) {
		trace(a, now, "Checklist created:");
		for (unsigned i = 0; i < a->npairs; i++)
			trace(a, now, " %u: %s (not nominated, state=%s)", i,
			      pair_str(a, &a->pairs[i], ps, sizeof(ps)),
			      ice_pair_state_name(a->pairs[i].state));
		if (!a->cfg.lite)
			trace(a, now, "Starting ICE check..");
	}
	a->check_deadline_us = now + a->cfg.check_timeout_us;
	if (a->cfg.dialect != ICE_DIALECT_RFC8445 && a->ms_got_req && a->ms_got_resp)
		a->check_deadline_us = now + 3000000;
	if (!a->cfg.lite)
		a->next_check_us = now;
	replay_early(a, now);
	return 0;
}

/* ------------------------------------------------------------------ completion */

static void update_warn(struct ice_agent *a)
{
	/* ICEWarn 0x20 / 0x40 / 0x80: a class of path was tried and none of it worked */
	bool tried[3] = {0}, ok[3] = {0};

	for (unsigned i = 0; i < a->npairs; i++) {
		const struct ice_pair *p = &a->pairs[i];
		uint8_t lt = a->local[p->local].type, rt = a->remote[p->remote].type;
		int cls = (lt == ICE_CAND_RELAY || rt == ICE_CAND_RELAY) ? 2 :
			  (lt == ICE_CAND_HOST && rt == ICE_CAND_HOST) ? 0 : 1;
		if (p->state == ICE_PAIR_FAILED)
			tried[cls] = true;
		if (p->flags & ICE_PF_VALID)
			ok[cls] = true;
	}
	if (tried[0] && !ok[0])
		a->warn |= WARN_LOCAL_FAILED;
	if (tried[1] && !ok[1])
		a->warn |= WARN_NAT_FAILED;
	if (tried[2] && !ok[2])
		a->warn |= WARN_TURN_FAILED;
}

static void fail_agent(struct ice_agent *a, uint64_t now, const char *why)
{
	uint64_t el = now - a->start_us;

	if (a->state == ICE_STATE_FAILED || a->state == ICE_STATE_COMPLETED)
		return;
	for (unsigned i = 0; i < a->npairs; i++)
		if (a->pairs[i].state != ICE_PAIR_SUCCEEDED) {
			if (a->pairs[i].state == ICE_PAIR_IN_PROGRESS)
				set_state(a, now, i, ICE_PAIR_FAILED);
			a->pairs[i].flags &= (uint8_t)~ICE_PF_TXN_OPEN;
		}
	a->state = ICE_STATE_FAILED;
	a->next_check_us = NEVER;
	a->tx_pairs = 0;
	update_warn(a);
	if (tracing(a)) {
		trace(a, now, "ICE process complete, status=%s", why);
		char w[256];
		ice_warn_format(w, sizeof(w), a->warn);
		trace(a, now, "ICE negotiation failed after %" PRIu64 ":%03" PRIu64 "s: %s (ICEWarn %s)",
		      el / 1000000, (el / 1000) % 1000, why, w);
	}
	emit(a, ICE_EV_FAILED, 0, NONE);
}

/* A component the peer gave no candidate for (RTCP of an endpoint that only does ICE for
 * RTP, say) takes no part: it can neither complete nor fail the stream. */
static bool comp_in_use(const struct ice_agent *a, unsigned comp)
{
	for (unsigned i = 0; i < a->npairs; i++)
		if (a->pairs[i].comp == comp)
			return true;
	return false;
}

static void check_complete(struct ice_agent *a, uint64_t now)
{
	char ps[128], l[ICE_ADDR_STRLEN], r[ICE_ADDR_STRLEN];
	uint64_t el = now - a->start_us;
	bool any = false;

	if (a->state != ICE_STATE_RUNNING)
		return;
	for (unsigned c = 0; c < a->ncomp; c++) {
		if (a->selected[c] == NONE && comp_in_use(a, c + 1))
			return;
		any |= a->selected[c] != NONE;
	}
	if (!any)
		return;
	a->state = ICE_STATE_COMPLETED;
	a->next_check_us = NEVER;
	a->nominate_at_us = NEVER;
	a->trig_len = 0;
	/* RFC 8445 §8.1.2: no more checks; Waiting and Frozen pairs are dropped */
	for (unsigned i = 0; i < a->npairs; i++)
		if (a->pairs[i].state == ICE_PAIR_WAITING || a->pairs[i].state == ICE_PAIR_FROZEN) {
			a->pairs[i].state = ICE_PAIR_FAILED;
		}
	update_warn(a);
	for (unsigned c = 0; c < a->ncomp; c++) {
		uint64_t j = a->cfg.consent_us / 5;
		a->consent_ok_us[c] = now;
		/* RFC 7675 §5.1: randomised 0.8-1.2 of the interval */
		a->consent_next_us[c] = a->cfg.lite ? NEVER :
			now + a->cfg.consent_us - j + (j ? rnd(a) % (2 * j + 1) : 0);
		a->last_tx_us[c] = now;
	}
	if (tracing(a)) {
		const struct ice_pair *p = &a->pairs[a->selected[a->selected[0] != NONE ? 0 : 1]];
		trace(a, now, "ICE process complete, status=Success");
		trace(a, now, "Valid list");
		for (unsigned i = 0; i < a->npairs; i++)
			if (a->pairs[i].flags & ICE_PF_VALID)
				trace(a, now, " %u: %s (%s, state=%s)", i,
				      pair_str(a, &a->pairs[i], ps, sizeof(ps)),
				      (a->pairs[i].flags & ICE_PF_NOMINATED) ? "nominated" :
									       "not nominated",
				      ice_pair_state_name(a->pairs[i].state));
		trace(a, now, "ICE negotiation completed in %" PRIu64 ".%03" PRIu64
			      "s. Sending from %s to %s",
		      el / 1000000, (el / 1000) % 1000,
		      ice_addr_fmt(&a->local[p->local].addr, l, sizeof(l)),
		      ice_addr_fmt(&a->remote[p->remote].addr, r, sizeof(r)));
	}
	emit(a, ICE_EV_COMPLETED, 0, NONE);
}

static void nominate(struct ice_agent *a, uint64_t now, unsigned idx)
{
	struct ice_pair *p = &a->pairs[idx];
	uint8_t c = (uint8_t)(p->comp - 1);

	if (!(p->flags & ICE_PF_NOMINATED)) {
		p->flags |= ICE_PF_NOMINATED;
		if (tracing(a))
			trace(a, now, "Check %u is successful and nominated", idx);
	}
	/* the selected pair is the highest-priority nominated one (RFC 8445 §8.1.1) */
	if (a->selected[c] == NONE || PRIO(a, &a->pairs[a->selected[c]]) < PRIO(a, p)) {
		bool first = a->selected[c] == NONE;
		a->selected[c] = (uint8_t)idx;
		emit(a, ICE_EV_SELECTED, p->comp, (uint8_t)idx);
		(void)first;
	}
	check_complete(a, now);
}

/* ------------------------------------------------------------------ building messages */

static enum stun_mi_mode mi_mode(const struct ice_agent *a)
{
	switch (a->cfg.dialect) {
	case ICE_DIALECT_MSICE2: return STUN_MI_MSICE2;
	case ICE_DIALECT_MSICE: return STUN_MI_PAD64;
	default: return STUN_MI_RFC;
	}
}

/* [MS-ICE]: remote id ":" comp ":" local id ":" comp, zero-padded by 1 to 4 bytes as
 * Microsoft stacks (and libnice) do. */
static size_t ms_username(uint8_t *out, const struct ice_ms_cred *first,
			  const struct ice_ms_cred *second, uint8_t comp)
{
	size_t n = 0, pad;

	memcpy(out + n, first->id, first->idlen);
	n += first->idlen;
	n += (size_t)sprintf((char *)out + n, ":%u:", comp);
	memcpy(out + n, second->id, second->idlen);
	n += second->idlen;
	n += (size_t)sprintf((char *)out + n, ":%u", comp);
	pad = 4 - n % 4;
	memset(out + n, 0, pad);
	return n + pad;
}

static int build_check(struct ice_agent *a, const struct ice_pair *p, const uint8_t *tid,
		       enum ice_role role, bool use_cand, bool legacy_fp, uint8_t *buf, size_t cap)
{
	struct stun_builder b;
	const struct ice_cand *lc = &a->local[p->local];
	char uname[2 * ICE_UFRAG_MAX + 2];
	uint32_t prflx_prio;

	if (a->cfg.dialect == ICE_DIALECT_MSICE) {
		const struct ice_cand *rc = &a->remote[p->remote];
		struct stun_key k;
		uint8_t un[2 * ICE_MS_ID_MAX + 16];
		size_t ul;

		if (lc->cred == NONE || rc->cred == NONE)
			return ICE_E_STATE;
		ul = ms_username(un, &a->ms_remote[rc->cred], &a->ms_local[lc->cred], p->comp);
		stun_build_init(&b, buf, cap, stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid,
				STUN_BF_LEGACY | STUN_BF_UNPADDED);
		stun_build_attr(&b, STUN_A_USERNAME, un, ul);
		stun_key_init(&k, a->ms_remote[rc->cred].pwd, a->ms_remote[rc->cred].pwdlen);
		stun_build_integrity(&b, &k, STUN_MI_PAD64);
		return stun_build_finish(&b);
	}
	snprintf(uname, sizeof(uname), "%s:%s", a->rufrag, a->ufrag);
	/* RFC 8445 §7.1.1: PRIORITY is what a peer-reflexive candidate of ours would have */
	prflx_prio = ice_cand_priority(a->cfg.dialect, ICE_CAND_PRFLX,
				       (uint16_t)((lc->prio >> 8) & 0xffff), p->comp);
	if (a->cfg.dialect == ICE_DIALECT_MSICE2)
		prflx_prio = (lc->prio & 0x00ffffffu) | (110u << 24);
	stun_build_init(&b, buf, cap, stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid, 0);
	if (use_cand)
		stun_build_attr(&b, ICE_A_USE_CANDIDATE, NULL, 0);
	stun_build_u32(&b, ICE_A_PRIORITY, prflx_prio);
	stun_build_u64(&b, role == ICE_ROLE_CONTROLLING ? ICE_A_ICE_CONTROLLING : ICE_A_ICE_CONTROLLED,
		       a->tie_breaker);
	if (a->cfg.dialect == ICE_DIALECT_MSICE2) {
		stun_build_str_pad4(&b, STUN_A_USERNAME, uname);
		/* [MS-ICE2]: the local candidate's foundation, and version 2 */
		stun_build_str_pad4(&b, MSICE_A_CANDIDATE_IDENTIFIER, a->local[lc->base].fnd_str);
		stun_build_u32(&b, MSICE_A_IMPLEMENTATION_VERSION, 2);
	} else {
		stun_build_str(&b, STUN_A_USERNAME, uname);
	}
	stun_build_integrity(&b, &a->rkey, mi_mode(a));
	stun_build_fingerprint(&b, legacy_fp);
	return stun_build_finish(&b);
}

/* ------------------------------------------------------------------ transmitting */

static uint32_t rto_for(const struct ice_agent *a, unsigned ntx)
{
	uint64_t r = (uint64_t)a->cfg.rto_us << (ntx > 1 ? ntx - 1 : 0);
	return (uint32_t)(r > a->cfg.max_rto_us ? a->cfg.max_rto_us : r);
}

static void start_check(struct ice_agent *a, uint64_t now, unsigned idx, bool use_cand)
{
	struct ice_pair *p = &a->pairs[idx];
	char ps[128];

	if (tracing(a))
		trace(a, now, "Sending connectivity check for check %u: %s%s", idx,
		      pair_str(a, p, ps, sizeof(ps)), use_cand ? " (USE-CANDIDATE)" : "");
	set_state(a, now, idx, ICE_PAIR_IN_PROGRESS);
	rnd_bytes(a, p->tid, sizeof(p->tid));
	p->ntx = 0;
	p->flags |= ICE_PF_TXN_OPEN;
	/* RFC 8489 §6.2.1: every retransmission is the same request, so the role it claims is
	 * fixed here; a 487 to it is then read against this role, not the current one */
	if (a->role == ICE_ROLE_CONTROLLING)
		p->flags |= ICE_PF_TXN_CONTROLLING;
	else
		p->flags &= (uint8_t)~ICE_PF_TXN_CONTROLLING;
	if (use_cand)
		p->flags |= ICE_PF_USE_CAND;
	else
		p->flags &= (uint8_t)~ICE_PF_USE_CAND;
	p->next_us = now;
	a->tx_pairs |= 1ull << idx;
}

/* Ta pacing (RFC 8445 §6.1.4.2): triggered first, then the best Waiting, then unfreeze. */
static void schedule_check(struct ice_agent *a, uint64_t now)
{
	int best = -1, t;
	bool aggressive = a->role == ICE_ROLE_CONTROLLING && a->cfg.nomination == ICE_NOM_AGGRESSIVE &&
			  a->cfg.dialect != ICE_DIALECT_MSICE;

	while ((t = pop_triggered(a)) >= 0) {
		struct ice_pair *p = &a->pairs[t];
		/* only the controlling agent nominates (RFC 8445 §7.1.2) */
		bool uc = aggressive ||
			  (a->role == ICE_ROLE_CONTROLLING && (p->flags & ICE_PF_USE_CAND));
		if (p->flags & ICE_PF_TXN_OPEN)
			continue; /* in progress: its retransmissions go on */
		if (p->state == ICE_PAIR_SUCCEEDED && !(p->flags & ICE_PF_USE_CAND))
			continue;
		start_check(a, now, (unsigned)t, uc);
		a->stats.triggered++;
		goto armed;
	}
	for (unsigned i = 0; i < a->npairs; i++)
		if (a->pairs[i].state == ICE_PAIR_WAITING &&
		    (best < 0 || PRIO(a, &a->pairs[i]) > PRIO(a, &a->pairs[best])))
			best = (int)i;
	if (best < 0)
		for (unsigned i = 0; i < a->npairs; i++)
			if (a->pairs[i].state == ICE_PAIR_FROZEN &&
			    (best < 0 || PRIO(a, &a->pairs[i]) > PRIO(a, &a->pairs[best])))
				best = (int)i;
	if (best < 0) {
		a->next_check_us = NEVER;
		return;
	}
	start_check(a, now, (unsigned)best, aggressive);
armed:
	a->next_check_us = now + a->cfg.ta_us;
}

static void pair_failed(struct ice_agent *a, uint64_t now, unsigned idx, const char *why)
{
	struct ice_pair *p = &a->pairs[idx];
	char ps[128];

	p->flags &= (uint8_t)~ICE_PF_TXN_OPEN;
	a->tx_pairs &= ~(1ull << idx);
	if (tracing(a))
		trace(a, now, "Check %u: %s (%s): connectivity check FAILED: %s", idx,
		      pair_str(a, p, ps, sizeof(ps)),
		      (p->flags & ICE_PF_USE_CAND) ? "nominated" : "not nominated", why);
	set_state(a, now, idx, ICE_PAIR_FAILED);
}

/* All checks of a component failed and nothing more can come: the agent has failed. */
static void check_failed(struct ice_agent *a, uint64_t now)
{
	if (a->state != ICE_STATE_RUNNING || a->cfg.lite || !a->remote_eoc)
		return;
	for (unsigned c = 1; c <= a->ncomp; c++) {
		bool alive = false;
		if (a->selected[c - 1] != NONE || (c > 1 && !comp_in_use(a, c)))
			continue;
		for (unsigned i = 0; i < a->npairs && !alive; i++) {
			const struct ice_pair *p = &a->pairs[i];
			if (p->comp == c && (p->state != ICE_PAIR_FAILED))
				alive = true;
		}
		if (!alive) {
			fail_agent(a, now, "All ICE checklists failed");
			return;
		}
	}
}

static int finish_out(struct ice_agent *a, struct ice_out *out, const struct ice_pair *p, int n)
{
	if (n < 0)
		return n;
	out->len = (size_t)n;
	out->from = a->local[p->local].addr;
	out->to = a->remote[p->remote].addr;
	out->comp = p->comp;
	return 1;
}

int ice_agent_poll_transmit(struct ice_agent *a, uint64_t now, struct ice_out *out)
{
	out->len = 0;
	if (a->state == ICE_STATE_FAILED)
		return 0;
	while (a->tx_pairs) {
		unsigned idx = (unsigned)__builtin_ctzll(a->tx_pairs);
		struct ice_pair *p = &a->pairs[idx];
		bool legacy_dup = false;
		int n;

		/* MS-ICE2: until the peer shows IMPLEMENTATION-VERSION each check goes out twice,
		 * the second time with the legacy FINGERPRINT (REFERENCE-MSICE.md) */
		if (p->ntx & 0x80) {
			legacy_dup = true;
			p->ntx &= 0x7f;
			a->tx_pairs &= ~(1ull << idx);
		}
		n = build_check(a, p, p->tid,
				(p->flags & ICE_PF_TXN_CONTROLLING) ? ICE_ROLE_CONTROLLING :
								      ICE_ROLE_CONTROLLED,
				(p->flags & ICE_PF_USE_CAND) != 0, legacy_dup, out->buf, out->cap);
		if (n < 0) {
			a->tx_pairs &= ~(1ull << idx);
			a->warn |= WARN_SEND_FAILED;
			continue;
		}
		if (!legacy_dup) {
			if (p->ntx)
				a->stats.tx_retrans++;
			else
				a->stats.tx_checks++;
			p->ntx++;
			p->next_us = now + rto_for(a, p->ntx);
			if (a->cfg.dialect == ICE_DIALECT_MSICE2 && !a->peer_impl_version)
				p->ntx |= 0x80;
			else
				a->tx_pairs &= ~(1ull << idx);
		}
		a->last_tx_us[p->comp - 1] = now;
		return finish_out(a, out, p, n);
	}
	for (unsigned c = 0; c < a->ncomp; c++) {
		const struct ice_pair *p;
		struct stun_builder b;
		int n;

		if (a->selected[c] == NONE)
			continue;
		p = &a->pairs[a->selected[c]];
		if (a->tx_consent & (1u << c)) {
			a->tx_consent &= (uint8_t)~(1u << c);
			rnd_bytes(a, a->consent_tid[c], STUN_TID_LEN);
			n = build_check(a, p, a->consent_tid[c], (enum ice_role)a->role, false, false,
					out->buf, out->cap);
			a->stats.tx_consent++;
			a->last_tx_us[c] = now;
			return finish_out(a, out, p, n);
		}
		if (a->tx_keepalive & (1u << c)) {
			uint8_t tid[STUN_LEGACY_TID_LEN];
			a->tx_keepalive &= (uint8_t)~(1u << c);
			rnd_bytes(a, tid, sizeof(tid));
			if (a->cfg.dialect == ICE_DIALECT_MSICE) {
				/* [MS-ICE] §2.2.3: a Binding request whose MESSAGE-INTEGRITY is all
				 * zero and which carries nothing else */
				static const uint8_t zero[STUN_MI_LEN];
				stun_build_init(&b, out->buf, out->cap,
						stun_type(STUN_M_BINDING, STUN_C_REQUEST), tid,
						STUN_BF_LEGACY | STUN_BF_UNPADDED);
				stun_build_attr(&b, STUN_A_MESSAGE_INTEGRITY, zero, sizeof(zero));
			} else {
				/* RFC 8445 §11 / MS-ICE2: a Binding indication */
				stun_build_init(&b, out->buf, out->cap,
						stun_type(STUN_M_BINDING, STUN_C_INDICATION), tid, 0);
				stun_build_fingerprint(&b, false);
			}
			a->stats.tx_keepalives++;
			a->last_tx_us[c] = now;
			return finish_out(a, out, p, stun_build_finish(&b));
		}
	}
	return 0;
}

bool ice_agent_poll_event(struct ice_agent *a, struct ice_event *ev)
{
	if (!a->ev_len)
		return false;
	*ev = a->ev[a->ev_head];
	a->ev_head = (uint8_t)((a->ev_head + 1) % ICE_EVQ);
	a->ev_len--;
	return true;
}

/* ------------------------------------------------------------------ timers */

static uint64_t min64(uint64_t x, uint64_t y)
{
	return x < y ? x : y;
}

uint64_t ice_agent_next_timeout(const struct ice_agent *a)
{
	uint64_t t = NEVER;

	if (a->state == ICE_STATE_FAILED)
		return NEVER;
	if (a->tx_pairs || a->tx_consent || a->tx_keepalive)
		return 0; /* something to send right away */
	if (a->state == ICE_STATE_RUNNING) {
		t = min64(t, a->next_check_us);
		t = min64(t, a->nominate_at_us);
		t = min64(t, a->check_deadline_us);
		for (unsigned i = 0; i < a->npairs; i++)
			if (a->pairs[i].flags & ICE_PF_TXN_OPEN)
				t = min64(t, a->pairs[i].next_us);
	}
	if (a->state == ICE_STATE_COMPLETED && !a->cfg.lite) {
		for (unsigned c = 0; c < a->ncomp; c++) {
			if ((a->consent_lost & (1u << c)) || a->selected[c] == NONE)
				continue;
			if (a->cfg.dialect == ICE_DIALECT_RFC8445) {
				t = min64(t, a->consent_next_us[c]);
				t = min64(t, a->consent_ok_us[c] + a->cfg.consent_expiry_us);
			} else if (c == 0 || a->cfg.dialect == ICE_DIALECT_MSICE2) {
				t = min64(t, a->last_tx_us[c] + a->cfg.keepalive_us);
			}
		}
	}
	return t;
}

static void regular_nominate(struct ice_agent *a, uint64_t now)
{
	a->nominate_at_us = NEVER;
	for (unsigned c = 1; c <= a->ncomp; c++) {
		int best = -1;
		if (a->selected[c - 1] != NONE)
			continue;
		for (unsigned i = 0; i < a->npairs; i++)
			if (a->pairs[i].comp == c && (a->pairs[i].flags & ICE_PF_VALID) &&
			    (best < 0 || PRIO(a, &a->pairs[i]) > PRIO(a, &a->pairs[best])))
				best = (int)i;
		if (best < 0)
			continue;
		/* RFC 8445 §8.1.1: a new check with USE-CANDIDATE on the chosen valid pair */
		a->pairs[best].flags |= ICE_PF_USE_CAND;
		a->pairs[best].flags &= (uint8_t)~ICE_PF_TXN_OPEN;
		push_triggered(a, (unsigned)best);
		arm_checks(a, now);
	}
}

/* [MS-ICE] §3.1.6.2: when the check phase ends the best valid pair is used */
static void ms_phase_end(struct ice_agent *a, uint64_t now)
{
	for (unsigned c = 1; c <= a->ncomp; c++) {
		int best = -1;
		for (unsigned i = 0; i < a->npairs; i++) {
			const struct ice_pair *p = &a->pairs[i];
			if (p->comp == c && (p->flags & ICE_PF_VALID) &&
			    (best < 0 || PRIO(a, p) > PRIO(a, &a->pairs[best])))
				best = (int)i;
		}
		if (best < 0) {
			fail_agent(a, now, "Connectivity checks phase ended without a valid pair");
			return;
		}
		a->pairs[best].flags |= ICE_PF_NOMINATED;
		a->selected[c - 1] = (uint8_t)best;
		emit(a, ICE_EV_SELECTED, (uint8_t)c, (uint8_t)best);
	}
	if (a->role == ICE_ROLE_CONTROLLING && !a->final_sent) {
		a->final_sent = 1;
		emit(a, ICE_EV_FINAL_OFFER, 1, a->selected[0]);
		if (tracing(a))
			trace(a, now, "Connectivity checks phase ended: final offer with check %u",
			      a->selected[0]);
	}
	check_complete(a, now);
}

void ice_agent_handle_timeout(struct ice_agent *a, uint64_t now)
{
	if (a->state == ICE_STATE_RUNNING) {
		for (unsigned i = 0; i < a->npairs; i++) {
			struct ice_pair *p = &a->pairs[i];
			if (!(p->flags & ICE_PF_TXN_OPEN) || now < p->next_us)
				continue;
			if ((p->ntx & 0x7f) >= a->cfg.max_tx) {
				pair_failed(a, now, i, "STUN transaction has timed out");
				continue;
			}
			a->tx_pairs |= 1ull << i;
		}
		if (now >= a->nominate_at_us)
			regular_nominate(a, now);
		if (now >= a->next_check_us)
			schedule_check(a, now);
		check_failed(a, now);
		if (a->state == ICE_STATE_RUNNING && now >= a->check_deadline_us) {
			if (a->cfg.dialect == ICE_DIALECT_MSICE)
				ms_phase_end(a, now);
			else
				fail_agent(a, now, "Connectivity check phase timed out");
		}
		return;
	}
	if (a->state != ICE_STATE_COMPLETED || a->cfg.lite)
		return;
	for (unsigned c = 0; c < a->ncomp; c++) {
		if ((a->consent_lost & (1u << c)) || a->selected[c] == NONE)
			continue;
		if (a->cfg.dialect == ICE_DIALECT_RFC8445) {
			/* RFC 7675 §5.1 */
			if (now >= a->consent_ok_us[c] + a->cfg.consent_expiry_us) {
				a->consent_lost |= (uint8_t)(1u << c);
				a->warn |= WARN_USE_CAND_FAILED;
				if (tracing(a))
					trace(a, now, "Consent to send lost on component %u", c + 1);
				emit(a, ICE_EV_CONSENT_LOST, (uint8_t)(c + 1), a->selected[c]);
				continue;
			}
			if (now >= a->consent_next_us[c]) {
				uint64_t j = a->cfg.consent_us / 5;
				a->tx_consent |= (uint8_t)(1u << c);
				a->consent_next_us[c] = now + a->cfg.consent_us - j +
							(j ? rnd(a) % (2 * j + 1) : 0);
			}
		} else if ((c == 0 || a->cfg.dialect == ICE_DIALECT_MSICE2) &&
			   now >= a->last_tx_us[c] + a->cfg.keepalive_us) {
			/* [MS-ICE] §3.1.6.3: RTP component only, when media is silent */
			a->tx_keepalive |= (uint8_t)(1u << c);
			a->last_tx_us[c] = now;
		}
	}
}

/* ------------------------------------------------------------------ receiving */

struct rx_ctx {
	struct stun_msg m;
	const struct ice_addr *local, *remote;
	int lidx;             /* local candidate the datagram came to */
	uint8_t ms_lcred, ms_rcred;
};

static int reply_error(struct ice_agent *a, struct rx_ctx *x, const struct stun_key *key, int code,
		       const char *reason, struct ice_out *reply)
{
	struct stun_builder b;
	bool legacy = !(x->m.flags & STUN_MF_COOKIE);
	int n;

	stun_build_init(&b, reply->buf, reply->cap, stun_type(STUN_M_BINDING, STUN_C_ERROR),
			stun_msg_tid(&x->m), legacy ? STUN_BF_LEGACY | STUN_BF_UNPADDED : 0);
	stun_build_error(&b, code, reason);
	if (code == 420)
		stun_build_unknown(&b, x->m.unknown, x->m.nunknown);
	if (key)
		stun_build_integrity(&b, key, mi_mode(a));
	if (!legacy)
		stun_build_fingerprint(&b, false);
	n = stun_build_finish(&b);
	if (n < 0)
		return ICE_RX_DROPPED;
	reply->len = (size_t)n;
	reply->from = *x->local;
	reply->to = *x->remote;
	reply->comp = x->lidx >= 0 ? a->local[x->lidx].comp : 0;
	a->stats.tx_errors++;
	return ICE_RX_REPLIED;
}

static int reply_success(struct ice_agent *a, struct rx_ctx *x, const struct stun_key *key,
			 struct ice_out *reply)
{
	struct stun_builder b;
	bool legacy = !(x->m.flags & STUN_MF_COOKIE);
	int n;

	stun_build_init(&b, reply->buf, reply->cap, stun_type(STUN_M_BINDING, STUN_C_SUCCESS),
			stun_msg_tid(&x->m),
			legacy ? STUN_BF_LEGACY | STUN_BF_UNPADDED : 0);
	/* [MS-ICE] §2.2.2: 0x0020 XORed with the transaction id in the draft form */
	stun_build_addr(&b, STUN_A_XOR_MAPPED_ADDRESS, x->remote);
	if (a->cfg.dialect != ICE_DIALECT_RFC8445) {
		const uint8_t *u;
		uint16_t ul;
		if (stun_msg_get_bytes(&x->m, STUN_A_USERNAME, &u, &ul) == 0)
			stun_build_attr(&b, STUN_A_USERNAME, u, ul);
	}
	if (a->cfg.dialect == ICE_DIALECT_MSICE2)
		stun_build_u32(&b, MSICE_A_IMPLEMENTATION_VERSION, 2);
	stun_build_integrity(&b, key, mi_mode(a));
	if (!legacy)
		stun_build_fingerprint(&b, false);
	n = stun_build_finish(&b);
	if (n < 0) {
		a->warn |= WARN_SEND_FAILED;
		return ICE_RX_DROPPED;
	}
	reply->len = (size_t)n;
	reply->from = *x->local;
	reply->to = *x->remote;
	reply->comp = a->local[x->lidx].comp;
	a->stats.tx_responses++;
	return ICE_RX_REPLIED;
}

/* Learn (or find) the remote candidate a request came from (RFC 8445 §7.3.1.3). */
static int learn_remote(struct ice_agent *a, uint64_t now, uint8_t comp, const struct ice_addr *from,
			uint32_t prio, uint8_t cred)
{
	int r = find_remote(a, comp, from);
	char as[ICE_ADDR_STRLEN];
	struct ice_cand *c;

	if (r >= 0)
		return r;
	if (a->nremote >= a->cfg.max_remote) {
		a->stats.remote_cands_dropped++;
		return -1;
	}
	c = &a->remote[a->nremote];
	memset(c, 0, sizeof(*c));
	c->addr = *from;
	c->comp = comp;
	c->type = ICE_CAND_PRFLX;
	c->prio = prio;
	c->cred = cred;
	/* RFC 8445 §7.3.1.3: any foundation unique to this candidate */
	snprintf(c->fnd_str, sizeof(c->fnd_str), "prflx%u", a->nremote);
	c->fnd = fnv1a(c->fnd_str, strlen(c->fnd_str), 0x811c9dc5u ^ a->nremote);
	a->stats.prflx_remote++;
	if (tracing(a))
		trace(a, now, "Added remote peer-reflexive candidate %s, comp_id=%u, prio=0x%x",
		      ice_addr_fmt(from, as, sizeof(as)), comp, prio);
	return a->nremote++;
}

static void on_request_pair(struct ice_agent *a, uint64_t now, unsigned lidx,
			    const struct ice_addr *from, uint32_t prio, bool use_cand, uint8_t rcred)
{
	unsigned base = a->local[lidx].base;
	uint8_t comp = a->local[lidx].comp;
	int r, pi;
	struct ice_pair *p;
	char ps[128];

	r = learn_remote(a, now, comp, from, prio, rcred);
	if (r < 0)
		return;
	pi = find_pair(a, base, (unsigned)r);
	if (pi < 0) {
		pi = add_pair(a, now, base, (unsigned)r, ICE_PAIR_WAITING);
		if (pi < 0)
			return;
		if (!a->cfg.lite)
			push_triggered(a, (unsigned)pi);
	} else {
		p = &a->pairs[pi];
		switch (p->state) {
		case ICE_PAIR_SUCCEEDED:
			break;
		case ICE_PAIR_IN_PROGRESS:
			if (tracing(a))
				trace(a, now, "Triggered check for check %d not performed because it's in progress. Retransmitting",
				      pi);
			break;
		default:
			if (!a->cfg.lite) {
				if (tracing(a))
					trace(a, now, "Triggered check for check %d (%s)", pi,
					      pair_str(a, p, ps, sizeof(ps)));
				set_state(a, now, (unsigned)pi, ICE_PAIR_WAITING);
				push_triggered(a, (unsigned)pi);
			}
			break;
		}
	}
	p = &a->pairs[pi];
	p->flags |= ICE_PF_RECV_VALID;
	if (a->cfg.lite) {
		/* RFC 8445 §7.3.1.5: a lite agent's pair is valid on a valid request */
		p->state = ICE_PAIR_SUCCEEDED;
		if (!(p->flags & ICE_PF_VALID)) {
			p->flags |= ICE_PF_VALID;
			p->valid_local = (uint8_t)lidx;
			emit(a, ICE_EV_PAIR_VALID, comp, (uint8_t)pi);
		}
	}
	/* ICE_EV_PAIR_VALID was emitted when the pair became valid (on_response, or above
	 * for a lite agent): a later check on it is no news */
	if (use_cand && a->role == ICE_ROLE_CONTROLLED) {
		if (p->flags & ICE_PF_VALID)
			nominate(a, now, (unsigned)pi);
		else
			p->flags |= ICE_PF_NOM_ON_SUCCESS;
	}
	arm_checks(a, now);
}

static void replay_early(struct ice_agent *a, uint64_t now)
{
	for (unsigned i = 0; i < ICE_EARLY; i++) {
		struct ice_early *e = &a->early[i];
		if (!e->used)
			continue;
		e->used = 0;
		if (tracing(a)) {
			char as[ICE_ADDR_STRLEN];
			trace(a, now, "Replaying early check from %s",
			      ice_addr_fmt(&e->from, as, sizeof(as)));
		}
		on_request_pair(a, now, e->local, &e->from, e->prio, e->use_cand, NONE);
	}
}

/* Role conflict (RFC 8445 §7.3.1.1). Returns true when the request gets a 487. */
static bool role_conflict(struct ice_agent *a, uint64_t now, const struct stun_msg *m)
{
	uint64_t tb;

	if (a->role == ICE_ROLE_CONTROLLING &&
	    stun_msg_get_u64(m, ICE_A_ICE_CONTROLLING, &tb) == 0) {
		if (a->tie_breaker >= tb)
			return true;
		a->role = ICE_ROLE_CONTROLLED;
	} else if (a->role == ICE_ROLE_CONTROLLED &&
		   stun_msg_get_u64(m, ICE_A_ICE_CONTROLLED, &tb) == 0) {
		if (a->tie_breaker < tb)
			return true;
		a->role = ICE_ROLE_CONTROLLING;
	} else {
		return false;
	}
	if (tracing(a))
		trace(a, now, "Role conflict resolved: now %s",
		      a->role == ICE_ROLE_CONTROLLING ? "Controlling" : "Controlled");
	emit(a, ICE_EV_ROLE_CHANGED, 0, NONE);
	return false;
}

/* MS-ICE: find the local credential a USERNAME was made for. */
static int ms_find_local(const struct ice_agent *a, const uint8_t *u, uint16_t ul, uint8_t *rcred)
{
	for (unsigned i = 0; i < a->nlocal_ms; i++) {
		const struct ice_ms_cred *c = &a->ms_local[i];
		/* a preset slot no candidate took yet names nothing the peer was given */
		if (a->ms_local_type[i] && !ms_cred_comp_used(a, i, 0))
			continue;
		if (ul > c->idlen && !memcmp(u, c->id, c->idlen) && u[c->idlen] == ':') {
			/* local ":" comp ":" remote ":" comp */
			const uint8_t *rest = u + c->idlen + 1;
			size_t left = ul - c->idlen - 1;
			const uint8_t *colon = memchr(rest, ':', left);
			*rcred = NONE;
			if (colon) {
				const uint8_t *rid = colon + 1;
				size_t rl = left - (size_t)(rid - rest);
				for (unsigned k = 0; k < a->nremote_ms; k++)
					if (rl > a->ms_remote[k].idlen &&
					    !memcmp(rid, a->ms_remote[k].id, a->ms_remote[k].idlen) &&
					    rid[a->ms_remote[k].idlen] == ':')
						*rcred = (uint8_t)k;
			}
			return (int)i;
		}
	}
	return -1;
}

static enum ice_rx on_request(struct ice_agent *a, uint64_t now, struct rx_ctx *x, int perr,
			      struct ice_out *reply)
{
	const uint8_t *u;
	uint16_t ul;
	struct stun_key mskey;
	const struct stun_key *key = &a->lkey;
	uint32_t prio = 0;
	bool use_cand;
	char as[ICE_ADDR_STRLEN];

	a->stats.rx_requests++;
	if (!reply || !reply->buf) {
		a->stats.drop_queue_full++;
		return ICE_RX_DROPPED;
	}
	if (a->cfg.dialect == ICE_DIALECT_MSICE && x->m.nattr == 1 && x->m.mi_off) {
		/* [MS-ICE] §2.2.3 keep-alive: zero MESSAGE-INTEGRITY, nothing to answer */
		static const uint8_t zero[STUN_MI_LEN];
		if (!memcmp(x->m.buf + x->m.mi_off + 4, zero, STUN_MI_LEN))
			return ICE_RX_HANDLED;
	}
	if (stun_msg_get_bytes(&x->m, STUN_A_USERNAME, &u, &ul) != 0) {
		/* RFC 8489 §9.1.3 */
		a->stats.drop_no_integrity++;
		return (enum ice_rx)reply_error(a, x, NULL, x->m.mi_off ? 400 : 401,
						x->m.mi_off ? "Bad Request" : "Unauthorized", reply);
	}
	if (a->cfg.dialect == ICE_DIALECT_MSICE) {
		int li = ms_find_local(a, u, ul, &x->ms_rcred);
		if (li < 0) {
			a->stats.drop_unknown_user++;
			return ICE_RX_DROPPED;
		}
		x->ms_lcred = (uint8_t)li;
		stun_key_init(&mskey, a->ms_local[li].pwd, a->ms_local[li].pwdlen);
		key = &mskey;
	} else {
		/* RFC 8445 §7.3: "<our ufrag>:<their ufrag>", MS stacks pad it with zeros */
		size_t n = strlen(a->ufrag);
		while (ul && u[ul - 1] == 0)
			ul--;
		if (ul <= n || memcmp(u, a->ufrag, n) != 0 || u[n] != ':') {
			a->stats.drop_unknown_user++;
			if (tracing(a))
				trace(a, now, "Binding request from %s with unknown USERNAME dropped",
				      ice_addr_fmt(x->remote, as, sizeof(as)));
			return ICE_RX_DROPPED;
		}
	}
	if (!x->m.mi_off) {
		a->stats.drop_no_integrity++;
		return (enum ice_rx)reply_error(a, x, NULL, 401, "Unauthorized", reply);
	}
	if (stun_msg_check_integrity(&x->m, key, mi_mode(a)) != 0) {
		a->stats.drop_integrity++;
		a->warn |= WARN_INTEGRITY;
		if (tracing(a))
			trace(a, now, "Binding request from %s: MESSAGE-INTEGRITY check failed, "
				      "answered 431 (ICEWarn 0x400)",
			      ice_addr_fmt(x->remote, as, sizeof(as)));
		return (enum ice_rx)reply_error(a, x, NULL, 431, "Integrity Check Failure", reply);
	}
	if (perr == STUN_E_UNKNOWN_REQUIRED) {
		a->stats.drop_unknown_attr++;
		return (enum ice_rx)reply_error(a, x, key, 420, "Unknown Attribute", reply);
	}
	if (a->cfg.dialect == ICE_DIALECT_MSICE2 &&
	    stun_msg_find(&x->m, MSICE_A_IMPLEMENTATION_VERSION))
		a->peer_impl_version = 1;
	if (a->cfg.dialect != ICE_DIALECT_MSICE && role_conflict(a, now, &x->m)) {
		a->stats.drop_role_conflict++;
		return (enum ice_rx)reply_error(a, x, key, 487, "Role Conflict", reply);
	}
	if (a->cfg.dialect != ICE_DIALECT_MSICE &&
	    stun_msg_get_u32(&x->m, ICE_A_PRIORITY, &prio) != 0) {
		a->stats.drop_malformed++;
		return (enum ice_rx)reply_error(a, x, key, 400, "Bad Request", reply);
	}
	if (a->cfg.dialect == ICE_DIALECT_MSICE)
		prio = ice_cand_priority(ICE_DIALECT_MSICE, ICE_CAND_PRFLX, 0, 1);
	/* libnice's OC2007 mode treats every request as nominating; [MS-ICE] has no flag */
	use_cand = stun_msg_find(&x->m, ICE_A_USE_CANDIDATE) != NULL;

	if (x->lidx < 0) {
		a->stats.drop_malformed++;
		return ICE_RX_DROPPED;
	}
	enum ice_rx rc = (enum ice_rx)reply_success(a, x, key, reply);
	if (a->cfg.dialect != ICE_DIALECT_RFC8445) {
		a->ms_got_req = 1;
		if (a->ms_got_resp && a->state == ICE_STATE_RUNNING)
			a->check_deadline_us = min64(a->check_deadline_us, now + 3000000);
	}
	if (a->state == ICE_STATE_NEW ||
	    (a->cfg.dialect == ICE_DIALECT_MSICE && x->ms_rcred == NONE)) {
		/* RFC 8445 §7.3.1.4 / [MS-ICE]: answer now, act on it once we know the peer */
		for (unsigned i = 0; i < ICE_EARLY; i++) {
			struct ice_early *e = &a->early[i];
			if (e->used && ice_addr_eq(&e->from, x->remote) && e->local == x->lidx) {
				e->use_cand |= use_cand;
				return rc;
			}
		}
		for (unsigned i = 0; i < ICE_EARLY; i++) {
			struct ice_early *e = &a->early[i];
			if (!e->used) {
				e->used = 1;
				e->from = *x->remote;
				e->local = (uint8_t)x->lidx;
				e->prio = prio;
				e->use_cand = use_cand;
				return rc;
			}
		}
		a->stats.drop_queue_full++;
		return rc;
	}
	if (a->state == ICE_STATE_RUNNING || a->state == ICE_STATE_COMPLETED)
		on_request_pair(a, now, (unsigned)x->lidx, x->remote, prio, use_cand, x->ms_rcred);
	return rc;
}

static int match_txn(const struct ice_agent *a, const struct stun_msg *m)
{
	const uint8_t *tid = stun_msg_tid(m);
	size_t tl = (m->flags & STUN_MF_COOKIE) ? STUN_TID_LEN : STUN_LEGACY_TID_LEN;

	for (unsigned i = 0; i < a->npairs; i++)
		if ((a->pairs[i].flags & ICE_PF_TXN_OPEN) && !memcmp(a->pairs[i].tid, tid, tl))
			return (int)i;
	return -1;
}

static enum ice_rx on_response(struct ice_agent *a, uint64_t now, struct rx_ctx *x)
{
	int pi;
	struct ice_pair *p;
	struct stun_key mskey;
	const struct stun_key *key = &a->rkey;
	char ps[128];

	a->stats.rx_responses++;
	if (a->state == ICE_STATE_NEW) {
		/* [MS-ICE]: responses before the remote candidates are discarded */
		a->stats.drop_early_response++;
		return ICE_RX_DROPPED;
	}
	if (a->state == ICE_STATE_COMPLETED && (x->m.flags & STUN_MF_COOKIE)) {
		for (unsigned c = 0; c < a->ncomp; c++)
			if (!memcmp(a->consent_tid[c], stun_msg_tid(&x->m), STUN_TID_LEN) &&
			    a->selected[c] != NONE) {
				if (stun_msg_check_integrity(&x->m, &a->rkey, mi_mode(a)) != 0) {
					a->stats.drop_integrity++;
					return ICE_RX_DROPPED;
				}
				if (x->m.cls == STUN_C_SUCCESS)
					a->consent_ok_us[c] = now;
				memset(a->consent_tid[c], 0, STUN_TID_LEN);
				return ICE_RX_HANDLED;
			}
	}
	pi = match_txn(a, &x->m);
	if (pi < 0) {
		a->stats.drop_no_txn++;
		return ICE_RX_DROPPED;
	}
	p = &a->pairs[pi];
	if (a->cfg.dialect == ICE_DIALECT_MSICE) {
		const struct ice_cand *rc = &a->remote[p->remote];
		if (rc->cred == NONE)
			return ICE_RX_DROPPED;
		stun_key_init(&mskey, a->ms_remote[rc->cred].pwd, a->ms_remote[rc->cred].pwdlen);
		key = &mskey;
	}
	if (stun_msg_check_integrity(&x->m, key, mi_mode(a)) != 0) {
		/* RFC 8445 §7.2.5.2.1 via RFC 8489: discard, the transaction goes on */
		a->stats.drop_integrity++;
		return ICE_RX_DROPPED;
	}
	if (a->cfg.dialect == ICE_DIALECT_MSICE2 &&
	    stun_msg_find(&x->m, MSICE_A_IMPLEMENTATION_VERSION))
		a->peer_impl_version = 1;
	p->flags &= (uint8_t)~ICE_PF_TXN_OPEN;
	a->tx_pairs &= ~(1ull << pi);
	p->ntx &= 0x7f;

	if (x->m.cls == STUN_C_ERROR) {
		int code = 0;
		stun_msg_get_error(&x->m, &code, NULL, NULL);
		if (code == 487 && a->cfg.dialect != ICE_DIALECT_MSICE) {
			/* RFC 8445 §7.2.5.1: take the role opposite to the one the request carried
			 * and check again. The agent may have switched already, on the peer's own
			 * request: then this 487 is stale and the role stays. */
			uint8_t want = (p->flags & ICE_PF_TXN_CONTROLLING) ? ICE_ROLE_CONTROLLED :
									      ICE_ROLE_CONTROLLING;
			if (a->role != want) {
				a->role = want;
				if (tracing(a))
					trace(a, now, "Check %d: 487 Role Conflict received: now %s", pi,
					      a->role == ICE_ROLE_CONTROLLING ? "Controlling" :
										"Controlled");
				emit(a, ICE_EV_ROLE_CHANGED, 0, NONE);
			} else if (tracing(a)) {
				trace(a, now, "Check %d: 487 Role Conflict received for a request "
					      "sent before the switch: staying %s", pi,
				      a->role == ICE_ROLE_CONTROLLING ? "Controlling" : "Controlled");
			}
			set_state(a, now, (unsigned)pi, ICE_PAIR_WAITING);
			push_triggered(a, (unsigned)pi);
			arm_checks(a, now);
			return ICE_RX_HANDLED;
		}
		if (a->cfg.dialect != ICE_DIALECT_RFC8445 && p->retries < 3 &&
		    (code == 401 || code == 430 || code == 431 || code == 432 || code == 500)) {
			/* [MS-ICE] §3.1.5.2.2.5: these are retried */
			p->retries++;
			set_state(a, now, (unsigned)pi, ICE_PAIR_WAITING);
			push_triggered(a, (unsigned)pi);
			arm_checks(a, now);
			return ICE_RX_HANDLED;
		}
		{
			char why[64];
			snprintf(why, sizeof(why), "error response %d", code);
			pair_failed(a, now, (unsigned)pi, why);
		}
		check_failed(a, now);
		return ICE_RX_HANDLED;
	}

	/* RFC 8445 §7.2.5.2.1: the response must come back on the same addresses */
	if (!ice_addr_eq(x->remote, &a->remote[p->remote].addr) ||
	    !ice_addr_eq(x->local, &a->local[p->local].addr)) {
		pair_failed(a, now, (unsigned)pi, "non-symmetric response");
		check_failed(a, now);
		return ICE_RX_HANDLED;
	}
	{
		struct ice_addr mapped;
		int vl;
		if (stun_msg_get_addr(&x->m, STUN_A_XOR_MAPPED_ADDRESS, &mapped) != 0 &&
		    stun_msg_get_addr(&x->m, STUN_A_MAPPED_ADDRESS, &mapped) != 0) {
			pair_failed(a, now, (unsigned)pi, "no mapped address in response");
			check_failed(a, now);
			return ICE_RX_HANDLED;
		}
		vl = find_local_by_addr(a, p->comp, &mapped);
		if (vl < 0 && a->nlocal < ICE_MAX_LOCAL) {
			/* RFC 8445 §7.2.5.3.1: a local peer-reflexive candidate */
			struct ice_cand *c = &a->local[a->nlocal];
			char as[ICE_ADDR_STRLEN];
			memset(c, 0, sizeof(*c));
			c->addr = mapped;
			c->comp = p->comp;
			c->type = ICE_CAND_PRFLX;
			c->base = p->local;
			c->cred = a->local[p->local].cred;
			c->prio = ice_cand_priority(a->cfg.dialect, ICE_CAND_PRFLX,
						    (uint16_t)((a->local[p->local].prio >> 8) & 0xffff),
						    p->comp);
			fnd_string(c, &a->local[p->local].addr, c->fnd_str);
			c->fnd = fnv1a(c->fnd_str, strlen(c->fnd_str), 2166136261u);
			vl = a->nlocal++;
			a->stats.prflx_local++;
			if (tracing(a))
				trace(a, now, "Added local peer-reflexive candidate %s, comp_id=%u",
				      ice_addr_fmt(&mapped, as, sizeof(as)), p->comp);
		}
		p->valid_local = (uint8_t)(vl < 0 ? p->local : vl);
	}
	if (tracing(a))
		trace(a, now, "Check %d: %s (%s): connectivity check SUCCESS", pi,
		      pair_str(a, p, ps, sizeof(ps)),
		      (p->flags & ICE_PF_USE_CAND) ? "nominated" : "not nominated");
	set_state(a, now, (unsigned)pi, ICE_PAIR_SUCCEEDED);
	if (a->cfg.dialect != ICE_DIALECT_RFC8445) {
		a->ms_got_resp = 1;
		if (a->ms_got_req)
			a->check_deadline_us = min64(a->check_deadline_us, now + 3000000);
	}
	/* RFC 8445 §7.2.5.3.3: unfreeze the pairs of the same foundation */
	{
		uint32_t f = pair_fnd(a, p);
		for (unsigned i = 0; i < a->npairs; i++)
			if (a->pairs[i].state == ICE_PAIR_FROZEN && pair_fnd(a, &a->pairs[i]) == f)
				set_state(a, now, i, ICE_PAIR_WAITING);
	}
	if (!(p->flags & ICE_PF_VALID)) {
		p->flags |= ICE_PF_VALID;
		emit(a, ICE_EV_PAIR_VALID, p->comp, (uint8_t)pi);
	}
	if (a->cfg.dialect == ICE_DIALECT_MSICE) {
		/* nominated when the phase ends (ms_phase_end) */
	} else if (a->role == ICE_ROLE_CONTROLLING) {
		if (p->flags & ICE_PF_USE_CAND)
			nominate(a, now, (unsigned)pi);
		else if (a->cfg.nomination == ICE_NOM_REGULAR && a->nominate_at_us == NEVER &&
			 a->selected[p->comp - 1] == NONE)
			a->nominate_at_us = now + a->cfg.nominate_delay_us;
	} else if (p->flags & ICE_PF_NOM_ON_SUCCESS) {
		nominate(a, now, (unsigned)pi);
	}
	arm_checks(a, now);
	return ICE_RX_HANDLED;
}

enum ice_rx ice_agent_recv(struct ice_agent *a, uint64_t now, const struct ice_addr *local,
			   const struct ice_addr *remote, const uint8_t *buf, size_t len,
			   struct ice_out *reply)
{
	struct rx_ctx x;
	enum stun_kind kind = stun_classify(buf, len);
	unsigned pflags = 0;
	int r;

	if (kind != STUN_KIND_RFC && kind != STUN_KIND_LEGACY)
		return ICE_RX_NOT_STUN;
	/* MS-ICE2 senders pad (their values are multiples of 4 anyway); only the cookie-less
	 * rfc3489bis-02 form of MS-ICE is unpadded */
	if (a->cfg.dialect == ICE_DIALECT_MSICE2)
		pflags |= STUN_PF_LEGACY_FP;
	else if (a->cfg.dialect == ICE_DIALECT_MSICE)
		pflags |= STUN_PF_UNPADDED;
	r = stun_parse(&x.m, buf, len, pflags);
	if (r < 0 && r != STUN_E_UNKNOWN_REQUIRED) {
		a->stats.drop_malformed++;
		return ICE_RX_DROPPED;
	}
	if (kind == STUN_KIND_LEGACY && a->cfg.dialect != ICE_DIALECT_MSICE) {
		a->stats.drop_malformed++;
		return ICE_RX_DROPPED;
	}
	if (x.m.method != STUN_M_BINDING) {
		a->stats.drop_malformed++;
		return ICE_RX_DROPPED;
	}
	x.local = local;
	x.remote = remote;
	x.lidx = -1;
	x.ms_lcred = x.ms_rcred = NONE;
	for (unsigned i = 0; i < a->nlocal; i++)
		if (a->local[i].type != ICE_CAND_SRFLX && a->local[i].type != ICE_CAND_PRFLX &&
		    ice_addr_eq(&a->local[i].addr, local)) {
			x.lidx = (int)i;
			break;
		}
	switch (x.m.cls) {
	case STUN_C_REQUEST:
		return on_request(a, now, &x, r, reply);
	case STUN_C_INDICATION:
		/* keep-alives (RFC 8445 §11): nothing to do */
		a->stats.rx_indications++;
		return ICE_RX_HANDLED;
	default:
		if (r < 0) {
			a->stats.drop_unknown_attr++;
			return ICE_RX_DROPPED;
		}
		return on_response(a, now, &x);
	}
}

/* ------------------------------------------------------------------ queries and control */

int ice_agent_selected(const struct ice_agent *a, uint8_t comp, struct ice_addr *local,
		       struct ice_addr *remote)
{
	const struct ice_pair *p;

	if (comp < 1 || comp > a->ncomp || a->selected[comp - 1] == NONE)
		return ICE_E_STATE;
	p = &a->pairs[a->selected[comp - 1]];
	if (local)
		*local = a->local[p->local].addr;
	if (remote)
		*remote = a->remote[p->remote].addr;
	return 0;
}

int ice_agent_ms_final_offer(struct ice_agent *a, uint64_t now, const char *remote_id_b64)
{
	uint8_t id[ICE_MS_ID_MAX + 8];
	int il = b64_decode(remote_id_b64, id, sizeof(id));

	if (a->cfg.dialect != ICE_DIALECT_MSICE || il <= 0)
		return ICE_E_INVAL;
	for (unsigned c = 1; c <= a->ncomp; c++) {
		int best = -1;
		for (unsigned i = 0; i < a->npairs; i++) {
			const struct ice_pair *p = &a->pairs[i];
			const struct ice_cand *rc = &a->remote[p->remote];
			if (p->comp != c || rc->cred == NONE ||
			    a->ms_remote[rc->cred].idlen != il ||
			    memcmp(a->ms_remote[rc->cred].id, id, (size_t)il))
				continue;
			if (best < 0 || (p->flags & ICE_PF_VALID) > (a->pairs[best].flags & ICE_PF_VALID) ||
			    PRIO(a, p) > PRIO(a, &a->pairs[best]))
				best = (int)i;
		}
		if (best < 0)
			return ICE_E_INVAL;
		a->pairs[best].flags |= ICE_PF_NOMINATED;
		a->selected[c - 1] = (uint8_t)best;
		emit(a, ICE_EV_SELECTED, (uint8_t)c, (uint8_t)best);
	}
	if (a->state == ICE_STATE_RUNNING)
		check_complete(a, now);
	return 0;
}

int ice_agent_restart(struct ice_agent *a, uint64_t now, const char *ufrag, const char *pwd)
{
	struct ice_config cfg = a->cfg;
	struct ice_cand local[ICE_MAX_LOCAL];
	struct ice_ms_cred ms_local[ICE_MAX_LOCAL / 2];
	uint8_t ms_type[ICE_MAX_LOCAL / 2];
	uint8_t nlocal = a->nlocal, nms = a->nlocal_ms, role = a->role;
	uint64_t tb = a->tie_breaker;
	struct ice_stats st = a->stats;
	int r;

	if (a->cfg.dialect != ICE_DIALECT_MSICE && (!ufrag || !pwd))
		return ICE_E_INVAL;
	memcpy(local, a->local, sizeof(local));
	memcpy(ms_local, a->ms_local, sizeof(ms_local));
	memcpy(ms_type, a->ms_local_type, sizeof(ms_type));
	cfg.ufrag = ufrag;
	cfg.pwd = pwd;
	cfg.role = (enum ice_role)role;
	cfg.tie_breaker = tb;
	r = ice_agent_init(a, &cfg);
	if (r)
		return r;
	/* RFC 8445 §9: same candidates, new credentials, a fresh check list */
	for (unsigned i = 0; i < nlocal; i++)
		if (local[i].type != ICE_CAND_PRFLX)
			a->local[a->nlocal++] = local[i];
	memcpy(a->ms_local, ms_local, sizeof(ms_local));
	memcpy(a->ms_local_type, ms_type, sizeof(ms_type));
	a->nlocal_ms = nms;
	a->stats = st;
	if (tracing(a))
		trace(a, now, "ICE restart: new local credentials");
	return 0;
}

void ice_agent_dump(struct ice_agent *a, uint64_t now)
{
	char ps[128];

	if (!tracing(a))
		return;
	trace(a, now, "Checklist (%u pairs, state %s, ICEWarn=0x%x):", a->npairs,
	      a->state == ICE_STATE_NEW ? "New" : a->state == ICE_STATE_RUNNING ? "Running" :
	      a->state == ICE_STATE_COMPLETED ? "Completed" : "Failed", a->warn);
	for (unsigned i = 0; i < a->npairs; i++)
		trace(a, now, " %u: %s (%s, state=%s)", i, pair_str(a, &a->pairs[i], ps, sizeof(ps)),
		      (a->pairs[i].flags & ICE_PF_NOMINATED) ? "nominated" : "not nominated",
		      ice_pair_state_name(a->pairs[i].state));
}

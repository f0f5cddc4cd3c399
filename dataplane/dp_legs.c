/* Legs file parsing and application to a dp_core. Runs at start-up only: allocation and
 * stdio are fine here; every malformed line is an error naming the file and line. */
#include "dp_legs.h"
#include "dp_owner.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sdp.h"

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, const char *name,
						      const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s: ", name);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_u64(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (!*v || *v == '-')
		return -1;
	errno = 0;
	x = strtoull(v, &end, 0);
	if (errno || *end || x > max)
		return -1;
	*out = x;
	return 0;
}

static int parse_mac(const char *v, uint8_t mac[6])
{
	unsigned b[6];
	char tail;

	if (sscanf(v, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

static void spec_defaults(struct dp_leg_spec *s, unsigned line)
{
	memset(s, 0, sizeof(*s));
	s->line = line;
	s->cfg.ice = true;
	s->cfg.rtcp_mux = true;
	s->cfg.ice_cfg.dialect = ICE_DIALECT_RFC8445;
	s->cfg.ice_cfg.role = ICE_ROLE_CONTROLLED;
	s->cfg.ice_cfg.nomination = ICE_NOM_AGGRESSIVE;
	s->cfg.clock_hz = 8000;
}

static int leg_key(struct dp_leg_spec *s, const char *k, char *v, const char *where, char *err,
		   size_t errlen)
{
	struct dp_leg_cfg *c = &s->cfg;
	uint64_t u;

	if (!strcmp(k, "port")) {
		if (parse_u64(v, 65535, &u) || u == 0)
			return fail(err, errlen, where, "port must be 1-65535, not '%s'", v);
		c->port = (uint16_t)u;
	} else if (!strcmp(k, "rtcp-mux")) {
		if (parse_bool(v, &c->rtcp_mux))
			return fail(err, errlen, where, "rtcp-mux must be yes or no");
	} else if (!strcmp(k, "ice")) {
		if (!strcmp(v, "full")) {
			c->ice = true;
			c->ice_cfg.lite = false;
		} else if (!strcmp(v, "lite")) {
			c->ice = true;
			c->ice_cfg.lite = true;
		} else if (!strcmp(v, "off")) {
			c->ice = false;
		} else {
			return fail(err, errlen, where, "ice must be full, lite or off");
		}
	} else if (!strcmp(k, "dialect")) {
		if (!strcmp(v, "rfc8445"))
			c->ice_cfg.dialect = ICE_DIALECT_RFC8445;
		else if (!strcmp(v, "ms-ice2"))
			c->ice_cfg.dialect = ICE_DIALECT_MSICE2;
		else if (!strcmp(v, "ms-ice"))
			c->ice_cfg.dialect = ICE_DIALECT_MSICE;
		else
			return fail(err, errlen, where, "dialect must be rfc8445, ms-ice2 or ms-ice");
	} else if (!strcmp(k, "role")) {
		if (!strcmp(v, "controlling"))
			c->ice_cfg.role = ICE_ROLE_CONTROLLING;
		else if (!strcmp(v, "controlled"))
			c->ice_cfg.role = ICE_ROLE_CONTROLLED;
		else
			return fail(err, errlen, where, "role must be controlling or controlled");
	} else if (!strcmp(k, "nomination")) {
		if (!strcmp(v, "aggressive"))
			c->ice_cfg.nomination = ICE_NOM_AGGRESSIVE;
		else if (!strcmp(v, "regular"))
			c->ice_cfg.nomination = ICE_NOM_REGULAR;
		else
			return fail(err, errlen, where, "nomination must be aggressive or regular");
	} else if (!strcmp(k, "ufrag") || !strcmp(k, "pwd") || !strcmp(k, "remote-ufrag") ||
		   !strcmp(k, "remote-pwd")) {
		bool remote = k[0] == 'r';
		bool ufrag = strstr(k, "ufrag") != NULL;
		size_t max = ufrag ? ICE_UFRAG_MAX : ICE_PWD_MAX;
		if (!*v || strlen(v) > max || strchr(v, ':') || strchr(v, ' '))
			return fail(err, errlen, where, "%s must be 1-%zu characters without ':'", k, max);
		/* the ice_config strings are copied by ice_agent_init */
		char *dst = remote ? (ufrag ? c->rufrag : c->rpwd) : (ufrag ? s->ufrag : s->pwd);
		snprintf(dst, max + 1, "%s", v);
	} else if (!strcmp(k, "remote-lite")) {
		if (parse_bool(v, &c->remote_lite))
			return fail(err, errlen, where, "remote-lite must be yes or no");
	} else if (!strcmp(k, "remote-candidate")) {
		struct sdp_candidate *sc;
		struct ice_remote_cand *rc;
		int r;
		if (s->nrc == DP_LEGS_MAX_RC)
			return fail(err, errlen, where, "more than %d remote candidates", DP_LEGS_MAX_RC);
		sc = malloc(sizeof(*sc));
		if (!sc)
			return fail(err, errlen, where, "out of memory");
		r = sdp_parse_candidate(sc, v);
		if (r < 0 || sc->addr.family != ICE_AF_INET || sc->transport != SDP_TP_UDP) {
			free(sc);
			return fail(err, errlen, where, "bad remote-candidate '%s': %s", v,
				    r < 0 ? sdp_strerror(r) : "only UDP over IPv4 is relayed");
		}
		rc = &s->rc[s->nrc];
		memset(rc, 0, sizeof(*rc));
		rc->comp = (uint8_t)sc->component;
		rc->addr = sc->addr;
		switch (sc->type) {
		case SDP_CAND_SRFLX: rc->type = ICE_CAND_SRFLX; break;
		case SDP_CAND_PRFLX: rc->type = ICE_CAND_PRFLX; break;
		case SDP_CAND_RELAY: rc->type = ICE_CAND_RELAY; break;
		default: rc->type = ICE_CAND_HOST; break;
		}
		rc->prio = sc->form == SDP_FORM_DRAFT06 ? sc->qvalue : sc->priority;
		if (sc->form == SDP_FORM_DRAFT06) {
			/* [MS-ICE]: the line carries the candidate's identifier and password */
			snprintf(s->rc_msid[s->nrc], sizeof(s->rc_msid[0]), "%s", sc->foundation);
			snprintf(s->rc_mspwd[s->nrc], sizeof(s->rc_mspwd[0]), "%s", sc->password);
		}
		snprintf(s->rc_fnd[s->nrc], sizeof(s->rc_fnd[0]), "%.32s", sc->foundation);
		free(sc);
		s->nrc++;
	} else if (!strcmp(k, "default-remote") || !strcmp(k, "default-remote-rtcp")) {
		int i = k[14] ? 1 : 0;
		if (ice_addr_parse(&c->default_remote[i], v) || c->default_remote[i].port == 0 ||
		    c->default_remote[i].family != ICE_AF_INET)
			return fail(err, errlen, where, "%s must be IPv4:PORT, not '%s'", k, v);
	} else if (!strcmp(k, "peer")) {
		snprintf(s->peer, sizeof(s->peer), "%s", v);
	} else if (!strcmp(k, "trace")) {
		if (parse_bool(v, &c->trace))
			return fail(err, errlen, where, "trace must be yes or no");
	} else if (!strcmp(k, "clock")) {
		if (parse_u64(v, 192000, &u) || u == 0)
			return fail(err, errlen, where, "clock must be an RTP clock rate in Hz");
		c->clock_hz = (uint32_t)u;
	} else if (!strcmp(k, "iface")) {
		/* the local address: the daemon's interfaces in configuration-file order */
		if (parse_u64(v, DP_MAX_IFACES - 1, &u))
			return fail(err, errlen, where, "iface must be 0-%d, not '%s'", DP_MAX_IFACES - 1, v);
		c->iface = (uint8_t)u;
	} else {
		return fail(err, errlen, where, "unknown key '%s'", k);
	}
	return 0;
}

int dp_legs_parse(const char *text, const char *name, struct dp_legs *L, char *err, size_t errlen)
{
	char *copy = strdup(text), *line, *next;
	unsigned lineno = 0;
	enum { NONE, GATEWAY, LEG } sect = NONE;
	struct dp_leg_spec *cur = NULL;
	int rc = -1;

	memset(L, 0, sizeof(*L));
	if (!copy)
		return fail(err, errlen, name, "out of memory");
	/* not strtok_r: it skips empty lines, and every line after one would be misnumbered */
	for (line = copy; line; line = next) {
		char where[300], *s, *eq;
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		s = trim(line);
		lineno++;
		snprintf(where, sizeof(where), "%s:%u", name, lineno);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || end[1])
				{ fail(err, errlen, where, "bad section header"); goto out; }
			*end = 0;
			s = trim(s + 1);
			if (!strcmp(s, "gateway")) {
				sect = GATEWAY;
			} else if (!strncmp(s, "leg", 3) && isspace((unsigned char)s[3])) {
				char *n = trim(s + 4);
				if (!*n || strlen(n) >= DP_LEG_NAME)
					{ fail(err, errlen, where, "leg name must be 1-%d characters", DP_LEG_NAME - 1); goto out; }
				if (L->nlegs == L->cap) {
					unsigned ncap = L->cap ? 2 * L->cap : 16;
					struct dp_leg_spec *nl = realloc(L->legs, ncap * sizeof(*nl));
					if (!nl)
						{ fail(err, errlen, where, "out of memory"); goto out; }
					L->legs = nl;
					L->cap = ncap;
				}
				cur = &L->legs[L->nlegs++];
				spec_defaults(cur, lineno);
				snprintf(cur->cfg.name, sizeof(cur->cfg.name), "%s", n);
				sect = LEG;
			} else {
				fail(err, errlen, where, "unknown section [%s]", s);
				goto out;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			{ fail(err, errlen, where, "expected key = value"); goto out; }
		*eq = 0;
		char *k = trim(s), *v = trim(eq + 1);
		if (sect == GATEWAY) {
			uint64_t u;
			struct ice_addr a;
			if (!strcmp(k, "ip")) {
				if (ice_addr_parse(&a, v) || a.family != ICE_AF_INET || a.port)
					{ fail(err, errlen, where, "ip must be an IPv4 address"); goto out; }
				L->ip = ice_addr_v4(&a);
			} else if (!strcmp(k, "gw-mac")) {
				if (parse_mac(v, L->gw_mac))
					{ fail(err, errlen, where, "gw-mac must be xx:xx:xx:xx:xx:xx"); goto out; }
				L->have_gw_mac = true;
			} else if (!strcmp(k, "mac")) {
				if (parse_mac(v, L->mac))
					{ fail(err, errlen, where, "mac must be xx:xx:xx:xx:xx:xx"); goto out; }
				L->have_mac = true;
			} else if (!strcmp(k, "seed")) {
				if (parse_u64(v, UINT64_MAX, &u))
					{ fail(err, errlen, where, "seed must be a number"); goto out; }
				L->seed = u;
			} else {
				fail(err, errlen, where, "unknown key '%s'", k);
				goto out;
			}
		} else if (sect == LEG) {
			if (leg_key(cur, k, v, where, err, errlen))
				goto out;
		} else {
			fail(err, errlen, where, "key outside a section");
			goto out;
		}
	}
	for (unsigned i = 0; i < L->nlegs; i++) {
		struct dp_leg_spec *sp = &L->legs[i];
		char where[300];
		snprintf(where, sizeof(where), "%s:%u", name, sp->line);
		if (!sp->cfg.port)
			{ fail(err, errlen, where, "leg %s has no port", sp->cfg.name); goto out; }
		if (sp->cfg.ice && sp->cfg.ice_cfg.dialect != ICE_DIALECT_MSICE &&
		    (!sp->ufrag[0] || !sp->pwd[0]))
			{ fail(err, errlen, where, "leg %s needs ufrag and pwd", sp->cfg.name); goto out; }
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(L->legs[j].cfg.name, sp->cfg.name))
				{ fail(err, errlen, where, "leg %s defined twice", sp->cfg.name); goto out; }
	}
	rc = 0;
out:
	free(copy);
	if (rc)
		dp_legs_free(L);
	return rc;
}

int dp_legs_load(const char *path, struct dp_legs *L, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;
	int r;

	memset(L, 0, sizeof(*L));
	if (!f)
		return fail(err, errlen, path, "%s", strerror(errno));
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (16l << 20) || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return fail(err, errlen, path, "cannot read (or larger than 16 MiB)");
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return fail(err, errlen, path, "read error");
	}
	fclose(f);
	buf[n] = 0;
	if (memchr(buf, 0, (size_t)n)) {
		free(buf);
		return fail(err, errlen, path, "contains a NUL byte");
	}
	r = dp_legs_parse(buf, path, L, err, errlen);
	free(buf);
	return r;
}

int dp_legs_apply(const struct dp_legs *L, struct dp_core *c, uint64_t now, char *err, size_t errlen)
{
	return dp_legs_apply_worker(L, c, 0, 1, now, err, errlen);
}

int dp_legs_apply_worker(const struct dp_legs *L, struct dp_core *c, unsigned worker,
			 unsigned nworkers, uint64_t now, char *err, size_t errlen)
{
	int idx[L->nlegs ? L->nlegs : 1];

	if (L->have_mac)
		memcpy(c->mac, L->mac, 6);
	if (L->have_gw_mac) {
		memcpy(c->gw_mac, L->gw_mac, 6);
		c->have_gw_mac = true;
	}
	for (unsigned i = 0; i < L->nlegs; i++) {
		struct dp_leg_spec *sp = &L->legs[i];
		struct dp_leg_cfg cfg = sp->cfg;
		char where[DP_LEG_NAME + 32];

		idx[i] = -1;
		if (dp_owner(sp->cfg.port, nworkers) != worker)
			continue;
		snprintf(where, sizeof(where), "line %u: leg %s", sp->line, sp->cfg.name);
		cfg.ice_cfg.ufrag = sp->ufrag[0] ? sp->ufrag : NULL;
		cfg.ice_cfg.pwd = sp->pwd[0] ? sp->pwd : NULL;
		/* slot i, as on a single core: a leg's random choices are seeded by its slot */
		idx[i] = dp_core_add_leg_at(c, &cfg, i, now);
		if (idx[i] < 0)
			return fail(err, errlen, where, "cannot create leg: %s", strerror(-idx[i]));
		for (unsigned k = 0; k < sp->nrc; k++) {
			struct ice_remote_cand rc = sp->rc[k];
			int r;
			rc.foundation = sp->rc_fnd[k];
			if (sp->rc_msid[k][0]) {
				rc.ms_id = sp->rc_msid[k];
				rc.ms_pwd = sp->rc_mspwd[k];
			}
			r = dp_core_leg_add_remote(c, (uint32_t)idx[i], &rc, now);
			if (r < 0 && r != -ENOSPC)
				return fail(err, errlen, where, "remote candidate %u refused", k + 1);
		}
	}
	for (unsigned i = 0; i < L->nlegs; i++) {
		char where[DP_LEG_NAME + 32];
		int p;
		if (idx[i] < 0 || !L->legs[i].peer[0])
			continue;
		p = dp_core_find_leg(c, L->legs[i].peer);
		snprintf(where, sizeof(where), "line %u: leg %s", L->legs[i].line, L->legs[i].cfg.name);
		if (p < 0) {
			for (unsigned j = 0; j < L->nlegs; j++)
				if (!strcmp(L->legs[j].cfg.name, L->legs[i].peer))
					return fail(err, errlen, where,
						    "peer leg '%s' is on worker %u, this leg on %u: a pair's "
						    "ports must have one owner, (port / 2) %% workers",
						    L->legs[i].peer, dp_owner(L->legs[j].cfg.port, nworkers),
						    worker);
			return fail(err, errlen, where, "peer leg '%s' does not exist", L->legs[i].peer);
		}
		dp_core_pair(c, (uint32_t)idx[i], (uint32_t)p);
	}
	for (unsigned i = 0; i < L->nlegs; i++) {
		char where[DP_LEG_NAME + 32];
		if (idx[i] < 0)
			continue;
		snprintf(where, sizeof(where), "line %u: leg %s", L->legs[i].line, L->legs[i].cfg.name);
		if (dp_core_start_leg(c, (uint32_t)idx[i], now) < 0)
			return fail(err, errlen, where, "cannot start ICE");
	}
	return 0;
}

void dp_legs_free(struct dp_legs *L)
{
	free(L->legs);
	L->legs = NULL;
	L->nlegs = L->cap = 0;
}

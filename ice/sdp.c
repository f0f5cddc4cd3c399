/* Parser and emitter for the ICE attributes of SDP. Input comes from any SIP peer, so every
 * read is bounded by an explicit length, nothing is allocated, and over-capacity is counted. */
#include "sdp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* inet_ntop text of an IPv6 address, NUL included (RFC 4291 §2.2 longest form). */
#define INET6_ADDRSTRLEN_SDP 48

/* A borrowed piece of the input: never NUL-terminated, never written. */
struct sl {
	const char *p;
	size_t n;
};

static const char *const err_names[] = {
	[0] = "ok",
	[-SDP_E_INVAL] = "invalid argument",
	[-SDP_E_TOO_LONG] = "line too long",
	[-SDP_E_SYNTAX] = "malformed line",
	[-SDP_E_MISSING] = "missing field",
	[-SDP_E_FOUNDATION] = "bad foundation or candidate identifier",
	[-SDP_E_COMPONENT] = "bad component id",
	[-SDP_E_TRANSPORT] = "unknown transport",
	[-SDP_E_PRIORITY] = "bad priority",
	[-SDP_E_ADDR] = "bad address",
	[-SDP_E_PORT] = "bad port",
	[-SDP_E_TYPE] = "unknown candidate type",
	[-SDP_E_TCPTYPE] = "bad tcptype",
	[-SDP_E_QVALUE] = "bad q-value",
	[-SDP_E_PASSWORD] = "bad candidate password",
	[-SDP_E_TOO_MANY] = "too many entries",
	[-SDP_E_TOO_MANY_MEDIA] = "too many media sections",
	[-SDP_E_UFRAG] = "bad ice-ufrag",
	[-SDP_E_PWD] = "bad ice-pwd",
	[-SDP_E_SCOPE] = "media-level attribute at session level",
	[-SDP_E_NOSPACE] = "output buffer too small",
	[-SDP_E_EMPTY] = "empty input",
	[-SDP_E_MEDIA] = "malformed m= line",
};

const char *sdp_strerror(int err)
{
	if (err > 0 || err < SDP_E_ERR_MIN)
		return "unknown error";
	return err_names[-err];
}

static const char *const tp_names[] = {
	[SDP_TP_NONE] = "",
	[SDP_TP_UDP] = "UDP",
	[SDP_TP_TCP] = "TCP",
	[SDP_TP_TCP_ACT] = "TCP-ACT",
	[SDP_TP_TCP_PASS] = "TCP-PASS",
	[SDP_TP_TCP_SO] = "TCP-SO",
};

const char *sdp_transport_name(enum sdp_transport t)
{
	if ((unsigned)t >= sizeof(tp_names) / sizeof(tp_names[0]))
		return "";
	return tp_names[t];
}

static const char *const type_names[] = {
	[SDP_CAND_NONE] = "",
	[SDP_CAND_HOST] = "host",
	[SDP_CAND_SRFLX] = "srflx",
	[SDP_CAND_PRFLX] = "prflx",
	[SDP_CAND_RELAY] = "relay",
};

const char *sdp_cand_type_name(enum sdp_cand_type t)
{
	if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "";
	return type_names[t];
}

static const char *const tcptype_names[] = {
	[SDP_TCPTYPE_NONE] = "",
	[SDP_TCPTYPE_ACTIVE] = "active",
	[SDP_TCPTYPE_PASSIVE] = "passive",
	[SDP_TCPTYPE_SO] = "so",
};

/* ---- small helpers over slices ------------------------------------------------------- */

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 8839 §5.1: ice-char = ALPHA / DIGIT / "+" / "/" */
static bool is_ice_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '+' || c == '/';
}

/* Draft-06 identifiers and passwords are base64; senders may or may not keep the padding. */
static bool is_b64_char(char c)
{
	return is_ice_char(c) || c == '=';
}

static bool sl_eq_ci(struct sl s, const char *lit)
{
	size_t n = strlen(lit);

	if (s.n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s.p[i]) != lower(lit[i]))
			return false;
	return true;
}

static bool sl_prefix_ci(struct sl s, const char *lit)
{
	size_t n = strlen(lit);

	if (s.n < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s.p[i]) != lower(lit[i]))
			return false;
	return true;
}

static bool sl_all(struct sl s, bool (*ok)(char))
{
	for (size_t i = 0; i < s.n; i++)
		if (!ok(s.p[i]))
			return false;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Tokens are separated by SP in the grammar; runs of blanks are tolerated. */
static bool next_tok(struct sl *rest, struct sl *tok)
{
	size_t i = 0;

	while (i < rest->n && is_blank(rest->p[i]))
		i++;
	if (i == rest->n) {
		rest->p += i;
		rest->n = 0;
		return false;
	}
	tok->p = rest->p + i;
	tok->n = 0;
	while (i + tok->n < rest->n && !is_blank(rest->p[i + tok->n]))
		tok->n++;
	rest->p += i + tok->n;
	rest->n -= i + tok->n;
	return true;
}

static bool copy_sl(char *dst, size_t cap, struct sl s)
{
	if (s.n >= cap)
		return false;
	memcpy(dst, s.p, s.n);
	dst[s.n] = 0;
	return true;
}

/* Decimal digits only (so "-1" and "+1" fail), at most max_digits of them. */
static bool parse_u64(struct sl s, size_t max_digits, uint64_t *out)
{
	uint64_t v = 0;

	if (s.n == 0 || s.n > max_digits)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (!is_digit(s.p[i]))
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	*out = v;
	return true;
}

/* RFC 8866 §5.14: port = 1*DIGIT, a 16-bit value. */
static int parse_port(struct sl s, uint16_t *port)
{
	uint64_t v;

	if (!parse_u64(s, 5, &v) || v > 65535)
		return SDP_E_PORT;
	*port = (uint16_t)v;
	return 0;
}

static int parse_ip(struct sl s, struct ice_addr *a)
{
	char tmp[64];

	if (!copy_sl(tmp, sizeof(tmp), s) || ice_addr_parse_ip_port(a, tmp, 0) != 0)
		return SDP_E_ADDR;
	return 0;
}

/* RFC 1123 §2.1 letter-digit-hyphen labels; one letter somewhere so "1.2.3" is not a name. */
static bool plausible_hostname(struct sl s)
{
	size_t label = 0;
	bool alpha = false;

	if (s.n == 0 || s.n > SDP_HOST_MAX)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c == '.') {
			if (label == 0 || s.p[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(is_alpha(c) || is_digit(c) || c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (is_alpha(c))
			alpha = true;
		if (++label > 63)
			return false;
	}
	return alpha;
}

/* RFC 8839 §5.1: connection-address is an IPv4/IPv6 address or an FQDN; draft-ietf-mmusic-
 * mdns-ice-candidates puts "<uuid>.local" there. Names are kept unresolved. */
static int parse_conn_addr(struct sdp_candidate *c, struct sl s)
{
	if (parse_ip(s, &c->addr) == 0)
		return 0;
	memset(&c->addr, 0, sizeof(c->addr));
	if (memchr(s.p, ':', s.n) || !plausible_hostname(s))
		return SDP_E_ADDR;
	copy_sl(c->hostname, sizeof(c->hostname), s);
	c->flags |= SDP_CAND_F_HOSTNAME;
	/* RFC 6762 §3 */
	if (s.n > 6 && sl_eq_ci((struct sl){ s.p + s.n - 6, 6 }, ".local"))
		c->flags |= SDP_CAND_F_MDNS;
	return 0;
}

static int parse_transport(struct sl s, uint8_t *tp, uint8_t *tcptype)
{
	static const struct {
		const char *name;
		uint8_t tp, tcptype;
	} map[] = {
		{ "UDP", SDP_TP_UDP, SDP_TCPTYPE_NONE },
		{ "TCP", SDP_TP_TCP, SDP_TCPTYPE_NONE },
		/* Microsoft: the TCP role travels in the transport token (see sdp.h) */
		{ "TCP-ACT", SDP_TP_TCP_ACT, SDP_TCPTYPE_ACTIVE },
		{ "TCP-PASS", SDP_TP_TCP_PASS, SDP_TCPTYPE_PASSIVE },
		{ "TCP-SO", SDP_TP_TCP_SO, SDP_TCPTYPE_SO },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (sl_eq_ci(s, map[i].name)) {
			*tp = map[i].tp;
			*tcptype = map[i].tcptype;
			return 0;
		}
	}
	return SDP_E_TRANSPORT;
}

static int parse_type(struct sl s, uint8_t *type)
{
	for (unsigned t = SDP_CAND_HOST; t <= SDP_CAND_RELAY; t++) {
		if (sl_eq_ci(s, type_names[t])) {
			*type = (uint8_t)t;
			return 0;
		}
	}
	return SDP_E_TYPE;
}

/* RFC 8839 §5.1: component-id = 1*3DIGIT, 1..256 (RFC 8445 §5.1.1.1). */
static int parse_component(struct sl s, uint16_t *comp)
{
	uint64_t v;

	if (!parse_u64(s, 3, &v) || v < 1 || v > 256)
		return SDP_E_COMPONENT;
	*comp = (uint16_t)v;
	return 0;
}

/* [MS-ICE] candidates carry a SIP-style qvalue (RFC 3261 §25.1):
 * "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]. Kept in thousandths. */
static int parse_qvalue(struct sl s, uint16_t *q)
{
	unsigned v, scale = 100;

	if (s.n == 0 || s.n > 5 || (s.p[0] != '0' && s.p[0] != '1'))
		return SDP_E_QVALUE;
	v = (unsigned)(s.p[0] - '0') * 1000;
	if (s.n > 1) {
		if (s.p[1] != '.')
			return SDP_E_QVALUE;
		for (size_t i = 2; i < s.n; i++) {
			if (!is_digit(s.p[i]))
				return SDP_E_QVALUE;
			v += (unsigned)(s.p[i] - '0') * scale;
			scale /= 10;
		}
	}
	if (v > 1000)
		return SDP_E_QVALUE;
	*q = (uint16_t)v;
	return 0;
}

/* Everything after "typ <type>" (RFC form) or after the port (draft-06): rel-addr, rel-port,
 * tcptype (RFC 6544 §4.5) and extension name/value pairs (RFC 8839 §5.1). */
static int parse_tail(struct sdp_candidate *c, struct sl rest, bool allow_typ)
{
	struct sl name, val;
	bool have_raddr = false, have_rport = false, tcptype_seen = false;
	uint8_t implied = c->tcptype;
	uint16_t rport = 0;

	while (next_tok(&rest, &name)) {
		if (!next_tok(&rest, &val))
			return SDP_E_MISSING;
		if (allow_typ && sl_eq_ci(name, "typ")) {
			int rc = parse_type(val, &c->type);

			if (rc)
				return rc;
			allow_typ = false;
		} else if (sl_eq_ci(name, "raddr")) {
			/* [MS-SDPEXT] §3.1.5.21.1: an IPv6 rel-addr may accompany an IPv4 address */
			if (parse_ip(val, &c->raddr))
				return SDP_E_ADDR;
			have_raddr = true;
		} else if (sl_eq_ci(name, "rport")) {
			if (parse_port(val, &rport))
				return SDP_E_PORT;
			have_rport = true;
		} else if (sl_eq_ci(name, "tcptype")) {
			uint8_t t = SDP_TCPTYPE_NONE;

			for (unsigned i = SDP_TCPTYPE_ACTIVE; i <= SDP_TCPTYPE_SO; i++)
				if (sl_eq_ci(val, tcptype_names[i]))
					t = (uint8_t)i;
			if (t == SDP_TCPTYPE_NONE || c->transport == SDP_TP_UDP ||
			    (implied != SDP_TCPTYPE_NONE && implied != t) || tcptype_seen)
				return SDP_E_TCPTYPE;
			c->tcptype = t;
			tcptype_seen = true;
		} else if (c->n_ext < SDP_EXT_MAX && name.n <= SDP_EXT_NAME_MAX &&
			   val.n <= SDP_EXT_VALUE_MAX) {
			struct sdp_ext *e = &c->ext[c->n_ext++];

			copy_sl(e->name, sizeof(e->name), name);
			copy_sl(e->value, sizeof(e->value), val);
		} else {
			c->ext_dropped++;
		}
	}
	if (have_raddr != have_rport)
		return SDP_E_MISSING;
	if (have_raddr) {
		c->raddr.port = rport;
		c->flags |= SDP_CAND_F_RADDR;
	}
	return 0;
}

static int parse_rfc(struct sdp_candidate *c, struct sl *t)
{
	uint64_t prio;
	int rc;

	/* RFC 8839 §5.1 */
	if (t[0].n < 1 || t[0].n > SDP_FOUNDATION_MAX || !sl_all(t[0], is_ice_char))
		return SDP_E_FOUNDATION;
	copy_sl(c->foundation, sizeof(c->foundation), t[0]);
	if ((rc = parse_component(t[1], &c->component)))
		return rc;
	if ((rc = parse_transport(t[2], &c->transport, &c->tcptype)))
		return rc;
	/* RFC 8839 §5.1: priority = 1*10DIGIT; RFC 8445 §5.1.2.1 asks for 1..2^31-1, but any
	 * positive 32-bit value is kept so that a sloppy peer does not lose its candidate. */
	if (!parse_u64(t[3], 10, &prio) || prio < 1 || prio > UINT32_MAX)
		return SDP_E_PRIORITY;
	c->priority = (uint32_t)prio;
	if ((rc = parse_conn_addr(c, t[4])))
		return rc;
	if ((rc = parse_port(t[5], &c->addr.port)))
		return rc;
	if (!sl_eq_ci(t[6], "typ"))
		return SDP_E_SYNTAX;
	return 0;
}

static int parse_draft06(struct sdp_candidate *c, struct sl *t)
{
	int rc;

	/* [MS-ICE] §3.1.4.8.1.4: identifier and password are random strings, base64 in SDP */
	if (t[0].n < 1 || t[0].n > SDP_ID_MAX || !sl_all(t[0], is_b64_char))
		return SDP_E_FOUNDATION;
	copy_sl(c->foundation, sizeof(c->foundation), t[0]);
	if ((rc = parse_component(t[1], &c->component)))
		return rc;
	if (t[2].n < 1 || t[2].n > SDP_CAND_PWD_MAX || !sl_all(t[2], is_b64_char))
		return SDP_E_PASSWORD;
	copy_sl(c->password, sizeof(c->password), t[2]);
	if ((rc = parse_transport(t[3], &c->transport, &c->tcptype)))
		return rc;
	if ((rc = parse_qvalue(t[4], &c->qvalue)))
		return rc;
	if ((rc = parse_conn_addr(c, t[5])))
		return rc;
	return parse_port(t[6], &c->addr.port);
}

static int parse_value(struct sdp_candidate *c, struct sl rest)
{
	struct sl t[7];
	uint8_t tp, tt;
	int rc;

	for (int i = 0; i < 7; i++)
		if (!next_tok(&rest, &t[i]))
			return SDP_E_MISSING;
	/* Shape decides the grammar: RFC lines have "typ" seventh and a number fourth; draft-06
	 * lines have a transport fourth and the port seventh (seen in Lync's
	 * ms-proxy-2007fallback body part, which has no ice-ufrag/ice-pwd). */
	if (!sl_eq_ci(t[6], "typ") && parse_transport(t[3], &tp, &tt) == 0) {
		c->form = SDP_FORM_DRAFT06;
		if ((rc = parse_draft06(c, t)))
			return rc;
		return parse_tail(c, rest, true);
	}
	c->form = SDP_FORM_RFC8839;
	if ((rc = parse_rfc(c, t)))
		return rc;
	{
		struct sl typ_val;

		if (!next_tok(&rest, &typ_val))
			return SDP_E_MISSING;
		if ((rc = parse_type(typ_val, &c->type)))
			return rc;
	}
	return parse_tail(c, rest, false);
}

static struct sl trim_line(const char *line, size_t len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || is_blank(line[len - 1])))
		len--;
	return (struct sl){ line, len };
}

int sdp_parse_candidate_n(struct sdp_candidate *c, const char *line, size_t len)
{
	struct sl s;
	int rc;

	if (!c || (!line && len))
		return SDP_E_INVAL;
	memset(c, 0, sizeof(*c));
	s = trim_line(line, len);
	if (s.n > SDP_LINE_MAX)
		return SDP_E_TOO_LONG;
	/* RFC 8866 §9: byte-string excludes NUL, CR and LF */
	if (s.n && (memchr(s.p, 0, s.n) || memchr(s.p, '\r', s.n) || memchr(s.p, '\n', s.n)))
		return SDP_E_SYNTAX;
	if (sl_prefix_ci(s, "a=")) {
		s.p += 2;
		s.n -= 2;
	}
	if (sl_prefix_ci(s, "candidate:")) {
		s.p += 10;
		s.n -= 10;
	} else if (sl_prefix_ci(s, "x-candidate-ipv6:")) {
		/* [MS-SDPEXT] §3.1.5.21.2: same grammar, hidden from IPv4-only parsers */
		s.p += 17;
		s.n -= 17;
		c->flags |= SDP_CAND_F_X_IPV6;
	} else {
		return SDP_E_SYNTAX;
	}
	rc = parse_value(c, s);
	if (rc)
		memset(c, 0, sizeof(*c));
	return rc;
}

int sdp_parse_candidate(struct sdp_candidate *c, const char *line)
{
	if (!line)
		return SDP_E_INVAL;
	return sdp_parse_candidate_n(c, line, strlen(line));
}

bool sdp_candidate_eq(const struct sdp_candidate *a, const struct sdp_candidate *b)
{
	if (strcmp(a->foundation, b->foundation) || strcmp(a->password, b->password) ||
	    a->component != b->component || a->transport != b->transport ||
	    a->tcptype != b->tcptype || a->type != b->type || a->form != b->form ||
	    a->flags != b->flags || a->qvalue != b->qvalue || a->priority != b->priority ||
	    a->n_ext != b->n_ext)
		return false;
	if (a->addr.port != b->addr.port)
		return false;
	if (a->flags & SDP_CAND_F_HOSTNAME) {
		if (strcmp(a->hostname, b->hostname))
			return false;
	} else if (!ice_addr_eq(&a->addr, &b->addr)) {
		return false;
	}
	if ((a->flags & SDP_CAND_F_RADDR) && !ice_addr_eq(&a->raddr, &b->raddr))
		return false;
	for (unsigned i = 0; i < a->n_ext; i++)
		if (strcmp(a->ext[i].name, b->ext[i].name) || strcmp(a->ext[i].value, b->ext[i].value))
			return false;
	return true;
}

/* ---- body ------------------------------------------------------------------------------ */

static void record_error(struct sdp_session *s, int err, unsigned lineno)
{
	s->lines_skipped++;
	if (!s->first_error) {
		s->first_error = err;
		s->first_error_line = lineno;
	}
}

/* RFC 8839 §5.4: ice-ufrag = 4*256ice-char, ice-pwd = 22*256ice-char. Shorter values are
 * accepted and flagged: deployed pjsip versions send an 8-character password. */
static int parse_cred(struct sl v, char *dst, size_t min, bool *short_creds, int err)
{
	v = trim_line(v.p, v.n);
	if (v.n < 1 || v.n > SDP_CRED_MAX || !sl_all(v, is_ice_char))
		return err;
	copy_sl(dst, SDP_CRED_MAX + 1, v);
	if (v.n < min)
		*short_creds = true;
	return 0;
}

static void parse_options(struct sdp_ice_params *p, struct sl v)
{
	struct sl tok;

	/* RFC 8839 §5.6: a new ice-options line replaces the previous one */
	p->has_options = true;
	p->n_options = 0;
	p->opt_flags = 0;
	p->options_dropped = 0;
	while (next_tok(&v, &tok)) {
		if (sl_eq_ci(tok, "trickle"))
			p->opt_flags |= SDP_OPT_F_TRICKLE;
		else if (sl_eq_ci(tok, "ice2"))
			p->opt_flags |= SDP_OPT_F_ICE2;
		if (p->n_options < SDP_OPT_MAX && tok.n <= SDP_OPT_LEN)
			copy_sl(p->options[p->n_options++], SDP_OPT_LEN + 1, tok);
		else
			p->options_dropped++;
	}
}

/* RFC 8866 §5.7: c=<nettype> <addrtype> <connection-address>, multicast "/ttl[/n]" dropped. */
static int parse_c_line(struct sl v, struct ice_addr *a)
{
	struct sl net, atype, addr;
	size_t i;

	if (!next_tok(&v, &net) || !next_tok(&v, &atype) || !next_tok(&v, &addr))
		return SDP_E_MISSING;
	if (!sl_eq_ci(net, "IN"))
		return SDP_E_SYNTAX;
	for (i = 0; i < addr.n && addr.p[i] != '/'; i++)
		;
	addr.n = i;
	if (parse_ip(addr, a))
		return SDP_E_ADDR;
	if ((sl_eq_ci(atype, "IP4") && a->family != ICE_AF_INET) ||
	    (sl_eq_ci(atype, "IP6") && a->family != ICE_AF_INET6) ||
	    (!sl_eq_ci(atype, "IP4") && !sl_eq_ci(atype, "IP6")))
		return SDP_E_ADDR;
	return 0;
}

/* RFC 8866 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
static int parse_m_line(struct sdp_media *m, struct sl v)
{
	struct sl media, port, proto, fmt;
	size_t slash, pos = 0;
	uint64_t n = 1;
	int rc;

	memset(m, 0, sizeof(*m));
	if (!next_tok(&v, &media) || !next_tok(&v, &port) || !next_tok(&v, &proto))
		return SDP_E_MEDIA;
	if (!copy_sl(m->type, sizeof(m->type), media) || !copy_sl(m->proto, sizeof(m->proto), proto))
		return SDP_E_MEDIA;
	for (slash = 0; slash < port.n && port.p[slash] != '/'; slash++)
		;
	if (slash < port.n) {
		struct sl cnt = { port.p + slash + 1, port.n - slash - 1 };

		if (!parse_u64(cnt, 5, &n) || n < 1 || n > 65535)
			return SDP_E_PORT;
		port.n = slash;
	}
	if ((rc = parse_port(port, &m->ice.port)))
		return rc;
	m->n_ports = (uint16_t)n;
	while (next_tok(&v, &fmt)) {
		size_t need = fmt.n + (pos ? 1 : 0);

		if (pos + need > SDP_FMT_MAX) {
			m->fmt_truncated = true;
			break;
		}
		if (pos)
			m->fmt[pos++] = ' ';
		memcpy(m->fmt + pos, fmt.p, fmt.n);
		pos += fmt.n;
	}
	m->fmt[pos] = 0;
	return 0;
}

/* RFC 8839 §5.2: remote-candidates = *(SP component-id SP connection-address SP port) */
static int parse_remote(struct sdp_ice_media *m, struct sl v)
{
	struct sl comp, addr, port;
	struct sdp_remote r[SDP_REMOTE_MAX];
	unsigned n = 0;
	int rc;

	while (next_tok(&v, &comp)) {
		if (!next_tok(&v, &addr) || !next_tok(&v, &port))
			return SDP_E_MISSING;
		if (n == SDP_REMOTE_MAX)
			return SDP_E_TOO_MANY;
		memset(&r[n], 0, sizeof(r[n]));
		if ((rc = parse_component(comp, &r[n].component)))
			return rc;
		if (parse_ip(addr, &r[n].addr))
			return SDP_E_ADDR;
		if ((rc = parse_port(port, &r[n].addr.port)))
			return rc;
		n++;
	}
	if (n == 0)
		return SDP_E_MISSING;
	memcpy(m->remote, r, n * sizeof(r[0]));
	m->n_remote = (uint8_t)n;
	m->has_remote = true;
	return 0;
}

/* [MS-SDPEXT] §3.1.5.36: x-candidate-info:<foundation> *(SP name "=" value) */
static int parse_info(struct sdp_ice_media *m, struct sl v)
{
	struct sl f, kv;
	struct sdp_cand_info *ci;

	if (!next_tok(&v, &f))
		return SDP_E_MISSING;
	if (f.n > SDP_ID_MAX || !sl_all(f, is_b64_char))
		return SDP_E_FOUNDATION;
	if (m->n_info == SDP_INFO_MAX)
		return SDP_E_TOO_MANY;
	ci = &m->info[m->n_info];
	memset(ci, 0, sizeof(*ci));
	copy_sl(ci->foundation, sizeof(ci->foundation), f);
	while (next_tok(&v, &kv)) {
		if (sl_prefix_ci(kv, "network-type=")) {
			struct sl val = { kv.p + 13, kv.n - 13 };

			if (!copy_sl(ci->network_type, sizeof(ci->network_type), val))
				return SDP_E_SYNTAX;
		}
	}
	m->n_info++;
	return 0;
}

/* RFC 3605 §2.1: rtcp-attribute = "a=rtcp:" port [nettype space addrtype space address] */
static int parse_rtcp(struct sdp_ice_media *m, struct sl v)
{
	struct sl port;
	uint16_t p;
	struct ice_addr a;
	int rc;

	memset(&a, 0, sizeof(a));
	if (!next_tok(&v, &port))
		return SDP_E_MISSING;
	if ((rc = parse_port(port, &p)))
		return rc;
	v = trim_line(v.p, v.n);
	if (v.n && (rc = parse_c_line(v, &a)))
		return rc;
	m->has_rtcp = true;
	m->rtcp_port = p;
	m->rtcp_addr = a;
	if (a.family)
		m->rtcp_addr.port = p;
	return 0;
}

static int add_candidate(struct sdp_ice_media *m, struct sl line)
{
	struct sdp_candidate c;
	int rc = sdp_parse_candidate_n(&c, line.p, line.n);

	if (rc == 0 && m->n_cand == SDP_CAND_MAX)
		rc = SDP_E_TOO_MANY;
	if (rc) {
		m->cand_skipped++;
		return rc;
	}
	m->cand[m->n_cand++] = c;
	m->forms_seen |= (uint8_t)(1u << c.form);
	return 0;
}

static int handle_attr(struct sdp_session *s, struct sdp_media *cur, struct sl line)
{
	struct sl a = { line.p + 2, line.n - 2 }, name, val;
	struct sdp_ice_params *p = cur ? &cur->ice.params : &s->params;
	size_t i;

	for (i = 0; i < a.n && a.p[i] != ':'; i++)
		;
	name = (struct sl){ a.p, i };
	val = (i < a.n) ? (struct sl){ a.p + i + 1, a.n - i - 1 } : (struct sl){ a.p + a.n, 0 };
	name = trim_line(name.p, name.n);

	if (sl_eq_ci(name, "ice-ufrag")) {
		int rc = parse_cred(val, p->ufrag, 4, &p->short_creds, SDP_E_UFRAG);

		if (rc == 0)
			p->has_ufrag = true;
		return rc;
	}
	if (sl_eq_ci(name, "ice-pwd")) {
		int rc = parse_cred(val, p->pwd, 22, &p->short_creds, SDP_E_PWD);

		if (rc == 0)
			p->has_pwd = true;
		return rc;
	}
	if (sl_eq_ci(name, "ice-lite")) {
		p->lite = true;  /* RFC 8839 §5.3 */
		return 0;
	}
	if (sl_eq_ci(name, "ice-mismatch")) {
		p->mismatch = true;  /* RFC 8839 §5.5 */
		return 0;
	}
	if (sl_eq_ci(name, "ice-options")) {
		parse_options(p, val);
		return 0;
	}
	if (sl_eq_ci(name, "end-of-candidates")) {
		p->end_of_candidates = true;  /* RFC 8840 §8.2 */
		return 0;
	}
	/* the rest is media-level only (RFC 8839 §5.1, §5.2; [MS-SDPEXT]; RFC 3605; RFC 5761) */
	if (sl_eq_ci(name, "candidate") || sl_eq_ci(name, "x-candidate-ipv6")) {
		if (!cur)
			return SDP_E_SCOPE;
		return add_candidate(&cur->ice, line);
	}
	if (sl_eq_ci(name, "remote-candidates"))
		return cur ? parse_remote(&cur->ice, val) : SDP_E_SCOPE;
	if (sl_eq_ci(name, "remote-candidate")) {
		struct sl id;

		if (!cur)
			return SDP_E_SCOPE;
		if (!next_tok(&val, &id))
			return SDP_E_MISSING;
		if (id.n > SDP_ID_MAX || !sl_all(id, is_b64_char))
			return SDP_E_FOUNDATION;
		copy_sl(cur->ice.remote_candidate, sizeof(cur->ice.remote_candidate), id);
		return 0;
	}
	if (sl_eq_ci(name, "x-candidate-info"))
		return cur ? parse_info(&cur->ice, val) : SDP_E_SCOPE;
	if (sl_eq_ci(name, "rtcp"))
		return cur ? parse_rtcp(&cur->ice, val) : SDP_E_SCOPE;
	if (sl_eq_ci(name, "rtcp-mux")) {
		if (!cur)
			return SDP_E_SCOPE;
		cur->ice.rtcp_mux = true;
		return 0;
	}
	return 1;  /* not ours */
}

static bool interesting_attr(struct sl line)
{
	static const char *const names[] = {
		"a=ice-", "a=candidate", "a=x-candidate", "a=remote-candidate",
		"a=end-of-candidates", "a=rtcp",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (sl_prefix_ci(line, names[i]))
			return true;
	return false;
}

int sdp_parse(struct sdp_session *s, const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	struct sdp_media *cur = NULL;
	bool skipping = false, any = false;
	unsigned lineno = 0;

	if (!s || (!body && len))
		return SDP_E_INVAL;
	/* media[] is nearly all of the struct (~35 KiB a section): parse_m_line clears a section
	 * when it starts, so only the session-level part is cleared here */
	memset(s, 0, offsetof(struct sdp_session, media));
	if (len == 0)
		return SDP_E_EMPTY;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct sl line = { p, (size_t)((nl ? nl : end) - p) };
		int rc = 0;

		p = nl ? nl + 1 : end;
		lineno++;
		s->lines++;
		/* RFC 8866 §5: CRLF ends a line; a bare LF is tolerated, as is trailing blank */
		line = trim_line(line.p, line.n);
		if (line.n == 0)
			continue;
		any = true;
		if (line.n < 2 || line.p[1] != '=' || memchr(line.p, 0, line.n) ||
		    memchr(line.p, '\r', line.n)) {
			record_error(s, SDP_E_SYNTAX, lineno);
			continue;
		}
		if (line.p[0] == 'm') {
			if (s->n_media == SDP_MEDIA_MAX) {
				s->media_skipped++;
				skipping = true;
				cur = NULL;
				record_error(s, SDP_E_TOO_MANY_MEDIA, lineno);
				continue;
			}
			if (line.n > SDP_LINE_MAX) {
				rc = SDP_E_TOO_LONG;
			} else {
				rc = parse_m_line(&s->media[s->n_media], (struct sl){ line.p + 2, line.n - 2 });
			}
			if (rc) {
				memset(&s->media[s->n_media], 0, sizeof(s->media[0]));
				s->media_skipped++;
				skipping = true;
				cur = NULL;
				record_error(s, rc, lineno);
				continue;
			}
			cur = &s->media[s->n_media++];
			skipping = false;
			continue;
		}
		if (skipping)
			continue;
		if (line.p[0] == 'c') {
			struct sdp_ice_params *prm = cur ? &cur->ice.params : &s->params;

			rc = line.n > SDP_LINE_MAX ? SDP_E_TOO_LONG
				: parse_c_line((struct sl){ line.p + 2, line.n - 2 }, &prm->conn);
			if (rc) {
				memset(&prm->conn, 0, sizeof(prm->conn));
				prm->has_conn = false;
				record_error(s, rc, lineno);
			} else {
				prm->has_conn = true;
			}
			continue;
		}
		if (line.p[0] != 'a' || !interesting_attr(line))
			continue;
		if (line.n > SDP_LINE_MAX) {
			if (cur && (sl_prefix_ci(line, "a=candidate") || sl_prefix_ci(line, "a=x-candidate-ipv6")))
				cur->ice.cand_skipped++;
			record_error(s, SDP_E_TOO_LONG, lineno);
			continue;
		}
		rc = handle_attr(s, cur, line);
		if (rc < 0)
			record_error(s, rc, lineno);
	}
	return any ? 0 : SDP_E_EMPTY;
}

void sdp_ice_merge(struct sdp_ice_params *m, const struct sdp_ice_params *sess)
{
	if (!m->has_ufrag && sess->has_ufrag) {
		memcpy(m->ufrag, sess->ufrag, sizeof(m->ufrag));
		m->has_ufrag = true;
	}
	if (!m->has_pwd && sess->has_pwd) {
		memcpy(m->pwd, sess->pwd, sizeof(m->pwd));
		m->has_pwd = true;
	}
	m->short_creds = (m->has_ufrag && strlen(m->ufrag) < 4) || (m->has_pwd && strlen(m->pwd) < 22);
	if (!m->has_options && sess->has_options) {
		m->has_options = true;
		m->opt_flags = sess->opt_flags;
		m->n_options = sess->n_options;
		m->options_dropped = sess->options_dropped;
		memcpy(m->options, sess->options, sizeof(m->options));
	}
	m->lite |= sess->lite;
	m->mismatch |= sess->mismatch;
	m->end_of_candidates |= sess->end_of_candidates;
	if (!m->has_conn && sess->has_conn) {
		m->conn = sess->conn;
		m->has_conn = true;
	}
}

/* ---- emit ------------------------------------------------------------------------------ */

struct out {
	char *buf;
	size_t len, pos;
	bool over;
};

__attribute__((format(printf, 2, 3)))
static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->over)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->pos) {
		o->over = true;
		o->buf[o->pos] = 0;
		return;
	}
	o->pos += (size_t)n;
}

static const char *addr_text(const struct sdp_candidate *c, char *tmp, size_t n)
{
	if (c->flags & SDP_CAND_F_HOSTNAME)
		return c->hostname;
	return ice_addr_fmt_ip(&c->addr, tmp, n);
}

static bool tok_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (is_blank(*s) || *s == '\r' || *s == '\n')
			return false;
	return true;
}

static int fmt_tail(struct out *o, const struct sdp_candidate *c)
{
	char tmp[INET6_ADDRSTRLEN_SDP];

	if (c->type != SDP_CAND_NONE)
		outf(o, " typ %s", sdp_cand_type_name(c->type));
	if (c->flags & SDP_CAND_F_RADDR)
		outf(o, " raddr %s rport %u", ice_addr_fmt_ip(&c->raddr, tmp, sizeof(tmp)),
		     c->raddr.port);
	/* RFC 6544 §4.5; the Microsoft tokens already say it */
	if (c->transport == SDP_TP_TCP && c->tcptype != SDP_TCPTYPE_NONE)
		outf(o, " tcptype %s", tcptype_names[c->tcptype]);
	for (unsigned i = 0; i < c->n_ext && i < SDP_EXT_MAX; i++) {
		if (!tok_ok(c->ext[i].name) || !tok_ok(c->ext[i].value))
			return SDP_E_SYNTAX;
		outf(o, " %s %s", c->ext[i].name, c->ext[i].value);
	}
	return 0;
}

static int fmt_cand(struct out *o, const struct sdp_candidate *c, enum sdp_form form)
{
	char tmp[INET6_ADDRSTRLEN_SDP];
	size_t flen = strnlen(c->foundation, sizeof(c->foundation));

	if (c->component < 1 || c->component > 256)
		return SDP_E_COMPONENT;
	if (c->transport < SDP_TP_UDP || c->transport > SDP_TP_TCP_SO)
		return SDP_E_TRANSPORT;
	if (!(c->flags & SDP_CAND_F_HOSTNAME) && c->addr.family != ICE_AF_INET &&
	    c->addr.family != ICE_AF_INET6)
		return SDP_E_ADDR;
	if ((c->flags & SDP_CAND_F_HOSTNAME) && !tok_ok(c->hostname))
		return SDP_E_ADDR;
	if (c->type > SDP_CAND_RELAY || c->tcptype > SDP_TCPTYPE_SO)
		return SDP_E_TYPE;
	if (form == SDP_FORM_DRAFT06) {
		if (flen < 1 || flen > SDP_ID_MAX || !tok_ok(c->foundation))
			return SDP_E_FOUNDATION;
		if (!tok_ok(c->password) || strnlen(c->password, sizeof(c->password)) > SDP_CAND_PWD_MAX)
			return SDP_E_PASSWORD;
		if (c->qvalue > 1000)
			return SDP_E_QVALUE;
		/* [MS-ICE] draft-06 line: id component password transport q-value address port */
		outf(o, "candidate:%s %u %s %s %u.%03u %s %u", c->foundation, c->component,
		     c->password, sdp_transport_name(c->transport), c->qvalue / 1000u,
		     c->qvalue % 1000u, addr_text(c, tmp, sizeof(tmp)), c->addr.port);
	} else {
		if (flen < 1 || flen > SDP_FOUNDATION_MAX || !tok_ok(c->foundation))
			return SDP_E_FOUNDATION;
		if (c->priority < 1)
			return SDP_E_PRIORITY;
		if (c->type == SDP_CAND_NONE)
			return SDP_E_TYPE;
		/* RFC 8839 §5.1 */
		outf(o, "candidate:%s %u %s %u %s %u", c->foundation, c->component,
		     sdp_transport_name(c->transport), c->priority, addr_text(c, tmp, sizeof(tmp)),
		     c->addr.port);
	}
	return fmt_tail(o, c);
}

int sdp_fmt_candidate(char *buf, size_t len, const struct sdp_candidate *c, enum sdp_form form)
{
	struct out o = { buf, len, 0, false };
	int rc;

	if (!buf || !c || len == 0)
		return SDP_E_INVAL;
	buf[0] = 0;
	if ((rc = fmt_cand(&o, c, form))) {
		buf[0] = 0;
		return rc;
	}
	return o.over ? SDP_E_NOSPACE : (int)o.pos;
}

int sdp_fmt_ice_media(char *buf, size_t len, const struct sdp_ice_media *m)
{
	struct out o = { buf, len, 0, false };
	const struct sdp_ice_params *p;
	char tmp[INET6_ADDRSTRLEN_SDP];

	if (!buf || !m || len == 0)
		return SDP_E_INVAL;
	buf[0] = 0;
	p = &m->params;
	/* RFC 8839 §5.4 */
	if (p->has_ufrag)
		outf(&o, "a=ice-ufrag:%s\r\n", p->ufrag);
	if (p->has_pwd)
		outf(&o, "a=ice-pwd:%s\r\n", p->pwd);
	if (p->lite)
		outf(&o, "a=ice-lite\r\n");
	if (p->mismatch)
		outf(&o, "a=ice-mismatch\r\n");
	if (p->has_options && p->n_options) {
		outf(&o, "a=ice-options:");
		for (unsigned i = 0; i < p->n_options && i < SDP_OPT_MAX; i++)
			outf(&o, "%s%s", i ? " " : "", p->options[i]);
		outf(&o, "\r\n");
	}
	for (unsigned i = 0; i < m->n_cand && i < SDP_CAND_MAX; i++) {
		const struct sdp_candidate *c = &m->cand[i];
		size_t start = o.pos;
		int rc;

		outf(&o, "a=");
		if ((rc = fmt_cand(&o, c, (enum sdp_form)c->form))) {
			buf[0] = 0;
			return rc;
		}
		if ((c->flags & SDP_CAND_F_X_IPV6) && !o.over) {
			/* [MS-SDPEXT] §3.1.5.21.2: rename the attribute, keep the value */
			static const char x[] = "a=x-candidate-ipv6:";
			size_t old = strlen("a=candidate:"), add = strlen(x) - old;

			if (o.pos + add >= o.len) {
				o.over = true;
			} else {
				memmove(o.buf + start + strlen(x), o.buf + start + old, o.pos - start - old + 1);
				memcpy(o.buf + start, x, strlen(x));
				o.pos += add;
			}
		}
		outf(&o, "\r\n");
	}
	for (unsigned i = 0; i < m->n_info && i < SDP_INFO_MAX; i++) {
		outf(&o, "a=x-candidate-info:%s", m->info[i].foundation);
		if (m->info[i].network_type[0])
			outf(&o, " network-type=%s", m->info[i].network_type);
		outf(&o, "\r\n");
	}
	if (p->end_of_candidates)
		outf(&o, "a=end-of-candidates\r\n");
	if (m->has_remote && m->n_remote) {
		/* RFC 8839 §5.2 */
		outf(&o, "a=remote-candidates:");
		for (unsigned i = 0; i < m->n_remote && i < SDP_REMOTE_MAX; i++)
			outf(&o, "%s%u %s %u", i ? " " : "", m->remote[i].component,
			     ice_addr_fmt_ip(&m->remote[i].addr, tmp, sizeof(tmp)),
			     m->remote[i].addr.port);
		outf(&o, "\r\n");
	}
	if (m->remote_candidate[0])
		outf(&o, "a=remote-candidate:%s\r\n", m->remote_candidate);
	if (m->has_rtcp) {
		outf(&o, "a=rtcp:%u", m->rtcp_port);
		if (m->rtcp_addr.family)
			outf(&o, " IN %s %s", m->rtcp_addr.family == ICE_AF_INET6 ? "IP6" : "IP4",
			     ice_addr_fmt_ip(&m->rtcp_addr, tmp, sizeof(tmp)));
		outf(&o, "\r\n");
	}
	if (m->rtcp_mux)
		outf(&o, "a=rtcp-mux\r\n");
	return o.over ? SDP_E_NOSPACE : (int)o.pos;
}

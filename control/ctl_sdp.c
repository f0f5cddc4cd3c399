/* SDP offer/answer rewriting: a strict line walker over hostile bodies, the per-section view
 * the control plane needs (on top of ice/sdp.c), and the rewrite towards the gateway. */
#include "ctl_sdp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const ctl_sdp_errs[] = {
	"ok",
	"invalid argument",
	"empty SDP body",
	"SDP body too large",
	"SDP body contains binary data",
	"SDP body does not start with v=0",
	"SDP line is not <type>=<value>",
	"malformed m= line or too many media sections",
	"output buffer too small",
	"rewrite plan does not match the SDP body",
	"gateway ICE credentials or candidate cannot be written",
};

const char *ctl_sdp_strerror(int err)
{
	if (err == 0)
		return ctl_sdp_errs[0];
	if (err > CTL_SDP_E_INVAL || err < CTL_SDP_E_ERR_MIN)
		return "unknown SDP error";
	return ctl_sdp_errs[CTL_SDP_E_INVAL - err + 1];
}

/* One line without its terminator; eol is what ended it ("" for the last unterminated line). */
struct line {
	const char *p;
	size_t n;
	const char *eol;
	size_t eoln;
};

static bool next_line(const char **pp, const char *end, struct line *l)
{
	const char *p = *pp, *nl;

	if (p >= end)
		return false;
	nl = memchr(p, '\n', (size_t)(end - p));
	l->p = p;
	l->n = (size_t)((nl ? nl : end) - p);
	l->eol = l->p + l->n;
	l->eoln = nl ? 1 : 0;
	if (l->n && l->p[l->n - 1] == '\r') {
		l->n--;
		l->eol--;
		l->eoln++;
	}
	*pp = nl ? nl + 1 : end;
	return true;
}

/* The attribute name of an a= line ("rtcp" for "a=rtcp:9 IN IP4 0.0.0.0"). */
static bool attr_is(const struct line *l, const char *name)
{
	size_t n = strlen(name);

	/* case-insensitive like ice/sdp.c's reader: a line it takes as ICE must be one we strip */
	return l->n >= 2 + n && l->p[0] == 'a' && l->p[1] == '=' && strncasecmp(l->p + 2, name, n) == 0 &&
	       (l->n == 2 + n || l->p[2 + n] == ':');
}

/* Attributes the peer's ICE agent wrote (RFC 8839 §5, RFC 8840 §8.2, [MS-SDPEXT] §3.1.5). */
static bool is_ice_attr(const struct line *l)
{
	static const char *const names[] = {
		"ice-ufrag", "ice-pwd", "ice-lite", "ice-options", "ice-mismatch", "ice-pacing",
		"candidate", "x-candidate-ipv6", "x-candidate-info", "remote-candidates",
		"remote-candidate", "end-of-candidates",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (attr_is(l, names[i]))
			return true;
	return false;
}

/* Next space-separated token of [*p, end). */
/* Fields are split on SP and HTAB, runs tolerated: the same rule as ice/sdp.c's m= parser,
 * so the rewrite replaces exactly the port the parse read (the fuzzer found a tab). */
static bool tok(const char **p, const char *end, const char **t, size_t *tn)
{
	while (*p < end && (**p == ' ' || **p == '\t'))
		(*p)++;
	if (*p >= end)
		return false;
	*t = *p;
	while (*p < end && **p != ' ' && **p != '\t')
		(*p)++;
	*tn = (size_t)(*p - *t);
	return true;
}

/* RFC 8866 §5.7 c=IN <IP4|IP6> <addr>[/ttl[/n]]; a host name or garbage leaves a unset. */
static int parse_conn(const struct line *l, struct ice_addr *a)
{
	const char *p = l->p + 2, *end = l->p + l->n, *t;
	size_t tn, i;
	char ip[64];

	memset(a, 0, sizeof(*a));
	if (!tok(&p, end, &t, &tn) || tn != 2 || memcmp(t, "IN", 2))
		return -1;
	if (!tok(&p, end, &t, &tn) || tn != 3 || (memcmp(t, "IP4", 3) && memcmp(t, "IP6", 3)))
		return -1;
	if (!tok(&p, end, &t, &tn))
		return -1;
	for (i = 0; i < tn && t[i] != '/'; i++)
		;
	if (i == 0 || i >= sizeof(ip))
		return -1;
	memcpy(ip, t, i);
	ip[i] = 0;
	return ice_addr_parse_ip_port(a, ip, 0);
}

static bool is_hold_addr(const struct ice_addr *a)
{
	static const uint8_t zero[16];

	return (a->family == ICE_AF_INET && !memcmp(a->ip, zero, 4)) ||
	       (a->family == ICE_AF_INET6 && !memcmp(a->ip, zero, 16));
}

static int parse_dir(const struct line *l)
{
	if (attr_is(l, "sendrecv"))
		return CTL_DIR_SENDRECV;
	if (attr_is(l, "sendonly"))
		return CTL_DIR_SENDONLY;
	if (attr_is(l, "recvonly"))
		return CTL_DIR_RECVONLY;
	if (attr_is(l, "inactive"))
		return CTL_DIR_INACTIVE;
	return -1;
}

/* Bytes an SDP body may hold: text (UTF-8 allowed in s=, i=), tab, and CRLF / LF line ends. */
static int check_bytes(struct ctl_sdp *s, const char *body, size_t len)
{
	unsigned line = 1;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)body[i];

		if (c == '\n') {
			line++;
		} else if (c == '\r') {
			if (i + 1 >= len || body[i + 1] != '\n') {
				s->err_line = line;
				return CTL_SDP_E_BINARY;
			}
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			s->err_line = line;
			return CTL_SDP_E_BINARY;
		}
	}
	return 0;
}

int ctl_sdp_parse(struct ctl_sdp *s, const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	struct ctl_sdp_media *cur = NULL;
	bool seen_v = false, media_dir[CTL_SDP_MEDIA_MAX] = { false };
	int sess_dir = CTL_DIR_SENDRECV, rc;
	unsigned lineno = 0;
	struct line l;

	if (!s || !body)
		return CTL_SDP_E_INVAL;
	/* the struct is ~570 KiB, nearly all of it per-section arrays: clearing the whole of it
	 * twice per call was most of a call set-up (docs/benchmarks.md, bench_ctl). Clear the
	 * scalars here, a section when its m= line starts; sdp_parse does the same for .ice. */
	s->ice.n_media = 0;
	s->n_media = 0;
	s->has_ice = false;
	s->has_session_conn = false;
	memset(&s->session_conn, 0, sizeof(s->session_conn));
	s->err_line = 0;
	s->body_len = 0;
	if (len > CTL_SDP_BODY_MAX)
		return CTL_SDP_E_TOO_BIG;
	if ((rc = check_bytes(s, body, len)) < 0)
		return rc;
	strcpy(s->eol, "\r\n");
	while (next_line(&p, end, &l)) {
		struct ice_addr a;
		int dir;

		lineno++;
		if (l.n == 0)
			continue;
		if (!seen_v) {
			/* RFC 8866 §5.1: the body starts with v=0; its terminator sets ours */
			if (l.n != 3 || memcmp(l.p, "v=0", 3)) {
				s->err_line = lineno;
				return CTL_SDP_E_VERSION;
			}
			seen_v = true;
			if (l.eoln == 1)
				strcpy(s->eol, "\n");
			continue;
		}
		if (l.n < 2 || l.p[1] != '=' || l.p[0] < 'a' || l.p[0] > 'z') {
			s->err_line = lineno;
			return CTL_SDP_E_SYNTAX;
		}
		if (l.p[0] == 'm') {
			if (s->n_media == CTL_SDP_MEDIA_MAX) {
				s->err_line = lineno;
				return CTL_SDP_E_MEDIA;
			}
			cur = &s->media[s->n_media++];
			memset(cur, 0, sizeof(*cur));
			continue;
		}
		if (l.p[0] == 'c') {
			bool ok = parse_conn(&l, &a) == 0;

			if (!cur) {
				if (ok && !s->has_session_conn) {
					s->has_session_conn = true;
					s->session_conn = a;
				}
			} else {
				if (ok && !cur->has_conn) {
					cur->has_conn = true;
					cur->conn = a;
				}
				cur->n_conn++;
			}
			continue;
		}
		if (l.p[0] != 'a')
			continue;
		if ((dir = parse_dir(&l)) >= 0) {
			if (cur) {
				cur->dir = (enum ctl_sdp_dir)dir;
				media_dir[cur - s->media] = true;
			} else {
				sess_dir = dir;
			}
		} else if (cur && attr_is(&l, "mid") && l.n > 6 && l.n - 6 <= CTL_SDP_MID_MAX) {
			memcpy(cur->mid, l.p + 6, l.n - 6);
			cur->mid[l.n - 6] = 0;
		}
	}
	if (!seen_v)
		return CTL_SDP_E_EMPTY;
	/* the ICE view; its m= parser is the one that decides a section is well formed */
	if (sdp_parse(&s->ice, body, len) != 0)
		return CTL_SDP_E_EMPTY;
	if (s->ice.n_media != s->n_media || s->ice.media_skipped) {
		s->err_line = s->ice.first_error_line;
		return CTL_SDP_E_MEDIA;
	}
	s->body_len = len;
	for (unsigned i = 0; i < s->n_media; i++) {
		struct ctl_sdp_media *m = &s->media[i];
		const struct sdp_media *sm = &s->ice.media[i];

		m->sdp = sm;
		m->port = sm->ice.port;
		m->ice = sm->ice.params;
		sdp_ice_merge(&m->ice, &s->ice.params);
		if (!m->has_conn && s->has_session_conn) {
			m->has_conn = true;
			m->conn = s->session_conn;
		}
		m->hold = m->has_conn && is_hold_addr(&m->conn);
		if (!media_dir[i])
			m->dir = (enum ctl_sdp_dir)sess_dir;
		m->has_rtcp = sm->ice.has_rtcp;
		m->rtcp_port = sm->ice.has_rtcp ? sm->ice.rtcp_port
			       : (m->port && m->port < 65535 ? (uint16_t)(m->port + 1) : 0);
		m->rtcp_addr = sm->ice.rtcp_addr;
		m->rtcp_mux = sm->ice.rtcp_mux;
		m->has_ice = (m->ice.has_ufrag && m->ice.has_pwd) || sm->ice.n_cand > 0;
		m->cand_form = sm->ice.forms_seen == (1u << SDP_FORM_DRAFT06) ? SDP_FORM_DRAFT06
									 : SDP_FORM_RFC8839;
		if (m->has_ice)
			s->has_ice = true;
	}
	return 0;
}

/* ---- rewrite ---- */

struct out {
	char *buf;
	size_t cap, len;
	bool over;
	const char *eol;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->over || n > o->cap - o->len) {
		o->over = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[SDP_LINE_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		o->over = true;
		return;
	}
	put(o, tmp, (size_t)n);
}

/* A line as it came, with its own terminator (the last one gets the body's if it had none). */
static void put_line(struct out *o, const struct line *l)
{
	put(o, l->p, l->n);
	if (l->eoln)
		put(o, l->eol, l->eoln);
	else
		put(o, o->eol, strlen(o->eol));
}

static const char *addr_type(const struct ice_addr *a)
{
	return a->family == ICE_AF_INET6 ? "IP6" : "IP4";
}

static void put_conn(struct out *o, const struct ice_addr *a)
{
	char ip[ICE_ADDR_STRLEN];

	putf(o, "c=IN %s %s%s", addr_type(a), ice_addr_fmt_ip(a, ip, sizeof(ip)), o->eol);
}

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address> (RFC 8866 §5.2) */
static void put_origin(struct out *o, const struct line *l, const struct ice_addr *a)
{
	const char *p = l->p + 2, *end = l->p + l->n, *t, *keep_end = NULL;
	char ip[ICE_ADDR_STRLEN];
	size_t tn;
	int n = 0;

	while (tok(&p, end, &t, &tn)) {
		if (++n == 4)
			keep_end = t + tn;
	}
	if (n != 6 || !a->family) {
		put_line(o, l);
		return;
	}
	put(o, l->p, (size_t)(keep_end - l->p));
	putf(o, " %s %s%s", addr_type(a), ice_addr_fmt_ip(a, ip, sizeof(ip)), o->eol);
}

/* RTP/AVP, RTP/SAVPF, UDP/TLS/RTP/SAVPF...: the transport override applies to RTP only. */
static bool is_rtp_proto(const char *p, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if (!memcmp(p + i, "RTP/", 4))
			return true;
	return false;
}

/* m=<media> <port>[/<n>] <proto> <fmt>...: port (and proto if asked) replaced, rest as sent. */
static void put_mline(struct out *o, const struct line *l, uint16_t port, const char *proto)
{
	const char *p = l->p + 2, *end = l->p + l->n, *media, *pt, *pr, *slash;
	size_t mn, ptn, prn;

	/* ctl_sdp_parse accepted the section, so the three tokens are there */
	if (!tok(&p, end, &media, &mn) || !tok(&p, end, &pt, &ptn) || !tok(&p, end, &pr, &prn)) {
		o->over = true;
		return;
	}
	put(o, "m=", 2);
	put(o, media, mn);
	putf(o, " %u", port);
	slash = memchr(pt, '/', ptn);
	if (slash)
		put(o, slash, (size_t)(pt + ptn - slash));
	put(o, " ", 1);
	if (proto && is_rtp_proto(pr, prn))
		put(o, proto, strlen(proto));
	else
		put(o, pr, prn);
	put(o, p, (size_t)(end - p));
	put(o, o->eol, strlen(o->eol));
}

static void put_rtcp(struct out *o, const struct ctl_sdp_local *lm)
{
	char ip[ICE_ADDR_STRLEN];

	/* RFC 3605 §2.1 with the address: the gateway's RTCP may not sit on the c= address */
	putf(o, "a=rtcp:%u IN %s %s%s", lm->rtcp_port, addr_type(&lm->addr),
	     ice_addr_fmt_ip(&lm->addr, ip, sizeof(ip)), o->eol);
}

/* ICE credentials go into an attribute line: printable, no space (RFC 8839 §5.4 ice-char). */
static bool cred_ok(const char *s)
{
	if (!s || !*s || strlen(s) > SDP_CRED_MAX)
		return false;
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

static int put_ice(struct out *o, const struct ctl_sdp_local *lm, enum sdp_form form)
{
	char line[SDP_LINE_MAX + 1];

	if (!cred_ok(lm->ufrag) || !cred_ok(lm->pwd) || (lm->n_cand && !lm->cand))
		return CTL_SDP_E_CANDIDATE;
	/* [MS-ICE] draft-06 carries the credentials in each candidate, not in ice-ufrag/ice-pwd */
	if (form != SDP_FORM_DRAFT06)
		putf(o, "a=ice-ufrag:%s%sa=ice-pwd:%s%s", lm->ufrag, o->eol, lm->pwd, o->eol);
	for (unsigned i = 0; i < lm->n_cand; i++) {
		struct sdp_candidate c = lm->cand[i];
		int n;

		if (form == SDP_FORM_DRAFT06) {
			if (strlen(lm->ufrag) > SDP_ID_MAX || strlen(lm->pwd) > SDP_CAND_PWD_MAX)
				return CTL_SDP_E_CANDIDATE;
			strcpy(c.foundation, lm->ufrag);
			strcpy(c.password, lm->pwd);
			/* the draft-06 grammar has no typ / raddr / extensions: the q-value ranks */
			c.type = SDP_CAND_NONE;
			c.flags &= (uint8_t)~SDP_CAND_F_RADDR;
			c.n_ext = 0;
		}
		n = sdp_fmt_candidate(line, sizeof(line), &c, form);
		if (n < 0)
			return CTL_SDP_E_CANDIDATE;
		put(o, "a=", 2);
		put(o, line, (size_t)n);
		put(o, o->eol, strlen(o->eol));
	}
	return 0;
}

struct sect {
	bool active, ice, rtcp_done, mux_done, conn_done;
};

static int end_section(struct out *o, const struct ctl_sdp *peer, const struct ctl_sdp_rewrite *rw,
		       int sec, const struct sect *st)
{
	const struct ctl_sdp_local *lm;

	if (sec < 0 || !st->active)
		return 0;
	lm = &rw->media[sec];
	/* RFC 3605: a=rtcp is needed only when RTCP is not on the next port up */
	if (lm->rtcp_port && !st->rtcp_done && lm->rtcp_port != lm->addr.port + 1)
		put_rtcp(o, lm);
	if (lm->rtcp_mux && !st->mux_done)
		putf(o, "a=rtcp-mux%s", o->eol);
	if (st->ice)
		return put_ice(o, lm, peer->media[sec].cand_form);
	return 0;
}

long ctl_sdp_rewrite(char *out, size_t cap, const struct ctl_sdp *peer, const char *body, size_t len,
		     const struct ctl_sdp_rewrite *rw)
{
	struct out o = { out, cap, 0, false, NULL };
	const char *p = body, *end = body + len;
	const struct ice_addr *sess_addr = NULL;
	bool any_ice = false, sess_hold = false;
	struct sect st = { 0 };
	int sec = -1, rc;
	struct line l;

	if (!out || !peer || !body || !rw)
		return CTL_SDP_E_INVAL;
	if (peer->body_len != len || rw->n_media != peer->n_media)
		return CTL_SDP_E_MISMATCH;
	o.eol = peer->eol;
	for (unsigned i = 0; i < rw->n_media; i++) {
		bool active = peer->media[i].port && rw->media[i].addr.port;

		if (active && !rw->media[i].addr.family)
			return CTL_SDP_E_MISMATCH;
		if (active && !sess_addr)
			sess_addr = &rw->media[i].addr;
		if (active && (rw->ice == CTL_ICE_FORCE ||
			       (rw->ice == CTL_ICE_DEFAULT && peer->media[i].has_ice)))
			any_ice = true;
	}
	if (!sess_addr && rw->n_media)
		sess_addr = &rw->media[0].addr;
	sess_hold = peer->has_session_conn && is_hold_addr(&peer->session_conn);

	while (next_line(&p, end, &l)) {
		if (l.n == 0) {
			put_line(&o, &l);
			continue;
		}
		if (l.p[0] == 'm') {
			if ((rc = end_section(&o, peer, rw, sec, &st)) < 0)
				return rc;
			if (sec < 0 && rw->ice_lite && any_ice)
				putf(&o, "a=ice-lite%s", o.eol); /* RFC 8839 §5.3: session level */
			sec++;
			memset(&st, 0, sizeof(st));
			st.active = peer->media[sec].port && rw->media[sec].addr.port;
			st.ice = st.active && (rw->ice == CTL_ICE_FORCE ||
					       (rw->ice == CTL_ICE_DEFAULT && peer->media[sec].has_ice));
			put_mline(&o, &l, st.active ? rw->media[sec].addr.port : 0, st.active ? rw->proto : NULL);
			/* a section that relied on a session c= naming another address gets its own */
			if (st.active && peer->media[sec].n_conn == 0 && !sess_hold &&
			    (!peer->has_session_conn || !ice_addr_eq_ip(sess_addr, &rw->media[sec].addr))) {
				put_conn(&o, &rw->media[sec].addr);
				st.conn_done = true;
			}
			continue;
		}
		if (sec < 0) {
			if (l.p[0] == 'o' && rw->replace_origin && sess_addr) {
				put_origin(&o, &l, sess_addr);
			} else if (l.p[0] == 'c') {
				if (sess_hold || !sess_addr || !sess_addr->family)
					put_line(&o, &l);
				else
					put_conn(&o, sess_addr);
			} else if (!is_ice_attr(&l)) {
				put_line(&o, &l);
			}
			continue;
		}
		if (!st.active) {
			/* a rejected stream keeps its lines, minus the peer's ICE data (its addresses) */
			if (!is_ice_attr(&l))
				put_line(&o, &l);
			continue;
		}
		if (l.p[0] == 'c') {
			struct ice_addr a;

			if (parse_conn(&l, &a) == 0 && is_hold_addr(&a)) {
				put_line(&o, &l);
			} else if (!st.conn_done) {
				put_conn(&o, &rw->media[sec].addr);
			}
			st.conn_done = true;
			continue;
		}
		if (is_ice_attr(&l))
			continue;
		if (attr_is(&l, "rtcp")) {
			if (rw->media[sec].rtcp_port && !st.rtcp_done)
				put_rtcp(&o, &rw->media[sec]);
			st.rtcp_done = true;
			continue;
		}
		if (attr_is(&l, "rtcp-mux")) {
			if (rw->media[sec].rtcp_mux && !st.mux_done)
				put_line(&o, &l);
			st.mux_done = true;
			continue;
		}
		put_line(&o, &l);
	}
	if ((rc = end_section(&o, peer, rw, sec, &st)) < 0)
		return rc;
	if (o.over)
		return CTL_SDP_E_NOSPACE;
	return (long)o.len;
}

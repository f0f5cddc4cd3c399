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

/* [MS-ICE2] §3.1.4.1 as libnice lays it out: local preference = transport (UDP 15) << 12 |
 * direction (UDP 0) << 9 | interface rank; the local preference is bits 8-23 of the priority */
static bool ms2_layout(uint32_t prio)
{
	uint32_t lp = (prio >> 8) & 0xffffu;

	return (lp >> 12) == 15 && ((lp >> 9) & 7) == 0;
}

/* What in a section says Microsoft wrote it (see ctl_sdp_dialect). */
static void note_ms_hints(struct ctl_sdp_media *m, const struct sdp_ice_media *im)
{
	unsigned n_rfc_udp = 0, n_ms2 = 0;

	m->ms_hint = im->n_info > 0;
	for (unsigned i = 0; i < im->n_cand; i++) {
		const struct sdp_candidate *c = &im->cand[i];

		if (c->form != SDP_FORM_RFC8839)
			continue;
		if (c->transport == SDP_TP_TCP_ACT || c->transport == SDP_TP_TCP_PASS ||
		    (c->flags & SDP_CAND_F_X_IPV6))
			m->ms_hint = true;
		if (c->transport == SDP_TP_UDP) {
			n_rfc_udp++;
			n_ms2 += ms2_layout(c->priority);
		}
	}
	m->ms2_prio = n_rfc_udp > 0 && n_ms2 == n_rfc_udp;
}

enum ctl_sdp_dialect ctl_sdp_dialect(const struct ctl_sdp *s, unsigned i, bool in_fallback_body)
{
	const struct ctl_sdp_media *m;

	if (!s || i >= s->n_media || !s->media[i].has_ice)
		return CTL_DIALECT_NONE;
	m = &s->media[i];
	if (m->cand_form == SDP_FORM_DRAFT06)
		return CTL_DIALECT_MSICE;
	if (m->both_forms || in_fallback_body || m->ms_hint || m->ms2_prio)
		return CTL_DIALECT_MSICE2;
	return CTL_DIALECT_RFC;
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
		m->both_forms = sm->ice.forms_seen == ((1u << SDP_FORM_DRAFT06) | (1u << SDP_FORM_RFC8839));
		note_ms_hints(m, &sm->ice);
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

static int put_cands(struct out *o, const struct ctl_sdp_local *lm, enum sdp_form form)
{
	char line[SDP_LINE_MAX + 1];

	for (unsigned i = 0; i < lm->n_cand; i++) {
		struct sdp_candidate c = lm->cand[i];
		int n;

		if (form == SDP_FORM_DRAFT06) {
			unsigned k = c.type == SDP_CAND_RELAY;
			const char *id = lm->ms_id[k] ? lm->ms_id[k] : lm->ufrag;
			const char *pw = lm->ms_pwd[k] ? lm->ms_pwd[k] : lm->pwd;

			if (!cred_ok(id) || !cred_ok(pw) || strlen(id) > SDP_ID_MAX ||
			    strlen(pw) > SDP_CAND_PWD_MAX)
				return CTL_SDP_E_CANDIDATE;
			strcpy(c.foundation, id);
			strcpy(c.password, pw);
			/* the draft-06 grammar has no typ / raddr / extensions: the q-value ranks,
			 * from the type as [MS-ICE] ranks them (host 0.830, reflexive 0.550, relay
			 * 0.450) unless the candidate came with one */
			if (!c.qvalue)
				c.qvalue = c.type == SDP_CAND_RELAY ? 450 : c.type == SDP_CAND_HOST ? 830 : 550;
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

static int put_ice(struct out *o, const struct ctl_sdp_local *lm, const struct ctl_sdp_media *pm)
{
	enum ctl_sdp_cand_form form = (enum ctl_sdp_cand_form)lm->form;
	int rc = 0;

	if (!cred_ok(lm->ufrag) || !cred_ok(lm->pwd) || (lm->n_cand && !lm->cand))
		return CTL_SDP_E_CANDIDATE;
	if (form == CTL_FORM_PEER)
		form = pm->both_forms ? CTL_FORM_BOTH
		       : pm->cand_form == SDP_FORM_DRAFT06 ? CTL_FORM_DRAFT06 : CTL_FORM_RFC;
	/* [MS-ICE] draft-06 carries the credentials in each candidate, not in ice-ufrag/ice-pwd;
	 * with both sets, the draft-06 lines come first as Lync writes them (seed 003) */
	if (form == CTL_FORM_DRAFT06 || form == CTL_FORM_BOTH)
		rc = put_cands(o, lm, SDP_FORM_DRAFT06);
	if (rc == 0 && form != CTL_FORM_DRAFT06) {
		putf(o, "a=ice-ufrag:%s%sa=ice-pwd:%s%s", lm->ufrag, o->eol, lm->pwd, o->eol);
		rc = put_cands(o, lm, SDP_FORM_RFC8839);
	}
	return rc;
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
		return put_ice(o, lm, &peer->media[sec]);
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

/* ---- multipart bodies (RFC 2046 §5.1) ---- */

#define BOUNDARY_MAX 200  /* RFC 2046 §5.1.1 allows 70; proxies have been seen to stretch it */
#define NEST_MAX 2        /* [MS-SIPRE] §3.15.4.1: mixed > alternative > sdp at most */

/* Header "name:" at the start of l (case-insensitive, RFC 2045 §5.1); *v its value. */
static bool hdr_is(const struct line *l, const char *name, const char **v)
{
	size_t n = strlen(name);

	if (l->n <= n || strncasecmp(l->p, name, n) || l->p[n] != ':')
		return false;
	*v = l->p + n + 1;
	return true;
}

static bool ci_has(const char *p, const char *end, const char *needle)
{
	size_t n = strlen(needle);

	for (; p + n <= end; p++)
		if (!strncasecmp(p, needle, n))
			return true;
	return false;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The boundary parameter of a Content-Type value [v, end): token or quoted string. */
static bool boundary_param(const char *v, const char *end, const char **bp, size_t *bn)
{
	for (const char *p = v; p + 9 <= end; p++) {
		const char *q;

		if (strncasecmp(p, "boundary", 8) || (p > v && !is_ws(p[-1]) && p[-1] != ';'))
			continue;
		q = p + 8;
		while (q < end && is_ws(*q))
			q++;
		if (q >= end || *q != '=')
			continue;
		q++;
		while (q < end && is_ws(*q))
			q++;
		if (q < end && *q == '"') {
			const char *e = memchr(q + 1, '"', (size_t)(end - q - 1));
			if (!e)
				return false;
			*bp = q + 1;
			*bn = (size_t)(e - q - 1);
		} else {
			const char *e = q;
			while (e < end && !is_ws(*e) && *e != ';')
				e++;
			*bp = q;
			*bn = (size_t)(e - q);
		}
		return *bn > 0 && *bn <= BOUNDARY_MAX;
	}
	return false;
}

/* 1: l is "--boundary" (transport padding allowed), 2: the close "--boundary--", 0: neither. */
static int delimiter(const struct line *l, const char *bp, size_t bn)
{
	size_t n = l->n;

	while (n > 0 && (l->p[n - 1] == ' ' || l->p[n - 1] == '\t'))
		n--;
	if (n < 2 + bn || l->p[0] != '-' || l->p[1] != '-' || memcmp(l->p + 2, bp, bn))
		return 0;
	if (n == 2 + bn)
		return 1;
	if (n == 4 + bn && l->p[2 + bn] == '-' && l->p[3 + bn] == '-')
		return 2;
	return 0;
}

static int split_level(struct ctl_body *b, const char *body, const char *start, const char *end,
		       const char *bp, size_t bn, int depth);

/* One part [p, end): headers, a blank line, the content. */
static int split_part(struct ctl_body *b, const char *body, const char *p, const char *end, int depth)
{
	const char *ct = NULL, *ct_end = NULL, *v;
	bool fallback = false, in_ct = false, hdr_end = false;
	struct line l;

	while (next_line(&p, end, &l)) {
		if (l.n == 0) {
			hdr_end = true;
			break;
		}
		if (l.p[0] == ' ' || l.p[0] == '\t') {
			/* RFC 5322 §2.2.3 folding: the value goes on */
			if (in_ct)
				ct_end = l.p + l.n;
			continue;
		}
		in_ct = false;
		if (hdr_is(&l, "Content-Type", &v)) {
			ct = v;
			ct_end = l.p + l.n;
			in_ct = true;
		} else if (hdr_is(&l, "Content-Disposition", &v)) {
			fallback = ci_has(v, l.p + l.n, "ms-proxy-2007fallback");
		}
	}
	if (!hdr_end)
		return CTL_SDP_E_SYNTAX;
	if (!ct)
		return 0; /* RFC 2046 §5.1: text/plain by default */
	while (ct < ct_end && is_ws(*ct))
		ct++;
	if ((size_t)(ct_end - ct) >= 15 && !strncasecmp(ct, "application/sdp", 15) &&
	    (ct + 15 == ct_end || ct[15] == ';' || is_ws(ct[15]))) {
		if (b->n_sdp == CTL_BODY_PARTS_MAX)
			return CTL_SDP_E_TOO_BIG;
		b->sdp[b->n_sdp].off = (size_t)(p - body);
		b->sdp[b->n_sdp].len = (size_t)(end - p);
		b->sdp[b->n_sdp].fallback = fallback;
		b->n_sdp++;
		return 0;
	}
	if ((size_t)(ct_end - ct) >= 10 && !strncasecmp(ct, "multipart/", 10)) {
		const char *nbp;
		size_t nbn;

		if (depth + 1 >= NEST_MAX)
			return CTL_SDP_E_TOO_BIG;
		if (!boundary_param(ct, ct_end, &nbp, &nbn))
			return CTL_SDP_E_SYNTAX;
		return split_level(b, body, p, end, nbp, nbn, depth + 1);
	}
	return 0;
}

static int split_level(struct ctl_body *b, const char *body, const char *start, const char *end,
		       const char *bp, size_t bn, int depth)
{
	const char *p = start, *part = NULL;
	struct line l;
	int rc;

	while (next_line(&p, end, &l)) {
		int d = delimiter(&l, bp, bn);
		const char *pend = l.p;

		if (!d)
			continue;
		if (part) {
			/* RFC 2046 §5.1.1: the line break before a delimiter belongs to it */
			if (pend > part && pend[-1] == '\n')
				pend--;
			if (pend > part && pend[-1] == '\r')
				pend--;
			if ((rc = split_part(b, body, part, pend, depth)) < 0)
				return rc;
		}
		if (d == 2)
			return 0; /* the epilogue is ignored */
		part = p;
	}
	return CTL_SDP_E_SYNTAX; /* no close delimiter */
}

int ctl_body_split(struct ctl_body *b, const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	struct line l = {.p = end};
	int rc;

	if (!b || !body)
		return CTL_SDP_E_INVAL;
	memset(b, 0, sizeof(*b));
	if (len > CTL_SDP_BODY_MAX)
		return CTL_SDP_E_TOO_BIG;
	while (next_line(&p, end, &l) && l.n == 0)
		;
	if (l.p < end && l.n > 2 && l.p[0] == '-' && l.p[1] == '-') {
		size_t bn = l.n - 2;

		while (bn > 0 && (l.p[2 + bn - 1] == ' ' || l.p[2 + bn - 1] == '\t'))
			bn--;
		if (bn == 0 || bn > BOUNDARY_MAX)
			return CTL_SDP_E_SYNTAX;
		b->multipart = true;
		if ((rc = split_level(b, body, body, end, l.p + 2, bn, 0)) < 0)
			return rc;
		if (b->n_sdp == 0)
			return CTL_SDP_E_EMPTY;
		b->primary = b->n_sdp - 1;
		return 0;
	}
	b->n_sdp = 1;
	b->sdp[0].off = 0;
	b->sdp[0].len = len;
	return 0;
}

/* The ICE attributes of SDP: candidate lines (RFC 8839 and the [MS-ICE] draft-06 form), ufrag/pwd,
 * ice-lite/options, remote candidates, the Microsoft x- extensions; parse from hostile text, emit back. */
#ifndef ICE_SDP_H
#define ICE_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice_addr.h"

/*
 * Capacities. Every structure here is caller-provided and fixed in size; the parser never
 * allocates. What does not fit is counted, never written past the end. With these caps a
 * candidate is about 1 KB, a media section 35 KB and a session 560 KB: parse into a reused
 * scratch session (static or per worker), not onto a small stack.
 */
#define SDP_FOUNDATION_MAX 32   /* RFC 8839 §5.1: foundation = 1*32ice-char */
#define SDP_ID_MAX 64           /* room for a draft-06 candidate identifier (43 chars seen) */
#define SDP_CAND_PWD_MAX 64     /* draft-06 per-candidate password (22 chars seen) */
#define SDP_CRED_MAX 256        /* RFC 8839 §5.4: ice-ufrag 4*256, ice-pwd 22*256 */
#define SDP_HOST_MAX 253        /* RFC 1035 §2.3.4: longest domain name in text */
#define SDP_EXT_MAX 6           /* extension name/value pairs kept per candidate */
#define SDP_EXT_NAME_MAX 31
#define SDP_EXT_VALUE_MAX 63
#define SDP_CAND_MAX 32         /* candidates kept per media section */
#define SDP_REMOTE_MAX 8        /* a=remote-candidates entries (one per component) */
#define SDP_OPT_MAX 8           /* ice-options tokens kept */
#define SDP_OPT_LEN 31
#define SDP_INFO_MAX 16         /* a=x-candidate-info lines kept per media section */
#define SDP_MEDIA_MAX 16        /* m= sections kept per body */
#define SDP_LINE_MAX 1024       /* longest attribute line we agree to interpret */
#define SDP_MEDIA_TYPE_MAX 31
#define SDP_PROTO_MAX 63
#define SDP_FMT_MAX 255

/* Errors: negative values, with sdp_strerror(). */
enum sdp_err {
	SDP_OK = 0,
	SDP_E_INVAL = -1,        /* NULL argument */
	SDP_E_TOO_LONG = -2,     /* line longer than SDP_LINE_MAX */
	SDP_E_SYNTAX = -3,       /* not the attribute expected, NUL byte, stray token */
	SDP_E_MISSING = -4,      /* a mandatory field is absent */
	SDP_E_FOUNDATION = -5,   /* empty, too long or not ice-char */
	SDP_E_COMPONENT = -6,    /* not 1..256 */
	SDP_E_TRANSPORT = -7,    /* transport token we do not know */
	SDP_E_PRIORITY = -8,     /* not 1..2^32-1 */
	SDP_E_ADDR = -9,         /* neither an IP address nor a plausible host name */
	SDP_E_PORT = -10,        /* not 0..65535 */
	SDP_E_TYPE = -11,        /* candidate type we do not know */
	SDP_E_TCPTYPE = -12,     /* tcptype unknown or contradicting the transport */
	SDP_E_QVALUE = -13,      /* draft-06 q-value not 0.000..1.000 */
	SDP_E_PASSWORD = -14,    /* draft-06 password empty, too long or not base64 */
	SDP_E_TOO_MANY = -15,    /* candidate (or other list entry) beyond capacity */
	SDP_E_TOO_MANY_MEDIA = -16,
	SDP_E_UFRAG = -17,
	SDP_E_PWD = -18,
	SDP_E_SCOPE = -19,       /* media-level attribute at session level */
	SDP_E_NOSPACE = -20,     /* output buffer too small */
	SDP_E_EMPTY = -21,       /* nothing to parse */
	SDP_E_MEDIA = -22,       /* malformed m= line */
	SDP_E_ERR_MIN = -22,
};

const char *sdp_strerror(int err);

enum sdp_transport {
	SDP_TP_NONE = 0,
	SDP_TP_UDP,
	SDP_TP_TCP,       /* RFC 6544 "TCP" with tcptype; in draft-06, an actpass TCP candidate */
	/* Microsoft tokens carrying the TCP role (seen in Lync 2013 and Teams SDP, upper or lower
	 * case; [MS-SDPEXT] §3.1.5.22 covers TCP candidates). */
	SDP_TP_TCP_ACT,
	SDP_TP_TCP_PASS,
	SDP_TP_TCP_SO,    /* same spelling for RFC 6544 simultaneous-open; not seen on the wire */
};

enum sdp_tcptype {
	SDP_TCPTYPE_NONE = 0,
	SDP_TCPTYPE_ACTIVE,
	SDP_TCPTYPE_PASSIVE,
	SDP_TCPTYPE_SO,
};

enum sdp_cand_type {
	SDP_CAND_NONE = 0,  /* draft-06 lines carry no type */
	SDP_CAND_HOST,
	SDP_CAND_SRFLX,
	SDP_CAND_PRFLX,
	SDP_CAND_RELAY,
};

/* Which grammar a candidate line follows. */
enum sdp_form {
	SDP_FORM_RFC8839 = 0,  /* foundation comp transport priority addr port typ ... */
	SDP_FORM_DRAFT06,      /* id comp password transport q-value addr port ([MS-ICE]) */
};

/* Candidate flags. */
#define SDP_CAND_F_HOSTNAME 0x01  /* connection address is a name, not resolved; addr.family 0 */
#define SDP_CAND_F_MDNS 0x02      /* ... and the name ends in .local (RFC 6762) */
#define SDP_CAND_F_RADDR 0x04     /* raddr/rport present */
#define SDP_CAND_F_X_IPV6 0x08    /* came from a=x-candidate-ipv6 ([MS-SDPEXT] §3.1.5.21) */

struct sdp_ext {
	char name[SDP_EXT_NAME_MAX + 1];
	char value[SDP_EXT_VALUE_MAX + 1];
};

struct sdp_candidate {
	/* RFC form: the foundation (<= 32 chars). Draft-06: the candidate identifier (<= 64). */
	char foundation[SDP_ID_MAX + 1];
	char password[SDP_CAND_PWD_MAX + 1];  /* draft-06 only, "" otherwise */
	uint16_t component;                   /* 1..256 */
	uint8_t transport;                    /* enum sdp_transport */
	uint8_t tcptype;                      /* enum sdp_tcptype (implied by TCP-ACT/PASS/SO) */
	uint8_t type;                         /* enum sdp_cand_type */
	uint8_t form;                         /* enum sdp_form */
	uint8_t flags;                        /* SDP_CAND_F_* */
	uint8_t n_ext;
	uint16_t qvalue;                      /* draft-06: q-value in thousandths, 0.830 -> 830 */
	uint16_t ext_dropped;                 /* extension pairs not kept (cap or size) */
	uint32_t priority;                    /* RFC form; 0 in draft-06 */
	struct ice_addr addr;                 /* connection address and port */
	struct ice_addr raddr;                /* rel-addr / rel-port when SDP_CAND_F_RADDR */
	char hostname[SDP_HOST_MAX + 1];      /* when SDP_CAND_F_HOSTNAME */
	struct sdp_ext ext[SDP_EXT_MAX];      /* generation, network-id, ufrag, MTURNID, ... */
};

/* One entry of a=remote-candidates (RFC 8839 §5.2). */
struct sdp_remote {
	uint16_t component;
	struct ice_addr addr;
};

/* One a=x-candidate-info line ([MS-SDPEXT] §3.1.5.36). */
struct sdp_cand_info {
	char foundation[SDP_ID_MAX + 1];
	char network_type[16];  /* "WLAN", "WWAN", ... as sent; "" if absent */
};

/* ice-options tokens we act on (RFC 8839 §5.6). */
#define SDP_OPT_F_TRICKLE 0x01  /* RFC 8840 */
#define SDP_OPT_F_ICE2 0x02     /* RFC 8445 §10 */

/* Credentials and flags that may sit at session level or media level. */
struct sdp_ice_params {
	char ufrag[SDP_CRED_MAX + 1];
	char pwd[SDP_CRED_MAX + 1];
	bool has_ufrag, has_pwd;
	bool short_creds;  /* below RFC 8839 §5.4 minimums (old pjsip sends 8-char pwd) */
	bool lite;         /* a=ice-lite, RFC 8839 §5.3 */
	bool mismatch;     /* a=ice-mismatch, RFC 8839 §5.5 */
	bool has_options;
	uint8_t opt_flags; /* SDP_OPT_F_* */
	uint8_t n_options;
	char options[SDP_OPT_MAX][SDP_OPT_LEN + 1];
	bool end_of_candidates;  /* RFC 8840 §8.2: session or media level */
	uint8_t options_dropped; /* ice-options tokens not kept (count or length) */
	bool has_conn;     /* c= */
	struct ice_addr conn;
};

/* The ICE view of one m= section. */
struct sdp_ice_media {
	struct sdp_ice_params params;
	uint16_t port;           /* m= port */
	uint8_t n_cand;
	uint16_t cand_skipped;   /* candidate lines beyond SDP_CAND_MAX or malformed */
	struct sdp_candidate cand[SDP_CAND_MAX];
	uint8_t forms_seen;      /* bit (1 << enum sdp_form) per candidate form met */
	bool has_remote;         /* a=remote-candidates */
	uint8_t n_remote;
	struct sdp_remote remote[SDP_REMOTE_MAX];
	char remote_candidate[SDP_ID_MAX + 1];  /* [MS-ICE] final offer: a=remote-candidate:<id> */
	uint8_t n_info;
	struct sdp_cand_info info[SDP_INFO_MAX];
	bool has_rtcp;           /* a=rtcp, RFC 3605 §2.1 */
	uint16_t rtcp_port;
	struct ice_addr rtcp_addr;  /* family 0 when the attribute has no address */
	bool rtcp_mux;           /* RFC 5761 §5.1.1 */
};

struct sdp_media {
	char type[SDP_MEDIA_TYPE_MAX + 1];  /* audio, video, application, ... */
	char proto[SDP_PROTO_MAX + 1];      /* RTP/AVP, UDP/TLS/RTP/SAVPF, ICE/SDP, ... */
	char fmt[SDP_FMT_MAX + 1];          /* format list as sent, single-spaced */
	bool fmt_truncated;
	uint16_t n_ports;                   /* m=<media> <port>/<n>; 1 when absent */
	struct sdp_ice_media ice;
};

struct sdp_session {
	struct sdp_ice_params params;  /* session-level ufrag/pwd/lite/options/c= */
	uint8_t n_media;
	uint16_t media_skipped;        /* m= sections beyond SDP_MEDIA_MAX or malformed */
	unsigned lines;                /* lines seen */
	unsigned lines_skipped;        /* lines we interpret that failed to parse */
	int first_error;               /* sdp_err of the first skipped line, 0 if none */
	unsigned first_error_line;     /* its 1-based line number */
	struct sdp_media media[SDP_MEDIA_MAX];
};

/**
 * Strict single-line parser (also for trickled candidates, RFC 8840). Accepts "candidate:..."
 * with or without "a=", and "x-candidate-ipv6:..."; tolerates trailing CR/LF/spaces. Tells the
 * RFC 8839 form from the draft-06 form by shape. Returns 0 or a negative sdp_err; on error *c is
 * zeroed. The _n variant reads exactly len bytes and needs no terminating NUL.
 */
int sdp_parse_candidate(struct sdp_candidate *c, const char *line);
int sdp_parse_candidate_n(struct sdp_candidate *c, const char *line, size_t len);

/**
 * Tolerant body parser: every m= section (up to SDP_MEDIA_MAX) with its ICE attributes.
 * Lines that fail are skipped and counted (lines_skipped, first_error, first_error_line);
 * the body still parses. Returns 0, or SDP_E_INVAL / SDP_E_EMPTY when there is nothing to
 * parse. Media-level values are as sent; call sdp_ice_merge() to apply session defaults.
 * Only media[0 .. n_media-1] are written: entries past n_media keep an earlier parse's data.
 */
int sdp_parse(struct sdp_session *s, const char *body, size_t len);

/** Fill what the media section lacks (ufrag, pwd, options, lite, c=) from session level
 *  (RFC 8839 §5.4: media-level credentials override session-level ones). */
void sdp_ice_merge(struct sdp_ice_params *media, const struct sdp_ice_params *session);

/** Same candidate: every field but the parse bookkeeping (ext_dropped). */
bool sdp_candidate_eq(const struct sdp_candidate *a, const struct sdp_candidate *b);

/**
 * One candidate attribute value "candidate:..." (no "a=", no CRLF) in the given form.
 * Draft-06 needs a password; RFC form needs a type. Returns the length written (NUL not
 * counted) or a negative sdp_err (SDP_E_NOSPACE when len is too small).
 */
int sdp_fmt_candidate(char *buf, size_t len, const struct sdp_candidate *c, enum sdp_form form);

/**
 * The ICE attribute block of one media section as "a=" lines ending in CRLF: ice-ufrag,
 * ice-pwd, ice-lite, ice-options, candidates (each in its own form; x-candidate-ipv6 ones as
 * such), x-candidate-info, end-of-candidates, remote-candidates, remote-candidate, rtcp,
 * rtcp-mux. Returns the length written or a negative sdp_err.
 */
int sdp_fmt_ice_media(char *buf, size_t len, const struct sdp_ice_media *m);

const char *sdp_transport_name(enum sdp_transport t);
const char *sdp_cand_type_name(enum sdp_cand_type t);

#endif

/* SDP offer/answer rewriting for the control plane: what the gateway needs from a peer's body
 * (per m= section), and the body rewritten so media flows through the gateway's ports and ICE. */
#ifndef CTL_SDP_H
#define CTL_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice_addr.h"
#include "sdp.h"

/* Largest body accepted: one NG datagram (UDP, RFC 768 length field) cannot carry more. */
#define CTL_SDP_BODY_MAX 65535
#define CTL_SDP_MEDIA_MAX SDP_MEDIA_MAX
#define CTL_SDP_MID_MAX 32   /* RFC 8843 §5 identification-tag; 32 covers every stack seen */

enum ctl_sdp_err {
	CTL_SDP_OK = 0,
	CTL_SDP_E_INVAL = -200,     /* NULL argument */
	CTL_SDP_E_EMPTY = -201,     /* nothing but blank lines */
	CTL_SDP_E_TOO_BIG = -202,   /* longer than CTL_SDP_BODY_MAX */
	CTL_SDP_E_BINARY = -203,    /* NUL, control byte, or CR not followed by LF */
	CTL_SDP_E_VERSION = -204,   /* first line is not v=0 (RFC 8866 §5.1) */
	CTL_SDP_E_SYNTAX = -205,    /* a line that is not <letter>=<value> */
	CTL_SDP_E_MEDIA = -206,     /* malformed m= line or more than CTL_SDP_MEDIA_MAX */
	CTL_SDP_E_NOSPACE = -207,   /* output buffer too small */
	CTL_SDP_E_MISMATCH = -208,  /* rewrite plan does not match the parsed body */
	CTL_SDP_E_CANDIDATE = -209, /* a gateway candidate could not be written */
	CTL_SDP_E_ERR_MIN = -209,
};

const char *ctl_sdp_strerror(int err);

enum ctl_sdp_dir {
	CTL_DIR_SENDRECV = 0,  /* RFC 8866 §6.7: the default */
	CTL_DIR_SENDONLY,
	CTL_DIR_RECVONLY,
	CTL_DIR_INACTIVE,
};

/* What the control plane needs from one m= section of a peer's body. */
struct ctl_sdp_media {
	const struct sdp_media *sdp;   /* type, proto, fmt and the ICE view (into ctl_sdp.ice) */
	struct sdp_ice_params ice;     /* ufrag/pwd/lite/options with session defaults applied */
	uint16_t port;                 /* 0: rejected or removed stream (RFC 3264 §6) */
	bool has_conn;                 /* connection address, media c= or else session c= */
	struct ice_addr conn;
	unsigned n_conn;               /* c= lines in the section (several: layered multicast) */
	bool hold;                     /* c= 0.0.0.0 / :: (RFC 3264 §8.4 legacy hold) */
	enum ctl_sdp_dir dir;          /* media attribute, else session attribute */
	bool has_rtcp;                 /* a=rtcp (RFC 3605) */
	uint16_t rtcp_port;            /* a=rtcp port, else port + 1 (RFC 3550 §11) */
	struct ice_addr rtcp_addr;     /* family 0 when a=rtcp names no address */
	bool rtcp_mux;                 /* a=rtcp-mux (RFC 5761 §5.1.1) */
	bool has_ice;                  /* credentials or candidates present */
	enum sdp_form cand_form;       /* draft-06 when the peer wrote only draft-06 candidates */
	bool both_forms;               /* draft-06 and RFC-form candidates in this one section */
	bool ms_hint;                  /* Microsoft-only tokens (see ctl_sdp_dialect) */
	bool ms2_prio;                 /* every RFC-form UDP candidate has MS-ICE2's priority layout */
	char mid[CTL_SDP_MID_MAX + 1]; /* a=mid, "" if absent */
};

/* A parsed body. Large (the ICE view of every section): keep it static or on the heap. */
struct ctl_sdp {
	struct sdp_session ice;        /* ice/sdp.h view: candidates, credentials, m= fields */
	unsigned n_media;
	struct ctl_sdp_media media[CTL_SDP_MEDIA_MAX];
	bool has_ice;                  /* any section had ICE */
	bool has_session_conn;
	struct ice_addr session_conn;
	char eol[3];                   /* "\r\n" or "\n", as the body's first line ends */
	unsigned err_line;             /* on error: 1-based line that caused it, 0 if none */
	size_t body_len;               /* length parsed, checked again by ctl_sdp_rewrite */
};

/**
 * Parse a peer's body. Strict about structure (hostile input gets a clear error), tolerant
 * about content: unknown lines and attributes are kept for the rewrite, ICE lines that fail to
 * parse are counted in ice.lines_skipped. Returns 0 or a negative ctl_sdp_err. Only
 * media[0 .. n_media-1] are written: entries past n_media keep an earlier parse's data.
 */
int ctl_sdp_parse(struct ctl_sdp *s, const char *body, size_t len);

/* ICE handling of a rewrite (rtpengine's "ICE" key; see docs/control.md for the mapping). */
enum ctl_ice_mode {
	CTL_ICE_DEFAULT = 0,  /* gateway ICE on the sections whose peer offered ICE */
	CTL_ICE_REMOVE,       /* no ICE attributes at all */
	CTL_ICE_FORCE,        /* gateway ICE on every active section */
};

/* Which candidate grammar the gateway writes into a section. */
enum ctl_sdp_cand_form {
	CTL_FORM_PEER = 0,    /* the peer's: draft-06 if it wrote only draft-06, both if both */
	CTL_FORM_RFC,         /* ice-ufrag / ice-pwd and RFC 8839 candidates */
	CTL_FORM_DRAFT06,     /* [MS-ICE] draft-06 candidates carrying their credentials */
	CTL_FORM_BOTH,        /* both sets, as Lync offers them in one body (seed 003) */
};

/* The gateway's side of one m= section. */
struct ctl_sdp_local {
	struct ice_addr addr;               /* address and RTP port; port 0 rejects the stream */
	uint16_t rtcp_port;                 /* 0: RTCP travels on the RTP port (rtcp-mux) */
	bool rtcp_mux;                      /* write a=rtcp-mux */
	const char *ufrag, *pwd;            /* ICE credentials (RFC 8839 §5.4) */
	/* [MS-ICE] draft-06 lines: identifier and password of the host [0] and relayed [1]
	 * candidates (each shared by its components); NULL: ufrag and pwd */
	const char *ms_id[2], *ms_pwd[2];
	const struct sdp_candidate *cand;   /* gateway candidates: host, later srflx / relay */
	unsigned n_cand;
	uint8_t form;                       /* enum ctl_sdp_cand_form */
};

struct ctl_sdp_rewrite {
	enum ctl_ice_mode ice;
	bool ice_lite;            /* the gateway answers as ICE-lite (a=ice-lite, RFC 8839 §5.3) */
	bool replace_origin;      /* o= address becomes the gateway's ("replace": ["origin"]) */
	const char *proto;        /* m= transport override ("transport-protocol"), NULL keeps */
	unsigned n_media;         /* must equal the parsed body's */
	struct ctl_sdp_local media[CTL_SDP_MEDIA_MAX];
};

/**
 * Rewrite body (the same bytes given to ctl_sdp_parse for peer) into out. c= lines name the
 * gateway (hold addresses 0.0.0.0 / :: are kept), m= ports become the gateway's, a=rtcp and
 * a=rtcp-mux follow the local plan, the peer's ICE attributes go and the gateway's come per the
 * ICE mode; every other line is copied byte for byte, in order. Returns the length or an error.
 */
long ctl_sdp_rewrite(char *out, size_t cap, const struct ctl_sdp *peer, const char *body, size_t len,
		     const struct ctl_sdp_rewrite *rw);

/* The ICE dialect a section's SDP speaks, as far as SDP tells. */
enum ctl_sdp_dialect {
	CTL_DIALECT_NONE = 0,  /* no ICE */
	CTL_DIALECT_RFC,       /* RFC 8445 / 5245 */
	CTL_DIALECT_MSICE,     /* [MS-ICE] draft-06 only (OCS 2007) */
	CTL_DIALECT_MSICE2,    /* MS-ICE2 (OCS 2007 R2 and later, Lync, libnice OC2007R2) */
};

/**
 * Guess section i's dialect. Draft-06 candidates alone: MS-ICE. RFC-form ICE is MS-ICE2 when
 * the same body also carries the draft-06 set (Lync's fallback: in_fallback_body for a
 * multipart whose other part holds it), when it uses tokens only Microsoft writes (TCP-ACT /
 * TCP-PASS transports, a=x-candidate-ipv6, a=x-candidate-info), or when every RFC-form UDP
 * candidate's local preference has MS-ICE2's layout (transport 15 in bits 12-15, direction 0
 * in bits 9-11: libnice's OC2007R2 mode); otherwise RFC.
 */
enum ctl_sdp_dialect ctl_sdp_dialect(const struct ctl_sdp *s, unsigned i, bool in_fallback_body);

/* ---- multipart bodies ---- */

#define CTL_BODY_PARTS_MAX 8

/* One application/sdp part of a body: where its content lies (headers excluded). */
struct ctl_body_part {
	size_t off, len;
	bool fallback;           /* Content-Disposition names ms-proxy-2007fallback (ICEv6 part) */
};

/*
 * A body as a proxy may pass it in the NG "sdp" key: a plain SDP, or a whole MIME multipart
 * (RFC 2046 §5.1) such as Lync's multipart/alternative of an ICEv6 and an ICEv19 SDP
 * ([MS-SIPRE] §3.15.4.1), possibly nested one level in a multipart/mixed.
 */
struct ctl_body {
	bool multipart;
	unsigned n_sdp;          /* application/sdp parts found (1 for a plain SDP) */
	struct ctl_body_part sdp[CTL_BODY_PARTS_MAX];
	unsigned primary;        /* the part calls are set up from: the last (ICEv19 goes last) */
};

/**
 * Find the SDP parts of body. A body whose first non-blank line starts with "--" is taken as
 * a multipart whose boundary that line names; anything else is one plain SDP. Returns 0,
 * CTL_SDP_E_EMPTY when a multipart holds no application/sdp part, CTL_SDP_E_SYNTAX when it is
 * malformed (no closing delimiter, part without header end), CTL_SDP_E_TOO_BIG past
 * CTL_BODY_PARTS_MAX parts or nesting deeper than two levels.
 */
int ctl_body_split(struct ctl_body *b, const char *body, size_t len);

#endif

/* ICEWarn diagnostic flags (seed 000, the Lync resource kit table): the flag table, decoding
 * and formatting of values, and reading ICEWarn values out of ms-client-diagnostics headers. */
#ifndef ICE_WARN_H
#define ICE_WARN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How bad a flag is, as the seed table's action column judges it; ordered so that a larger
 * value is more severe. */
enum ice_warn_sev {
	ICE_WARN_SEV_INFO = 0,  /* informational: the table says it indicates no ICE failure */
	ICE_WARN_SEV_EXPECTED,  /* expected or environment-dependent; may end in an ICE failure */
	ICE_WARN_SEV_FAILURE,   /* not expected: a likely cause of an ICE failure */
};

/*
 * The ICEWarn bits of seed 000, one entry each:
 *   _(NAME, value, severity, meaning, administrator's action)
 * The meanings and actions are the seed table's words, condensed: they are what operators
 * already read in Lync monitoring reports. Bits 0x800 and 0x08000000-0x40000000 are not in
 * the table and are reported as unknown.
 */
#define foreach_ice_warn_flag                                                                   \
	_(TURN_UNREACHABLE, 0x1, FAILURE,                                                       \
	  "TURN server is unreachable",                                                         \
	  "Not expected. Make sure the firewall opens the TURN ports (443 and 3478 by default) "  \
	  "and that the TURN server is running.")                                               \
	_(TURN_UDP_ALLOC_FAILED, 0x2, EXPECTED,                                                 \
	  "An attempt to allocate a UDP port on the TURN server failed",                        \
	  "May be expected when the client is behind a firewall that blocks UDP.")              \
	_(TURN_UDP_SEND_FAILED, 0x4, EXPECTED,                                                  \
	  "An attempt to send UDP on the TURN server failed",                                   \
	  "May be expected when the client is behind a firewall that blocks UDP.")              \
	_(TURN_TCP_ALLOC_FAILED, 0x8, FAILURE,                                                  \
	  "An attempt to allocate a TCP port on the TURN server failed",                        \
	  "Not expected. Check the firewall policy and that the Audio/Video Edge service is "   \
	  "reachable; behind an HTTP proxy, check that the proxy does not fail the TLS attempt.") \
	_(TURN_TCP_SEND_FAILED, 0x10, FAILURE,                                                  \
	  "An attempt to send TCP on the TURN server failed",                                   \
	  "Not expected. Check the firewall policy and that the Audio/Video Edge service is "   \
	  "reachable; if the remote client is behind an HTTP proxy, check that the proxy does "  \
	  "not fail the TLS attempt.")                                                          \
	_(LOCAL_CONNECTIVITY_FAILED, 0x20, EXPECTED,                                            \
	  "Local connectivity failed (local UDP for audio/video, local TCP for application "    \
	  "sharing and file transfer)",                                                         \
	  "Can occur when NAT or firewalls make a direct connection between the clients "       \
	  "impossible.")                                                                        \
	_(UDP_NAT_FAILED, 0x40, EXPECTED,                                                       \
	  "UDP NAT connectivity failed",                                                        \
	  "Can occur when NAT or firewalls make a direct connection between the clients "       \
	  "impossible.")                                                                        \
	_(UDP_TURN_FAILED, 0x80, EXPECTED,                                                      \
	  "UDP TURN server connectivity failed",                                                \
	  "Can occur when one of the clients is behind a UDP-blocking firewall or an HTTP "     \
	  "proxy.")                                                                             \
	_(TCP_NAT_FAILED, 0x100, EXPECTED,                                                      \
	  "TCP NAT connectivity failed",                                                        \
	  "Expected. If local-to-local connectivity succeeded the TCP NAT check may not have "   \
	  "been tried, or no direct TCP connection is possible.")                               \
	_(TCP_TURN_FAILED, 0x200, EXPECTED,                                                     \
	  "TCP TURN server connectivity failed",                                                \
	  "Expected. The TCP TURN check may not have been tried, or one side had no TURN "      \
	  "allocation. Ignore it if the rest of the call connected; otherwise investigate why "  \
	  "the TCP path was not possible.")                                                     \
	_(INTEGRITY_FAILED, 0x400, FAILURE,                                                     \
	  "Message integrity failed in a connectivity check request",                           \
	  "Not expected: it points to a security attack.")                                     \
	_(POLICY_SERVER, 0x1000, INFO,                                                          \
	  "A policy server was configured",                                                     \
	  "Expected when a bandwidth policy applies to the call link; if the call failed, "     \
	  "increase the bandwidth allocated on that link. Not an ICE failure.")                 \
	_(CHECK_SEND_FAILED, 0x2000, FAILURE,                                                   \
	  "Connectivity check request failed: a memory problem or something else prevented "    \
	  "sending packets",                                                                    \
	  "Unexpected: the computer may be over capacity.")                                     \
	_(TURN_CREDENTIALS, 0x4000, FAILURE,                                                    \
	  "TURN server credentials have expired or are unknown",                                \
	  "Unexpected: the Audio/Video Edge authentication service may be down.")               \
	_(POLICY_REMOVED_CANDIDATES, 0x8000, EXPECTED,                                          \
	  "Bandwidth policy restriction has removed some candidates",                           \
	  "If ICE failed with this flag, the policy server topology is misconfigured: policy "  \
	  "routed over another connection and that one failed (internal NATs?).")               \
	_(POLICY_BW_DECREASED, 0x10000, INFO,                                                   \
	  "Bandwidth policy restriction decreases the bandwidth",                               \
	  "Call quality is not optimal (narrow-band codec, no HD video). Not an ICE failure.")  \
	_(POLICY_KEEPALIVE_FAILED, 0x20000, INFO,                                               \
	  "Bandwidth policy keepalive failed",                                                  \
	  "Unexpected: the policy or TURN server failed, so the call's bandwidth may not be "   \
	  "reported to the Bandwidth Policy Core Service. The call continues; not an ICE "      \
	  "failure.")                                                                           \
	_(POLICY_ALLOC_FAILED, 0x40000, FAILURE,                                                \
	  "Bandwidth policy allocation failure",                                                \
	  "The policy server refused a media path through two Audio/Video Edge services "       \
	  "(relay to relay).")                                                                  \
	_(NO_TURN_SERVER, 0x80000, FAILURE,                                                     \
	  "No TURN server configured",                                                          \
	  "No TURN server is configured, or its DNS name does not resolve.")                    \
	_(MULTIPLE_TURN_SERVERS, 0x100000, INFO,                                                \
	  "Multiple TURN servers configured",                                                   \
	  "Expected with DNS load balancing. Not an ICE failure.")                              \
	_(PORT_RANGE_EXHAUSTED, 0x200000, FAILURE,                                              \
	  "Port range exhausted",                                                               \
	  "Ports were configured by hand on the client or media server: A/V needs at least 20 " \
	  "ports per call, application sharing and file transfer at least 3.")                  \
	_(ALTERNATE_SERVER, 0x400000, EXPECTED,                                                 \
	  "Received alternate server",                                                          \
	  "The TURN server is overloaded or refusing new connections; ICE may fail if the "     \
	  "alternate server is not running.")                                                   \
	_(PSEUDO_TLS_FAILED, 0x800000, FAILURE,                                                 \
	  "Pseudo-TLS failure",                                                                 \
	  "An HTTP proxy doing deep SSL inspection fails the connection to the TURN server "    \
	  "(not supported by Microsoft).")                                                      \
	_(HTTP_PROXY, 0x1000000, INFO,                                                          \
	  "HTTP proxy configured",                                                              \
	  "An HTTP proxy is configured. Not an ICE failure.")                                   \
	_(HTTP_PROXY_AUTH_FAILED, 0x2000000, FAILURE,                                           \
	  "HTTP proxy authentication failed",                                                   \
	  "Not expected: the HTTP proxy did not recognise the user's credentials or "           \
	  "authentication mode.")                                                               \
	_(TURN_TCP_TCP_FAILED, 0x4000000, FAILURE,                                              \
	  "TCP-TCP connectivity checks failed over the TURN server",                            \
	  "Not expected: port 443 is not open on the firewall. With a 2007 A/V Edge Server, "   \
	  "open TCP 50,000-59,999 to all external Audio/Video Edge services.")                  \
	_(USE_CANDIDATE_FAILED, 0x80000000, FAILURE,                                            \
	  "Use candidate checks failed",                                                        \
	  "Not expected: after some packets the rest never arrived, which third-party Winsock " \
	  "layered service providers (LSPs) can cause; remove them.")

/* One constant per flag. 0x80000000 does not fit an int: GCC and Clang give such an enum an
 * unsigned type (standard since C23), which is what the values need. */
enum ice_warn_flag_value {
#define _(n, v, s, m, a) ICE_WARN_##n = v##u,
	foreach_ice_warn_flag
#undef _
};

/* Every bit the table knows; the rest of a value is unknown bits. */
enum {
#define _(n, v, s, m, a) | v##u
	ICE_WARN_KNOWN_MASK = 0u foreach_ice_warn_flag
#undef _
};

/* Seed 000's line for 0x0. */
#define ICE_WARN_NONE_MEANING "There were no failures or the ICE protocol was not used"

struct ice_warn_flag {
	uint32_t value;          /* a single bit */
	const char *name;        /* short name for logs: "TCP_TURN_FAILED" */
	const char *meaning;     /* the table's description, no final period */
	const char *action;      /* what the administrator should do, one or two sentences */
	enum ice_warn_sev sev;
};

/* Errors: negative values, with ice_warn_strerror(). */
enum ice_warn_err {
	ICE_WARN_OK = 0,
	ICE_WARN_E_EMPTY = -1,      /* no digits at all */
	ICE_WARN_E_SYNTAX = -2,     /* not 0x-hex, h-suffixed hex or decimal */
	ICE_WARN_E_NEGATIVE = -3,
	ICE_WARN_E_RANGE = -4,      /* more than 32 bits */
	ICE_WARN_E_NOSPACE = -5,    /* output buffer too small (output truncated, still terminated) */
	ICE_WARN_E_NOT_HEADER = -6, /* not an ms-client-diagnostics header */
	ICE_WARN_E_CODE = -7,       /* diagnostic code missing or not a number */
	ICE_WARN_E_TRUNCATED = -8,  /* a quoted value is not closed */
	ICE_WARN_E_TOO_LONG = -9,   /* header longer than ICE_WARN_HEADER_MAX */
	ICE_WARN_E_TOO_MANY = -10,  /* more than ICE_WARN_MAX_MEDIA ICEWarn values */
	ICE_WARN_E_ERR_MIN = -10,
};

const char *ice_warn_strerror(int err);
const char *ice_warn_sev_name(enum ice_warn_sev sev);

/* The table, in ascending bit order. */
const struct ice_warn_flag *ice_warn_table(size_t *count);

/* The entry of one bit; NULL for a bit the table does not know, or a value that is not a
 * single bit. */
const struct ice_warn_flag *ice_warn_lookup(uint32_t bit);

/**
 * Iterate the set bits of value, lowest first, known or not. Start with *pos = 0; each call
 * returns the next set bit as a single-bit mask, or 0 when there are no more.
 */
uint32_t ice_warn_next(uint32_t value, unsigned *pos);

#define ice_warn_foreach_bit(bit, pos, value) \
	for ((pos) = 0; ((bit) = ice_warn_next((value), &(pos))) != 0;)

/* The most severe known flag in value (ties go to the higher bit, which in the table's
 * order is the later fallback that failed); NULL when no known bit is set. */
const struct ice_warn_flag *ice_warn_worst(uint32_t value);

/* Room for any value's formatted names or reason. */
#define ICE_WARN_FORMAT_MAX 1024

/**
 * Format value for traces: "0x320 = LOCAL_CONNECTIVITY_FAILED|TCP_NAT_FAILED|TCP_TURN_FAILED".
 * Unknown bits appear together as "UNKNOWN(0x800)"; zero as "0x0 = NONE".
 * Returns the length written, or ICE_WARN_E_NOSPACE (buf then holds a terminated prefix).
 */
int ice_warn_format(char *buf, size_t size, uint32_t value);

/**
 * Format value in the style of an ms-client-diagnostics parameter, with a one-sentence
 * reason taken from the most severe flag:
 *   ICEWarn=0x320;reason="TCP TURN server connectivity failed (and 2 more warnings)"
 * Returns the length written, or ICE_WARN_E_NOSPACE.
 */
int ice_warn_format_reason(char *buf, size_t size, uint32_t value);

/**
 * Parse an ICEWarn value of len bytes: "0x320" / "0X320" (hex), "320h" (hex), "800"
 * (decimal, leading zeros allowed, never octal). Nothing else is accepted: no signs, no
 * spaces, at most 32 bits.
 */
int ice_warn_parse(const char *s, size_t len, uint32_t *value);

/* A piece of the parsed header, pointing into the caller's buffer (not terminated). */
struct ice_warn_str {
	const char *p;
	size_t len;
};

struct ice_warn_media {
	struct ice_warn_str param;  /* where it was found: "CallerMediaDebug" */
	struct ice_warn_str label;  /* media label: "audio", "application-sharing"; may be empty */
	uint32_t value;
};

#define ICE_WARN_MAX_MEDIA 16
#define ICE_WARN_HEADER_MAX 8192

struct ice_warn_diag {
	uint32_t code;              /* the diagnostic code: 24 */
	struct ice_warn_str reason; /* reason parameter without its quotes; empty if absent */
	unsigned n;
	struct ice_warn_media media[ICE_WARN_MAX_MEDIA];
};

/**
 * Parse an ms-client-diagnostics header, with or without its "ms-client-diagnostics:" name:
 *   ms-client-diagnostics: 24; reason="..."; CallerMediaDebug="audio:ICEWarn=0x320,...|video:..."
 * Values may be quoted with ASCII quotes or the typographic ones word processors put in
 * (U+201C U+201D U+201E U+2033, in any pairing). Every ICEWarn=<value> in every parameter
 * is returned with its parameter name and media label ("label:" opens a media section;
 * sections are separated by '|' or ','). Trailing CR/LF is ignored.
 * Returns the number of ICEWarn values, 0 for a well-formed header that carries none (code
 * and reason are still filled in), or a negative ice_warn_err; an ICEWarn value that does
 * not parse fails the whole header with the value's error.
 */
int ice_warn_parse_header(const char *hdr, size_t len, struct ice_warn_diag *out);

#endif

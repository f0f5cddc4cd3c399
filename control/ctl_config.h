/* The daemon's configuration: rtpengine/coturn-style "key = value" files with [sections],
 * command-line overrides, defaults and validation with file:line errors. */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ice_addr.h"

#define CTL_IFACE_MAX 16
#define CTL_IFACE_NAME_MAX 31
#define CTL_CFG_LINE_MAX 1024
#define CTL_CFG_FILE_MAX (1 << 20)   /* a config file is small; bigger is a mistake */
#define CTL_CFG_PATH_MAX 255

/* Defaults. listen-ng matches the rtpengine_sock of shared/PEERS.md's Kamailio setup; 10001
 * media ports hold 2500 two-leg calls with separate RTCP; log levels are syslog severities
 * (RFC 5424 §6.2.1), 6 = informational. */
#define CTL_DEFAULT_LISTEN_NG "127.0.0.1:2223"
#define CTL_DEFAULT_PORT_MIN 30000
#define CTL_DEFAULT_PORT_MAX 40000
#define CTL_DEFAULT_LOG_LEVEL 6

enum ctl_cfg_err {
	CTL_CFG_OK = 0,
	CTL_CFG_E_INVAL = -300,    /* NULL argument */
	CTL_CFG_E_IO = -301,       /* cannot open or read the file */
	CTL_CFG_E_SYNTAX = -302,   /* not "key = value", "[section]" or a comment */
	CTL_CFG_E_SECTION = -303,  /* unknown section */
	CTL_CFG_E_KEY = -304,      /* unknown key */
	CTL_CFG_E_VALUE = -305,    /* bad value for a known key */
	CTL_CFG_E_TOO_MANY = -306, /* more interfaces than CTL_IFACE_MAX */
	CTL_CFG_E_INVALID = -307,  /* the whole does not make sense (see message) */
	CTL_CFG_E_ERR_MIN = -307,
};

const char *ctl_config_strerror(int err);

/* Where and why a configuration was refused. */
struct ctl_config_err {
	char where[CTL_CFG_PATH_MAX + 1];  /* file name, or "command line" */
	unsigned line;                     /* 1-based line (argument index on the command line) */
	char msg[192];
};

/* A logical interface, rtpengine's --interface NAME/IP[!ADVERTISED]. */
struct ctl_iface {
	char name[CTL_IFACE_NAME_MAX + 1];  /* "default" when not named */
	struct ice_addr local;              /* bound address (port 0) */
	bool has_advertised;
	struct ice_addr advertised;         /* written into SDP instead of local (1:1 NAT) */
};

/* TURN servers the gateway allocates relays on for its own legs (docs/operations.md). */
#define CTL_TURN_MAX 4
#define CTL_TURN_CRED_MAX 127
struct ctl_turn_cfg {
	struct ice_addr server[CTL_TURN_MAX];  /* tried in order; the first that answers is used */
	unsigned n_server;
	char user[CTL_TURN_CRED_MAX + 1], pass[CTL_TURN_CRED_MAX + 1];
	char realm[CTL_TURN_CRED_MAX + 1];     /* empty: the server's; else it must match */
	bool ms_turn;                           /* Edge server: MS-TURN dialect, base64 credentials */
	uint32_t timeout_ms;                    /* an offer waits this long for its relays */
};

struct ctl_config {
	struct ice_addr listen_ng;          /* NG over UDP */
	bool has_listen_tcp_ng;
	struct ice_addr listen_tcp_ng;      /* NG over TCP, off by default */
	struct ctl_iface iface[CTL_IFACE_MAX];
	unsigned n_iface;
	uint16_t port_min, port_max;        /* media ports, inclusive */
	uint32_t max_sessions;              /* 0: no limit */
	int log_level;                      /* syslog severity 0..7 */
	char config_file[CTL_CFG_PATH_MAX + 1];
	bool iface_from_cli;                /* command-line interfaces replace the file's */
	struct ctl_turn_cfg turn;
};

/** Apply one turn-* key (turn-server, turn-username, turn-password, turn-realm, turn-ms,
 *  turn-timeout-ms). Returns 0, CTL_CFG_E_KEY for another key, or an error. */
int ctl_config_set_turn(struct ctl_turn_cfg *t, const char *key, const char *value,
			struct ctl_config_err *err);

/** Defaults; no interface (one must be configured). */
void ctl_config_defaults(struct ctl_config *c);

/** Apply one key (as in a file's [icegw] section). Interfaces accumulate. */
int ctl_config_set(struct ctl_config *c, const char *key, const char *value, struct ctl_config_err *err);

/** Apply a file's text; name is used in errors. Stops at the first error. */
int ctl_config_parse(struct ctl_config *c, const char *text, size_t len, const char *name,
		     struct ctl_config_err *err);

/** Read and apply a file. */
int ctl_config_load(struct ctl_config *c, const char *path, struct ctl_config_err *err);

/**
 * Defaults, then --config-file FILE (or --config-file=FILE) if given, then every other
 * --key=value / --key value from argv[1..] on top, then validation. Returns 0 or an error.
 */
int ctl_config_from_args(struct ctl_config *c, int argc, char *const argv[], struct ctl_config_err *err);

/** Cross-key checks: port-min <= port-max, at least one interface, unique names per address. */
int ctl_config_validate(const struct ctl_config *c, struct ctl_config_err *err);

/** Look up a logical interface by name (first match), NULL if none. */
const struct ctl_iface *ctl_config_iface(const struct ctl_config *c, const char *name);

#endif

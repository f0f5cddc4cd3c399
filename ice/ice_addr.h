/* Transport addresses as the protocol core sees them: family, address bytes and port,
 * independent of sockets so the same value serves DPDK, kernel sockets and tests. */
#ifndef ICE_ADDR_H
#define ICE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ICE_AF_INET 4
#define ICE_AF_INET6 6

/* Longest text form: "[ffff:...:ffff]:65535" plus NUL. */
#define ICE_ADDR_STRLEN 56

struct ice_addr {
	uint8_t family;  /* ICE_AF_INET or ICE_AF_INET6; 0 = unset */
	uint8_t pad;
	uint16_t port;   /* host byte order */
	uint8_t ip[16];  /* network byte order; IPv4 uses the first 4 bytes */
};

/** Build an IPv4 address from a host-order 32-bit value and port. */
void ice_addr_set_v4(struct ice_addr *a, uint32_t ip_host, uint16_t port);

/** Equal family, address and port. */
bool ice_addr_eq(const struct ice_addr *a, const struct ice_addr *b);

/** Equal family and address, port ignored. */
bool ice_addr_eq_ip(const struct ice_addr *a, const struct ice_addr *b);

/** Parse "1.2.3.4", "1.2.3.4:5", "::1", "[::1]:5". Port defaults to 0. Returns 0 or -EINVAL. */
int ice_addr_parse(struct ice_addr *a, const char *s);

/** Parse an address without port and a separate port. Returns 0 or -EINVAL. */
int ice_addr_parse_ip_port(struct ice_addr *a, const char *ip, unsigned port);

/** Text form "ip:port" ("[ip]:port" for IPv6). Returns buf. */
char *ice_addr_fmt(const struct ice_addr *a, char *buf, size_t len);

/** Text form of the address alone. Returns buf. */
char *ice_addr_fmt_ip(const struct ice_addr *a, char *buf, size_t len);

/** IPv4 address as a host-order integer (0 for other families). */
uint32_t ice_addr_v4(const struct ice_addr *a);

#endif

/* Transport address helpers: parsing, formatting, comparison. No sockets are
 * opened here; inet_pton/ntop are pure conversions. */
#include "ice_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ice_addr_set_v4(struct ice_addr *a, uint32_t ip_host, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = ICE_AF_INET;
	a->port = port;
	a->ip[0] = (uint8_t)(ip_host >> 24);
	a->ip[1] = (uint8_t)(ip_host >> 16);
	a->ip[2] = (uint8_t)(ip_host >> 8);
	a->ip[3] = (uint8_t)ip_host;
}

uint32_t ice_addr_v4(const struct ice_addr *a)
{
	if (a->family != ICE_AF_INET)
		return 0;
	return ((uint32_t)a->ip[0] << 24) | ((uint32_t)a->ip[1] << 16) |
	       ((uint32_t)a->ip[2] << 8) | a->ip[3];
}

static size_t ip_len(const struct ice_addr *a)
{
	return a->family == ICE_AF_INET6 ? 16 : 4;
}

bool ice_addr_eq_ip(const struct ice_addr *a, const struct ice_addr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, ip_len(a)) == 0;
}

bool ice_addr_eq(const struct ice_addr *a, const struct ice_addr *b)
{
	return a->port == b->port && ice_addr_eq_ip(a, b);
}

int ice_addr_parse_ip_port(struct ice_addr *a, const char *ip, unsigned port)
{
	memset(a, 0, sizeof(*a));
	if (port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, ip, a->ip) == 1)
		a->family = ICE_AF_INET;
	else if (inet_pton(AF_INET6, ip, a->ip) == 1)
		a->family = ICE_AF_INET6;
	else
		return -EINVAL;
	a->port = (uint16_t)port;
	return 0;
}

static int parse_port(const char *s, unsigned *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

int ice_addr_parse(struct ice_addr *a, const char *s)
{
	char tmp[64];
	unsigned port = 0;
	size_t n = strlen(s);
	const char *colon;

	if (n == 0 || n >= sizeof(tmp))
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || (size_t)(close - s - 1) >= sizeof(tmp))
			return -EINVAL;
		memcpy(tmp, s + 1, (size_t)(close - s - 1));
		tmp[close - s - 1] = 0;
		if (close[1] == ':') {
			if (parse_port(close + 2, &port))
				return -EINVAL;
		} else if (close[1]) {
			return -EINVAL;
		}
		return ice_addr_parse_ip_port(a, tmp, port);
	}
	colon = strchr(s, ':');
	if (colon && strchr(colon + 1, ':') == NULL) {
		/* IPv4 with port */
		memcpy(tmp, s, (size_t)(colon - s));
		tmp[colon - s] = 0;
		if (parse_port(colon + 1, &port))
			return -EINVAL;
		if (ice_addr_parse_ip_port(a, tmp, port) || a->family != ICE_AF_INET)
			return -EINVAL;
		return 0;
	}
	return ice_addr_parse_ip_port(a, s, 0);
}

char *ice_addr_fmt_ip(const struct ice_addr *a, char *buf, size_t len)
{
	if (a->family == ICE_AF_INET)
		inet_ntop(AF_INET, a->ip, buf, (socklen_t)len);
	else if (a->family == ICE_AF_INET6)
		inet_ntop(AF_INET6, a->ip, buf, (socklen_t)len);
	else
		snprintf(buf, len, "(none)");
	return buf;
}

char *ice_addr_fmt(const struct ice_addr *a, char *buf, size_t len)
{
	char ip[48];

	ice_addr_fmt_ip(a, ip, sizeof(ip));
	if (a->family == ICE_AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, a->port);
	else
		snprintf(buf, len, "%s:%u", ip, a->port);
	return buf;
}

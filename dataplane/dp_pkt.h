/* Packet headers on raw frame bytes: Ethernet, ARP, IPv4, UDP, checksums. Shared by the
 * DPDK worker and the DPDK-free core so that the same code runs in tests and on a NIC. */
#ifndef DP_PKT_H
#define DP_PKT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define DP_ETH_LEN 14
#define DP_IP4_LEN 20
#define DP_UDP_LEN 8
#define DP_HDRS_LEN (DP_ETH_LEN + DP_IP4_LEN + DP_UDP_LEN)
#define DP_ETHERTYPE_IP4 0x0800
#define DP_ETHERTYPE_ARP 0x0806
#define DP_ETHERTYPE_VLAN 0x8100

static inline uint16_t dp_rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t dp_rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void dp_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void dp_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One's-complement sum over 16-bit words (RFC 1071). RFC 1071 §2(B): the sum is the same in
 * either byte order, so 32-bit native loads are summed into a 64-bit accumulator and the
 * result is put back in network order once, at the end. */
static inline uint32_t dp_csum_add(uint32_t sum, const uint8_t *p, uint32_t len)
{
	uint64_t acc = 0;
	uint32_t i = 0, w;
	uint16_t h;

	for (; i + 4 <= len; i += 4) {
		memcpy(&w, p + i, 4);
		acc += w;
	}
	if (i + 2 <= len) {
		memcpy(&h, p + i, 2);
		acc += h;
		i += 2;
	}
	if (i < len) {
		uint8_t last[2] = {p[i], 0};
		memcpy(&h, last, 2);
		acc += h;
	}
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	h = (uint16_t)acc;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	h = (uint16_t)((h >> 8) | (h << 8));
#endif
	return sum + h;
}

static inline uint16_t dp_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* IPv4 header checksum, header at ip with IHL 5. */
static inline void dp_ip4_csum(uint8_t *ip)
{
	ip[10] = ip[11] = 0;
	dp_wr16(ip + 10, dp_csum_fold(dp_csum_add(0, ip, DP_IP4_LEN)));
}

/* UDP checksum over the pseudo-header and datagram (RFC 768); 0 becomes 0xffff. */
static inline void dp_udp4_csum(const uint8_t *ip, uint8_t *udp, uint16_t ulen)
{
	uint32_t sum = dp_csum_add(0, ip + 12, 8) + 17 + ulen;
	uint16_t c;

	udp[6] = udp[7] = 0;
	c = dp_csum_fold(dp_csum_add(sum, udp, ulen));
	dp_wr16(udp + 6, c ? c : 0xffff);
}

/* Write Ethernet + IPv4 + UDP headers in front of a payload already at f + DP_HDRS_LEN. */
static inline uint16_t dp_build_udp4(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6],
				     uint32_t sip, uint16_t sport, uint32_t dip, uint16_t dport,
				     uint16_t plen, uint16_t ip_id, bool udp_csum)
{
	uint8_t *ip = f + DP_ETH_LEN, *udp = ip + DP_IP4_LEN;
	uint16_t ulen = (uint16_t)(DP_UDP_LEN + plen);

	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	dp_wr16(f + 12, DP_ETHERTYPE_IP4);
	ip[0] = 0x45;
	ip[1] = 0xb8; /* DSCP EF (RFC 4594 §4.2): media and its control */
	dp_wr16(ip + 2, (uint16_t)(DP_IP4_LEN + ulen));
	dp_wr16(ip + 4, ip_id);
	dp_wr16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 17;
	dp_wr32(ip + 12, sip);
	dp_wr32(ip + 16, dip);
	dp_ip4_csum(ip);
	dp_wr16(udp, sport);
	dp_wr16(udp + 2, dport);
	dp_wr16(udp + 4, ulen);
	if (udp_csum)
		dp_udp4_csum(ip, udp, ulen);
	else
		udp[6] = udp[7] = 0;
	return (uint16_t)(DP_HDRS_LEN + plen);
}

#endif

/* pcap <-> UDP datagram helpers for the tools and tests (not the dataplane, which reads
 * captures through DPDK's net_pcap). */
#include "pcap_udp.h"

#include <stdio.h>
#include <string.h>

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

int pcap_udp_open(struct pcap_udp_reader *r, const char *path, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->p = pcap_open_offline(path, r->err);
	if (!r->p) {
		snprintf(err, errlen, "%s: %s", path, r->err);
		return -1;
	}
	r->dlt = pcap_datalink(r->p);
	switch (r->dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_NULL:
	case DLT_RAW:
	case DLT_IPV4:
		return 0;
	default:
		snprintf(err, errlen, "%s: unsupported link type %s", path,
			 pcap_datalink_val_to_name(r->dlt) ? pcap_datalink_val_to_name(r->dlt) : "?");
		pcap_close(r->p);
		r->p = NULL;
		return -1;
	}
}

static int parse_ip(const uint8_t *p, uint32_t caplen, struct pcap_udp_pkt *pkt)
{
	if (caplen < 1)
		return 0;
	if ((p[0] >> 4) == 4) {
		uint32_t ihl = (uint32_t)(p[0] & 0xf) * 4, tot;
		if (caplen < 20 || ihl < 20 || caplen < ihl + 8 || p[9] != 17)
			return 0;
		/* a fragment other than the first, or a first fragment: not a whole datagram */
		if (rd16(p + 6) & 0x3fff)
			return 0;
		tot = rd16(p + 2);
		if (tot > caplen || tot < ihl + 8)
			return 0;
		memset(&pkt->src, 0, sizeof(pkt->src));
		memset(&pkt->dst, 0, sizeof(pkt->dst));
		pkt->src.family = pkt->dst.family = ICE_AF_INET;
		memcpy(pkt->src.ip, p + 12, 4);
		memcpy(pkt->dst.ip, p + 16, 4);
		p += ihl;
		caplen = tot - ihl;
	} else if ((p[0] >> 4) == 6) {
		uint32_t plen;
		if (caplen < 48 || p[6] != 17)
			return 0;
		plen = rd16(p + 4);
		if (plen + 40 > caplen || plen < 8)
			return 0;
		memset(&pkt->src, 0, sizeof(pkt->src));
		memset(&pkt->dst, 0, sizeof(pkt->dst));
		pkt->src.family = pkt->dst.family = ICE_AF_INET6;
		memcpy(pkt->src.ip, p + 8, 16);
		memcpy(pkt->dst.ip, p + 24, 16);
		p += 40;
		caplen = plen;
	} else {
		return 0;
	}
	{
		uint32_t ulen = rd16(p + 4);
		if (ulen < 8 || ulen > caplen)
			return 0;
		pkt->src.port = rd16(p);
		pkt->dst.port = rd16(p + 2);
		pkt->payload = p + 8;
		pkt->len = ulen - 8;
	}
	return 1;
}

int pcap_udp_next(struct pcap_udp_reader *r, struct pcap_udp_pkt *pkt)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc = pcap_next_ex(r->p, &h, &d);
	uint32_t off;

	if (rc == PCAP_ERROR_BREAK)
		return PCAP_UDP_EOF;
	if (rc != 1) {
		snprintf(r->err, sizeof(r->err), "%s", pcap_geterr(r->p));
		return PCAP_UDP_ERROR;
	}
	pkt->ts = h->ts;
	switch (r->dlt) {
	case DLT_EN10MB: {
		uint16_t et;
		off = 14;
		if (h->caplen < 14)
			return 0;
		et = rd16(d + 12);
		while ((et == 0x8100 || et == 0x88a8) && h->caplen >= off + 4) {
			et = rd16(d + off + 2);
			off += 4;
		}
		if (et != 0x0800 && et != 0x86dd)
			return 0;
		break;
	}
	case DLT_LINUX_SLL:
		off = 16;
		if (h->caplen < 16 || (rd16(d + 14) != 0x0800 && rd16(d + 14) != 0x86dd))
			return 0;
		break;
	case DLT_NULL:
		off = 4;
		break;
	default:
		off = 0;
		break;
	}
	if (h->caplen < off)
		return 0;
	return parse_ip(d + off, h->caplen - off, pkt);
}

void pcap_udp_close(struct pcap_udp_reader *r)
{
	if (r->p)
		pcap_close(r->p);
	r->p = NULL;
}

int pcap_udp_create(struct pcap_udp_writer *w, const char *path, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->p = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_MICRO);
	if (!w->p) {
		snprintf(err, errlen, "pcap_open_dead failed");
		return -1;
	}
	w->d = pcap_dump_open(w->p, path);
	if (!w->d) {
		snprintf(err, errlen, "%s: %s", path, pcap_geterr(w->p));
		pcap_close(w->p);
		w->p = NULL;
		return -1;
	}
	return 0;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)((p[i] << 8) | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int pcap_udp_write(struct pcap_udp_writer *w, const struct timeval *ts, const struct ice_addr *src,
		   const struct ice_addr *dst, const void *payload, size_t len)
{
	uint8_t f[65600];
	size_t iplen = src->family == ICE_AF_INET6 ? 40 : 20, off = 14 + iplen, total;
	uint8_t *ip = f + 14, *udp;
	uint32_t sum = 0;
	struct pcap_pkthdr h;

	if (src->family != dst->family || len > 65000)
		return -1;
	total = off + 8 + len;
	/* locally administered MACs derived from the last address byte */
	memcpy(f, "\x02\x00\x00\x00\x00", 5);
	f[5] = dst->ip[src->family == ICE_AF_INET6 ? 15 : 3];
	memcpy(f + 6, "\x02\x00\x00\x00\x00", 5);
	f[11] = src->ip[src->family == ICE_AF_INET6 ? 15 : 3];
	udp = f + off;
	if (src->family == ICE_AF_INET) {
		f[12] = 0x08;
		f[13] = 0x00;
		ip[0] = 0x45;
		ip[1] = 0;
		ip[2] = (uint8_t)((20 + 8 + len) >> 8);
		ip[3] = (uint8_t)(20 + 8 + len);
		ip[4] = (uint8_t)(w->ip_id >> 8);
		ip[5] = (uint8_t)w->ip_id;
		w->ip_id++;
		ip[6] = 0x40; /* DF */
		ip[7] = 0;
		ip[8] = 64;
		ip[9] = 17;
		ip[10] = ip[11] = 0;
		memcpy(ip + 12, src->ip, 4);
		memcpy(ip + 16, dst->ip, 4);
		{
			uint16_t c = csum_fold(csum_add(0, ip, 20));
			ip[10] = (uint8_t)(c >> 8);
			ip[11] = (uint8_t)c;
		}
		sum = csum_add(0, ip + 12, 8);
	} else {
		f[12] = 0x86;
		f[13] = 0xdd;
		memset(ip, 0, 40);
		ip[0] = 0x60;
		ip[4] = (uint8_t)((8 + len) >> 8);
		ip[5] = (uint8_t)(8 + len);
		ip[6] = 17;
		ip[7] = 64;
		memcpy(ip + 8, src->ip, 16);
		memcpy(ip + 24, dst->ip, 16);
		sum = csum_add(0, ip + 8, 32);
	}
	udp[0] = (uint8_t)(src->port >> 8);
	udp[1] = (uint8_t)src->port;
	udp[2] = (uint8_t)(dst->port >> 8);
	udp[3] = (uint8_t)dst->port;
	udp[4] = (uint8_t)((8 + len) >> 8);
	udp[5] = (uint8_t)(8 + len);
	udp[6] = udp[7] = 0;
	memcpy(udp + 8, payload, len);
	sum += 17 + (uint32_t)(8 + len);
	sum = csum_add(sum, udp, 8 + len);
	{
		uint16_t c = csum_fold(sum);
		if (c == 0)
			c = 0xffff; /* RFC 768: zero means no checksum */
		udp[6] = (uint8_t)(c >> 8);
		udp[7] = (uint8_t)c;
	}
	h.ts = *ts;
	h.caplen = h.len = (bpf_u_int32)total;
	pcap_dump((u_char *)w->d, &h, f);
	return 0;
}

void pcap_udp_finish(struct pcap_udp_writer *w)
{
	if (w->d)
		pcap_dump_close(w->d);
	if (w->p)
		pcap_close(w->p);
	w->d = NULL;
	w->p = NULL;
}

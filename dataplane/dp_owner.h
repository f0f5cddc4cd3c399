/* Which worker owns a UDP port: the one rule the control plane (allocating port pairs), the
 * rx dispatcher and the rte_flow rules of dp_main.c all follow, so it lives here once. */
#ifndef DP_OWNER_H
#define DP_OWNER_H

#include <stdint.h>

/** Worker owning UDP port udp_port among nworkers (>= 1): an RTP/RTCP port pair
 *  (even, even + 1) always has one owner. */
static inline unsigned dp_owner(uint16_t udp_port, unsigned nworkers)
{
	return (udp_port / 2u) % nworkers;
}

#endif

/* libFuzzer target for control/ng_bencode and ng_proto: whatever parses must re-encode, parse
 * back and re-encode to the same bytes; the span scanner must agree with the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ng_bencode.h"
#include "ng_proto.h"

static struct ng_benc_node nodes[NG_NODES_MAX], nodes2[NG_NODES_MAX];
static char out[1 << 17], out2[1 << 17], msg[(1 << 16) + 8];
static struct ng_request req;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ng_benc_doc d, d2;
	const char *in = (const char *)data;
	long n, n2, span;
	int rc;

	ng_benc_init(&d, nodes, NG_NODES_MAX);
	rc = ng_benc_parse(&d, in, size);
	span = ng_benc_span(in, size);
	if (rc == 0) {
		if (span != (long)size)
			abort();
		n = ng_benc_encode(&d, 0, out, sizeof(out));
		if (n < 0 || (size_t)n > size)   /* sorting never grows the text */
			abort();
		ng_benc_init(&d2, nodes2, NG_NODES_MAX);
		if (ng_benc_parse(&d2, out, (size_t)n) != 0 || d2.used != d.used)
			abort();
		n2 = ng_benc_encode(&d2, 0, out2, sizeof(out2));
		if (n2 != n || memcmp(out, out2, (size_t)n) != 0)
			abort();
	} else if (rc != NG_BENC_E_NODES && span > 0 && (size_t)span == size) {
		/* the scanner accepted a whole value the parser refused for other than space */
		abort();
	}
	if (size + 2 <= sizeof(msg)) {
		char warn[512];

		memcpy(msg, "c ", 2);
		memcpy(msg + 2, data, size);
		ng_benc_init(&d, nodes, NG_NODES_MAX);
		if (ng_request_parse(&req, &d, msg, size + 2) == 0) {
			if (ng_request_warning(&req, warn, sizeof(warn)) < 0 && req.n_unknown == 0)
				abort();
			if (req.sdp.p && (req.sdp.p < msg || req.sdp.p + req.sdp.n > msg + size + 2))
				abort();
		}
	}
	return 0;
}

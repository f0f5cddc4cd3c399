/* Tests of control/ng_bencode: every value type, round trips through the sorted-key encoder,
 * each malformed form (leading zeros, -0, truncation, depth, huge lengths, trailing bytes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ng_bencode.h"

static struct ng_benc_node nodes[256];
static struct ng_benc_doc doc;

static int parse(const char *s)
{
	ng_benc_init(&doc, nodes, 256);
	return ng_benc_parse(&doc, s, strlen(s));
}

/* Parse s, encode it back, expect the canonical (sorted) text. */
static void roundtrip(const char *s, const char *canon)
{
	char out[1024];
	long n;

	assert_int_equal(parse(s), 0);
	n = ng_benc_encode(&doc, 0, out, sizeof(out));
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, canon);
	assert_int_equal(ng_benc_span(s, strlen(s)), (long)strlen(s));
}

static void test_values(void **state)
{
	const struct ng_benc_node *n, *v;

	(void)state;
	assert_int_equal(parse("i0e"), 0);
	assert_int_equal(nodes[0].type, NG_BENC_INT);
	assert_int_equal(nodes[0].ival, 0);
	assert_int_equal(parse("i-42e"), 0);
	assert_int_equal(nodes[0].ival, -42);
	assert_int_equal(parse("i9223372036854775807e"), 0);
	assert_true(nodes[0].ival == INT64_MAX);
	assert_int_equal(parse("i-9223372036854775808e"), 0);
	assert_true(nodes[0].ival == INT64_MIN);
	assert_int_equal(parse("0:"), 0);
	assert_int_equal(nodes[0].len, 0);
	assert_int_equal(parse("4:pi\0g"), NG_BENC_E_LEN); /* strlen stops at NUL: 4 > 3 */

	/* binary-safe strings: NUL inside, zero copy into the input */
	{
		static const char bin[] = "5:a\0b\0c";

		ng_benc_init(&doc, nodes, 256);
		assert_int_equal(ng_benc_parse(&doc, bin, sizeof(bin) - 1), 0);
		assert_int_equal(nodes[0].len, 5);
		assert_ptr_equal(nodes[0].str, bin + 2);
	}

	assert_int_equal(parse("d7:command5:offer4:listli1e3:fooee"), 0);
	n = ng_benc_at(&doc, 0);
	assert_int_equal(n->type, NG_BENC_DICT);
	assert_int_equal(n->count, 4);
	assert_true(ng_benc_str_eq(ng_benc_dict_get(&doc, n, "command"), "offer"));
	v = ng_benc_dict_get(&doc, n, "list");
	assert_non_null(v);
	assert_int_equal(v->type, NG_BENC_LIST);
	assert_int_equal(v->count, 2);
	assert_int_equal(ng_benc_first(&doc, v)->ival, 1);
	assert_true(ng_benc_str_eq(ng_benc_next(&doc, ng_benc_first(&doc, v)), "foo"));
	assert_null(ng_benc_next(&doc, ng_benc_next(&doc, ng_benc_first(&doc, v))));
	assert_null(ng_benc_dict_get(&doc, n, "absent"));
	assert_null(ng_benc_dict_get(&doc, v, "command")); /* not a dict */
	/* a value that happens to equal a key name is not a key */
	assert_null(ng_benc_dict_get(&doc, n, "offer"));

	/* repeated key: the last one wins */
	assert_int_equal(parse("d3:ICE6:remove3:ICE5:forcee"), 0);
	assert_true(ng_benc_str_eq(ng_benc_dict_get(&doc, &nodes[0], "ICE"), "force"));
}

static void test_roundtrip(void **state)
{
	(void)state;
	roundtrip("d7:command4:pinge", "d7:command4:pinge");
	/* unsorted keys from a sender come back sorted */
	roundtrip("d7:command5:offer3:sdp3:v=07:call-id2:c15:flagsl5:trust6:SIP-ssee",
		  "d7:call-id2:c17:command5:offer5:flagsl5:trust6:SIP-sse3:sdp3:v=0e");
	roundtrip("li-1ei0ei123eld0:0:eee", "li-1ei0ei123eld0:0:eee");
	roundtrip("de", "de");
	roundtrip("le", "le");
	/* byte order, shorter prefix first */
	roundtrip("d2:ab0:1:a0:1:b0:e", "d1:a0:2:ab0:1:b0:e");
	/* nested dicts are sorted too */
	roundtrip("d1:zd1:yi1e1:xi2ee1:ai0ee", "d1:ai0e1:zd1:xi2e1:yi1eee");
}

static void test_malformed(void **state)
{
	char deep[NG_BENC_DEPTH_MAX * 2 + 8];
	size_t i;

	(void)state;
	assert_int_equal(parse("i03e"), NG_BENC_E_INT);   /* leading zero */
	assert_int_equal(parse("i-0e"), NG_BENC_E_INT);   /* negative zero */
	assert_int_equal(parse("i-03e"), NG_BENC_E_INT);
	assert_int_equal(parse("ie"), NG_BENC_E_INT);
	assert_int_equal(parse("i-e"), NG_BENC_E_INT);
	assert_int_equal(parse("i1x"), NG_BENC_E_SYNTAX);
	assert_int_equal(parse("i12"), NG_BENC_E_TRUNC);
	assert_int_equal(parse("i9223372036854775808e"), NG_BENC_E_INT);
	assert_int_equal(parse("i-9223372036854775809e"), NG_BENC_E_INT);
	assert_int_equal(parse("i99999999999999999999999e"), NG_BENC_E_INT);
	assert_int_equal(parse("03:abc"), NG_BENC_E_LEN);  /* leading zero in a length */
	assert_int_equal(parse("00:"), NG_BENC_E_LEN);
	assert_int_equal(parse("5:abc"), NG_BENC_E_LEN);   /* beyond the input */
	assert_int_equal(parse("4294967296:x"), NG_BENC_E_LEN); /* huge */
	assert_int_equal(parse("999999999:x"), NG_BENC_E_LEN);
	assert_int_equal(parse("3abc"), NG_BENC_E_SYNTAX);
	assert_int_equal(parse("3"), NG_BENC_E_TRUNC);
	assert_int_equal(parse("l"), NG_BENC_E_TRUNC);     /* unterminated */
	assert_int_equal(parse("d3:key"), NG_BENC_E_TRUNC);
	assert_int_equal(parse("d3:keye"), NG_BENC_E_SYNTAX); /* key without value */
	assert_int_equal(parse("di1e1:ae"), NG_BENC_E_KEY);
	assert_int_equal(parse("dli1ee1:ae"), NG_BENC_E_KEY);
	assert_int_equal(parse("x"), NG_BENC_E_SYNTAX);
	assert_int_equal(parse("e"), NG_BENC_E_SYNTAX);
	assert_int_equal(parse("i1ei2e"), NG_BENC_E_TRAILING);
	assert_int_equal(parse("de "), NG_BENC_E_TRAILING);
	assert_int_equal(parse(""), NG_BENC_E_INVAL);

	/* depth: NG_BENC_DEPTH_MAX containers nest, one more does not */
	for (i = 0; i < NG_BENC_DEPTH_MAX; i++) {
		deep[i] = 'l';
		deep[NG_BENC_DEPTH_MAX + i] = 'e';
	}
	deep[2 * NG_BENC_DEPTH_MAX] = 0;
	assert_int_equal(parse(deep), 0);
	memset(deep, 'l', NG_BENC_DEPTH_MAX + 1);
	memset(deep + NG_BENC_DEPTH_MAX + 1, 'e', NG_BENC_DEPTH_MAX + 1);
	deep[2 * NG_BENC_DEPTH_MAX + 2] = 0;
	assert_int_equal(parse(deep), NG_BENC_E_DEPTH);

	/* node arena exhaustion */
	{
		struct ng_benc_node few[3];

		ng_benc_init(&doc, few, 3);
		assert_int_equal(ng_benc_parse(&doc, "li1ei2ee", 8), 0);
		assert_int_equal(ng_benc_parse(&doc, "li1ei2ei3ee", 11), NG_BENC_E_NODES);
	}
	assert_string_equal(ng_benc_strerror(NG_BENC_E_DEPTH), "nested too deep");
	assert_string_equal(ng_benc_strerror(5), "unknown bencode error");
}

static void test_span(void **state)
{
	static const char two[] = "d1:ai1ee" "li2ee";

	(void)state;
	assert_int_equal(ng_benc_span(two, sizeof(two) - 1), 8);
	/* prefixes of a valid value need more bytes */
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(ng_benc_span(two, i), 0);
	/* a length beyond what arrived so far is not an error on a stream */
	assert_int_equal(ng_benc_span("10:abc", 6), 0);
	assert_int_equal(ng_benc_span("i01e", 4), NG_BENC_E_INT);
	assert_int_equal(ng_benc_span("x", 1), NG_BENC_E_SYNTAX);
}

static void test_build(void **state)
{
	char out[256];
	int dict, list;
	long n;

	(void)state;
	ng_benc_init(&doc, nodes, 256);
	dict = ng_benc_new_dict(&doc);
	assert_int_equal(ng_benc_dict_add_cstr(&doc, dict, "result", "ok"), 0);
	list = ng_benc_new_list(&doc);
	assert_int_equal(ng_benc_list_add(&doc, list, ng_benc_new_cstr(&doc, "a")), 0);
	assert_int_equal(ng_benc_list_add(&doc, list, ng_benc_new_int(&doc, -7)), 0);
	assert_int_equal(ng_benc_dict_add(&doc, dict, "calls", list), 0);
	assert_int_equal(ng_benc_dict_add_int(&doc, dict, "created", 1700000000), 0);
	n = ng_benc_encode(&doc, (uint32_t)dict, out, sizeof(out));
	assert_true(n > 0);
	out[n] = 0;
	assert_string_equal(out, "d5:callsl1:ai-7ee7:createdi1700000000e6:result2:oke");
	/* every shorter buffer fails cleanly */
	for (long cap = 0; cap < n; cap++)
		assert_int_equal(ng_benc_encode(&doc, (uint32_t)dict, out, (size_t)cap), NG_BENC_E_NOSPACE);
	/* wrong container types */
	assert_int_equal(ng_benc_list_add(&doc, dict, list), NG_BENC_E_TYPE);
	assert_int_equal(ng_benc_dict_add(&doc, list, "k", dict), NG_BENC_E_TYPE);
	assert_int_equal(ng_benc_list_add(&doc, list, list), NG_BENC_E_TYPE);
	/* a failed builder's error propagates */
	{
		struct ng_benc_node two[2];

		ng_benc_init(&doc, two, 2);
		dict = ng_benc_new_dict(&doc);
		assert_int_equal(ng_benc_dict_add_cstr(&doc, dict, "k", "v"), NG_BENC_E_NODES);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_span),
		cmocka_unit_test(test_build),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

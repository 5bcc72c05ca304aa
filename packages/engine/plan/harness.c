/* The plan reader on its own, for the tests (test/plan-*.test.mjs build it with build/restore/plan-wire*.c):
 *   harness FILE     decode FILE; print what the reader got as JSON (plan_dump_json), or its error line (exit 1)
 *   harness --batch  read plans from stdin, each a u32 little-endian length and that many bytes; decode each
 *                    from a buffer of exactly its size (so that a sanitizer sees any read past it) and print
 *                    one line per plan: "ok" or the reader's error */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plan-wire.h"

static uint8_t *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *p = malloc(cap);
	size_t got;
	while (p && (got = fread(p + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap)
			p = realloc(p, cap *= 2);
	}
	*len = n;
	return p;
}

int main(int argc, char **argv)
{
	char err[512];
	if (argc == 2 && strcmp(argv[1], "--batch") != 0) {
		FILE *f = fopen(argv[1], "rb");
		size_t len;
		uint8_t *p = f ? read_all(f, &len) : NULL;
		if (!p) {
			fprintf(stderr, "cannot read %s\n", argv[1]);
			return 2;
		}
		fclose(f);
		if (plan_decode(p, len, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			free(p);
			return 1;
		}
		plan_dump_json(stdout);
		putchar('\n');
		plan_free();
		free(p);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: harness FILE | harness --batch\n");
		return 2;
	}
	uint32_t n;
	while (fread(&n, 4, 1, stdin) == 1) {
		uint8_t *p = malloc(n ? n : 1);
		if (!p || fread(p, 1, n, stdin) != n) {
			fprintf(stderr, "harness: input cut short\n");
			return 2;
		}
		if (plan_decode(p, n, err, sizeof(err)) < 0)
			printf("%s\n", err);
		else
			printf("ok\n");
		plan_free();
		free(p);
	}
	return ferror(stdin) ? 2 : 0;
}

/* examples/hello-c/hello.c: a small C program that cairn builds and verifiers rebuild
 * bit-identically (docs/verified-builds.md). __DATE__ and __TIME__ come from SOURCE_DATE_EPOCH
 * (gcc >= 7 honours it), so even the embedded build date is reproducible. */
#include <stdio.h>
#include <string.h>

#define VERSION "1.0.0"

static unsigned checksum(const char *s) {
  unsigned h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

int main(int argc, char **argv) {
  const char *who = argc > 1 ? argv[1] : "world";
  printf("hello, %s\n", who);
  printf("cairn hello-c %s, built %s %s (from source, rebuilt by verifiers)\n", VERSION, __DATE__, __TIME__);
  printf("fnv1a(%s) = %08x, %zu bytes\n", who, checksum(who), strlen(who));
  return 0;
}

/* examples/hello-pkg/hello.c: the program of the demo's package (docs/packages.md). Its version
 * comes from the package manifest, through the Makefile. */
#include <stdio.h>

int main(void) {
  printf("hello from the cairn package hello %s, installed from a verified, witnessed build\n", VERSION);
  return 0;
}

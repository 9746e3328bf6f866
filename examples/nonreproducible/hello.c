/* examples/nonreproducible/hello.c: the program is reproducible; its bundle is not (see Makefile). */
#include <stdio.h>

int main(void) {
  puts("hello from a bundle that embeds its build time");
  return 0;
}

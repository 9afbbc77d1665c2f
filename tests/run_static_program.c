/* A statically linked program (no program interpreter), for `gentrace run`:
   preloading cannot work, so gentrace run must say so and still run it.
   Prints its argument count and exits with 3. */
#include <stdio.h>

int main(int argc, char** argv) {
  (void)argv;
  printf("static program ran with %d args\n", argc - 1);
  return 3;
}

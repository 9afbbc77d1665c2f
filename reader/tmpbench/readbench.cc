#include <chrono>
#include <time.h>
static double Cpu(){timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t); return t.tv_sec+t.tv_nsec*1e-9;}
#include <cstdio>
#include <cstdlib>
#include <string>
#include "format/byte_source.h"
#include "reader/reader.h"
int main(int argc, char** argv) {
  auto src = gentrace::format::FdSource::Open(argv[1]);
  std::string data = *gentrace::format::ReadAll(src->get());
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  for (int rep = 0; rep < reps; ++rep) {
    double c0 = Cpu();
    auto r = gentrace::reader::Reader::FromBuffer(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
    gentrace::reader::Event ev;
    uint64_t n = 0;
    while ((*r)->ReadEvent(&ev)) ++n;
    double s = Cpu() - c0;
    std::printf("%llu events %.3f s %.1f M/s mem=%zu %s\n", (unsigned long long)n, s, n / s / 1e6, (*r)->MemoryUsage(), std::string((*r)->status().message()).c_str());
  }
}

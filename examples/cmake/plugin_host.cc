// Loads a plugin with dlopen() and runs its TracedPluginRun:
//
//   plugin_host PLUGIN.so OUT.trace
//
// The host links nothing of gentrace, so the tracer's shared library and its
// thread-local variables arrive with the plugin, after the program started.
#include <dlfcn.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: plugin_host PLUGIN.so OUT.trace\n");
    return 2;
  }
  void* plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (plugin == nullptr) {
    std::fprintf(stderr, "plugin_host: dlopen: %s\n", dlerror());
    return 1;
  }
  using RunFn = int (*)(const char*);
  auto run = reinterpret_cast<RunFn>(dlsym(plugin, "TracedPluginRun"));
  if (run == nullptr) {
    std::fprintf(stderr, "plugin_host: dlsym: %s\n", dlerror());
    return 1;
  }
  if (run(argv[2]) != 0) {
    std::fprintf(stderr, "plugin_host: the plugin's tracer failed\n");
    return 1;
  }
  std::printf("plugin_host: wrote %s\n", argv[2]);
  return 0;
}

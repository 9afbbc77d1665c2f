// Whether the tracer is compiled in, and the namespace the public API lives
// in. Part of the public headers' implementation; not for direct use.
//
// With -DGENTRACE_DISABLE the whole API is still declared (the same types,
// the same functions, from the same declarations), but every call does
// nothing and nothing of the tracer library is linked. The API then lives
// in the inline namespace gentrace::compiled_out, so translation units
// compiled with and without the macro can be linked into one program
// without two definitions of one name.
#ifndef GENTRACE_TRACER_INTERNAL_CONFIG_H_
#define GENTRACE_TRACER_INTERNAL_CONFIG_H_

#if defined(GENTRACE_DISABLE)
#define GENTRACE_INTERNAL_COMPILED_IN 0
#define GENTRACE_INTERNAL_NAMESPACE_BEGIN \
  namespace gentrace {                    \
  inline namespace compiled_out {
#define GENTRACE_INTERNAL_NAMESPACE_END \
  }                                     \
  }
// Entry points are inline no-ops (tracer/internal/compiled_out.h).
#define GENTRACE_INTERNAL_ENTRY inline
#else
#define GENTRACE_INTERNAL_COMPILED_IN 1
#define GENTRACE_INTERNAL_NAMESPACE_BEGIN namespace gentrace {
#define GENTRACE_INTERNAL_NAMESPACE_END }
// Entry points are defined by the tracer library (tracer/api.cc).
#define GENTRACE_INTERNAL_ENTRY
#endif

// Pastes two tokens after expanding them (the macros name their variables
// with __COUNTER__, so two macros on one line get different names).
#define GENTRACE_INTERNAL_CONCAT2(a, b) a##b
#define GENTRACE_INTERNAL_CONCAT(a, b) GENTRACE_INTERNAL_CONCAT2(a, b)

#endif  // GENTRACE_TRACER_INTERNAL_CONFIG_H_

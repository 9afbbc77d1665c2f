// cgocallback traces calls into C and callbacks from C into Go, both on Go
// threads and on threads C creates (which appear in the trace as goroutines
// created in a syscall, GoCreateSyscall, and destroyed in one).
//
// Usage: cgocallback OUT.trace  (needs cgo: CGO_ENABLED=1 and a C compiler)
package main

/*
#include <pthread.h>
#include <stdint.h>

extern void goCallback(int);

static void callTwice(int v) {
	goCallback(v);
	goCallback(v + 1);
}

static void* threadMain(void* arg) {
	int v = (int)(intptr_t)arg;
	for (int i = 0; i < 10; i++) goCallback(v + i);
	return 0;
}

static void runThreads(int n) {
	pthread_t t[16];
	for (int i = 0; i < n && i < 16; i++) pthread_create(&t[i], 0, threadMain, (void*)(intptr_t)(i * 100));
	for (int i = 0; i < n && i < 16; i++) pthread_join(t[i], 0);
}
*/
import "C"

import (
	"os"
	"runtime/trace"
	"sync/atomic"
)

var calls atomic.Int64

//export goCallback
func goCallback(v C.int) {
	calls.Add(1)
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	for i := 0; i < 100; i++ {
		C.callTwice(C.int(i))
	}
	C.runThreads(8)
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
	if calls.Load() != 280 {
		panic("unexpected number of callbacks")
	}
}

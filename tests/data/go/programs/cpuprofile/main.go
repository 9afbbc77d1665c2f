// cpuprofile traces CPU-bound goroutines with the CPU profiler on, so the
// trace carries CPU samples (StackSample events) with stacks.
//
// Usage: cpuprofile OUT.trace
package main

import (
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"syscall"
	"time"
)

// spin burns CPU until the process as a whole has used `cpu` more CPU
// time than at `since` (so that the profile gets samples however loaded
// the machine is), or for a minute at most.
//
//go:noinline
func spin(since, cpu time.Duration) uint64 {
	var x uint64 = 1
	for end := time.Now().Add(time.Minute); time.Now().Before(end) && processCPU()-since < cpu; {
		for i := 0; i < 10000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	since := processCPU()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			spin(since, 1200*time.Millisecond)
		}()
	}
	wg.Wait()
	trace.Stop()
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		panic(err)
	}
}

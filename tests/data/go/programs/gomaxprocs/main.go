// gomaxprocs traces GOMAXPROCS changes (stop-the-world, ProcsChange, Ps
// appearing and disappearing) while goroutines keep running.
//
// Usage: gomaxprocs OUT.trace
package main

import (
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := 0
			for !stop.Load() {
				for j := 0; j < 1000; j++ {
					x += j
				}
				runtime.Gosched()
			}
			_ = x
		}()
	}
	for _, n := range []int{1, 4, 2, 8, 3, 1, 6} {
		runtime.GOMAXPROCS(n)
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
}

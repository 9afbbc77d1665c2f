// stats traces a program whose time goes to known places, for `gentrace
// stats` and `gentrace cut`: tasks and regions with logs, goroutines that
// block on a mutex, a channel, a select and a sleep, and syscalls (file
// writes and fsyncs), over several generations when GODEBUG sets a short
// traceadvanceperiod.
//
// Usage: stats OUT.trace [ROUNDS [MIN_MS]]
//
// Runs ROUNDS rounds (20), and more until MIN_MS milliseconds (0) have
// passed, so that a trace spans several generations however fast the
// machine; prints "rounds=N".
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/trace"
	"strconv"
	"sync"
	"time"
)

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	rounds, minMs := 20, 0
	if len(os.Args) > 2 {
		if rounds, err = strconv.Atoi(os.Args[2]); err != nil {
			panic(err)
		}
	}
	if len(os.Args) > 3 {
		if minMs, err = strconv.Atoi(os.Args[3]); err != nil {
			panic(err)
		}
	}
	start := time.Now()
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	scratch, err := os.CreateTemp("", "gentrace-stats-*")
	if err != nil {
		panic(err)
	}
	defer os.Remove(scratch.Name())

	bg := context.Background()
	var mu sync.Mutex
	ch := make(chan int)
	var wg sync.WaitGroup
	r := 0
	for ; r < rounds || time.Since(start) < time.Duration(minMs)*time.Millisecond; r++ {
		ctx, task := trace.NewTask(bg, "round")
		trace.Logf(ctx, "round", "%d", r)
		// Mutex contention: one goroutine holds the lock while others wait.
		mu.Lock()
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				trace.WithRegion(ctx, "locked", func() {
					mu.Lock()
					mu.Unlock()
				})
			}()
		}
		time.Sleep(time.Millisecond)
		mu.Unlock()
		// A channel receive and a select.
		wg.Add(2)
		go func() {
			defer wg.Done()
			trace.WithRegion(ctx, "receive", func() { <-ch })
		}()
		go func() {
			defer wg.Done()
			select {
			case v := <-ch:
				trace.Log(ctx, "select", fmt.Sprint(v))
			case <-time.After(time.Second):
			}
		}()
		time.Sleep(500 * time.Microsecond)
		ch <- 1
		ch <- 2
		// Syscalls.
		trace.WithRegion(ctx, "io", func() {
			for i := 0; i < 8; i++ {
				if _, err := scratch.Write(make([]byte, 4096)); err != nil {
					panic(err)
				}
				if err := scratch.Sync(); err != nil {
					panic(err)
				}
			}
		})
		wg.Wait()
		task.End()
	}
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
	fmt.Printf("rounds=%d\n", r)
}

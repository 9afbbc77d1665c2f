// annotations traces user annotations: nested tasks, tasks that end on
// another goroutine, regions (nested, and with WithRegion), logs with and
// without a task, and a log message longer than the 1024 bytes the tracer
// keeps.
//
// Usage: annotations OUT.trace
package main

import (
	"context"
	"os"
	"runtime/trace"
	"strings"
	"sync"
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
	bg := context.Background()
	trace.Log(bg, "phase", "start")
	ctx, task := trace.NewTask(bg, "outer")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cctx, sub := trace.NewTask(ctx, "inner")
			defer sub.End()
			r := trace.StartRegion(cctx, "work")
			trace.WithRegion(cctx, "nested", func() {
				trace.Logf(cctx, "iteration", "%d", i)
				time.Sleep(time.Millisecond)
			})
			r.End()
		}(i)
	}
	wg.Wait()
	// A task ended by another goroutine.
	_, handoff := trace.NewTask(ctx, "handoff")
	done := make(chan struct{})
	go func() {
		handoff.End()
		close(done)
	}()
	<-done
	trace.Log(ctx, "big", strings.Repeat("x", 3000))
	trace.Log(ctx, "unicode", "héllo \x00\xff")
	task.End()
	// Region across a sleep, so that it may span a generation.
	trace.WithRegion(bg, "long", func() { time.Sleep(50 * time.Millisecond) })
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
}

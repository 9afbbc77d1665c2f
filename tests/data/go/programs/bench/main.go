// bench writes a large execution trace (millions of events over several
// generations) for the reader benchmark: goroutines passing a token around
// a ring of channels, with regions and logs, plus some allocation.
//
// Usage: bench OUT.trace [ROUNDS]
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/trace"
	"strconv"
	"sync"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench OUT.trace [ROUNDS]")
		os.Exit(2)
	}
	rounds := 100000
	if len(os.Args) > 2 {
		rounds, _ = strconv.Atoi(os.Args[2])
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	const ring = 16
	chans := make([]chan int, ring)
	for i := range chans {
		chans[i] = make(chan int)
	}
	var wg sync.WaitGroup
	ctx := context.Background()
	for i := 0; i < ring; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in, out := chans[i], chans[(i+1)%ring]
			var sink [][]byte
			for {
				v, ok := <-in
				if !ok || v >= rounds {
					if ok && i+1 < ring {
						out <- v
					}
					return
				}
				if v%64 == 0 {
					trace.WithRegion(ctx, "hop", func() {
						trace.Log(ctx, "v", "x")
					})
					sink = append(sink, make([]byte, 1024))
					if len(sink) > 64 {
						sink = sink[:0]
					}
				}
				out <- v + 1
			}
		}(i)
	}
	chans[0] <- 0
	wg.Wait()
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
}

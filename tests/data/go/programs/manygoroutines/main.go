// manygoroutines traces 20000 goroutines that are created, block on a
// channel for a while, are woken in a wave and exit.
//
// Usage: manygoroutines OUT.trace
package main

import (
	"os"
	"runtime/trace"
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
	const n = 20000
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make(chan int, 128)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results <- i
		}(i)
	}
	go func() {
		wg.Wait()
		close(results)
	}()
	// All of them blocked across generation boundaries (the tests run
	// this with 50 ms generations).
	time.Sleep(120 * time.Millisecond)
	close(start)
	sum := 0
	for v := range results {
		sum += v
	}
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
	if sum != n*(n-1)/2 {
		panic("bad sum")
	}
}

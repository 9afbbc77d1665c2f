// gc traces garbage collection: forced cycles, heavy allocation by several
// goroutines (mark assists, sweeping, heap metrics) and returning memory to
// the OS.
//
// Usage: gc OUT.trace
package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/trace"
	"sync"
)

var sink [][]byte

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	debug.SetGCPercent(20)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local [][]byte
			for i := 0; i < 20000; i++ {
				local = append(local, make([]byte, 256+i%4096))
				if len(local) > 2000 {
					mu.Lock()
					sink = local
					mu.Unlock()
					local = nil
				}
			}
		}()
	}
	runtime.GC()
	wg.Wait()
	runtime.GC()
	debug.FreeOSMemory()
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
}

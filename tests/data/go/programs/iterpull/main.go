// iterpull traces iter.Pull, whose coroutines switch goroutines directly
// (Go 1.23's GoCreateBlocked, GoSwitch and GoSwitchDestroy events).
//
// Usage: iterpull OUT.trace
package main

import (
	"iter"
	"os"
	"runtime/trace"
)

func count(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; i < n; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	total := 0
	for round := 0; round < 50; round++ {
		next, stop := iter.Pull(count(100))
		for {
			v, ok := next()
			if !ok {
				break
			}
			total += v
			if round%2 == 1 && v == 50 {
				break // stop early: the coroutine is destroyed
			}
		}
		stop()
	}
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
	_ = total
}

// blocking traces goroutines that block and wake each other in every way
// the runtime knows: channels (buffered and not), select, mutexes, RWMutex,
// sync.Cond, WaitGroup, sleeps and timers.
//
// Usage: blocking OUT.trace
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
	var wg sync.WaitGroup

	// Unbuffered ping-pong.
	ping, pong := make(chan int), make(chan int)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 2000; i++ {
			ping <- i
			<-pong
		}
		close(ping)
	}()
	go func() {
		defer wg.Done()
		for range ping {
			pong <- 0
		}
	}()

	// Select over several channels with a timeout.
	a, b := make(chan int, 1), make(chan int)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			select {
			case a <- i:
			case b <- i:
			case <-time.After(time.Millisecond):
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			select {
			case <-a:
			case <-b:
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	// Mutex and RWMutex contention.
	var mu sync.Mutex
	var rw sync.RWMutex
	counter := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if g%2 == 0 {
					mu.Lock()
					counter++
					time.Sleep(time.Microsecond)
					mu.Unlock()
				} else if i%10 == 0 {
					rw.Lock()
					counter++
					rw.Unlock()
				} else {
					rw.RLock()
					_ = counter
					rw.RUnlock()
				}
			}
		}(g)
	}

	// sync.Cond broadcast.
	var cmu sync.Mutex
	cond := sync.NewCond(&cmu)
	ready := 0
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmu.Lock()
			for ready == 0 {
				cond.Wait()
			}
			cmu.Unlock()
		}()
	}
	time.Sleep(20 * time.Millisecond)
	cmu.Lock()
	ready = 1
	cond.Broadcast()
	cmu.Unlock()

	// Timers and sleeps.
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			t := time.NewTimer(time.Duration(g+1) * time.Millisecond)
			<-t.C
			time.Sleep(time.Duration(g) * time.Millisecond)
		}(g)
	}
	wg.Wait()
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
}

// syscalls traces goroutines in system calls: blocking reads on pipes
// (os.Pipe through the poller, and raw syscall.Read which keeps the thread
// in the kernel and makes the runtime hand its P to another thread), file
// writes and cheap syscalls.
//
// Usage: syscalls OUT.trace
package main

import (
	"os"
	"runtime/trace"
	"sync"
	"syscall"
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

	// os.Pipe: reads park in the network poller.
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64)
		for {
			if _, err := r.Read(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			w.Write([]byte("hello"))
			time.Sleep(100 * time.Microsecond)
		}
		w.Close()
	}()

	// A raw pipe read blocks the thread in the kernel (syscall blocked,
	// P stolen by sysmon).
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		panic(err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 8)
		for i := 0; i < 5; i++ {
			syscall.Read(fds[0], buf)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 5; i++ {
			time.Sleep(30 * time.Millisecond)
			syscall.Write(fds[1], []byte("x"))
		}
	}()

	// File writes and cheap syscalls.
	tmp, err := os.CreateTemp("", "syscalls")
	if err != nil {
		panic(err)
	}
	defer os.Remove(tmp.Name())
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 1000; i++ {
			tmp.Write([]byte("some data\n"))
			syscall.Getpid()
		}
		tmp.Sync()
		tmp.Close()
	}()
	wg.Wait()
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
}

// killed traces to a file and keeps working until it is killed: the test
// SIGKILLs it mid-trace, leaving a file that ends inside a generation.
//
// Usage: killed OUT.trace
package main

import (
	"context"
	"fmt"
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
	fmt.Println("tracing")
	ch := make(chan int)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range ch {
				trace.Log(context.Background(), "v", fmt.Sprint(v))
			}
		}()
	}
	for i := 0; ; i++ {
		ch <- i
		if i%1000 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

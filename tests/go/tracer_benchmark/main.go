// tracer_benchmark measures what Go's own execution tracer (runtime/trace)
// costs for the operations gentrace's tests/tracer_benchmark.cc measures, so
// that ./dev bench can put the two side by side in one run
// (tools/dev/bench.sh, tests/benchmark_suite.cc).
//
// Every operation runs with tracing off and then on. Tracing goes to a
// writer that only counts bytes, as gentrace's benchmarks trace into a
// callback that only counts bytes. Go's tracer always records stacks; the
// operation is called from a depth that makes its stack -frames frames
// long (the caller's frame included, up to runtime.goexit), so it can be
// matched with the stack gentrace records in the same run.
//
// Operations (events each writes when tracing):
//
//	log       trace.Log                      1 (UserLog; a unique string)
//	region    trace.StartRegion + End        2
//	task      trace.NewTask + End            2
//	pingpong  a round trip over two unbuffered channels between two
//	          goroutines on one P (GOMAXPROCS=1); each handoff wakes the
//	          receiver, blocks the sender and runs the receiver
//	                                         6 (GoUnblock, GoBlock, GoStart
//	                                            twice)
//	syscall   syscall.Syscall(SYS_GETPPID)   2 (GoSyscallBegin, End)
//	coswitch  iter.Pull's next(): into the coroutine and back
//	                                         2 (GoSwitch twice)
//
// Output: one JSON object per line and mode:
//
//	{"op":"log","mode":"on","ns_per_op":...,"wall_ns_per_op":...,
//	 "events_per_op":1,"bytes_per_op":...,"ops":...,"frames":...}
//
// ns_per_op is CPU time, as gentrace's Google Benchmarks measure (a busy
// machine inflates wall time, not CPU time): the benchmark goroutine is
// locked to its thread and that thread's CPU time is counted; pingpong runs
// with GOMAXPROCS=1 and counts the whole process's.
// wall_ns_per_op is the wall time, for reference.
//
// bytes_per_op (tracing on only) counts every byte the tracer wrote while
// the operation ran, tables and batch headers included, divided by the
// operations run. Run it with the Go it measures:
//
//	go build -o /tmp/go_tracer_benchmark ./tests/go/tracer_benchmark
//	/tmp/go_tracer_benchmark -benchtime=200ms -frames=20
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"iter"
	"os"
	"runtime"
	"runtime/trace"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// countingWriter is the trace's destination: it keeps only the count.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// op is one measured operation: setup makes its state and returns the body
// (run n times) and a cleanup.
type op struct {
	name   string
	events int
	who    int // whose CPU time: rusageThread, or rusageSelf for pingpong
	setup  func() (body func(), cleanup func())
}

const (
	rusageSelf   = 0 // RUSAGE_SELF: the whole process
	rusageThread = 1 // RUSAGE_THREAD: the calling thread (Linux)
)

// cpuTime is the CPU time (user + system) of the calling thread or of the
// process. The benchmarks run with the goroutine locked to its thread, so
// the thread's CPU time is the operation's, as Google Benchmark measures
// gentrace's: a busy machine inflates wall time, not this.
func cpuTime(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		fmt.Fprintln(os.Stderr, "getrusage:", err)
		os.Exit(1)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var ctx = context.Background()

var ops = []op{
	{"log", 1, rusageThread, func() (func(), func()) {
		return func() { trace.Log(ctx, "bench", "a short message") }, nil
	}},
	{"region", 2, rusageThread, func() (func(), func()) {
		return func() { trace.StartRegion(ctx, "bench-region").End() }, nil
	}},
	{"task", 2, rusageThread, func() (func(), func()) {
		return func() {
			_, t := trace.NewTask(ctx, "bench-task")
			t.End()
		}, nil
	}},
	{"pingpong", 6, rusageSelf, func() (func(), func()) {
		// One op is a round trip: two handoffs.
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		return func() {
			ping <- 1
			<-pong
		}, func() { close(ping) }
	}},
	{"syscall", 2, rusageThread, func() (func(), func()) {
		return func() { syscall.Syscall(syscall.SYS_GETPPID, 0, 0, 0) }, nil
	}},
	{"coswitch", 2, rusageThread, func() (func(), func()) {
		// next() switches into the coroutine and back.
		next, stop := iter.Pull(func(yield func(int) bool) {
			for yield(0) {
			}
		})
		return func() { next() }, stop
	}},
}

// atDepth calls f from depth frames below its caller.
//
//go:noinline
func atDepth(depth int, f func()) {
	if depth <= 1 {
		f()
	} else {
		atDepth(depth-1, f)
	}
	runtime.KeepAlive(depth) // no tail call: keep the frames
}

// runN runs body n times, from depth frames below.
//
//go:noinline
func runN(n, depth int, body func()) {
	atDepth(depth, func() {
		for i := 0; i < n; i++ {
			body()
		}
	})
}

// probeFrames is the length of the stack the tracer records for an event
// written by an op's body in measure: the body's frame and its callers up
// to runtime.goexit. It calls runN from the same depth as measure does.
//
//go:noinline
func probeFrames(depth int) int {
	frames := 0
	runN(1, depth, func() {
		pcs := make([]uintptr, 512)
		frames = runtime.Callers(1, pcs) // from this body's frame
	})
	return frames
}

type result struct {
	Op          string  `json:"op"`
	Mode        string  `json:"mode"`
	NsPerOp     float64 `json:"ns_per_op"`
	WallNsPerOp float64 `json:"wall_ns_per_op"`
	EventsPerOp int     `json:"events_per_op"`
	BytesPerOp  float64 `json:"bytes_per_op,omitempty"`
	Ops         int64   `json:"ops"`
	Frames      int     `json:"frames"`
}

// measure times o until one run takes at least benchtime of CPU time, like
// Go's testing.B (and Google Benchmark): n grows from 1 by a prediction.
func measure(o op, on bool, benchtime time.Duration, depth int) result {
	if o.who == rusageSelf {
		// The ping-pong on one P, as gentrace's block + unblock runs on
		// one thread: each handoff is a goroutine switch (GoUnblock,
		// GoBlock, GoStart), not a wakeup of another thread, and the
		// process's CPU time is the two goroutines' (idle threads that
		// spin looking for work would count too).
		runtime.UnlockOSThread()
		defer runtime.LockOSThread()
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	body, cleanup := o.setup()
	var w countingWriter
	if on {
		if err := trace.Start(&w); err != nil {
			fmt.Fprintln(os.Stderr, "trace.Start:", err)
			os.Exit(1)
		}
	}
	var total int64
	n := 1
	var elapsed, cpu time.Duration
	for {
		runtime.GC()
		start, cpu0 := time.Now(), cpuTime(o.who)
		runN(n, depth, body)
		elapsed, cpu = time.Since(start), cpuTime(o.who)-cpu0
		total += int64(n)
		// Until the CPU time measured reaches benchtime (a busy machine
		// stretches the wall time), but at most 20 times that in wall time.
		if cpu >= benchtime || elapsed >= 20*benchtime || n >= 1e9 {
			break
		}
		next := int64(float64(n) * 1.2 * float64(benchtime) /
			float64(max(cpu, time.Microsecond)))
		n = int(min(max(next, int64(n)+1), int64(n)*100, 1e9))
	}
	if cleanup != nil {
		cleanup()
	}
	r := result{Op: o.name, Mode: "off", NsPerOp: float64(cpu.Nanoseconds()) / float64(n),
		WallNsPerOp: float64(elapsed.Nanoseconds()) / float64(n),
		EventsPerOp: o.events, Ops: total}
	if on {
		trace.Stop()
		r.Mode = "on"
		r.BytesPerOp = float64(w.n.Load()) / float64(total)
	}
	return r
}

func main() {
	benchtime := flag.Duration("benchtime", 200*time.Millisecond,
		"least time of the measured run of each operation and mode")
	frames := flag.Int("frames", 12,
		"stack length at the traced call (frames up to runtime.goexit)")
	only := flag.String("ops", "", "comma-separated operations (default all)")
	flag.Parse()
	runtime.LockOSThread()

	depth := max(*frames-probeFrames(1)+1, 1)
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s != "" {
			want[s] = true
		}
	}
	enc := json.NewEncoder(os.Stdout)
	for _, o := range ops {
		if len(want) > 0 && !want[o.name] {
			continue
		}
		for _, on := range []bool{false, true} {
			r := measure(o, on, *benchtime, depth)
			r.Frames = probeFrames(depth)
			if err := enc.Encode(r); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}
}

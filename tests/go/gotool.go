// gotool runs the Go toolchain's own execution-trace parser over traces for
// gentrace's interop tests: a trace written by our C++ tracer is only "right"
// if Go's internal/trace reader and testtrace.Validator accept it, and our C++
// reader is only "right" if it delivers the same events Go's reader does.
//
// Building: internal/... packages may only be imported from inside GOROOT, so
// this is not an ordinary module. tests/go/build.sh copies the *.go files of
// tests/go into a directory under $GOROOT/src/internal/trace (Go 1.23) or
// $GOROOT/src/internal/trace/v2 (Go 1.22, with the imports rewritten to
// internal/trace/v2/...) and runs "go build" there. API differences between
// the two parsers live in the files guarded by the go1.23 build tag.
//
// Subcommands. Results go to stdout, diagnostics to stderr; "-" names stdin
// or stdout. Exit status 0 = success, 1 = a trace was rejected or a
// conversion failed, 2 = bad usage or an unreadable file.
//
//	validate [-allow-broken-tail] [-q] FILE...
//	    Reads each FILE with trace.NewReader and checks every event with
//	    testtrace.Validator (the checks Go's own reader tests apply). Unless
//	    -q, prints a short summary (complete generations = Sync events,
//	    events by kind, CPU samples). Always ends each file with one line:
//	      RESULT: OK
//	      RESULT: PARTIAL <err>  the reader failed after >= 1 complete
//	                             generation (go tool trace still opens it)
//	      RESULT: ERROR <err>    anything else, including validator errors
//	                             ("validator: event #N (<dump line>): <err>";
//	                             with a reader error too, that comes first)
//	    Exits 0 only if every file is OK, or PARTIAL with -allow-broken-tail.
//	    zstd-compressed files are refused: decompress them first.
//
//	text2bin [-auto-sizes] IN OUT
//	    Go's raw text format (internal/trace/raw) to the wire format. If IN is
//	    a txtar archive with a "trace" file (Go's testdata/tests/*.test), only
//	    that file is converted. -auto-sizes replaces each "EventBatch ...
//	    size=0" with the encoded length of the events that follow it, up to
//	    the next EventBatch or ExperimentalBatch; nonzero sizes are kept, so a
//	    test can still write a deliberately wrong one.
//
//	bin2text IN OUT
//	    The wire format to Go's raw text format, without validation.
//
//	raw FILE
//	    Reads FILE with Go's raw reader (internal/trace/raw, behind Go's raw
//	    text dumps), which, unlike Go's parser, sees the trace as one flat
//	    sequence of events. Prints one line:
//	      RAW: OK <n> events, <bytes> bytes
//	      RAW: ERROR after <n> events at byte <offset>: <err>
//	    where offset is the end of the last complete event. Exits 0 only if
//	    the reader ended exactly at the end of the file.
//
//	cut -from N [-to M] IN OUT
//	    Copies the header and, byte for byte, the batches (EventBatch and
//	    ExperimentalBatch) of generations N..M (M defaults to the last). This
//	    is the window of whole generations a flight recorder keeps.
//
//	dump [-allow-broken-tail] FILE
//	    Prints one line per event delivered by trace.Reader, in the format
//	    below, then "END ok" or "END error: <msg>". Exit 1 on error. With
//	    -allow-broken-tail an error after >= 1 complete generation exits 0 and,
//	    as go tool trace does, the events after the last Sync are not printed.
//
//	bench [-n N] FILE
//	    Reads every event of FILE N times and prints one JSON line: events/s
//	    and MB/s of the fastest run, and the peak of runtime.MemStats HeapSys,
//	    HeapInuse and Sys sampled after every Sync.
//
// Dump format. gentrace's C++ reader prints exactly the same lines, so the
// two can be compared with diff. One event per line, tokens separated by one
// space:
//
//	<Kind> t=<ns> m=<thread> p=<proc> g=<goroutine> <fields...> stack=<stack>
//
// Kind is Go's EventKind name: Sync, Metric, Label, StackSample, RangeBegin,
// RangeActive, RangeEnd, TaskBegin, TaskEnd, RegionBegin, RegionEnd, Log,
// StateTransition, Experimental. t is Event.Time() in nanoseconds; m, p and g
// are signed decimals where -1 means none. The kind-specific fields, in this
// order:
//
//	StateTransition  resource=<res> from=<state> to=<state> reason=<str> tstack=<stack>
//	RangeBegin, RangeActive  name=<str> scope=<res>
//	RangeEnd         name=<str> scope=<res> attrs=[<str>=<u64>,...]
//	TaskBegin, TaskEnd        id=<u64> parent=<u64> type=<str>
//	RegionBegin, RegionEnd    task=<u64> type=<str>
//	Log              task=<u64> category=<str> message=<str>
//	Metric           name=<str> value=<u64>   (value=bad if not a uint64)
//	Label            label=<str> resource=<res>
//	Experimental     name=<event name> args=[<arg name>=<u64>,...]
//	Sync, StackSample  (none)
//
// where
//
//	<u64>    unsigned decimal; task ids too (NoTask = 18446744073709551615)
//	<res>    None, Goroutine:<id>, Proc:<id> or Thread:<id> (signed decimal)
//	<state>  goroutines: Undetermined NotExist Runnable Running Waiting
//	         Syscall; procs: Undetermined NotExist Running Idle; other
//	         resources: "-"
//	<str>    a double-quoted byte string: bytes 0x20-0x7e other than '"' and
//	         '\' as they are, '"' as \", '\' as \\, every other byte as \xHH
//	         (two lowercase hex digits). No UTF-8 decoding.
//	<stack>  "[]" when there is none, else "[" frames joined by ";" "]",
//	         leaf first; a frame is <str>@<str>:<line> pc=<pc> (function,
//	         file, then line and PC as unsigned decimals).
//
// tstack is the StateTransition's own stack (for GoCreate, the new
// goroutine's); stack is always the event's. The last line is "END ok" or
// "END error: <msg>" with the message on one line (newlines become " | ").
// Compare only up to "END error": the message is the reader's own wording,
// and Go's "failed to advance" frontier dumps are not even stable from run to
// run (they list threads in map order).
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"internal/trace"
	"internal/trace/raw"
	"internal/trace/testtrace"
	"internal/txtar"
)

const (
	exitOK       = 0
	exitRejected = 1
	exitUsage    = 2
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var run func([]string) int
	switch os.Args[1] {
	case "validate":
		run = cmdValidate
	case "text2bin":
		run = cmdText2Bin
	case "bin2text":
		run = cmdBin2Text
	case "raw":
		run = cmdRaw
	case "cut":
		run = cmdCut
	case "dump":
		run = cmdDump
	case "bench":
		run = cmdBench
	case "-h", "-help", "--help", "help":
		usage()
	default:
		fmt.Fprintf(os.Stderr, "gotool: unknown subcommand %q\n", os.Args[1])
		usage()
	}
	os.Exit(run(os.Args[2:]))
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: gotool SUBCOMMAND [flags] ARGS ("-" = stdin/stdout)
  validate [-allow-broken-tail] [-q] FILE...
  text2bin [-auto-sizes] IN OUT
  bin2text IN OUT
  raw FILE
  cut -from N [-to M] IN OUT
  dump [-allow-broken-tail] FILE
  bench [-n N] FILE
(built with `+runtime.Version()+`)
`)
	os.Exit(exitUsage)
}

// newFlags returns a flag set whose errors exit with exitUsage.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	return true
}

// ------------------------------------------------------------------ input

// zstdMagic starts every zstd frame. Go's reader expects a raw trace, and
// gentrace's zstd sink writes these, so say so instead of failing obscurely.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var errZstd = errors.New("input is zstd-compressed; Go's parser reads only raw traces: decompress it first (zstd -d)")

// countingReader counts the bytes the parser consumed.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// traceInput is an opened trace file (or stdin), ready for a parser.
type traceInput struct {
	name   string
	closer io.Closer
	count  *countingReader
	r      *bufio.Reader
}

// openTrace opens name ("-" = stdin) and refuses zstd-compressed data.
func openTrace(name string) (*traceInput, error) {
	var f io.ReadCloser
	if name == "-" {
		f = io.NopCloser(os.Stdin)
	} else {
		file, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		f = file
	}
	in := &traceInput{name: name, closer: f, count: &countingReader{r: f}}
	in.r = bufio.NewReaderSize(in.count, 1<<20)
	if head, _ := in.r.Peek(len(zstdMagic)); bytes.Equal(head, zstdMagic) {
		f.Close()
		return nil, errZstd
	}
	return in, nil
}

func (in *traceInput) Close() { in.closer.Close() }

func readAll(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

// writeAll writes data to name ("-" = stdout).
func writeAll(name string, data []byte) error {
	if name == "-" {
		_, err := os.Stdout.Write(data)
		return err
	}
	return os.WriteFile(name, data, 0o644)
}

// oneLine folds a multi-line message (the reader's frontier dumps are) onto
// one line and bounds its length.
func oneLine(s string, max int) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	s = strings.ReplaceAll(s, "\n", " | ")
	if max > 0 && len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// callSafely runs f and turns a panic into an error: the parser's accessors
// panic on dangling string or stack ids that it does not check up front.
func callSafely(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("PANIC in an accessor or the validator: %v", p)
		}
	}()
	return f()
}

// ------------------------------------------------------------------ validate

// validation is what validate learned about one trace.
type validation struct {
	bytes      int64
	header     string
	events     int
	syncs      int
	cpuSamples int
	kinds      map[string]int
	firstTime  trace.Time
	lastTime   trace.Time
	readErr    error    // the reader's error, if any
	checkErrs  []string // validator (and accessor) errors, first few
	nCheckErrs int
}

const maxCheckErrs = 10

func validateTrace(name string) (*validation, error) {
	in, err := openTrace(name)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	res := &validation{kinds: map[string]int{}}
	if head, _ := in.r.Peek(16); len(head) > 0 {
		res.header = strings.TrimRight(string(head), "\x00")
	}
	r, err := trace.NewReader(in.r)
	if err != nil {
		res.readErr = err
		res.bytes = in.count.n
		return res, nil
	}
	v := testtrace.NewValidator()
	var line strings.Builder
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.readErr = err
			break
		}
		res.events++
		if res.events == 1 {
			res.firstTime = ev.Time()
		}
		res.lastTime = ev.Time()
		res.kinds[ev.Kind().String()]++
		switch ev.Kind() {
		case trace.EventSync:
			res.syncs++
		case trace.EventStackSample:
			res.cpuSamples++
		}
		// Format the event as dump would, too: that walks every accessor
		// (strings, stacks, task types) and so catches ids that would only
		// crash a consumer such as go tool trace.
		err = callSafely(func() error {
			line.Reset()
			formatEvent(&line, ev)
			return v.Event(ev)
		})
		if err != nil {
			res.nCheckErrs++
			if len(res.checkErrs) < maxCheckErrs {
				desc := ev.Kind().String()
				callSafely(func() error {
					line.Reset()
					formatEvent(&line, ev)
					desc = line.String()
					return nil
				})
				res.checkErrs = append(res.checkErrs,
					fmt.Sprintf("event #%d (%s): %s", res.events, oneLine(desc, 300), oneLine(err.Error(), 0)))
			}
		}
	}
	res.bytes = in.count.n
	return res, nil
}

func cmdValidate(args []string) int {
	fs := newFlags("validate")
	allowTail := fs.Bool("allow-broken-tail", false, "also exit 0 for PARTIAL (error after >= 1 complete generation)")
	quiet := fs.Bool("q", false, "print only the RESULT lines")
	if !parseFlags(fs, args) {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "validate: need at least one FILE")
		return exitUsage
	}
	status := exitOK
	for _, name := range fs.Args() {
		if !validateOne(name, *quiet, *allowTail) {
			status = exitRejected
		}
	}
	return status
}

// validateOne validates and reports one file; it returns whether the file
// counts as accepted.
func validateOne(name string, quiet, allowTail bool) bool {
	say := func(format string, a ...any) {
		if !quiet {
			fmt.Printf(format, a...)
		}
	}
	say("file: %s\n", name)
	res, err := validateTrace(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "validate: %s: %v\n", name, err)
		fmt.Printf("RESULT: ERROR %s\n", oneLine(err.Error(), 0))
		return false
	}
	say("bytes: %d, header: %q, parser: %s\n", res.bytes, res.header, runtime.Version())
	say("generations complete: %d\n", res.syncs)
	say("events: %d, cpu samples: %d", res.events, res.cpuSamples)
	if res.events > 1 {
		say(", span: %d ns", int64(res.lastTime-res.firstTime))
	}
	say("\n")
	kinds := make([]string, 0, len(res.kinds))
	for k := range res.kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for i, k := range kinds {
		if i == 0 {
			say("by kind:")
		}
		say(" %s=%d", k, res.kinds[k])
		if i == len(kinds)-1 {
			say("\n")
		}
	}
	if res.nCheckErrs > 0 {
		say("validator errors: %d\n", res.nCheckErrs)
		for _, e := range res.checkErrs {
			say("  %s\n", e)
		}
	}
	if res.readErr != nil {
		say("reader error after %d events: %s\n", res.events, oneLine(res.readErr.Error(), 0))
	}
	const maxResult = 1000
	switch {
	case res.nCheckErrs > 0 && res.readErr != nil:
		// Both: lead with the reader, whose messages tests match against.
		fmt.Printf("RESULT: ERROR %s; also validator: %s\n",
			oneLine(res.readErr.Error(), maxResult), oneLine(res.checkErrs[0], maxResult))
		return false
	case res.nCheckErrs > 0:
		fmt.Printf("RESULT: ERROR validator: %s\n", oneLine(res.checkErrs[0], maxResult))
		return false
	case res.readErr == nil:
		fmt.Println("RESULT: OK")
		return true
	case res.syncs > 0:
		fmt.Printf("RESULT: PARTIAL %s\n", oneLine(res.readErr.Error(), maxResult))
		return allowTail
	default:
		fmt.Printf("RESULT: ERROR %s\n", oneLine(res.readErr.Error(), maxResult))
		return false
	}
}

// ------------------------------------------------------------------ text2bin / bin2text

// traceSection returns the "trace" file of a txtar archive (Go's *.test
// format), or the input itself when it has none.
func traceSection(in []byte) []byte {
	ar := txtar.Parse(in)
	for _, f := range ar.Files {
		if f.Name == "trace" {
			return f.Data
		}
	}
	return in
}

// uvarintLen is the length of x as a minimal LEB128 varint.
func uvarintLen(x uint64) uint64 {
	n := uint64(1)
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// encodedLen is the number of bytes raw.Writer writes for ev: the type byte,
// the arguments (and for stack events the frame arguments that follow them),
// and for events with data its length and the data.
func encodedLen(ev raw.Event, hasData bool) uint64 {
	n := uint64(1)
	for _, a := range ev.Args {
		n += uvarintLen(a)
	}
	if hasData {
		n += uvarintLen(uint64(len(ev.Data))) + uint64(len(ev.Data))
	}
	return n
}

func cmdText2Bin(args []string) int {
	fs := newFlags("text2bin")
	autoSizes := fs.Bool("auto-sizes", false, "compute every EventBatch size=0 from the events that follow it")
	if !parseFlags(fs, args) {
		return exitUsage
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "text2bin: need IN OUT")
		return exitUsage
	}
	in, err := readAll(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "text2bin:", err)
		return exitUsage
	}
	tr, err := raw.NewTextReader(bytes.NewReader(traceSection(in)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "text2bin:", err)
		return exitRejected
	}
	var events []raw.Event
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "text2bin: event %d: %v\n", len(events)+1, err)
			return exitRejected
		}
		events = append(events, ev)
	}
	if *autoSizes {
		specs := tr.Version().Specs()
		open := -1 // index of the EventBatch whose size is being summed
		for i, ev := range events {
			spec := specs[ev.Ev]
			switch spec.Name {
			case "EventBatch":
				open = -1
				// Args: gen, m, time, size.
				if ev.Args[3] == 0 {
					open = i
				}
			case "ExperimentalBatch":
				open = -1 // its payload is its data; the writer sizes it
			default:
				if open >= 0 {
					events[open].Args[3] += encodedLen(ev, spec.HasData)
				}
			}
		}
	}
	var out bytes.Buffer
	w, err := raw.NewWriter(&out, tr.Version())
	if err != nil {
		fmt.Fprintln(os.Stderr, "text2bin:", err)
		return exitRejected
	}
	for i, ev := range events {
		if err := w.WriteEvent(ev); err != nil {
			fmt.Fprintf(os.Stderr, "text2bin: event %d: %v\n", i+1, err)
			return exitRejected
		}
	}
	if err := writeAll(fs.Arg(1), out.Bytes()); err != nil {
		fmt.Fprintln(os.Stderr, "text2bin:", err)
		return exitUsage
	}
	return exitOK
}

// rawDump reads the trace in `in` with Go's raw reader (internal/trace/raw:
// the reader behind Go's text dumps) and writes each event to w in Go's raw
// text format. It returns the number of events read and the error that
// stopped it before the end of the input, if any; a trace cut off inside an
// event is an error too, although raw.Reader reports it as a plain EOF.
// `end` is where the last complete event ended (the header counts).
func rawDump(in *traceInput, w io.Writer) (events int, end int64, err error) {
	offset := func() int64 { return in.count.n - int64(in.r.Buffered()) }
	r, err := raw.NewReader(in.r)
	if err != nil {
		return 0, offset(), err
	}
	tw, err := raw.NewTextWriter(w, r.Version())
	if err != nil {
		return 0, offset(), err
	}
	end = offset()
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF && offset() > end {
			err = fmt.Errorf("%d trailing bytes are not a complete event", offset()-end)
		}
		if err == io.EOF {
			return events, end, nil
		}
		if err != nil {
			return events, end, err
		}
		end = offset()
		events++
		if err := tw.WriteEvent(ev); err != nil {
			return events, end, err
		}
	}
}

func cmdBin2Text(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "bin2text: need IN OUT")
		return exitUsage
	}
	in, err := openTrace(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bin2text:", err)
		if err == errZstd {
			return exitRejected
		}
		return exitUsage
	}
	defer in.Close()
	var out bytes.Buffer
	status := exitOK
	if n, end, err := rawDump(in, &out); err != nil {
		// Keep what was decoded: the point is often to see where it broke.
		fmt.Fprintf(os.Stderr, "bin2text: stopped after %d events at byte %d: %v\n", n, end, err)
		status = exitRejected
	}
	if err := writeAll(args[1], out.Bytes()); err != nil {
		fmt.Fprintln(os.Stderr, "bin2text:", err)
		return exitUsage
	}
	return status
}

// cmdRaw checks that Go's raw reader, and so Go's raw text dump, gets through
// a whole trace: it reads the trace as a flat sequence of events, with no
// batch framing of its own, so one misread byte (an experiment id it takes
// for a varint, say) derails everything after it even where Go's parser,
// which frames batches, reads the trace fine.
func cmdRaw(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "raw: need exactly one FILE")
		return exitUsage
	}
	in, err := openTrace(args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "raw:", err)
		fmt.Printf("RAW: ERROR %s\n", oneLine(err.Error(), 0))
		if err == errZstd {
			return exitRejected
		}
		return exitUsage
	}
	defer in.Close()
	n, end, err := rawDump(in, io.Discard)
	if err != nil {
		fmt.Printf("RAW: ERROR after %d events at byte %d: %s\n", n, end, oneLine(err.Error(), 0))
		return exitRejected
	}
	fmt.Printf("RAW: OK %d events, %d bytes\n", n, end)
	return exitOK
}

// ------------------------------------------------------------------ cut

// Batch header bytes (GO_FORMAT.md section 3): EvEventBatch is followed by
// uvarints gen, m, time, size; EvExperimentalBatch by one raw experiment byte
// and then the same four uvarints.
const (
	evEventBatch        = 1
	evExperimentalBatch = 49
)

// headerLen returns the length of the "go 1.NN trace\0\0\0" header.
func headerLen(data []byte) (int, error) {
	const prefix = "go 1."
	const suffix = " trace\x00\x00\x00"
	if !bytes.HasPrefix(data, []byte(prefix)) {
		return 0, errors.New("no \"go 1.NN trace\" header")
	}
	limit := len(data)
	if limit > 32 {
		limit = 32
	}
	i := bytes.Index(data[:limit], []byte(suffix))
	if i < 0 {
		return 0, errors.New("malformed header")
	}
	return i + len(suffix), nil
}

func cmdCut(args []string) int {
	fs := newFlags("cut")
	from := fs.Uint64("from", 0, "first generation to keep (required)")
	to := fs.Uint64("to", ^uint64(0), "last generation to keep (default: the last)")
	if !parseFlags(fs, args) {
		return exitUsage
	}
	if fs.NArg() != 2 || *from == 0 {
		fmt.Fprintln(os.Stderr, "cut: need -from N (>= 1) and IN OUT")
		return exitUsage
	}
	if *to < *from {
		fmt.Fprintf(os.Stderr, "cut: -to %d is before -from %d\n", *to, *from)
		return exitUsage
	}
	data, err := readAll(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cut:", err)
		return exitUsage
	}
	if bytes.HasPrefix(data, zstdMagic) {
		fmt.Fprintln(os.Stderr, "cut:", errZstd)
		return exitRejected
	}
	pos, err := headerLen(data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cut:", err)
		return exitRejected
	}
	out := append([]byte(nil), data[:pos]...)
	var minGen, maxGen uint64
	kept, total := 0, 0
	status := exitOK
	for pos < len(data) {
		start := pos
		p := pos + 1
		switch data[pos] {
		case evEventBatch:
		case evExperimentalBatch:
			p++
		default:
			fmt.Fprintf(os.Stderr, "cut: byte %d at offset %d is not a batch header; stopping there\n", data[pos], pos)
			status = exitRejected
		}
		if status != exitOK {
			break
		}
		var hdr [4]uint64 // gen, m, time, size
		ok := p <= len(data)
		for i := 0; ok && i < len(hdr); i++ {
			v, n := binary.Uvarint(data[p:])
			if n <= 0 {
				ok = false
				break
			}
			hdr[i] = v
			p += n
		}
		if !ok || hdr[3] > uint64(len(data)-p) {
			fmt.Fprintf(os.Stderr, "cut: batch at offset %d is truncated; dropping it and what follows\n", start)
			break
		}
		end := p + int(hdr[3])
		total++
		if gen := hdr[0]; gen >= *from && gen <= *to {
			out = append(out, data[start:end]...)
			if kept == 0 || gen < minGen {
				minGen = gen
			}
			if gen > maxGen {
				maxGen = gen
			}
			kept++
		}
		pos = end
	}
	if kept == 0 {
		fmt.Fprintf(os.Stderr, "cut: no batch of generations %d..%d found\n", *from, *to)
		return exitRejected
	}
	fmt.Fprintf(os.Stderr, "cut: kept generations %d..%d: %d of %d batches, %d of %d bytes\n",
		minGen, maxGen, kept, total, len(out), len(data))
	if err := writeAll(fs.Arg(1), out); err != nil {
		fmt.Fprintln(os.Stderr, "cut:", err)
		return exitUsage
	}
	return status
}

// ------------------------------------------------------------------ dump

// quoteBytes appends s in the dump's <str> syntax (see the file comment).
func quoteBytes(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c <= 0x7e:
			b.WriteByte(c)
		default:
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	b.WriteByte('"')
}

func writeStack(b *strings.Builder, stk trace.Stack) {
	b.WriteByte('[')
	first := true
	stk.Frames(func(f trace.StackFrame) bool {
		if !first {
			b.WriteByte(';')
		}
		first = false
		quoteBytes(b, f.Func)
		b.WriteByte('@')
		quoteBytes(b, f.File)
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(f.Line, 10))
		b.WriteString(" pc=")
		b.WriteString(strconv.FormatUint(f.PC, 10))
		return true
	})
	b.WriteByte(']')
}

func writeResource(b *strings.Builder, r trace.ResourceID) {
	switch r.Kind {
	case trace.ResourceGoroutine:
		fmt.Fprintf(b, "Goroutine:%d", r.Goroutine())
	case trace.ResourceProc:
		fmt.Fprintf(b, "Proc:%d", r.Proc())
	case trace.ResourceThread:
		fmt.Fprintf(b, "Thread:%d", r.Thread())
	case trace.ResourceNone:
		b.WriteString("None")
	default:
		fmt.Fprintf(b, "Bad%d", r.Kind)
	}
}

// Spelled out rather than taken from String(), so that the format does not
// change with the Go version.
func goStateName(s trace.GoState) string {
	switch s {
	case trace.GoUndetermined:
		return "Undetermined"
	case trace.GoNotExist:
		return "NotExist"
	case trace.GoRunnable:
		return "Runnable"
	case trace.GoRunning:
		return "Running"
	case trace.GoWaiting:
		return "Waiting"
	case trace.GoSyscall:
		return "Syscall"
	}
	return fmt.Sprintf("Bad%d", s)
}

func procStateName(s trace.ProcState) string {
	switch s {
	case trace.ProcUndetermined:
		return "Undetermined"
	case trace.ProcNotExist:
		return "NotExist"
	case trace.ProcRunning:
		return "Running"
	case trace.ProcIdle:
		return "Idle"
	}
	return fmt.Sprintf("Bad%d", s)
}

func writeValue(b *strings.Builder, v trace.Value) {
	if v.Kind() == trace.ValueUint64 {
		b.WriteString(strconv.FormatUint(v.Uint64(), 10))
		return
	}
	b.WriteString("bad")
}

// formatEvent appends ev's dump line (without the newline) to b. It may
// panic on a malformed trace, as the accessors it calls do.
func formatEvent(b *strings.Builder, ev trace.Event) {
	fmt.Fprintf(b, "%s t=%d m=%d p=%d g=%d", ev.Kind(), int64(ev.Time()),
		int64(ev.Thread()), int64(ev.Proc()), int64(ev.Goroutine()))
	switch ev.Kind() {
	case trace.EventSync, trace.EventStackSample:
	case trace.EventStateTransition:
		st := ev.StateTransition()
		b.WriteString(" resource=")
		writeResource(b, st.Resource)
		from, to := "-", "-"
		switch st.Resource.Kind {
		case trace.ResourceGoroutine:
			f, t := st.Goroutine()
			from, to = goStateName(f), goStateName(t)
		case trace.ResourceProc:
			f, t := st.Proc()
			from, to = procStateName(f), procStateName(t)
		}
		b.WriteString(" from=" + from + " to=" + to + " reason=")
		quoteBytes(b, st.Reason)
		b.WriteString(" tstack=")
		writeStack(b, st.Stack)
	case trace.EventRangeBegin, trace.EventRangeActive, trace.EventRangeEnd:
		r := ev.Range()
		b.WriteString(" name=")
		quoteBytes(b, r.Name)
		b.WriteString(" scope=")
		writeResource(b, r.Scope)
		if ev.Kind() == trace.EventRangeEnd {
			b.WriteString(" attrs=[")
			for i, a := range ev.RangeAttributes() {
				if i > 0 {
					b.WriteByte(',')
				}
				quoteBytes(b, a.Name)
				b.WriteByte('=')
				writeValue(b, a.Value)
			}
			b.WriteByte(']')
		}
	case trace.EventTaskBegin, trace.EventTaskEnd:
		t := ev.Task()
		fmt.Fprintf(b, " id=%d parent=%d type=", uint64(t.ID), uint64(t.Parent))
		quoteBytes(b, t.Type)
	case trace.EventRegionBegin, trace.EventRegionEnd:
		r := ev.Region()
		fmt.Fprintf(b, " task=%d type=", uint64(r.Task))
		quoteBytes(b, r.Type)
	case trace.EventLog:
		l := ev.Log()
		fmt.Fprintf(b, " task=%d category=", uint64(l.Task))
		quoteBytes(b, l.Category)
		b.WriteString(" message=")
		quoteBytes(b, l.Message)
	case trace.EventMetric:
		m := ev.Metric()
		b.WriteString(" name=")
		quoteBytes(b, m.Name)
		b.WriteString(" value=")
		writeValue(b, m.Value)
	case trace.EventLabel:
		l := ev.Label()
		b.WriteString(" label=")
		quoteBytes(b, l.Label)
		b.WriteString(" resource=")
		writeResource(b, l.Resource)
	default:
		// Experimental events exist only in the Go 1.23 parser.
		writeExperimental(b, ev)
	}
	b.WriteString(" stack=")
	writeStack(b, ev.Stack())
}

func cmdDump(args []string) int {
	fs := newFlags("dump")
	allowTail := fs.Bool("allow-broken-tail", false, "on an error after >= 1 complete generation, print up to the last Sync and exit 0")
	if !parseFlags(fs, args) {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "dump: need exactly one FILE")
		return exitUsage
	}
	in, err := openTrace(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "dump:", err)
		fmt.Printf("END error: %s\n", oneLine(err.Error(), 0))
		if err == errZstd {
			return exitRejected
		}
		return exitUsage
	}
	defer in.Close()
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	defer out.Flush()

	// With -allow-broken-tail, lines are held back until the Sync that
	// completes their generation, so they can be dropped if it never comes.
	var pending bytes.Buffer
	emit := func(s string) {
		if *allowTail {
			pending.WriteString(s)
		} else {
			out.WriteString(s)
		}
	}
	syncs := 0
	dumpErr := func() error {
		r, err := trace.NewReader(in.r)
		if err != nil {
			return err
		}
		var line strings.Builder
		for {
			ev, err := r.ReadEvent()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			line.Reset()
			if err := callSafely(func() error { formatEvent(&line, ev); return nil }); err != nil {
				return fmt.Errorf("event %s at t=%d: %v", ev.Kind(), int64(ev.Time()), err)
			}
			line.WriteByte('\n')
			emit(line.String())
			if ev.Kind() == trace.EventSync {
				syncs++
				out.Write(pending.Bytes())
				pending.Reset()
			}
		}
	}()
	if dumpErr == nil {
		out.Write(pending.Bytes())
		out.WriteString("END ok\n")
		return exitOK
	}
	fmt.Fprintf(out, "END error: %s\n", oneLine(dumpErr.Error(), 0))
	if *allowTail && syncs > 0 {
		return exitOK
	}
	return exitRejected
}

// ------------------------------------------------------------------ bench

type benchResult struct {
	Parser        string  `json:"parser"`
	File          string  `json:"file"`
	Bytes         int64   `json:"bytes"`
	Runs          int     `json:"runs"`
	Events        int     `json:"events"`
	Generations   int     `json:"generations"`
	BestSeconds   float64 `json:"best_seconds"`
	EventsPerSec  float64 `json:"events_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	HeapSysPeak   uint64  `json:"heap_sys_peak_bytes"`
	HeapInusePeak uint64  `json:"heap_inuse_peak_bytes"`
	SysPeak       uint64  `json:"sys_peak_bytes"`
	Error         string  `json:"error,omitempty"`
}

func cmdBench(args []string) int {
	fs := newFlags("bench")
	n := fs.Int("n", 3, "number of full reads")
	if !parseFlags(fs, args) {
		return exitUsage
	}
	if fs.NArg() != 1 || *n < 1 {
		fmt.Fprintln(os.Stderr, "bench: need -n >= 1 and exactly one FILE")
		return exitUsage
	}
	name := fs.Arg(0)
	// A file is re-opened for every run so that the heap holds only what the
	// parser keeps; stdin has to be read into memory once.
	var stdinData []byte
	if name == "-" {
		var err error
		if stdinData, err = io.ReadAll(os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return exitUsage
		}
	}
	open := func() (io.Reader, func(), error) {
		if name == "-" {
			return bytes.NewReader(stdinData), func() {}, nil
		}
		in, err := openTrace(name)
		if err != nil {
			return nil, nil, err
		}
		return in.r, in.Close, nil
	}
	res := benchResult{Parser: runtime.Version(), File: name, Runs: *n}
	var ms runtime.MemStats
	sample := func() {
		runtime.ReadMemStats(&ms)
		res.HeapSysPeak = max(res.HeapSysPeak, ms.HeapSys)
		res.HeapInusePeak = max(res.HeapInusePeak, ms.HeapInuse)
		res.SysPeak = max(res.SysPeak, ms.Sys)
	}
	best := time.Duration(-1)
	for run := 0; run < *n; run++ {
		runtime.GC()
		src, closeFn, err := open()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			if err == errZstd {
				return exitRejected
			}
			return exitUsage
		}
		count := &countingReader{r: src}
		start := time.Now()
		var paused time.Duration // time spent sampling MemStats, not parsing
		events, gens := 0, 0
		var readErr error
		r, err := trace.NewReader(count)
		if err != nil {
			readErr = err
		}
		for readErr == nil {
			ev, err := r.ReadEvent()
			if err == io.EOF {
				break
			}
			if err != nil {
				readErr = err
				break
			}
			events++
			if ev.Kind() == trace.EventSync {
				gens++
				t := time.Now()
				sample()
				paused += time.Since(t)
			}
		}
		elapsed := time.Since(start) - paused
		sample()
		closeFn()
		if readErr != nil {
			res.Error = oneLine(readErr.Error(), 300)
		}
		if best < 0 || elapsed < best {
			best = elapsed
		}
		res.Events, res.Generations, res.Bytes = events, gens, count.n
	}
	res.BestSeconds = best.Seconds()
	if best > 0 {
		res.EventsPerSec = float64(res.Events) / best.Seconds()
		res.MBPerSec = float64(res.Bytes) / 1e6 / best.Seconds()
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	if res.Error != "" {
		return exitRejected
	}
	return exitOK
}

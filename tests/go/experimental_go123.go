// The Go 1.23 parser surfaces experimental events (allocation-tracing
// events 128 and up) as EventExperimental; this file prints them for dump.

//go:build go1.23

package main

import (
	"fmt"
	"strings"

	"internal/trace"
)

// writeExperimental appends the fields of an Experimental event, or marks a
// kind this tool does not know.
func writeExperimental(b *strings.Builder, ev trace.Event) {
	if ev.Kind() != trace.EventExperimental {
		fmt.Fprintf(b, " unknown_kind=%d", uint16(ev.Kind()))
		return
	}
	x := ev.Experimental()
	b.WriteString(" name=" + x.Name + " args=[")
	for i, name := range x.ArgNames {
		if i > 0 {
			b.WriteByte(',')
		}
		var v uint64
		if i < len(x.Args) {
			v = x.Args[i]
		}
		fmt.Fprintf(b, "%s=%d", name, v)
	}
	b.WriteByte(']')
}

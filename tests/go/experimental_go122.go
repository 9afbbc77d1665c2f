// The Go 1.22 parser (internal/trace/v2) has no EventExperimental kind and no
// Event.Experimental accessor; this stands in for experimental_go123.go.

//go:build !go1.23

package main

import (
	"fmt"
	"strings"

	"internal/trace"
)

func writeExperimental(b *strings.Builder, ev trace.Event) {
	fmt.Fprintf(b, " unknown_kind=%d", uint16(ev.Kind()))
}

package main

import "runtime/debug"

// defaultGCPercent is the garbage collector's target when the operator
// has not set GOGC: the heap may grow to three times what is live (Go's
// default is twice) before a collection. obhub's live heap is small
// (snapshots, caches) and every request leaves short-lived garbage, so
// collecting half as often costs little memory and, measured with
// scripts/bench.sh on the development machine, gave 8–14% more requests/s
// (docs/performance.md). GOGC and GOMEMLIMIT, when set, decide as usual.
const defaultGCPercent = 200

// tuneGC applies defaultGCPercent unless GOGC is set.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// Command tracewaits reads a Go execution trace of an obhub node (its
// admin listener's /debug/pprof/trace) and says how long the node's
// goroutines waited for a processor once they could run, and how many of
// the long waits fell while a processor was held by a goroutine that had
// been "running" for over a millisecond. A gateway goroutine computes for
// about a tenth of that per request, so such a stretch is mostly its
// thread waiting for a CPU that the kernel gave to another process: the
// tail is then the machine's, not the node's (docs/performance.md,
// session 10).
//
//	curl -s -H "Authorization: Bearer $OBHUB_ADMIN_TOKEN" \
//	  "$OBHUB_ADMIN_URL/debug/pprof/trace?seconds=5" >node.trace
//	go run ./scripts/tracewaits node.trace
package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"golang.org/x/exp/trace"
)

// Thresholds of the summary: a wait for a processor counts as long over
// longWait; a goroutine running without a break for over longRun has
// most likely lost its thread's CPU.
const (
	longWait = 5 * time.Millisecond
	longRun  = time.Millisecond
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: tracewaits TRACE-FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracewaits:", err)
		os.Exit(1)
	}
	defer f.Close()
	s, err := summarize(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tracewaits:", err)
		os.Exit(1)
	}
	s.print(os.Stdout)
}

// span is an interval of a trace.
type span struct{ from, to trace.Time }

func (s span) len() time.Duration { return s.to.Sub(s.from) }

// summary is what a trace says of the waits for a processor.
type summary struct {
	waits    []time.Duration // each wake-up's wait, runnable to running
	long     []span          // the waits over longWait
	runs     []span          // running stretches over longRun
	overlaps int             // long waits during such a stretch
}

// summarize reads a trace: every goroutine's runnable → running wait, and
// its running stretches (from running to anything else).
func summarize(r io.Reader) (*summary, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, err
	}
	s := &summary{}
	runnable := map[trace.GoID]trace.Time{}
	running := map[trace.GoID]trace.Time{}
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		g, t := st.Resource.Goroutine(), ev.Time()
		from, to := st.Goroutine()
		if from == trace.GoRunning {
			if t0, ok := running[g]; ok {
				if sp := (span{t0, t}); sp.len() > longRun {
					s.runs = append(s.runs, sp)
				}
				delete(running, g)
			}
		}
		switch to {
		case trace.GoRunnable:
			runnable[g] = t
		case trace.GoRunning:
			running[g] = t
			if t0, ok := runnable[g]; ok && from == trace.GoRunnable {
				w := span{t0, t}
				s.waits = append(s.waits, w.len())
				if w.len() > longWait {
					s.long = append(s.long, w)
				}
			}
			delete(runnable, g)
		}
	}
	for _, w := range s.long {
		if slices.ContainsFunc(s.runs, func(r span) bool { return r.from < w.to && w.from < r.to }) {
			s.overlaps++
		}
	}
	return s, nil
}

// print writes the summary in a few lines.
func (s *summary) print(w io.Writer) {
	if len(s.waits) == 0 {
		fmt.Fprintln(w, "no goroutine wake-ups in the trace")
		return
	}
	d := slices.Clone(s.waits)
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	over := func(limit time.Duration) int {
		i, _ := slices.BinarySearch(d, limit+1)
		return len(d) - i
	}
	fmt.Fprintf(w, "goroutine wake-ups: %d; their wait for a processor: p50 %v, p99 %v, p99.9 %v, longest %v\n",
		len(d), q(0.5), q(0.99), q(0.999), d[len(d)-1])
	fmt.Fprintf(w, "waits over 1ms: %d (%.2f%%); over %v: %d (%.3f%%)\n",
		over(time.Millisecond), 100*float64(over(time.Millisecond))/float64(len(d)),
		longWait, len(s.long), 100*float64(len(s.long))/float64(len(d)))
	var held time.Duration
	for _, r := range s.runs {
		held += r.len()
	}
	fmt.Fprintf(w, "goroutines running over %v without a break: %d, %v in all (a request needs ~0.1ms of CPU: most of such a stretch is its thread waiting for a CPU)\n",
		longRun, len(s.runs), held.Round(time.Microsecond))
	if len(s.long) > 0 {
		fmt.Fprintf(w, "of the %d waits over %v, %d fell while a processor was held by such a stretch\n", len(s.long), longWait, s.overlaps)
	}
}

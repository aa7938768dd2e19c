package main

import (
	"bytes"
	"runtime"
	rtrace "runtime/trace"
	"strings"
	"testing"
	"time"
)

// A goroutine made runnable while the only processor is held by a
// goroutine that computes (until Go preempts it, after about 10 ms)
// waits that long: the summary counts the long wait, the long running
// stretch, and that one fell during the other.
func TestSummaryFindsAWaitBehindARunningGoroutine(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var buf bytes.Buffer
	if err := rtrace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	ready, done := make(chan struct{}), make(chan struct{})
	go func() {
		<-ready
		close(done)
	}()
	runtime.Gosched() // the waiter parks on ready
	spun := make(chan struct{})
	go func() {
		close(ready) // the waiter is runnable from here
		for start := time.Now(); time.Since(start) < 30*time.Millisecond; {
		}
		close(spun)
	}()
	<-done
	<-spun
	rtrace.Stop()

	s, err := summarize(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.long) == 0 || len(s.runs) == 0 || s.overlaps == 0 {
		t.Fatalf("%d waits over %v, %d running stretches over %v, %d overlapping; want at least one of each",
			len(s.long), longWait, len(s.runs), longRun, s.overlaps)
	}
	var out bytes.Buffer
	s.print(&out)
	for _, want := range []string{"goroutine wake-ups: ", "waits over 1ms: ", "fell while a processor was held"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

// A file that is not a trace is an error, not a summary of nothing.
func TestSummarizeRefusesWhatIsNotATrace(t *testing.T) {
	if _, err := summarize(strings.NewReader("not a trace")); err == nil {
		t.Fatal("no error for a text file")
	}
}

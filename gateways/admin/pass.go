package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// PassLine is one line of a streamed maintenance pass (POST /v1/scrub,
// POST /v1/keys/reencrypt): the pass's counts so far. The last line has
// phase "done" and, if the pass stopped early, the error.
type PassLine interface {
	// Finished reports whether this is the last line and the error that
	// stopped the pass early ("" when none).
	Finished() (done bool, failure string)
}

// progressInterval is how often a pass's stream reports while it runs.
const progressInterval = 250 * time.Millisecond

// streamPass runs a pass and streams its progress as JSON lines
// (application/x-ndjson): at most every progressInterval while it runs
// (only when something changed), then its final line. line renders a
// progress value and the pass's error (nil while it runs).
func streamPass[P any](w http.ResponseWriter, ctx context.Context,
	run func(ctx context.Context, progress func(P)) (P, error), line func(P, error) PassLine) {
	var mu sync.Mutex
	var latest P
	var version int
	type result struct {
		p   P
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := run(ctx, func(p P) {
			mu.Lock()
			latest, version = p, version+1
			mu.Unlock()
		})
		done <- result{p, err}
	}()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	sent := 0
	for {
		select {
		case res := <-done:
			_ = enc.Encode(line(res.p, res.err))
			return
		case <-t.C:
			mu.Lock()
			p, v := latest, version
			mu.Unlock()
			if v == sent {
				continue
			}
			sent = v
			_ = enc.Encode(line(p, nil))
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// errorText is err's message, "" for nil.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

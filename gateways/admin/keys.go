package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/annal-storage/annal/commands"
)

// Key rotation (ADR-015): GET /v1/keys shows the system epochs, the
// current one, the chunk shard's epoch floor and how many chunks each
// epoch still seals; POST /v1/keys/rotate starts a new epoch; POST
// /v1/keys/reencrypt runs a re-encryption pass on this node and streams
// its progress as JSON lines until it is done.

// KeyRotation is what a node offers for key rotation. A node that
// implements it serves POST /v1/keys/rotate and /v1/keys/reencrypt.
type KeyRotation interface {
	// RotateKeys starts a new system epoch and wakes re-encryption.
	RotateKeys(ctx context.Context) (uint32, error)
	// Reencrypt runs a re-encryption pass, calling progress with every
	// update.
	Reencrypt(ctx context.Context, progress func(commands.ReencryptProgress)) (commands.ReencryptProgress, error)
}

// RotateResponse is the answer of POST /v1/keys/rotate.
type RotateResponse struct {
	Epoch uint32 `json:"epoch"`
}

// ReencryptLine is one line of the POST /v1/keys/reencrypt stream: the
// pass's counts so far; the last has phase "done" and, if the pass stopped
// early, the error.
type ReencryptLine struct {
	commands.ReencryptProgress
	Error string `json:"error,omitempty"`
}

func (h *Handler) routesKeys() {
	h.mux.HandleFunc("GET /v1/keys", h.auth(h.keyStatus))
	if k, ok := h.node.(KeyRotation); ok {
		h.mux.HandleFunc("POST /v1/keys/rotate", h.auth(func(w http.ResponseWriter, r *http.Request) { h.rotateKeys(w, r, k) }))
		h.mux.HandleFunc("POST /v1/keys/reencrypt", h.auth(func(w http.ResponseWriter, r *http.Request) { h.reencrypt(w, r, k) }))
	}
}

func (h *Handler) keyStatus(w http.ResponseWriter, r *http.Request) {
	st, err := h.node.Service().KeyStatus(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *Handler) rotateKeys(w http.ResponseWriter, r *http.Request, k KeyRotation) {
	epoch, err := k.RotateKeys(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	h.log.Info("system key rotated", "epoch", epoch)
	writeJSON(w, http.StatusOK, RotateResponse{Epoch: epoch})
}

// reencrypt streams a pass's progress as JSON lines
// (application/x-ndjson), at most every scrubProgressInterval, and returns
// when the pass is done.
func (h *Handler) reencrypt(w http.ResponseWriter, r *http.Request, k KeyRotation) {
	var mu sync.Mutex
	var latest commands.ReencryptProgress
	var version int
	type result struct {
		p   commands.ReencryptProgress
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := k.Reencrypt(r.Context(), func(p commands.ReencryptProgress) {
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
	t := time.NewTicker(scrubProgressInterval)
	defer t.Stop()
	sent := 0
	for {
		select {
		case res := <-done:
			line := ReencryptLine{ReencryptProgress: res.p}
			if res.err != nil {
				line.Error = res.err.Error()
			}
			_ = enc.Encode(line)
			return
		case <-t.C:
			mu.Lock()
			p, v := latest, version
			mu.Unlock()
			if v == sent {
				continue
			}
			sent = v
			_ = enc.Encode(ReencryptLine{ReencryptProgress: p})
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/admin"
)

// fakeAdmin serves handler as a node's admin API that accepts the token
// "tok", and returns a client holding that token.
func fakeAdmin(t *testing.T, handler http.HandlerFunc) *adminClient {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &adminClient{endpoint: srv.URL, tokenFile: tokenFile}
}

// fakeScrubServer streams lines as POST /v1/scrub does.
func fakeScrubServer(t *testing.T, lines ...admin.ScrubLine) (*adminClient, *int) {
	t.Helper()
	calls := 0
	a := fakeAdmin(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/scrub" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		calls++
		enc := json.NewEncoder(w)
		for _, l := range lines {
			enc.Encode(l)
		}
	})
	return a, &calls
}

func line(phase string, done, total, repaired, lost int64) admin.ScrubLine {
	return admin.ScrubLine{ScrubProgress: commands.ScrubProgress{Phase: phase, Done: done, Total: total, Repaired: repaired, Lost: lost}}
}

// Goal: `annal admin scrub` follows the stream to the final line, prints
// the summary, and fails when chunks are lost or the stream is cut short.
func TestAdminScrubCommand(t *testing.T) {
	tests := []struct {
		name    string
		lines   []admin.ScrubLine
		wantErr string
		wantOut string
	}{
		{"clean", []admin.ScrubLine{line("chunks", 1, 2, 0, 0), line("done", 2, 2, 4, 0)}, "", "2 chunks checked, 4 fragments repaired, 0 lost"},
		{"lost", []admin.ScrubLine{line("done", 2, 2, 0, 1)}, "1 chunks are lost", "1 lost"},
		{"cut short", []admin.ScrubLine{line("chunks", 1, 2, 0, 0)}, "ended before the pass was done", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, calls := fakeScrubServer(t, tt.lines...)
			cmd := scrubCmd(a)
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(nil)
			err := cmd.Execute()
			if *calls != 1 {
				t.Fatalf("%d requests", *calls)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("output %q lacks %q", out.String(), tt.wantOut)
			}
		})
	}
}

func TestRenderBar(t *testing.T) {
	got := renderBar(line("chunks", 50, 100, 3, 0), 1500*time.Millisecond)
	want := "[===============>              ]  50% 50/100 chunks  3 repaired  0 lost  1.5s"
	if got != want {
		t.Fatalf("bar\n got %q\nwant %q", got, want)
	}
	if got := renderBar(line("done", 0, 0, 0, 0), 0); !strings.HasPrefix(got, "[==============================] 100% 0/0") {
		t.Fatalf("empty pass: %q", got)
	}
}

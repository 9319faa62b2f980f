package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/admin"
)

// fakeKeysServer answers the key rotation endpoints as a node does.
func fakeKeysServer(t *testing.T, lines []admin.ReencryptLine) *adminClient {
	t.Helper()
	return fakeAdmin(t, func(w http.ResponseWriter, r *http.Request) {
		enc := json.NewEncoder(w)
		switch r.Method + " " + r.URL.Path {
		case "POST /v1/keys/reencrypt":
			for _, l := range lines {
				enc.Encode(l)
			}
		case "POST /v1/keys/rotate":
			enc.Encode(admin.RotateResponse{Epoch: 3})
		case "GET /v1/keys":
			enc.Encode(commands.KeyStatus{Current: 3, Floor: 2, Epochs: []commands.KeyEpochStatus{
				{Epoch: 1, Retired: true, RetiredNs: 1e18}, {Epoch: 2, Chunks: 5, SealedBytes: 5 << 20}, {Epoch: 3, Current: true, Chunks: 7}}})
		default:
			http.Error(w, "bad request", http.StatusBadRequest)
		}
	})
}

func reLine(phase string, done, total, resealed, failed int64, retired ...uint32) admin.ReencryptLine {
	return admin.ReencryptLine{ReencryptProgress: commands.ReencryptProgress{Phase: phase, Epoch: 3, Done: done, Total: total,
		Resealed: resealed, Failed: failed, ResealedBytes: resealed << 20, Retired: retired}}
}

// Goal: `annal admin keys reencrypt` follows the stream to its last line,
// prints the summary and retirements, and fails when chunks failed or the
// stream is cut short; `status` and `rotate` print what the API says.
func TestAdminKeysCommands(t *testing.T) {
	tests := []struct {
		name    string
		lines   []admin.ReencryptLine
		wantErr string
		wantOut string
	}{
		{"clean", []admin.ReencryptLine{reLine("chunks", 1, 2, 1, 0), reLine("done", 2, 2, 2, 0, 2)}, "", "2 chunks resealed, 2.0 MiB written"},
		{"failed", []admin.ReencryptLine{reLine("done", 2, 2, 1, 1)}, "1 chunks could not be resealed", "1 failed"},
		{"cut short", []admin.ReencryptLine{reLine("chunks", 1, 2, 1, 0)}, "ended before the pass was done", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runKeys(t, fakeKeysServer(t, tt.lines), "reencrypt")
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Fatalf("output %q lacks %q", out, tt.wantOut)
			}
			if tt.name == "clean" && !strings.Contains(out, "epoch 2 retired") {
				t.Fatalf("output %q does not report the retirement", out)
			}
		})
	}
	a := fakeKeysServer(t, nil)
	if out, err := runKeys(t, a, "rotate"); err != nil || !strings.Contains(out, "sealed under epoch 3") {
		t.Fatalf("rotate: %q %v", out, err)
	}
	out, err := runKeys(t, a, "status")
	if err != nil || !strings.Contains(out, "current epoch 3, floor 2") || !strings.Contains(out, "retired") ||
		!strings.Contains(out, "5.0 MiB") || !strings.Contains(out, "2001-09-09 01:46:40") {
		t.Fatalf("status: %q %v", out, err)
	}
}

func runKeys(t *testing.T, a *adminClient, args ...string) (string, error) {
	t.Helper()
	cmd := keysCmd(a)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestRenderReencrypt(t *testing.T) {
	got := renderReencrypt(reLine("chunks", 25, 100, 25, 0), 2*time.Second)
	want := "[=======>                      ]  25% 25/100 chunks  25 resealed  25.0 MiB  0 failed  2s"
	if got != want {
		t.Fatalf("bar\n got %q\nwant %q", got, want)
	}
}

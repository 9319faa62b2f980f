package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/admin"
)

// adminCall makes an admin API request and decodes a JSON answer into out.
func adminCall(t *testing.T, n *Node, method, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.cfg.AdminAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.adminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
}

// adminPass runs a streamed maintenance pass through the admin API, as
// `annal admin scrub` and `annal admin keys reencrypt` do, and returns its
// lines; the pass must finish without an error.
func adminPass[L admin.PassLine](t *testing.T, n *Node, path string) []L {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+n.cfg.AdminAddr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+n.adminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("POST %s: %s %s", path, resp.Status, resp.Header.Get("Content-Type"))
	}
	var lines []L
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var l L
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		t.Fatalf("POST %s: empty stream", path)
	}
	if done, failure := lines[len(lines)-1].Finished(); !done || failure != "" {
		t.Fatalf("POST %s stream: %+v", path, lines)
	}
	return lines
}

// fragmentEpochs counts the fragment files on the node's devices by the
// envelope epoch in their headers.
func fragmentEpochs(t *testing.T, n *Node) map[uint32]int {
	t.Helper()
	out := map[uint32]int{}
	for _, d := range n.devices {
		err := d.ListFragments(func(info chunks.FragmentInfo) error {
			b, err := d.GetFragment(info.Key)
			if err != nil {
				return err
			}
			h, _, err := chunks.DecodeFragment(b)
			if err != nil {
				return err
			}
			out[h.Envelope.Epoch]++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Goal: key rotation end to end on a real node through the admin API, as
// `annal admin keys status|rotate|reencrypt` drive it. Method: store
// chunked objects, rotate (POST /v1/keys/rotate), store more, check GET
// /v1/keys counts chunks per epoch, re-encrypt (POST /v1/keys/reencrypt,
// JSON lines), then: every object reads back, epoch 1 is retired with no
// chunk left, only epoch-2 fragments remain on disk, the metrics moved,
// and the node restarts and still reads everything.
func TestKeyRotationThroughAdminAPI(t *testing.T) {
	cfg := nodeConfig(t, t.TempDir(), 1, map[uint64]string{1: freeAddr(t)}, "")
	cfg.GCInterval, cfg.ScrubInterval, cfg.ReencryptInterval, cfg.KeyRetireGrace = -1, -1, -1, -1
	ctx := context.Background()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { n.Close() }()
	waitReady(t, n)
	tenant, err := n.Service().TenantByName(ctx, BootstrapTenant)
	if err != nil {
		t.Fatal(err)
	}
	p := commands.Principal{Tenant: tenant.ID, AccessKey: "test"}
	if err := n.Service().CreateBucket(ctx, p, "b"); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{"a": randomBody(1, 3<<20), "b": randomBody(2, 700_000)}
	for k, b := range bodies {
		put(t, n.Service(), p, "b", k, b)
	}
	var rotated admin.RotateResponse
	adminCall(t, n, "POST", "/v1/keys/rotate", &rotated)
	if rotated.Epoch != 2 {
		t.Fatalf("rotated to epoch %d", rotated.Epoch)
	}
	bodies["c"] = randomBody(3, 1<<20)
	put(t, n.Service(), p, "b", "c", bodies["c"])
	var st commands.KeyStatus
	adminCall(t, n, "GET", "/v1/keys", &st)
	if st.Current != 2 || len(st.Epochs) != 2 || st.Epochs[0].Chunks == 0 || st.Epochs[1].Chunks == 0 {
		t.Fatalf("status before: %+v", st)
	}
	before := st.Epochs[0]

	start := time.Now()
	lines := adminPass[admin.ReencryptLine](t, n, "/v1/keys/reencrypt")
	final := lines[len(lines)-1]
	t.Logf("re-encrypted %d chunks, %d MiB in %s (%.0f MiB/s)", final.Resealed, final.ResealedBytes>>20, time.Since(start),
		float64(final.ResealedBytes)/(1<<20)/time.Since(start).Seconds())
	if final.Resealed != before.Chunks || final.ResealedBytes < before.SealedBytes || final.Failed != 0 || !slices.Equal(final.Retired, []uint32{1}) {
		t.Fatalf("pass: %+v, epoch 1 had %+v", final, before)
	}
	adminCall(t, n, "GET", "/v1/keys", &st)
	if st.Floor != 2 || !st.Epochs[0].Retired || st.Epochs[0].Chunks != 0 {
		t.Fatalf("status after: %+v", st)
	}
	for k, b := range bodies {
		if got := get(t, n.Service(), p, "b", k); !bytes.Equal(got, b) {
			t.Fatalf("%s: %d bytes back", k, len(got))
		}
	}
	if got := fragmentEpochs(t, n); len(got) != 1 || got[2] == 0 {
		t.Fatalf("fragments on disk by epoch: %v", got)
	}
	if metric(t, n, "annal_reencrypt_chunks_total") != float64(before.Chunks) || metric(t, n, "annal_key_epoch_current") != 2 {
		t.Fatalf("metrics: resealed %v, current epoch %v", metric(t, n, "annal_reencrypt_chunks_total"), metric(t, n, "annal_key_epoch_current"))
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err = Start(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	waitReady(t, n)
	for k, b := range bodies {
		if got := get(t, n.Service(), p, "b", k); !bytes.Equal(got, b) {
			t.Fatalf("after restart %s: %d bytes back", k, len(got))
		}
	}
}

// Goal: a rotation wakes the worker, which moves the chunks and retires
// the old epoch by itself. Method: rotate through the admin API with the
// hourly check and no grace; wait for the retirement.
func TestReencryptWorkerRunsAfterRotation(t *testing.T) {
	n, p := singleNode(t, func(c *Config) {
		c.GCInterval, c.ScrubInterval, c.ReencryptInterval, c.KeyRetireGrace = -1, -1, time.Hour, -1
	})
	body := randomBody(4, 600_000)
	put(t, n.Service(), p, "b", "k", body)
	var rotated admin.RotateResponse
	adminCall(t, n, "POST", "/v1/keys/rotate", &rotated)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st commands.KeyStatus
		adminCall(t, n, "GET", "/v1/keys", &st)
		if st.Epochs[0].Retired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("epoch 1 not retired by the worker: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := get(t, n.Service(), p, "b", "k"); !bytes.Equal(got, body) {
		t.Fatalf("read %d bytes", len(got))
	}
}

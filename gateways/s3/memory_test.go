package s3_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/annal-storage/annal/commands"
)

// largeUploadEnv sets the size of TestLargeUploadMemory's object; the
// test is skipped without it (a 5 GiB run takes minutes and ~8 GiB of
// disk, and the race detector of make test would dominate the RSS it
// measures), so it runs outside make test: make test-memory.
const largeUploadEnv = "ANNAL_S3_LARGE_UPLOAD_BYTES"

// randomReader yields n pseudo-random bytes (nothing deduplicates).
type randomReader struct {
	src *mathrand.ChaCha8
	n   int64
}

func (r *randomReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	_, _ = r.src.Read(p)
	r.n -= int64(len(p))
	return len(p), nil
}

// rssBytes reads a process's resident set size from /proc.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, s.Err()
}

// rssSampler records the peak RSS of a process while it runs.
type rssSampler struct {
	mu   sync.Mutex
	peak int64
	stop chan struct{}
	done sync.WaitGroup
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{})}
	s.done.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := rssBytes(pid); err == nil {
				s.mu.Lock()
				s.peak = max(s.peak, v)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	})
	return s
}

func (s *rssSampler) finish() int64 {
	close(s.stop)
	s.done.Wait()
	return s.peak
}

// TestLargeUploadMemory: a single multi-GiB PUT streamed by the SDK
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER over TLS, an unseekable body) and
// read back raises the server process's RSS by a bounded amount, and the
// object reads back with the same SHA-256. Method: a child server; RSS
// sampled from /proc every 50 ms; the baseline is taken after a warm-up
// PUT and GET of 64 MiB.
func TestLargeUploadMemory(t *testing.T) {
	size, _ := strconv.ParseInt(os.Getenv(largeUploadEnv), 10, 64)
	if size <= 0 {
		t.Skip("set " + largeUploadEnv + " to run")
	}
	ch := newChild(t)
	certFile, keyFile, pool := selfSignedCert(t)
	ch.start(t, certFile+","+keyFile)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	url := "https://" + ch.addrs[0]
	c := sdkClient(url, hc, ch.waitS3(t, url, hc))
	mkBucket(t, c, "mem")
	put := func(key string, n int64, seed uint64) ([]byte, time.Duration) {
		t.Helper()
		want := sha256.New()
		body := io.TeeReader(&randomReader{src: mathrand.NewChaCha8([32]byte{byte(seed)}), n: n}, want)
		start := time.Now()
		_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("mem"), Key: aws.String(key),
			Body: unseekable{body}, ContentLength: aws.Int64(n)})
		if err != nil {
			t.Fatalf("PUT %s: %v", key, err)
		}
		return want.Sum(nil), time.Since(start)
	}
	get := func(key string, want []byte) time.Duration {
		t.Helper()
		start := time.Now()
		out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("mem"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GET %s: %v", key, err)
		}
		got := sha256.New()
		if _, err := io.Copy(got, out.Body); err != nil {
			t.Fatalf("GET %s body: %v", key, err)
		}
		out.Body.Close()
		if string(got.Sum(nil)) != string(want) {
			t.Fatalf("%s read back different bytes", key)
		}
		return time.Since(start)
	}
	sum, _ := put("warm-up", 64<<20, 1)
	get("warm-up", sum)
	pid := ch.cmd.Process.Pid
	base, err := rssBytes(pid)
	if err != nil {
		t.Fatal(err)
	}
	sampler := sampleRSS(pid)
	sum, putTime := put("large", size, 2)
	putPeak := sampler.finish()
	sampler = sampleRSS(pid)
	getTime := get("large", sum)
	getPeak := sampler.finish()
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	t.Logf("object %.0f MiB: PUT %v (%.0f MiB/s), GET %v (%.0f MiB/s); RSS baseline %.1f MiB, peak during PUT %.1f MiB (+%.1f), during GET %.1f MiB (+%.1f)",
		mib(size), putTime.Round(time.Millisecond), mib(size)/putTime.Seconds(), getTime.Round(time.Millisecond),
		mib(size)/getTime.Seconds(), mib(base), mib(putPeak), mib(putPeak-base), mib(getPeak), mib(getPeak-base))
	if growth := putPeak - base; growth > 96<<20 {
		t.Errorf("RSS grew by %.1f MiB during a %.0f MiB upload", mib(growth), mib(size))
	}
	// Reads may also fill the node's decrypted-chunk cache on top of the
	// streaming buffers.
	if growth := getPeak - base; growth > 96<<20+commands.DefaultChunkCacheBytes {
		t.Errorf("RSS grew by %.1f MiB during a %.0f MiB download", mib(growth), mib(size))
	}
}

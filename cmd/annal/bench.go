package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/spf13/cobra"

	"github.com/annal-storage/annal/gateways/native/client"
)

// benchConfig is one load run against an S3 endpoint.
type benchConfig struct {
	endpoint    string
	credentials string
	profile     string
	bucket      string
	sizes       []int64
	concurrency int
	duration    time.Duration
	checksums   string
	local       bool
}

func benchCmd() *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "load generators"}
	c.AddCommand(benchS3Cmd(), benchLogCmd())
	return c
}

func benchS3Cmd() *cobra.Command {
	var cfg benchConfig
	var sizes string
	c := &cobra.Command{
		Use:   "s3",
		Short: "PUT then GET objects of the given sizes with concurrent S3 clients; report throughput and latency percentiles",
		Long: "Each size runs a PUT phase (distinct random objects, so nothing deduplicates) and then a GET phase\n" +
			"(random reads of what was written), each for --duration with --concurrency aws-sdk-go-v2 clients.\n" +
			"With --local it first starts a zero-configuration server (this binary) in a temporary directory\n" +
			"on free loopback ports and stops it afterwards.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.sizes, err = parseSizes(sizes); err != nil {
				return err
			}
			if !cfg.local {
				return runBench(cmd.Context(), cfg, cmd.OutOrStdout())
			}
			stop, err := startLocalServer(cmd.Context(), &cfg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			err = runBench(cmd.Context(), cfg, cmd.OutOrStdout())
			stop(err != nil)
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.endpoint, "endpoint", "http://127.0.0.1:9000", "S3 endpoint")
	f.StringVar(&cfg.credentials, "credentials", "annal-data/bootstrap-credentials", "AWS shared-credentials file")
	f.StringVar(&cfg.profile, "profile", "default", "profile in the credentials file")
	f.StringVar(&cfg.bucket, "bucket", "annal-bench", "bucket to use (created if missing)")
	f.StringVar(&sizes, "size", "4KiB,1MiB", "object sizes, comma separated (e.g. 4KiB, 1MiB, 65536)")
	f.IntVar(&cfg.concurrency, "concurrency", 16, "concurrent clients")
	f.DurationVar(&cfg.duration, "duration", 20*time.Second, "length of each phase")
	f.StringVar(&cfg.checksums, "checksums", "when-supported", "SDK request checksums: when-supported (the SDK default) or when-required")
	f.BoolVar(&cfg.local, "local", false, "start a zero-config server in a temporary directory for the run")
	return c
}

// parseSizes reads "4KiB,1MiB".
func parseSizes(s string) ([]int64, error) {
	var out []int64
	for _, part := range strings.Split(s, ",") {
		n, err := parseSize(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000_000}, {"GB", 1000_000_000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("--size: %q is not a positive size", s)
	}
	return n * mult, nil
}

// formatSize renders a byte count the way --size reads it.
func formatSize(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func benchClient(cfg benchConfig) (*s3.Client, error) {
	creds, err := client.LoadCredentials(cfg.credentials, cfg.profile)
	if err != nil {
		return nil, err
	}
	calc := aws.RequestChecksumCalculationWhenSupported
	if cfg.checksums == "when-required" {
		calc = aws.RequestChecksumCalculationWhenRequired
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.concurrency * 2, MaxConnsPerHost: cfg.concurrency * 2}}
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(cfg.endpoint), UsePathStyle: true, HTTPClient: hc,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}, nil
		}),
		RequestChecksumCalculation: calc,
	}), nil
}

// phase is the outcome of one operation type at one size.
type phase struct {
	op        string
	size      int64
	latencies []time.Duration
	errors    int64
	elapsed   time.Duration
	firstErr  error
}

func runBench(ctx context.Context, cfg benchConfig, out io.Writer) error {
	c, err := benchClient(cfg)
	if err != nil {
		return err
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(cfg.bucket)}); err != nil &&
		!strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		return fmt.Errorf("create bucket %s: %w", cfg.bucket, err)
	}
	fmt.Fprintf(out, "annal bench s3: %s, bucket %s, %d clients, %v per phase, SDK checksums %s\n",
		cfg.endpoint, cfg.bucket, cfg.concurrency, cfg.duration, cfg.checksums)
	var phases []*phase
	for _, size := range cfg.sizes {
		prefix := fmt.Sprintf("bench/%s/%d/", formatSize(size), time.Now().UnixNano())
		put := runPhase(ctx, cfg, "PUT", size, func(worker, i int, rng *workerRand, buf []byte) error {
			_, _ = rng.src.Read(buf)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(cfg.bucket),
				Key: aws.String(fmt.Sprintf("%s%d/%d", prefix, worker, i)), Body: bytes.NewReader(buf)})
			return err
		})
		written := putCounts(put, cfg.concurrency)
		get := runPhase(ctx, cfg, "GET", size, func(worker, _ int, rng *workerRand, buf []byte) error {
			if written[worker] == 0 {
				return errors.New("nothing was written to read")
			}
			key := fmt.Sprintf("%s%d/%d", prefix, worker, rng.r.IntN(written[worker]))
			res, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(cfg.bucket), Key: aws.String(key)})
			if err != nil {
				return err
			}
			defer res.Body.Close()
			n, err := io.ReadFull(res.Body, buf)
			if err == nil && int64(n) != size {
				err = fmt.Errorf("read %d bytes of %d", n, size)
			}
			return err
		})
		phases = append(phases, put.phase, get.phase)
	}
	report(out, phases)
	for _, p := range phases {
		if p.firstErr != nil {
			return fmt.Errorf("%s %s: %d errors, first: %w", p.op, formatSize(p.size), p.errors, p.firstErr)
		}
	}
	return nil
}

// workerRand gives a worker random payload bytes and key choices (so
// nothing deduplicates and reads spread over what was written).
type workerRand struct {
	src *mathrand.ChaCha8
	r   *mathrand.Rand
}

// phaseRun is a phase and how many operations each worker completed.
type phaseRun struct {
	phase *phase
	done  []int
}

func putCounts(r phaseRun, workers int) []int {
	out := make([]int, workers)
	copy(out, r.done)
	return out
}

// runPhase runs op from concurrency workers until the duration ends.
func runPhase(ctx context.Context, cfg benchConfig, op string, size int64,
	fn func(worker, i int, rng *workerRand, buf []byte) error) phaseRun {
	p := &phase{op: op, size: size}
	done := make([]int, cfg.concurrency)
	perWorker := make([][]time.Duration, cfg.concurrency)
	var errCount atomic.Int64
	var errOnce sync.Once
	deadline := time.Now().Add(cfg.duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range cfg.concurrency {
		wg.Go(func() {
			var seed [32]byte
			copy(seed[:], fmt.Sprintf("%d/%d", w, start.UnixNano()))
			src := mathrand.NewChaCha8(seed)
			rng := &workerRand{src: src, r: mathrand.New(src)}
			buf := make([]byte, size)
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				t0 := time.Now()
				if err := fn(w, i, rng, buf); err != nil {
					errCount.Add(1)
					errOnce.Do(func() { p.firstErr = err })
					continue
				}
				perWorker[w] = append(perWorker[w], time.Since(t0))
				done[w]++
			}
		})
	}
	wg.Wait()
	p.elapsed = time.Since(start)
	p.errors = errCount.Load()
	for _, l := range perWorker {
		p.latencies = append(p.latencies, l...)
	}
	slices.Sort(p.latencies)
	return phaseRun{phase: p, done: done}
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

func report(out io.Writer, phases []*phase) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tsize\tops\tops/s\tMiB/s\tp50\tp90\tp99\tmax\terrors\t")
	for _, p := range phases {
		n := len(p.latencies)
		secs := p.elapsed.Seconds()
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.1f\t%v\t%v\t%v\t%v\t%d\t\n", p.op, formatSize(p.size), n,
			float64(n)/secs, float64(n)*float64(p.size)/secs/(1<<20),
			round(percentile(p.latencies, 0.50)), round(percentile(p.latencies, 0.90)),
			round(percentile(p.latencies, 0.99)), round(percentile(p.latencies, 1)), p.errors)
	}
	tw.Flush()
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// startLocalServer runs `annal server` (this binary) with zero
// configuration in a temporary directory on free loopback ports, waits
// until S3 answers, and points cfg at it. stop kills it and removes the
// directory.
func startLocalServer(ctx context.Context, cfg *benchConfig, logOut io.Writer) (stop func(showLog bool), err error) {
	dir, err := os.MkdirTemp("", "annal-bench-")
	if err != nil {
		return nil, err
	}
	addrs := make([]string, 4)
	for i := range addrs {
		if addrs[i], err = freeLoopbackAddr(); err != nil {
			return nil, err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "annal-data")
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	srv := exec.Command(self, "server", "--data", data, "--s3-addr", addrs[0], "--admin-addr", addrs[1],
		"--api-addr", addrs[2], "--raft-addr", addrs[3], "--log-level", "warn")
	srv.Stdout, srv.Stderr = logFile, logFile
	if err := srv.Start(); err != nil {
		return nil, err
	}
	stop = func(showLog bool) {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
		logFile.Close()
		if showLog {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				fmt.Fprintf(logOut, "server log:\n%s\n", b[max(0, len(b)-4096):])
			}
		}
		os.RemoveAll(dir)
	}
	cfg.endpoint, cfg.credentials, cfg.profile = "http://"+addrs[0], filepath.Join(data, "bootstrap-credentials"), "default"
	fmt.Fprintf(logOut, "started a zero-config server in %s (S3 %s)\n", dir, cfg.endpoint)
	if err := waitS3(ctx, *cfg); err != nil {
		stop(true)
		return nil, err
	}
	return stop, nil
}

func waitS3(ctx context.Context, cfg benchConfig) error {
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := benchClient(cfg)
		if err == nil {
			_, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("local server not serving S3 in 90 s: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

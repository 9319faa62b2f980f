package s3_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWithoutContentSHA256Header: signers that omit x-amz-content-sha256
// (curl --aws-sigv4) sign over the body's hash; the gateway checks the
// signature when the body ends. A body other than the signed one is
// refused and stores nothing, and a wrong signature is reported as such
// even when the bucket does not exist (no existence oracle before the
// signature is proven).
func TestWithoutContentSHA256Header(t *testing.T) {
	f := node(t)
	b := bucketName(t, "b")
	if r := f.plain.signed(t, f.a, "PUT", "/"+b, nil, "X-Amz-Content-Sha256", "omit"); r.status != 200 {
		t.Fatalf("bodiless PUT bucket: %d %s", r.status, r.body)
	}
	for _, size := range []int{10, 3_000_000} {
		data := testData(size)
		if r := f.plain.signed(t, f.a, "PUT", "/"+b+"/k", data, "X-Amz-Content-Sha256", "omit"); r.status != 200 {
			t.Fatalf("size %d: %d %s", size, r.status, r.body)
		}
		if got := f.plain.signed(t, f.a, "GET", "/"+b+"/k", nil, "X-Amz-Content-Sha256", "omit"); !bytes.Equal(got.body, data) {
			t.Errorf("size %d: read back %d bytes", size, len(got.body))
		}
	}
	wrong := credentials{f.a.id, "not-the-secret"}
	for _, target := range []string{"/" + b + "/k", "/no-such-bucket-anywhere/k"} {
		r := f.plain.signed(t, wrong, "PUT", target, []byte("forged"), "X-Amz-Content-Sha256", "omit")
		if r.status != 403 || !strings.Contains(string(r.body), "SignatureDoesNotMatch") {
			t.Errorf("%s with a wrong secret: %d %s", target, r.status, r.body)
		}
	}
	if got := f.plain.signed(t, f.a, "GET", "/"+b+"/k", nil); !bytes.Equal(got.body, testData(3_000_000)) {
		t.Error("a forged PUT replaced the object")
	}
}

// TestCurlSigV4: the curl binary's --aws-sigv4 (what the shared
// acceptance checks use) creates a bucket, uploads and downloads.
func TestCurlSigV4(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	f := node(t)
	b := bucketName(t, "b")
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	data := testData(700_000)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		base := []string{"-sS", "-f", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f.a.id + ":" + f.a.secret}
		if out, err := exec.Command(curl, append(base, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
	}
	run("-X", "PUT", f.nodeURL+"/"+b, "-o", "/dev/null")
	run("-X", "PUT", f.nodeURL+"/"+b+"/obj", "--data-binary", "@"+src, "-o", "/dev/null")
	run(f.nodeURL+"/"+b+"/obj", "-o", dst)
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
		t.Errorf("curl round trip: %d bytes, %v", len(got), err)
	}
}

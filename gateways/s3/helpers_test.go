package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// httpStatus is the status code of an SDK error, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// wantCode fails unless err is an S3 error with code and status.
func wantCode(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	if apiCode(err) != code || httpStatus(err) != status {
		t.Errorf("%s: got %v (code %q, status %d), want %s %d", what, err, apiCode(err), httpStatus(err), code, status)
	}
}

// rawResponse is an answer to a hand-built request.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// signed sends a request signed with the SDK's v4 signer (literal
// payload SHA-256) and extra headers, for what the SDK clients will not
// send (multi-range, bad Content-MD5, unknown sub-resources…).
func (e *endpoint) signed(t *testing.T, c credentials, method, target string, body []byte, header ...string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if req.Header.Get("X-Amz-Content-Sha256") == "omit" {
		req.Header.Del("X-Amz-Content-Sha256") // as curl --aws-sigv4 signs
	} else {
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret},
		req, hash, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return e.do(t, req)
}

// anonymous sends an unsigned request.
func (e *endpoint) anonymous(t *testing.T, method, target string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, req)
}

func (e *endpoint) do(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

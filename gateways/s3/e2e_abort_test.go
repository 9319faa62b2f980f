package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/annal-storage/annal/gateways/s3/route"
)

// TestAbortedUploadLeavesNothing: a client that promises a body and
// hangs up part-way (inline-sized and chunked promises) gets nothing
// committed: the key keeps its previous version and a new key does not
// appear. Method: a signed request written by hand on a raw connection
// and cut off; the recorder says when the gateway has finished with it.
func TestAbortedUploadLeavesNothing(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	sdkPut(t, c, b, "existing", strings.NewReader("previous version"))
	for _, cut := range []struct{ key, mode string }{
		{"existing", "UNSIGNED-PAYLOAD"}, {"fresh", "UNSIGNED-PAYLOAD"}, {"fresh-streaming", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
	} {
		declared, sent := 3_000_000, 1_200_000
		before := f.plain.finished(route.PutObject, "/"+b+"/"+cut.key)
		sendAndHangUp(t, f, "/"+b+"/"+cut.key, cut.mode, declared, testData(sent))
		deadline := time.Now().Add(30 * time.Second)
		for f.plain.finished(route.PutObject, "/"+b+"/"+cut.key) == before {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the gateway never finished the aborted PUT", cut.key)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := string(sdkGet(t, c, b, "existing")); got != "previous version" {
		t.Errorf("an aborted PUT replaced the object: %d bytes", len(got))
	}
	for _, k := range []string{"fresh", "fresh-streaming"} {
		r := f.plain.signed(t, f.a, "HEAD", "/"+b+"/"+k, nil)
		if r.status != 404 {
			t.Errorf("%s: an aborted PUT left an object (HEAD %d)", k, r.status)
		}
	}
}

// sendAndHangUp writes a signed PUT promising declared bytes, sends
// body, and closes the connection.
func sendAndHangUp(t *testing.T, f *fixture, path, mode string, declared int, body []byte) {
	t.Helper()
	u := f.plain.srv.URL + path
	req, err := http.NewRequest("PUT", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", mode)
	if mode != "UNSIGNED-PAYLOAD" {
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(declared))
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		body = append([]byte(fmt.Sprintf("%x\r\n", declared)), body...)
		declared += len(fmt.Sprintf("%x\r\n", declared)) + 100
	}
	req.ContentLength = int64(declared)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: f.a.id, SecretAccessKey: f.a.secret},
		req, mode, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.plain.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", req.URL.RequestURI(), req.URL.Host, declared)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	if _, err := conn.Write(append(head.Bytes(), body...)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the gateway start consuming the body
	conn.Close()
}

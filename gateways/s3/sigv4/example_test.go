package sigv4_test

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/gateways/s3/sigv4"
)

// Example shows the order a gateway handler uses the protocol packages
// in: classify (no I/O), authenticate with the operation's options,
// refuse Unsupported, then stream the verified body and commit only
// after a clean io.EOF.
func Example() {
	creds := sigv4.CredentialsFunc(func(_ context.Context, accessKeyID string) (string, any, error) {
		return "", nil, sigv4.ErrUnknownAccessKey // a real lookup goes here
	})
	verifier, _ := sigv4.New(sigv4.Config{Credentials: creds, Now: time.Now}) // only cmd/ wires time.Now
	router, _ := route.New("s3.example.com", "localhost")

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const requestID = "generated-per-request"
		req, classifyErr := router.Classify(r)
		res, err := verifier.VerifyWith(r, sigv4.Options{
			ObjectChecksumHeaders: req.Operation == route.CompleteMultipartUpload,
		})
		if err == nil {
			err = classifyErr // report request shape only to authenticated callers
		}
		if err == nil && req.Operation == route.Unsupported {
			err = req.NotImplemented()
		}
		if err != nil {
			s3err.Write(w, r, err, requestID, "")
			return
		}
		defer res.Body.Close()
		// res.Principal is the caller; res.Body yields the decoded payload
		// whatever res.Mode is. Stream it into the data path; anything but
		// io.EOF at the end (BadDigest, XAmzContentSHA256Mismatch,
		// SignatureDoesNotMatch for a chunk, IncompleteBody) means discard.
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			s3err.Write(w, r, err, requestID, "")
			return
		}
		for _, c := range res.Body.Checksums() {
			w.Header().Set(c.Algorithm.HeaderName(), c.Value)
		}
		w.Header().Set(s3err.HeaderRequestID, requestID)
		w.WriteHeader(http.StatusOK)
	})
	_ = handler
}

package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// ErrUnknownAccessKey is what a Credentials implementation returns
// (possibly wrapped) for an access key it does not know. The verifier
// answers InvalidAccessKeyId for it and InternalError for any other error.
var ErrUnknownAccessKey = errors.New("sigv4: unknown access key")

// Credentials resolves an access key id to its secret and to the
// principal the gateway will act as. It is defined here, at its only
// consumer, so the verifier depends on no identity package.
type Credentials interface {
	SecretFor(ctx context.Context, accessKeyID string) (secret string, principal any, err error)
}

// CredentialsFunc adapts a function to Credentials.
type CredentialsFunc func(ctx context.Context, accessKeyID string) (string, any, error)

// SecretFor implements Credentials.
func (f CredentialsFunc) SecretFor(ctx context.Context, accessKeyID string) (string, any, error) {
	return f(ctx, accessKeyID)
}

// DefaultMaxSkew is S3's tolerance between the request time and the
// server clock.
const DefaultMaxSkew = 15 * time.Minute

// Config configures a Verifier.
type Config struct {
	// Credentials looks up secrets. Required.
	Credentials Credentials
	// Now is the clock. Required: the package never reads the wall clock.
	Now func() time.Time
	// Region, when set, is the only region accepted in credential scopes;
	// empty accepts any region, since clients default to different ones.
	Region string
	// MaxSkew bounds |request time - Now()|; zero means DefaultMaxSkew.
	MaxSkew time.Duration
}

// Verifier authenticates S3 requests signed with AWS Signature Version 4.
// It is safe for concurrent use.
type Verifier struct {
	creds   Credentials
	now     func() time.Time
	region  string
	maxSkew time.Duration
	// service is the credential-scope service; "s3" except in tests that
	// replay the generic AWS vectors, which sign for "service".
	service string
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	if cfg.Credentials == nil || cfg.Now == nil {
		return nil, errors.New("sigv4: Config needs Credentials and Now")
	}
	v := &Verifier{creds: cfg.Credentials, now: cfg.Now, region: cfg.Region, maxSkew: cfg.MaxSkew, service: serviceS3}
	if v.maxSkew <= 0 {
		v.maxSkew = DefaultMaxSkew
	}
	return v, nil
}

// PayloadMode is how the request commits to its body, from
// x-amz-content-sha256 (or X-Amz-Content-Sha256 when presigned).
type PayloadMode int

// The payload modes S3 accepts.
const (
	// PayloadUnsigned: UNSIGNED-PAYLOAD; the body is not covered.
	PayloadUnsigned PayloadMode = iota + 1
	// PayloadSHA256: a literal hex SHA-256 of the body, checked at EOF.
	PayloadSHA256
	// PayloadStreamingSigned: STREAMING-AWS4-HMAC-SHA256-PAYLOAD.
	PayloadStreamingSigned
	// PayloadStreamingSignedTrailer: STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER.
	PayloadStreamingSignedTrailer
	// PayloadStreamingUnsignedTrailer: STREAMING-UNSIGNED-PAYLOAD-TRAILER.
	PayloadStreamingUnsignedTrailer
	// PayloadDeferredSHA256: header auth without x-amz-content-sha256 on
	// a request with a body (curl --aws-sigv4 signs this way). The
	// canonical request ends with the SHA-256 of the body, which is known
	// only at its end, so the signature itself is checked at EOF
	// (SignatureDoesNotMatch); Result.SignaturePending says so.
	PayloadDeferredSHA256
)

var payloadModeNames = map[PayloadMode]string{
	PayloadUnsigned:                 "UNSIGNED-PAYLOAD",
	PayloadStreamingSigned:          "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
	PayloadStreamingSignedTrailer:   "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
	PayloadStreamingUnsignedTrailer: "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
}

// String is the x-amz-content-sha256 spelling, or "SHA256" for a literal
// hash.
func (m PayloadMode) String() string {
	switch m {
	case PayloadSHA256:
		return "SHA256"
	case PayloadDeferredSHA256:
		return "SHA256-DEFERRED"
	}
	if s, ok := payloadModeNames[m]; ok {
		return s
	}
	return "PayloadMode(" + strconv.Itoa(int(m)) + ")"
}

// chunked reports whether the body is aws-chunked.
func (m PayloadMode) chunked() bool {
	return m == PayloadStreamingSigned || m == PayloadStreamingSignedTrailer || m == PayloadStreamingUnsignedTrailer
}

// Result is an authenticated request.
type Result struct {
	Principal   any
	AccessKeyID string
	// SessionToken is x-amz-security-token, signed but not validated here:
	// the caller must check it against the principal, or refuse it.
	SessionToken string
	Region       string
	Presigned    bool
	Mode         PayloadMode
	// SignaturePending: the signature is verified only when Body reaches
	// EOF (PayloadDeferredSHA256). Until then the caller must not reveal
	// anything about the target: on an early error it should drain Body
	// and report Body's error, if any, instead.
	SignaturePending bool
	// HeaderChecksum is the request's x-amz-checksum-<alg> header, if
	// any: verified against the body unless Options.ObjectChecksumHeaders.
	HeaderChecksum *Checksum
	// Body replaces r.Body; read it to EOF before trusting the payload.
	Body *Body
}

// Options adjust verification to the operation at hand.
type Options struct {
	// ObjectChecksumHeaders says the x-amz-checksum-<alg> header names the
	// checksum of the whole object, not of this request's body. Set it for
	// CompleteMultipartUpload, whose header carries the full-object or
	// composite ("<base64>-<parts>") checksum; the verifier then returns
	// the value untouched in Result.HeaderChecksum for the handler to
	// compare with the parts, and does not check it against the body.
	ObjectChecksumHeaders bool
}

// Verify authenticates r with default Options. On success the caller
// acts as Result.Principal and reads the payload from Result.Body, never
// from r.Body. Errors are *s3err.Error values ready for s3err.Write.
// Verify reads no body bytes.
func (v *Verifier) Verify(r *http.Request) (*Result, error) {
	return v.VerifyWith(r, Options{})
}

// VerifyWith is Verify with Options.
func (v *Verifier) VerifyWith(r *http.Request, o Options) (*Result, error) {
	a, err := parseRequestAuthorization(r)
	if err != nil {
		return nil, err
	}
	mode, sum, err := v.payloadMode(r, a)
	if err != nil {
		return nil, err
	}
	uri := canonicalURI(r.URL.Path)
	var key []byte
	var principal any
	var deferred func(payloadHash string) error
	if mode == PayloadDeferredSHA256 {
		key, principal, err = v.prepare(r, a)
		deferred = func(payloadHash string) error { return v.checkSignature(r, a, uri, key, payloadHash) }
	} else {
		key, principal, err = v.authenticate(r, a, uri, payloadHashLine(mode, sum))
	}
	if err != nil {
		return nil, err
	}
	body, err := v.body(r, a, mode, sum, key, o)
	if err != nil {
		return nil, err
	}
	body.exp.deferredSignature = deferred
	if deferred != nil {
		body.sha = sha256.New()
	}
	return &Result{
		Principal: principal, AccessKeyID: a.credential.accessKeyID, SessionToken: a.sessionToken,
		Region: a.credential.region, Presigned: a.presigned, Mode: mode, SignaturePending: deferred != nil,
		HeaderChecksum: body.declaredHeader, Body: body,
	}, nil
}

// payloadMode resolves x-amz-content-sha256. Header auth requires it,
// as S3 does; presigned requests default to UNSIGNED-PAYLOAD.
func (v *Verifier) payloadMode(r *http.Request, a authorization) (PayloadMode, []byte, error) {
	value := r.Header.Get("X-Amz-Content-Sha256")
	if a.presigned {
		value = UnsignedPayload
		for _, p := range a.query {
			if p.name == queryContentSHA256 {
				value = p.value
			}
		}
	}
	if value == "" {
		// Signers that omit the header (curl) hash the body into the
		// canonical request all the same: the empty body's hash is known
		// now, any other only at the end of the body.
		if r.ContentLength == 0 {
			return PayloadSHA256, emptySHA256[:], nil
		}
		return PayloadDeferredSHA256, nil, nil
	}
	mode, sum, err := ParsePayloadMode(value)
	if err != nil {
		return 0, nil, err
	}
	if a.presigned && (mode == PayloadStreamingSigned || mode == PayloadStreamingSignedTrailer) {
		return 0, nil, s3err.New(s3err.InvalidRequest, "Streaming signatures need the Authorization header.")
	}
	return mode, sum, nil
}

// emptySHA256 is the SHA-256 of the empty payload.
var emptySHA256 = sha256.Sum256(nil)

// UnsignedPayload is the literal x-amz-content-sha256 value for an
// unsigned body.
const UnsignedPayload = "UNSIGNED-PAYLOAD"

// ParsePayloadMode parses an x-amz-content-sha256 value. For a literal
// hash it also returns the 32 decoded bytes.
func ParsePayloadMode(value string) (PayloadMode, []byte, error) {
	for mode, name := range payloadModeNames {
		if value == name {
			return mode, nil, nil
		}
	}
	if strings.HasPrefix(value, "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD") {
		return 0, nil, s3err.New(s3err.NotImplemented, "Signature Version 4A is not supported.")
	}
	if len(value) == 64 {
		if sum, err := hex.DecodeString(value); err == nil {
			return PayloadSHA256, sum, nil
		}
	}
	return 0, nil, s3err.New(s3err.InvalidArgument,
		"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a valid sha256 value.")
}

// payloadHashLine is the last line of the canonical request for mode.
func payloadHashLine(mode PayloadMode, sum []byte) string {
	if mode == PayloadSHA256 {
		return hex.EncodeToString(sum)
	}
	return mode.String()
}

// authenticate checks scope, time, key and signature. canonicalURIText
// and payloadHash are the canonical request's second and last lines. It
// returns the signing key (for chunk signatures) and the principal.
func (v *Verifier) authenticate(r *http.Request, a authorization, canonicalURIText, payloadHash string) ([]byte, any, error) {
	key, principal, err := v.prepare(r, a)
	if err != nil {
		return nil, nil, err
	}
	if err := v.checkSignature(r, a, canonicalURIText, key, payloadHash); err != nil {
		return nil, nil, err
	}
	return key, principal, nil
}

// prepare checks scope, time, signed headers and the access key, and
// returns the signing key (for the request and chunk signatures) and the
// principal.
func (v *Verifier) prepare(r *http.Request, a authorization) ([]byte, any, error) {
	if err := v.checkScope(a); err != nil {
		return nil, nil, err
	}
	if err := v.checkTime(a); err != nil {
		return nil, nil, err
	}
	if missing := unsignedAmzHeaders(r, a.signedHeaders); len(missing) > 0 {
		return nil, nil, s3err.New(s3err.AccessDenied, "There were headers present in the request which were not signed").
			With("HeadersNotSigned", strings.Join(missing, ", "))
	}
	secret, principal, err := v.creds.SecretFor(r.Context(), a.credential.accessKeyID)
	if errors.Is(err, ErrUnknownAccessKey) {
		return nil, nil, s3err.Wrap(s3err.InvalidAccessKeyID, err, "").With("AWSAccessKeyId", a.credential.accessKeyID)
	}
	if err != nil {
		return nil, nil, s3err.Wrap(s3err.InternalError, fmt.Errorf("credentials lookup: %w", err), "")
	}
	return signingKey(secret, a.credential.date, a.credential.region, a.credential.service), principal, nil
}

// checkSignature compares the request's signature with the one computed
// under key. canonicalURIText and payloadHash are the canonical
// request's second and last lines.
func (v *Verifier) checkSignature(r *http.Request, a authorization, canonicalURIText string, key []byte, payloadHash string) error {
	cr := buildCanonicalRequest(r, a, canonicalURIText, payloadHash)
	sts := stringToSign(a.amzDate, a.credential.scope(), cr)
	if !signaturesEqual(signatureHex(key, sts), a.signature) {
		return s3err.New(s3err.SignatureDoesNotMatch, "").
			With("AWSAccessKeyId", a.credential.accessKeyID).
			With("StringToSign", sts).
			With("SignatureProvided", a.signature).
			With("CanonicalRequest", cr)
	}
	return nil
}

// buildCanonicalRequest renders the canonical request of r under a.
func buildCanonicalRequest(r *http.Request, a authorization, canonicalURIText, payloadHash string) string {
	exclude := ""
	if a.presigned {
		exclude = querySignature
	}
	return canonicalRequestParts{
		method:        r.Method,
		uri:           canonicalURIText,
		query:         canonicalQuery(a.query, exclude),
		headers:       canonicalHeaders(r, a.signedHeaders),
		signedHeaders: a.signedHeadersText,
		payloadHash:   payloadHash,
	}.String()
}

// checkScope checks the credential scope's service, region and date.
func (v *Verifier) checkScope(a authorization) error {
	c := a.credential
	if c.service != v.service {
		return s3err.Newf(malformedCode(a.presigned),
			"The authorization is malformed; incorrect service %q. This endpoint belongs to %q.", c.service, v.service)
	}
	if v.region != "" && c.region != v.region {
		return s3err.Newf(malformedCode(a.presigned),
			"The authorization is malformed; the region %q is wrong; expecting %q", c.region, v.region).With("Region", v.region)
	}
	if c.date != a.amzDate[:8] {
		return s3err.New(malformedCode(a.presigned),
			"The authorization is malformed; Invalid credential date. Date is not the same as X-Amz-Date.")
	}
	return nil
}

// checkTime applies S3's clock rules: header auth within MaxSkew of now;
// presigned auth not before request time - MaxSkew and not after request
// time + X-Amz-Expires.
func (v *Verifier) checkTime(a authorization) error {
	now := v.now().UTC()
	serverTime := now.Format(time.RFC3339)
	if !a.presigned {
		skew := now.Sub(a.requestTime)
		if skew > v.maxSkew || skew < -v.maxSkew {
			return s3err.New(s3err.RequestTimeTooSkewed, "").
				With("RequestTime", a.amzDate).With("ServerTime", serverTime).
				With("MaxAllowedSkewMilliseconds", strconv.FormatInt(v.maxSkew.Milliseconds(), 10))
		}
		return nil
	}
	if a.requestTime.Sub(now) > v.maxSkew {
		return s3err.New(s3err.AccessDenied, "Request is not valid yet").
			With("X-Amz-Date", a.amzDate).With("ServerTime", serverTime)
	}
	if now.After(a.requestTime.Add(a.expires)) {
		return s3err.New(s3err.AccessDenied, "Request has expired").
			With("X-Amz-Expires", strconv.FormatInt(int64(a.expires/time.Second), 10)).
			With("Expires", a.requestTime.Add(a.expires).Format(time.RFC3339)).
			With("ServerTime", serverTime)
	}
	return nil
}

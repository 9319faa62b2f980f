package sigv4

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Query parameter names of presigned (query-string) authentication.
const (
	queryAlgorithm     = "X-Amz-Algorithm"
	queryCredential    = "X-Amz-Credential"
	queryDate          = "X-Amz-Date"
	queryExpires       = "X-Amz-Expires"
	querySignedHeaders = "X-Amz-SignedHeaders"
	querySignature     = "X-Amz-Signature"
	querySecurityToken = "X-Amz-Security-Token"
	queryContentSHA256 = "X-Amz-Content-Sha256"

	// presignMaxExpires is S3's ceiling for X-Amz-Expires: seven days.
	presignMaxExpires = 7 * 24 * time.Hour
)

// credentialScope is the parsed Credential component
// "<access key>/<yyyymmdd>/<region>/<service>/aws4_request".
type credentialScope struct {
	accessKeyID, date, region, service string
}

func (c credentialScope) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/" + scopeTerminator
}

// authorization is everything a request says about its signature, from
// either the Authorization header or the presigned query.
type authorization struct {
	presigned         bool
	credential        credentialScope
	signedHeaders     []string
	signedHeadersText string
	signature         string
	amzDate           string // ISO 8601 basic, as used in the string to sign
	requestTime       time.Time
	expires           time.Duration // presigned only
	sessionToken      string
	query             []queryPair // decoded query, wire order
}

// malformedCode is the code AWS uses for a malformed element of the
// given auth style.
func malformedCode(presigned bool) s3err.Code {
	if presigned {
		return s3err.AuthorizationQueryParametersError
	}
	return s3err.AuthorizationHeaderMalformed
}

// parseRequestAuthorization finds and parses the request's SigV4
// credentials. A request with neither an Authorization header nor
// presigned parameters is anonymous and is denied.
func parseRequestAuthorization(r *http.Request) (authorization, error) {
	query, err := parseRawQuery(r.URL.RawQuery)
	if err != nil {
		return authorization{}, s3err.Wrap(s3err.InvalidArgument, err, "The query string is not validly percent-encoded.")
	}
	headers := r.Header.Values("Authorization")
	presigned := hasQueryParam(query, queryAlgorithm) || hasQueryParam(query, queryCredential) ||
		hasQueryParam(query, querySignature)
	switch {
	case len(headers) > 0 && presigned:
		return authorization{}, s3err.New(s3err.InvalidArgument,
			"Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case len(headers) > 1:
		return authorization{}, s3err.New(s3err.AuthorizationHeaderMalformed, "More than one Authorization header.")
	case len(headers) == 1:
		return parseHeaderAuthorization(r, headers[0], query)
	case presigned:
		return parsePresignedAuthorization(query)
	case hasQueryParam(query, "AWSAccessKeyId") || hasQueryParam(query, "Signature"):
		return authorization{}, s3err.New(s3err.InvalidRequest,
			"The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	}
	return authorization{}, s3err.New(s3err.AccessDenied, "Anonymous access is not allowed.")
}

func hasQueryParam(query []queryPair, name string) bool {
	for _, p := range query {
		if p.name == name {
			return true
		}
	}
	return false
}

// headerFields are the three components of an Authorization header.
type headerFields struct {
	algorithm, credential, signedHeaders, signature string
}

// parseAuthorizationHeader splits
// "AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…". The
// components may come in any order, with or without spaces after the
// commas; each must appear exactly once.
func parseAuthorizationHeader(v string) (headerFields, error) {
	var f headerFields
	alg, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	f.algorithm = alg
	switch {
	case alg == "AWS":
		return f, s3err.New(s3err.InvalidRequest,
			"The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")
	case alg == "AWS4-ECDSA-P256-SHA256":
		return f, s3err.New(s3err.NotImplemented, "Signature Version 4A is not supported.")
	case alg != algorithmHMACSHA256:
		return f, s3err.New(s3err.InvalidArgument, "Unsupported Authorization Type")
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		key, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || seen[key] {
			return f, s3err.Newf(s3err.AuthorizationHeaderMalformed,
				"The authorization header is malformed; the authorization component %q is malformed.", part)
		}
		seen[key] = true
		switch key {
		case "Credential":
			f.credential = value
		case "SignedHeaders":
			f.signedHeaders = value
		case "Signature":
			f.signature = value
		default:
			return f, s3err.Newf(s3err.AuthorizationHeaderMalformed,
				"The authorization header is malformed; the authorization component %q is malformed.", part)
		}
	}
	for _, key := range []string{"Credential", "SignedHeaders", "Signature"} {
		if !seen[key] {
			return f, s3err.Newf(s3err.AuthorizationHeaderMalformed,
				"The authorization header is malformed; missing %s.", key)
		}
	}
	return f, nil
}

func parseHeaderAuthorization(r *http.Request, header string, query []queryPair) (authorization, error) {
	f, err := parseAuthorizationHeader(header)
	if err != nil {
		return authorization{}, err
	}
	a := authorization{query: query, sessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := a.setCommon(f.credential, f.signedHeaders, f.signature); err != nil {
		return authorization{}, err
	}
	if err := a.setHeaderDate(r); err != nil {
		return authorization{}, err
	}
	return a, nil
}

// setHeaderDate reads x-amz-date, or Date when x-amz-date is absent.
func (a *authorization) setHeaderDate(r *http.Request) error {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(iso8601Basic, v)
		if err != nil {
			return s3err.Wrap(s3err.AccessDenied, err, "AWS authentication requires a valid Date or x-amz-date header")
		}
		a.amzDate, a.requestTime = v, t
		return nil
	}
	t, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		return s3err.Wrap(s3err.AccessDenied, err, "AWS authentication requires a valid Date or x-amz-date header")
	}
	a.requestTime = t.UTC()
	a.amzDate = a.requestTime.Format(iso8601Basic)
	return nil
}

func parsePresignedAuthorization(query []queryPair) (authorization, error) {
	params := map[string]string{}
	for _, p := range query {
		if strings.HasPrefix(p.name, "X-Amz-") {
			if _, dup := params[p.name]; dup {
				return authorization{}, s3err.Newf(s3err.AuthorizationQueryParametersError,
					"Query parameter %s appears more than once.", p.name)
			}
			params[p.name] = p.value
		}
	}
	for _, name := range []string{queryAlgorithm, queryCredential, querySignature, queryDate, querySignedHeaders, queryExpires} {
		if _, ok := params[name]; !ok {
			return authorization{}, s3err.New(s3err.AuthorizationQueryParametersError,
				"Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	if params[queryAlgorithm] != algorithmHMACSHA256 {
		return authorization{}, s3err.New(s3err.AuthorizationQueryParametersError,
			"X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	a := authorization{presigned: true, query: query, sessionToken: params[querySecurityToken]}
	if err := a.setCommon(params[queryCredential], params[querySignedHeaders], params[querySignature]); err != nil {
		return authorization{}, err
	}
	t, err := time.Parse(iso8601Basic, params[queryDate])
	if err != nil {
		return authorization{}, s3err.Wrap(s3err.AuthorizationQueryParametersError, err,
			"X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	a.amzDate, a.requestTime = params[queryDate], t
	a.expires, err = parseExpires(params[queryExpires])
	return a, err
}

// parseExpires validates X-Amz-Expires: whole seconds, 0 … 604800.
func parseExpires(v string) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		return 0, s3err.Wrap(s3err.AuthorizationQueryParametersError, err, "X-Amz-Expires should be a number")
	case n < 0:
		return 0, s3err.New(s3err.AuthorizationQueryParametersError, "X-Amz-Expires must be non-negative")
	case time.Duration(n)*time.Second > presignMaxExpires:
		return 0, s3err.New(s3err.AuthorizationQueryParametersError,
			"X-Amz-Expires must be less than a week (in seconds) that is 604800")
	}
	return time.Duration(n) * time.Second, nil
}

// setCommon parses the credential, signed headers and signature shared by
// both auth styles.
func (a *authorization) setCommon(credential, signedHeaders, signature string) error {
	var err error
	if a.credential, err = parseCredential(credential, a.presigned); err != nil {
		return err
	}
	if a.signedHeaders, err = parseSignedHeaders(signedHeaders, a.presigned); err != nil {
		return err
	}
	a.signedHeadersText = signedHeaders
	if !isLowerHex(signature, 64) {
		return s3err.New(malformedCode(a.presigned), "The signature must be 64 lower-case hexadecimal characters.")
	}
	a.signature = signature
	return nil
}

func parseCredential(v string, presigned bool) (credentialScope, error) {
	parts := strings.Split(v, "/")
	bad := s3err.Newf(malformedCode(presigned),
		"the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\". (%q)", v)
	if len(parts) != 5 || parts[4] != scopeTerminator {
		return credentialScope{}, bad
	}
	for _, p := range parts[:4] {
		if p == "" {
			return credentialScope{}, bad
		}
	}
	if _, err := time.Parse(scopeDateLayout, parts[1]); err != nil || len(parts[1]) != 8 {
		return credentialScope{}, bad
	}
	return credentialScope{accessKeyID: parts[0], date: parts[1], region: parts[2], service: parts[3]}, nil
}

// parseSignedHeaders checks the SignedHeaders list: lower-case header
// names, strictly ascending (so no duplicates), host among them.
func parseSignedHeaders(v string, presigned bool) ([]string, error) {
	names := strings.Split(v, ";")
	hasHost := false
	for i, n := range names {
		if !isLowerToken(n) {
			return nil, s3err.Newf(malformedCode(presigned),
				"SignedHeaders must be lower-case header names separated by ';' (%q)", v)
		}
		if i > 0 && names[i-1] >= n {
			return nil, s3err.Newf(malformedCode(presigned),
				"SignedHeaders must be sorted and unique (%q)", v)
		}
		hasHost = hasHost || n == "host"
	}
	if !hasHost {
		return nil, s3err.New(malformedCode(presigned), "SignedHeaders must include host")
	}
	return names, nil
}

// isLowerToken reports whether s is a non-empty RFC 9110 token with no
// upper-case letters.
func isLowerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// unsignedAmzHeaders lists x-amz-* request headers that the signature
// does not cover. S3 refuses such requests: an unsigned x-amz-copy-source
// or x-amz-meta-* header would let anyone who can replay the request
// change what it does.
func unsignedAmzHeaders(r *http.Request, signed []string) []string {
	set := make(map[string]bool, len(signed))
	for _, s := range signed {
		set[s] = true
	}
	var missing []string
	for name := range r.Header {
		lower := strings.ToLower(name)
		if strings.HasPrefix(lower, "x-amz-") && !set[lower] {
			missing = append(missing, lower)
		}
	}
	sort.Strings(missing)
	return missing
}

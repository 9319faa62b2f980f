package client

import (
	"net/http"
	"time"
)

// Sign adds an AWS Signature Version 4 Authorization header (unsigned
// payload) to r, as the client signs its own requests; other annal
// clients (the admin CLI acting as a tenant admin) sign with it.
func Sign(r *http.Request, accessKeyID, secret string, now time.Time) {
	sign(r, accessKeyID, secret, now)
}

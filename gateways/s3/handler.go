package s3

import (
	"net/http"

	"github.com/annal-storage/annal/commands"
)

// NewHandler returns the S3 gateway over a command service.
func NewHandler(svc *commands.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not implemented", http.StatusNotImplemented)
	})
}

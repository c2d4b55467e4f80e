package kit

import (
	"mime"
	"net/http"

	"github.com/nightowl/nightowl"
)

// MaxFormBody bounds a form's body: the largest, an incident's update, is a
// few kilobytes.
const MaxFormBody = 64 << 10

// LimitBody refuses a multipart body, which no route takes and which
// net/http would spool to disk to parse, and caps a form's body at
// MaxFormBody before anything parses it.
func LimitBody(w http.ResponseWriter, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data", "multipart/mixed":
		CloseUnread(w, r)
		return nightowl.Errorf(nightowl.EUnsupported, "multipart bodies are not taken: send a form as application/x-www-form-urlencoded, or JSON")
	case "application/x-www-form-urlencoded":
		r.Body = http.MaxBytesReader(w, r.Body, MaxFormBody)
	}
	return nil
}

// CloseUnread marks the connection of a request whose body the handler
// will not read to be closed after the answer: net/http would otherwise
// wait to read up to 256 KB of it first, as long as the client takes.
func CloseUnread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		w.Header().Set("Connection", "close")
	}
}

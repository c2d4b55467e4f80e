package web

import (
	"mime"
	"net/http"
	"time"

	"github.com/nightowl/nightowl"
)

// Timeouts of the server: a client that holds a connection open without
// sending, or without reading what it is sent, loses it.
const (
	// ReadHeaderTimeout bounds the request line and headers.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds a whole request, its body included: no route
	// takes more than a ping's log or a form. Net/http lifts it once the
	// body is read, so a handler may then run as long as it needs.
	ReadTimeout = 30 * time.Second
	// WriteTimeout bounds a request from the end of its headers to the end
	// of the answer. Handlers that wait on a run (a check, an action, a
	// reload) move it with longWrite.
	WriteTimeout = 30 * time.Second
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout = 60 * time.Second
)

// NewServer returns the HTTP server for Handler(opts), with the timeouts
// above.
func NewServer(opts Options) *http.Server {
	return &http.Server{
		Handler:           Handler(opts),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// actionWrite is how long a handler that runs an action may take to answer:
// config.MaxActionTimeout and a margin.
const actionWrite = time.Hour + time.Minute

// longWrite gives a handler that waits on a run d more than WriteTimeout
// to write its answer.
func longWrite(w http.ResponseWriter, d time.Duration) {
	// An error means the writer cannot take deadlines (a test's
	// recorder): nothing to move.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(WriteTimeout + d))
}

// closeUnread marks the connection of a request whose body the handler
// will not read to be closed after the answer: net/http would otherwise
// wait to read up to 256 KB of it first, as long as the client takes.
func closeUnread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		w.Header().Set("Connection", "close")
	}
}

// pingPattern is the route of the ping URLs.
const pingPattern = "/ping/"

// maxFormBody bounds a form's body: the largest, an incident's update, is a
// few kilobytes.
const maxFormBody = 64 << 10

// limitBody refuses a multipart body, which no route takes and which
// net/http would spool to disk to parse, and caps a form's body at
// maxFormBody before anything parses it.
func limitBody(w http.ResponseWriter, r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "multipart/form-data", "multipart/mixed":
		closeUnread(w, r)
		return nightowl.Errorf(nightowl.EUnsupported, "multipart bodies are not taken: send a form as application/x-www-form-urlencoded, or JSON")
	case "application/x-www-form-urlencoded":
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	}
	return nil
}

// boundBody applies limitBody to every request of h.
func boundBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := limitBody(w, r); err != nil {
			writeError(w, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

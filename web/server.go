package web

import (
	"net/http"
	"time"
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

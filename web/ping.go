package web

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Pinger is what the ping endpoints need; *heartbeat.Tracker implements it.
type Pinger interface {
	Ping(token string, p nightowl.Ping) (nightowl.Ping, error)
}

// PingTokens is a Pinger that can tell a known token without taking a ping:
// the handler then refuses an unknown one before it reads a byte of the
// body, so that strangers cannot hold a connection by sending one slowly.
type PingTokens interface {
	CheckFor(token string) (string, bool)
}

// maxRID is the longest ?rid= accepted. Healthchecks wants a UUID (36
// characters); any string up to this length is accepted here so that job
// wrappers can use a PID, a hostname or a timestamp.
const maxRID = 64

// maxDiscard bounds how much of an oversized body is read and dropped before
// the answer: enough for any log a job POSTs by mistake, while a client
// that keeps sending past it has its connection closed after the answer.
const maxDiscard = 64 << 20

// Read-only header values, shared so that answering a ping allocates no
// header slices; net/http never modifies them.
var (
	hdrPlain   = []string{"text/plain; charset=utf-8"}
	hdrAnyOrig = []string{"*"}
	hdrNoStore = []string{"no-store"}
	hdrAllow   = []string{"GET, HEAD, POST"}
	hdrLen2    = []string{"2"}
)

// bodyBufs holds buffers of MaxPingBody+1 bytes: one read tells whether a
// body was cut, and only the kept part is copied out of the buffer.
var bodyBufs = sync.Pool{New: func() any {
	b := make([]byte, nightowl.MaxPingBody+1)
	return &b
}}

// PingHandler serves the heartbeat ping URLs, after the Healthchecks.io
// convention so that existing job wrappers work unchanged:
//
//	/ping/{token}            success (also with a trailing slash)
//	/ping/{token}/start      a run started
//	/ping/{token}/fail       failure
//	/ping/{token}/log        a message; changes no status
//	/ping/{token}/{0-255}    the job's exit code: 0 success, others failure
//
// for GET, HEAD and POST; other methods get 405. ?rid= (up to 64
// characters) pairs a start with the signal that ends it. The answer is
// "OK" with 200. An unknown token or suffix is 404 "not found"; an exit
// code above 255, a rid too long or another malformed ping is 400: the URL
// has the right shape but cannot be a real exit status, and a job wrapper
// that sends it has a bug worth reporting, not a missing check. When the
// Pinger returns ErrPingUnavailable (in a cluster, the node that tracks the
// check cannot be reached) the answer is 503, so that the job tries again.
//
// The first nightowl.MaxPingBody bytes of the request body are kept with the
// ping (Truncated when more was sent); the rest is read and dropped without
// being kept in memory. Every answer allows any origin, as Healthchecks
// does, so that a browser page can ping. The handler may be mounted at
// /ping/ or behind http.StripPrefix("/ping", …).
func PingHandler(p Pinger, clock nightowl.Clock) http.Handler {
	if clock == nil {
		clock = nightowl.SystemClock{}
	}
	return &pingHandler{p: p, clock: clock}
}

type pingHandler struct {
	p     Pinger
	clock nightowl.Clock
}

func (h *pingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The moment of arrival is the ping's time: reading a large body may
	// take a while, and the job finished before it began sending.
	arrived := h.clock.Now()
	hdr := w.Header()
	hdr["Access-Control-Allow-Origin"] = hdrAnyOrig
	hdr["Cache-Control"] = hdrNoStore
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		hdr["Allow"] = hdrAllow
		pingAnswer(w, r, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	token, kind, exit, status := parsePingPath(r.URL.Path)
	if status != http.StatusOK {
		if status == http.StatusBadRequest {
			pingAnswer(w, r, status, "invalid url format: exit code must be 0 to 255")
		} else {
			pingAnswer(w, r, status, "not found")
		}
		return
	}
	rid, ok := queryValue(r.URL.RawQuery, "rid")
	if !ok {
		pingAnswer(w, r, http.StatusBadRequest, "invalid rid: bad escape")
		return
	}
	if len(rid) > maxRID {
		pingAnswer(w, r, http.StatusBadRequest, "invalid rid: at most 64 characters")
		return
	}
	ping := nightowl.Ping{
		Time: arrived, Kind: kind, RID: rid, Method: r.Method,
		UserAgent: r.Header.Get("User-Agent"), Remote: r.RemoteAddr,
	}
	if exit >= 0 {
		ping.ExitCode = &exit
	}
	if pt, ok := h.p.(PingTokens); ok {
		if _, known := pt.CheckFor(token); !known {
			kit.CloseUnread(w, r)
			pingAnswer(w, r, http.StatusNotFound, "not found")
			return
		}
	}
	ping.Body, ping.Truncated = readPingBody(r)
	if _, err := h.p.Ping(token, ping); err != nil {
		switch code := nightowl.ErrorCode(err); {
		case errors.Is(err, ErrPingUnavailable):
			// Not lost: the job tries again (curl --retry), by when
			// the check's node is back or another has taken it over.
			pingAnswer(w, r, http.StatusServiceUnavailable, "unavailable, try again")
		case code == nightowl.ENotFound:
			pingAnswer(w, r, http.StatusNotFound, "not found")
		case code == nightowl.EInvalid:
			pingAnswer(w, r, http.StatusBadRequest, nightowl.ErrorMessage(err))
		default:
			pingAnswer(w, r, http.StatusInternalServerError, "internal error")
		}
		return
	}
	pingAnswer(w, r, http.StatusOK, "OK")
}

// pingAnswer writes a plain-text answer; a HEAD request gets the headers
// only.
func pingAnswer(w http.ResponseWriter, r *http.Request, status int, msg string) {
	hdr := w.Header()
	hdr["Content-Type"] = hdrPlain
	if msg == "OK" {
		hdr["Content-Length"] = hdrLen2
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		io.WriteString(w, msg)
	}
}

// parsePingPath splits /ping/{token}[/{suffix}] into the token, the kind of
// ping and the exit code (-1 when none). status is 200 when the path is a
// ping URL, 404 when it is not, and 400 for an exit code above 255.
func parsePingPath(path string) (token string, kind nightowl.PingKind, exit, status int) {
	rest, ok := strings.CutPrefix(path, "/ping/")
	if !ok {
		rest = strings.TrimPrefix(path, "/")
	}
	token, suffix, _ := strings.Cut(rest, "/")
	if token == "" {
		return "", "", -1, http.StatusNotFound
	}
	switch suffix {
	case "":
		return token, nightowl.PingSuccess, -1, http.StatusOK
	case "start":
		return token, nightowl.PingStart, -1, http.StatusOK
	case "fail":
		return token, nightowl.PingFail, -1, http.StatusOK
	case "log":
		return token, nightowl.PingLog, -1, http.StatusOK
	}
	// An exit code: decimal digits only (no sign, no spaces), as the
	// shell's $? prints it. Long runs of digits are refused before they
	// could overflow.
	if len(suffix) > 10 {
		if strings.Trim(suffix, "0123456789") == "" {
			return "", "", -1, http.StatusBadRequest
		}
		return "", "", -1, http.StatusNotFound
	}
	n := 0
	for i := 0; i < len(suffix); i++ {
		c := suffix[i]
		if c < '0' || c > '9' {
			return "", "", -1, http.StatusNotFound
		}
		n = n*10 + int(c-'0')
	}
	if n > 255 {
		return "", "", -1, http.StatusBadRequest
	}
	if n == 0 {
		return token, nightowl.PingSuccess, 0, http.StatusOK
	}
	return token, nightowl.PingFail, n, http.StatusOK
}

// queryValue returns the first value of key in a raw query, without building
// the map that url.Values would (a ping has at most a rid). ok is false
// when the value is badly escaped.
func queryValue(raw, key string) (string, bool) {
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(part, "=")
		if k != key {
			continue
		}
		if strings.ContainsAny(v, "%+") {
			u, err := url.QueryUnescape(v)
			return u, err == nil
		}
		return v, true
	}
	return "", true
}

// readPingBody keeps the first MaxPingBody bytes of the request body and
// reports whether more was sent. The rest is read into a small scratch
// buffer and dropped, up to maxDiscard, so that a 10 MB upload costs no
// memory and the client, still sending, sees its OK rather than a reset.
func readPingBody(r *http.Request) (string, bool) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return "", false
	}
	bp := bodyBufs.Get().(*[]byte)
	defer bodyBufs.Put(bp)
	buf := *bp
	n, _ := io.ReadFull(r.Body, buf)
	if n <= nightowl.MaxPingBody {
		return string(buf[:n]), false
	}
	io.CopyN(io.Discard, r.Body, maxDiscard)
	return string(buf[:nightowl.MaxPingBody]), true
}

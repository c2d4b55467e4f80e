package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// ClusterPingPath is where a node of a cluster forwards a heartbeat ping to
// the node that tracks its check. A load balancer sends a job's ping to any
// node, and only one of them judges the check.
const ClusterPingPath = "/api/v1/cluster/ping"

// signatureHeader carries the HMAC-SHA256 of a forwarded ping's body.
const signatureHeader = "X-Nightowl-Signature"

// maxForwardedBody bounds a forwarded ping: its kept body, escaped in JSON,
// and the rest of the ping.
const maxForwardedBody = 1 << 20

// ErrPingUnavailable is what a Pinger returns when the node that tracks the
// check cannot take the ping now: the job is answered 503, which curl's
// --retry and the Healthchecks client libraries try again, rather than told
// that its ping counted.
var ErrPingUnavailable = errors.New("the node that tracks this check cannot be reached; try again")

// ClusterPinger is a Pinger of a node of a cluster: the ping endpoints hand
// it every ping, and it forwards those of checks another node tracks. It
// also takes the pings other nodes forward to it.
type ClusterPinger interface {
	Pinger
	// PingKey is the key forwarded pings are signed with, the same on
	// every node (kept in the shared store). Nobody without it can make
	// a node record a ping, let alone one with a made-up time.
	PingKey() []byte
	// PingHere records a forwarded ping on this node, even if it does
	// not track the check any more: a ping is forwarded once at most.
	PingHere(token string, p nightowl.Ping) (nightowl.Ping, error)
}

// forwardedPing is what a node sends the node that tracks the check.
type forwardedPing struct {
	Token string        `json:"token"`
	Ping  nightowl.Ping `json:"ping"`
}

func signPing(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// ForwardPing sends a ping, as the ping endpoint parsed it (its arrival
// time, kind, rid, exit code, body and remote address), to the node at
// addr, signed with key. The answer is nil when that node recorded it, a
// *nightowl.Error when it refused the ping itself (ENotFound, EInvalid), and
// an error wrapping ErrPingUnavailable when it could not be reached or did
// not answer in time (the client's timeout). No error names the token.
func ForwardPing(ctx context.Context, client *http.Client, addr string, key []byte, token string, p nightowl.Ping) error {
	body, err := json.Marshal(forwardedPing{Token: token, Ping: p})
	if err != nil {
		return fmt.Errorf("encode a forwarded ping: %w", err)
	}
	base := addr
	if !strings.Contains(addr, "://") {
		base = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+ClusterPingPath, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("forward a ping to %s: %w", addr, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signatureHeader, signPing(key, body))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPingUnavailable, err)
	}
	defer resp.Body.Close()
	var answer kit.ErrorBody
	json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer)
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		return nil
	case http.StatusNotFound:
		return nightowl.Errorf(nightowl.ENotFound, "no heartbeat check has this token")
	case http.StatusBadRequest:
		return nightowl.Errorf(nightowl.EInvalid, "%s", answer.Error.Message)
	}
	return fmt.Errorf("%w: %s answered %s", ErrPingUnavailable, addr, resp.Status)
}

// clusterPing takes a ping another node forwarded: only with a valid
// signature, and never forwarding it again.
func clusterPing(p ClusterPinger, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForwardedBody))
		if err != nil {
			kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "forwarded ping too large or cut short"))
			return
		}
		sig := r.Header.Get(signatureHeader)
		if sig == "" || !hmac.Equal([]byte(sig), []byte(signPing(p.PingKey(), body))) {
			log.Warn("forwarded ping refused: bad signature", "remote", r.RemoteAddr)
			kit.WriteError(w, nightowl.Errorf(nightowl.EUnauthorized, "forwarded ping refused: bad signature"))
			return
		}
		var f forwardedPing
		if err := json.Unmarshal(body, &f); err != nil {
			kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "forwarded ping: %v", err))
			return
		}
		// What the tracker works out is not taken from the sender.
		f.Ping.Check, f.Ping.Duration = "", nil
		if _, err := p.PingHere(f.Token, f.Ping); err != nil {
			kit.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// ClusterAlivePath is where a node cut off from the shared store tells the
// others that it is alive and running its checks from memory: while it
// does, they leave its checks to it instead of running them too.
const ClusterAlivePath = "/api/v1/cluster/alive"

// maxAliveBody bounds a notice: a node name and a time.
const maxAliveBody = 4 << 10

// MaxNoticeAge is how far a notice's time may be from the receiver's
// clock: an older one (a replay) or one from far ahead is refused, and its
// sender, not told, acts as if nobody heard it.
const MaxNoticeAge = 30 * time.Second

// ClusterHearer takes other nodes' notices that they run their checks from
// memory. It is served only with the key nodes sign with.
type ClusterHearer interface {
	PingKey() []byte
	Heard(node string)
}

// aliveNotice is what a node cut off from the store tells the others.
type aliveNotice struct {
	Node string    `json:"node"`
	Sent time.Time `json:"sent"`
}

// TellAlive tells the node at addr, signed with key, that node is alive
// and runs its checks from memory; nil once it took the notice.
func TellAlive(ctx context.Context, client *http.Client, addr string, key []byte, node string, sent time.Time) error {
	body, err := json.Marshal(aliveNotice{Node: node, Sent: sent.UTC()})
	if err != nil {
		return fmt.Errorf("encode a notice: %w", err)
	}
	base := addr
	if !strings.Contains(addr, "://") {
		base = "http://" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+ClusterAlivePath, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("tell %s: %w", addr, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(signatureHeader, signPing(key, body))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("tell %s: %w", addr, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("tell %s: answered %s", addr, resp.Status)
	}
	return nil
}

// clusterAlive takes a notice from a node cut off from the store: only
// signed, and only fresh.
func clusterAlive(h ClusterHearer, clock nightowl.Clock, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAliveBody))
		if err != nil {
			kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "notice too large or cut short"))
			return
		}
		sig := r.Header.Get(signatureHeader)
		if sig == "" || !hmac.Equal([]byte(sig), []byte(signPing(h.PingKey(), body))) {
			log.Warn("node notice refused: bad signature", "remote", r.RemoteAddr)
			kit.WriteError(w, nightowl.Errorf(nightowl.EUnauthorized, "notice refused: bad signature"))
			return
		}
		n, err := parseAliveNotice(body, clock.Now())
		if err != nil {
			kit.WriteError(w, err)
			return
		}
		h.Heard(n.Node)
		w.WriteHeader(http.StatusNoContent)
	}
}

// parseAliveNotice reads a signed notice, refusing one without a node name
// or whose time is more than MaxNoticeAge from now.
func parseAliveNotice(body []byte, now time.Time) (aliveNotice, error) {
	var n aliveNotice
	if err := json.Unmarshal(body, &n); err != nil {
		return n, nightowl.Errorf(nightowl.EInvalid, "notice: %v", err)
	}
	if n.Node == "" || len(n.Node) > 200 {
		return n, nightowl.Errorf(nightowl.EInvalid, "notice: a node name of 1 to 200 bytes is required")
	}
	if d := now.Sub(n.Sent); d > MaxNoticeAge || d < -MaxNoticeAge {
		return n, nightowl.Errorf(nightowl.EInvalid, "notice: sent %s, more than %s from this node's clock", n.Sent.Format(time.RFC3339), MaxNoticeAge)
	}
	return n, nil
}

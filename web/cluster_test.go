package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// clusterPinger is a node's Pinger: here pings forward to another node at
// addr, and forwarded ones land in here.
type clusterPinger struct {
	key  []byte
	addr string
	here fakePinger
}

func (c *clusterPinger) Ping(token string, p nightowl.Ping) (nightowl.Ping, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return p, ForwardPing(ctx, http.DefaultClient, c.addr, c.key, token, p)
}
func (c *clusterPinger) PingKey() []byte { return c.key }
func (c *clusterPinger) PingHere(token string, p nightowl.Ping) (nightowl.Ping, error) {
	return c.here.Ping(token, p)
}

func TestForwardedPings(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	owner := &clusterPinger{key: key}
	owner.here.fn = func(token string, p nightowl.Ping) (nightowl.Ping, error) {
		switch token {
		case pingToken:
			return p, nil
		case "bad-rid-token-0123456":
			return p, nightowl.Errorf(nightowl.EInvalid, "rid is longer than 64 characters")
		}
		return p, nightowl.Errorf(nightowl.ENotFound, "no heartbeat check has this token")
	}
	mux := http.NewServeMux()
	for _, rt := range Routes(Options{Pinger: owner}) {
		if rt.Pattern == "POST "+ClusterPingPath {
			if rt.Role != "" {
				t.Fatalf("the forwarding route needs role %q; nodes sign, they do not sign in", rt.Role)
			}
			mux.Handle(rt.Pattern, rt.Handler)
		}
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	// The node the job reached: its ping endpoint forwards to the owner.
	entry := httptest.NewServer(PingHandler(&clusterPinger{key: key, addr: strings.TrimPrefix(srv.URL, "http://")}, clocktest.New(pingT0)))
	defer entry.Close()

	t.Run("a ping reaches the owner whole", func(t *testing.T) {
		resp, err := http.Post(entry.URL+"/ping/"+pingToken+"/3?rid=r1", "text/plain", strings.NewReader("disk full"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		tok, p := owner.here.last(t)
		if tok != pingToken || !p.Time.Equal(pingT0) || p.Kind != nightowl.PingFail || p.ExitCode == nil || *p.ExitCode != 3 ||
			p.RID != "r1" || p.Body != "disk full" || p.Method != http.MethodPost || !strings.HasPrefix(p.Remote, "127.0.0.1:") {
			t.Errorf("the owner got %q %+v", tok, p)
		}
	})
	t.Run("the owner's refusals reach the job", func(t *testing.T) {
		for token, want := range map[string]int{"nosuch-token-0123456789": http.StatusNotFound, "bad-rid-token-0123456": http.StatusBadRequest} {
			resp, err := http.Get(entry.URL + "/ping/" + token)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s: status %d, want %d", token, resp.StatusCode, want)
			}
		}
	})
	t.Run("a ping signed with another key is refused", func(t *testing.T) {
		before := owner.here.count()
		err := ForwardPing(context.Background(), http.DefaultClient, srv.URL, []byte("not the cluster's key............"),
			pingToken, nightowl.Ping{Time: pingT0.Add(-time.Hour)})
		if err == nil || owner.here.count() != before {
			t.Fatalf("forged ping: %v, %d pings recorded", err, owner.here.count()-before)
		}
		resp, err := http.Post(srv.URL+ClusterPingPath, "application/json", strings.NewReader(`{"token":"`+pingToken+`","ping":{}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || owner.here.count() != before {
			t.Errorf("unsigned ping: status %d", resp.StatusCode)
		}
	})
	t.Run("an owner out of reach makes the job try again", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		addr := gone.URL
		gone.Close()
		err := ForwardPing(context.Background(), http.DefaultClient, addr, key, pingToken, nightowl.Ping{})
		if !errors.Is(err, ErrPingUnavailable) || strings.Contains(err.Error(), pingToken) {
			t.Fatalf("ForwardPing to a closed port: %v", err)
		}
		lost := httptest.NewServer(PingHandler(&clusterPinger{key: key, addr: strings.TrimPrefix(addr, "http://")}, nil))
		defer lost.Close()
		resp, err := http.Get(lost.URL + "/ping/" + pingToken)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", resp.StatusCode)
		}
	})
}

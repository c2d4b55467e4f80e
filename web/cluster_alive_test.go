package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl/internal/clocktest"
)

// hearer is a node that takes notices.
type hearer struct {
	clusterPinger
	mu    sync.Mutex
	heard []string
}

func (h *hearer) Heard(node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.heard = append(h.heard, node)
}

func (h *hearer) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.heard...)
}

func TestAliveNotices(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := &hearer{clusterPinger: clusterPinger{key: key}}
	mux := http.NewServeMux()
	for _, rt := range Routes(Options{Pinger: h, Clock: clocktest.New(now)}) {
		if rt.Pattern == "POST "+ClusterAlivePath {
			if rt.Role != "" {
				t.Fatalf("the notice route needs role %q; nodes sign, they do not sign in", rt.Role)
			}
			mux.Handle(rt.Pattern, rt.Handler)
		}
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()

	if err := TellAlive(ctx, http.DefaultClient, strings.TrimPrefix(srv.URL, "http://"), key, "n2", now.Add(-2*time.Second)); err != nil {
		t.Fatalf("a fresh signed notice: %v", err)
	}
	if got := h.got(); len(got) != 1 || got[0] != "n2" {
		t.Fatalf("heard %v, want [n2]", got)
	}
	for name, tc := range map[string]struct {
		key  []byte
		node string
		sent time.Time
	}{
		"signed with another key": {[]byte("not the cluster's key..........."), "n2", now},
		"a replay a minute old":   {key, "n2", now.Add(-time.Minute)},
		"from the future":         {key, "n2", now.Add(time.Minute)},
		"no node":                 {key, "", now},
	} {
		if err := TellAlive(ctx, http.DefaultClient, srv.URL, tc.key, tc.node, tc.sent); err == nil {
			t.Errorf("%s: taken", name)
		}
	}
	resp, err := http.Post(srv.URL+ClusterAlivePath, "application/json", strings.NewReader(`{"node":"n3","sent":"2026-05-01T12:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned notice: status %d, want 401", resp.StatusCode)
	}
	big := strings.Repeat("x", maxAliveBody+1)
	resp, err = http.Post(srv.URL+ClusterAlivePath, "application/json", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("oversized notice: status %d, want 400", resp.StatusCode)
	}
	if got := h.got(); len(got) != 1 {
		t.Errorf("refused notices were heard: %v", got)
	}
}

// FuzzAliveNotice: a notice is taken only with a node name of bounded size
// and a time within MaxNoticeAge of now; anything else is refused with an
// invalid-input error, never a panic.
func FuzzAliveNotice(f *testing.F) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		`{"node":"n2","sent":"2026-05-01T12:00:00Z"}`,
		`{"node":"n2","sent":"2026-05-01T11:59:00Z"}`,
		`{"node":"","sent":"2026-05-01T12:00:00Z"}`,
		`{"node":"n2","sent":"9999-12-31T23:59:59Z"}`,
		`{"node":"n2","sent":"0001-01-01T00:00:00Z"}`,
		`{"node":1}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := parseAliveNotice(body, now)
		if err != nil {
			return
		}
		if n.Node == "" || len(n.Node) > 200 {
			t.Fatalf("took a notice from %q", n.Node)
		}
		if d := now.Sub(n.Sent); d > MaxNoticeAge || d < -MaxNoticeAge {
			t.Fatalf("took a notice sent %s", n.Sent)
		}
		if _, err := json.Marshal(n); err != nil {
			t.Fatalf("a notice taken does not encode: %v", err)
		}
	})
}

package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/cluster"
	"github.com/nightowl/nightowl/ingest"
	"github.com/nightowl/nightowl/internal/testdb"
)

// TestIngestCluster sends the same Alertmanager alert to both nodes of a
// cluster, as a load balancer would: one node handles the integration's
// alerts (the other passes requests on to it), so there is one alert and
// one page; when that node leaves, the other carries the alert on and its
// resolution is told.
func TestIngestCluster(t *testing.T) {
	t.Parallel()
	dsn := testdb.PostgresSchema(t)
	h := newHook(t)
	dir := t.TempDir()
	start := func(node string) *App {
		path := filepath.Join(dir, node+".yaml")
		writeConfig(t, path, fmt.Sprintf(`storage: {postgres: %q}
cluster: {node: %s, node_timeout: 3s}
checks:
  - name: site
    tcp: {addr: "127.0.0.1:1"}
    paused: true
integrations:
  - {name: prometheus, format: alertmanager, token: %s}
notify:
  send_resolved: true
  receivers:
    ops: [{webhook: {url: "%s/hook"}}]
  routes: [{escalation: ops}]
  escalations:
    ops: {steps: [{notify: ops}]}
`, dsn, node, amToken, h.srv.URL))
		a, err := New(context.Background(), Options{ConfigPath: path, Listen: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), BcryptCost: testCost, PublicTTL: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return a
	}
	n1, n2 := start("n1"), start("n2")
	stopped := map[*App]bool{}
	defer func() {
		for _, a := range []*App{n1, n2} {
			if !stopped[a] {
				a.Stop(context.Background())
			}
		}
	}()
	waitFor(t, "both nodes live on both", func() bool {
		for _, a := range []*App{n1, n2} {
			if len(cluster.LiveNames(a.ClusterNodes())) != 2 {
				return false
			}
		}
		return true
	})
	owner, other := n1, n2
	if cluster.Owner(ingest.Group("prometheus"), []string{"n1", "n2"}) == "n2" {
		owner, other = n2, n1
	}
	firing := alertmanagerBody(t, "firing", shopAlert("firing"))
	for i, a := range []*App{other, owner, other, owner} {
		if code, body := postIngest(t, "http://"+a.Addr()+"/api/v1/integrations/prometheus", amToken, firing); code != 200 {
			t.Fatalf("post %d: %d %s", i, code, body)
		}
		if i == 0 {
			// Forwarded, and stored by the owner before the answer.
			if open := owner.Alerts().Open(); len(open) != 1 {
				t.Fatalf("the owner holds %d alerts after the first post to the other node", len(open))
			}
		}
	}
	waitFor(t, "the page", func() bool { return len(h.kinds()) >= 1 })
	time.Sleep(2500 * time.Millisecond) // a round of adoption on both nodes
	stored, err := owner.store.Alerts(context.Background(), nightowl.AlertQuery{Open: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 {
		t.Fatalf("%d open alerts in the store, want 1", len(stored))
	}
	if kinds := h.kinds(); len(kinds) != 1 {
		t.Fatalf("messages %v, want one page", kinds)
	}
	// Every node's manager knows the alert: its status page and
	// components show the same.
	if len(other.Alerts().Open()) != 1 {
		t.Errorf("the other node does not know the alert")
	}

	// The owner leaves: the other node handles the integration now, and
	// resolves the alert it carried on.
	owner.Stop(context.Background())
	stopped[owner] = true
	waitFor(t, "the other node to handle the integration", func() bool { return other.ownsIntegration("prometheus") })
	resolved := alertmanagerBody(t, "resolved", shopAlert("resolved"))
	if code, body := postIngest(t, "http://"+other.Addr()+"/api/v1/integrations/prometheus", amToken, resolved); code != 200 || !strings.Contains(body, `"resolved": 1`) {
		t.Fatalf("resolved: %d %s", code, body)
	}
	waitFor(t, "the resolved message", func() bool { return len(h.kinds()) >= 2 })
	if kinds := strings.Join(h.kinds(), ","); kinds != "firing,resolved" {
		t.Errorf("messages %s", kinds)
	}
}

package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/cluster"
	"github.com/nightowl/nightowl/ingest"
	"github.com/nightowl/nightowl/web"
)

// newIngest builds the service that takes the alerts of the config's
// integrations and hands them to the alert manager. In a cluster, one node
// handles each integration's alerts (ownsIntegration); the others pass
// requests on to it.
func (a *App) newIngest(cfg []ingest.Integration) error {
	opts := ingest.Options{
		Observe: func(ctx context.Context, v nightowl.CheckView) error {
			ctx, cancel := context.WithTimeout(ctx, alertTimeout)
			defer cancel()
			return a.alerts.Observe(ctx, v)
		},
		Open: a.alerts.Open, Clock: a.opts.Clock, Logger: a.log,
	}
	if a.cluster != nil {
		client := &http.Client{Timeout: forwardIngestTimeout}
		opts.Local = a.ownsIntegration
		opts.Forward = func(ctx context.Context, r ingest.Request) (ingest.Receipt, error) {
			return a.forwardIngest(ctx, client, r)
		}
	}
	svc, err := ingest.New(opts)
	if err != nil {
		return err
	}
	svc.SetIntegrations(cfg)
	a.ingest = svc
	return nil
}

// forwardIngestTimeout bounds a request's trip to the node that handles
// its integration; past it, this node takes the alerts itself.
const forwardIngestTimeout = 5 * time.Second

// ownsIntegration reports whether this node handles the alerts of an
// integration: always outside a cluster; in one, the node that
// cluster.Owner picks among the live nodes, as for the alerts on lost
// nodes.
func (a *App) ownsIntegration(name string) bool {
	if a.cluster == nil {
		return true
	}
	m := a.cluster.member.Load()
	if m == nil {
		return false
	}
	return cluster.Owner(ingest.Group(name), cluster.LiveNames(m.Nodes())) == m.Name()
}

// forwardIngest passes a request on to the node that handles its
// integration, with its token, which that node checks again.
func (a *App) forwardIngest(ctx context.Context, client *http.Client, r ingest.Request) (ingest.Receipt, error) {
	m := a.cluster.member.Load()
	if m == nil {
		return ingest.Receipt{}, fmt.Errorf("not in the cluster yet")
	}
	nodes := m.Nodes()
	owner := cluster.Owner(ingest.Group(r.Integration), cluster.LiveNames(nodes))
	i := slices.IndexFunc(nodes, func(n nightowl.Node) bool { return n.Name == owner })
	if i < 0 || nodes[i].Addr == "" {
		return ingest.Receipt{}, fmt.Errorf("node %q has no address", owner)
	}
	u := "http://" + nodes[i].Addr + web.IntegrationPath + url.PathEscape(r.Integration)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(r.Body))
	if err != nil {
		return ingest.Receipt{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.Token)
	req.Header.Set(web.ForwardedIngestHeader, a.cluster.name)
	resp, err := client.Do(req)
	if err != nil {
		return ingest.Receipt{}, fmt.Errorf("forward to %s: %w", owner, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ingest.Receipt{}, fmt.Errorf("forward to %s: %s", owner, resp.Status)
	}
	var rc ingest.Receipt
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 4<<10)).Decode(&rc); err != nil {
		return ingest.Receipt{}, fmt.Errorf("forward to %s: %w", owner, err)
	}
	return rc, nil
}

// adoptIngested brings the open ingested alerts of the store into this
// node's alert manager, and drops those resolved elsewhere: the node that
// handles an integration now carries on the alerts another opened, and
// every node's status page and components see the same alerts.
func (a *App) adoptIngested(ctx context.Context) {
	stored, err := a.store.Alerts(ctx, nightowl.AlertQuery{Open: true, Limit: 10000})
	if err != nil {
		a.log.Warn("read ingested alerts", "err", err)
		return
	}
	var names []string
	for _, al := range stored {
		if _, _, ok := ingest.Split(al.Check); ok && !slices.Contains(names, al.Check) {
			names = append(names, al.Check)
		}
	}
	for _, al := range a.alerts.Open() {
		if _, _, ok := ingest.Split(al.Check); ok && !slices.Contains(names, al.Check) {
			names = append(names, al.Check)
		}
	}
	if err := a.alerts.Adopt(ctx, names); err != nil {
		a.log.Warn("adopt ingested alerts", "err", err)
	}
}

// Ingest returns the service that takes alerts from other tools.
func (a *App) Ingest() *ingest.Service { return a.ingest }

// withIngested adds to the checks the synthetic checks of the open
// ingested alerts: what components and incidents judge.
func (a *App) withIngested(views []nightowl.CheckView) []nightowl.CheckView {
	if a.ingest == nil {
		return views
	}
	return append(views, a.ingest.Views()...)
}

// pageChecks are the checks the status page judges components by: the
// engine's, and the ingested alerts that components take in.
type pageChecks struct{ a *App }

func (p pageChecks) Checks() []nightowl.CheckView { return p.a.withIngested(p.a.engine.Checks()) }
func (p pageChecks) Check(name string) (nightowl.CheckView, bool) {
	return p.a.engine.Check(name)
}

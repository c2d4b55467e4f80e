package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/nightowl/nightowl/app"
	"github.com/nightowl/nightowl/internal/testdb"
)

const (
	rulesFile     = "prometheus/nightowl-rules.yaml"
	dashboardFile = "grafana/nightowl-dashboard.json"
	runbookPrefix = "https://github.com/nightowl/nightowl/blob/main/docs/operations.md#"
)

var promParser = parser.NewParser(parser.Options{})

// expr is one PromQL expression of the rules or the dashboard, with where
// it was found.
type expr struct {
	where string
	text  string
}

// loadRules parses the rules file as Prometheus does when it loads it, and
// returns its expressions and the names its recording rules record.
func loadRules(t *testing.T) (exprs []expr, recorded map[string]bool) {
	t.Helper()
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.LegacyValidation, promParser, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if groups == nil {
		t.FailNow()
	}
	recorded = map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			name := r.Record + r.Alert
			exprs = append(exprs, expr{where: rulesFile + ": " + name, text: r.Expr})
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	return exprs, recorded
}

// TestRules checks what rulefmt leaves to the author: every alert waits a
// while before firing, says how urgent it is and what happened, and
// points at its section of the operations guide.
func TestRules(t *testing.T) {
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.LegacyValidation, promParser, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	alerts := 0
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if _, err := promParser.ParseExpr(r.Expr); err != nil {
				t.Errorf("%s: %v", r.Record+r.Alert, err)
			}
			if r.Alert == "" {
				continue
			}
			alerts++
			t.Run(r.Alert, func(t *testing.T) {
				if r.For == 0 {
					t.Error("no for:")
				}
				if s := r.Labels["severity"]; s != "critical" && s != "warning" {
					t.Errorf("severity %q, want critical or warning", s)
				}
				for _, a := range []string{"summary", "description"} {
					if r.Annotations[a] == "" {
						t.Errorf("no %s", a)
					}
				}
				if want := runbookPrefix + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
					t.Errorf("runbook_url %q, want %q", r.Annotations["runbook_url"], want)
				}
				// A recorded series was selected by job when recorded.
				if !strings.Contains(r.Expr, `job="nightowl"`) && !strings.Contains(r.Expr, "nightowl:") {
					t.Errorf("%s reads series of any job, not only nightowl's", r.Expr)
				}
			})
		}
	}
	if alerts == 0 {
		t.Fatal("no alerts")
	}
}

// dashboard is the part of a Grafana dashboard that the test reads.
type dashboard struct {
	Inputs []struct {
		Name, Type, PluginID string
	} `json:"__inputs"`
	Title      string
	UID        string
	Panels     []panel
	Templating struct {
		List []struct {
			Name, Type string
			Query      any
			Datasource any
		}
	}
}

type panel struct {
	Title      string
	Type       string
	Datasource any
	Targets    []struct {
		Expr  string
		RefID string `json:"refId"`
	}
	Panels []panel // a collapsed row's
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// grafanaVars are the variables Grafana puts into an expression before it
// sends it to Prometheus, with values of the right kind for the parser.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "${__rate_interval}", "5m",
	"$__interval", "1m", "${__interval}", "1m",
	"$__range", "1h", "${__range}", "1h",
)

// dashboardExprs returns the expressions of every panel's targets and of
// the query variables, as Prometheus receives them.
func dashboardExprs(t *testing.T, d dashboard) []expr {
	t.Helper()
	var out []expr
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, expr{where: fmt.Sprintf("%s: panel %q target %s", dashboardFile, p.Title, tg.RefID), text: grafanaVars.Replace(tg.Expr)})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	// label_values(METRIC, LABEL) is Grafana's, not PromQL: its metric is.
	labelValues := regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		q, ok := v.Query.(map[string]any)
		if v.Type != "query" || !ok {
			continue
		}
		s, _ := q["query"].(string)
		m := labelValues.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("%s: variable %s: query %q is not label_values(METRIC, LABEL)", dashboardFile, v.Name, s)
			continue
		}
		out = append(out, expr{where: fmt.Sprintf("%s: variable %s", dashboardFile, v.Name), text: m[1]})
	}
	return out
}

// TestDashboard checks that the dashboard imports with its data source
// chosen at import, and that Prometheus parses each of its queries.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q: both are needed to import and to link", d.Title, d.UID)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs %+v, want one Prometheus data source DS_PROMETHEUS", d.Inputs)
	}
	var walk func(ps []panel)
	panels := 0
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" {
				panels++
				if ds := fmt.Sprint(p.Datasource); !strings.Contains(ds, "${datasource}") {
					t.Errorf("panel %q: datasource %s, want the dashboard's ${datasource}", p.Title, ds)
				}
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if panels == 0 {
		t.Fatal("no panels")
	}
	for _, e := range dashboardExprs(t, d) {
		if _, err := promParser.ParseExpr(e.text); err != nil {
			t.Errorf("%s: %q: %v", e.where, e.text, err)
		}
	}
}

// metricNames returns the names of the series e selects.
func metricNames(e string) ([]string, error) {
	ast, err := promParser.ParseExpr(e)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(ast, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && name == "" {
				name = m.Value
			}
		}
		if name != "" {
			names = append(names, name)
		}
		return nil
	})
	return names, nil
}

// missing returns, for each expression, the metric names it reads that
// served does not hold; the series Prometheus makes itself (up) and those
// the rules record are not nightowl's to serve.
func missing(exprs []expr, served, recorded map[string]bool) []string {
	var out []string
	for _, e := range exprs {
		names, err := metricNames(e.text)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", e.where, err))
			continue
		}
		for _, n := range names {
			if !served[n] && !recorded[n] && n != "up" {
				out = append(out, fmt.Sprintf("%s: %s", e.where, n))
			}
		}
	}
	return out
}

// seriesNames returns the names of the series an exposition holds: a
// histogram's _bucket, _sum and _count, a summary's _sum and _count.
func seriesNames(body string) (map[string]bool, error) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for name, f := range families {
		if len(f.GetMetric()) == 0 {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[name], out[name+"_sum"], out[name+"_count"] = true, true, true
		default:
			out[name] = true
		}
	}
	return out, nil
}

// The check of names finds a misspelt one, in a plain selector, under a
// function, in a histogram's buckets and through __name__.
func TestMissingFindsMisspelt(t *testing.T) {
	served := map[string]bool{"nightowl_checks": true, "nightowl_scheduler_lag_seconds_bucket": true}
	for _, tc := range []struct{ expr, want string }{
		{`nightowl_check > 0`, "nightowl_check"},
		{`sum(rate(nightowl_check_run_total[5m]))`, "nightowl_check_run_total"},
		{`histogram_quantile(0.9, rate(nightowl_scheduler_lag_second_bucket[5m]))`, "nightowl_scheduler_lag_second_bucket"},
		{`{__name__="nightowl_chekcs"}`, "nightowl_chekcs"},
		{`up == 0 and nightowl_checks > 0`, ""},
	} {
		got := strings.Join(missing([]expr{{where: "x", text: tc.expr}}, served, nil), "; ")
		want := ""
		if tc.want != "" {
			want = "x: " + tc.want
		}
		if got != want {
			t.Errorf("missing(%s) = %q, want %q", tc.expr, got, want)
		}
	}
}

// TestEveryMetricIsServed runs a real server, on PostgreSQL and in a
// cluster so that every part of it has metrics, with checks up and down
// and notifications sent, refused and retried, and checks that every
// metric the rules and the dashboard read is in what its /metrics serves.
func TestEveryMetricIsServed(t *testing.T) {
	rules, recorded := loadRules(t)
	exprs := append(rules, dashboardExprs(t, loadDashboard(t))...)
	dsn := testdb.PostgresSchema(t)

	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(site.Close)
	var flaky atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/refuse": // given up on at once
			http.Error(w, "no", http.StatusBadRequest)
		case "/flaky": // retried
			if flaky.Add(1) == 1 {
				http.Error(w, "later", http.StatusServiceUnavailable)
			}
		}
	}))
	t.Cleanup(hook.Close)

	cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `server: {anonymous: viewer}
storage: {postgres: %q}
cluster: {node: n1}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: web-ok
    http: {url: "%[2]s/ok"}
  - name: web-down
    http: {url: "%[2]s/down"}
notify:
  receivers:
    ops:
      - webhook: {url: "%[3]s/ok"}
      - webhook: {url: "%[3]s/refuse"}
      - webhook: {url: "%[3]s/flaky"}
  routes: [{escalation: ops}]
  escalations:
    ops: {steps: [{notify: ops}]}
`, dsn, site.URL, hook.URL), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	logs := &strings.Builder{}
	a, err := app.New(ctx, app.Options{ConfigPath: cfg, Listen: "127.0.0.1:0", PublicTTL: -1,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Stop(context.Background())
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})

	// The metrics of things that happen (a notification refused) appear
	// once they have happened: wait for every one, for a while.
	var lost []string
	var served map[string]bool
	deadline := time.Now().Add(30 * time.Second)
	for {
		body := scrape(t, "http://"+a.Addr()+"/metrics")
		if served, err = seriesNames(body); err != nil {
			t.Fatalf("parse /metrics: %v\n%s", err, body)
		}
		if lost = missing(exprs, served, recorded); len(lost) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(lost) > 0 {
		var names []string
		for n := range served {
			if strings.HasPrefix(n, "nightowl_") {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		t.Errorf("metrics read by the rules or the dashboard that the server does not serve:\n  %s\nnightowl serves:\n  %s",
			strings.Join(lost, "\n  "), strings.Join(names, "\n  "))
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return string(b)
}

// lockedWriter lets the server's goroutines log to one buffer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

package deploy

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// alertExprs returns the expression of every alert of the rules file, with
// the recording rules it reads put in place of their names, so that Prometheus'
// engine can evaluate it on raw series alone.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	groups, errs := rulefmt.ParseFile(rulesFile, false, model.LegacyValidation, promParser, slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	recorded := map[string]string{}
	alerts := map[string]string{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = r.Expr
			} else {
				alerts[r.Alert] = r.Expr
			}
		}
	}
	name := regexp.MustCompile(`nightowl:[a-z0-9_:]+`)
	for a, e := range alerts {
		alerts[a] = name.ReplaceAllStringFunc(e, func(n string) string {
			r, ok := recorded[n]
			if !ok {
				t.Fatalf("%s reads %s, which no rule records", a, n)
			}
			return "(" + r + ")"
		})
	}
	return alerts
}

// TestAlertsFire evaluates each alert with Prometheus' own engine on series
// made up for it, one minute apart: it fires when what it watches goes
// wrong, once per thing that went wrong (once for a cluster whose every
// node reports the same shared outbox), and stays quiet otherwise. Every
// alert of the rules file must have a case that fires and one that does not.
func TestAlertsFire(t *testing.T) {
	const (
		a = `job="nightowl", instance="a:8080"`
		b = `job="nightowl", instance="b:8080"`
	)
	cases := []struct {
		alert, name string
		series      string // promqltest's load syntax, one minute a step
		want        int    // alerts firing at 20m
	}{
		{"NightowlDown", "scrapes fail", `up{` + a + `} 1 1 0x20`, 1},
		{"NightowlDown", "scrapes succeed", `up{` + a + `} 1x20`, 0},

		{"NightowlAbsent", "no target", `up{job="other"} 1x20`, 1},
		{"NightowlAbsent", "a target", `up{` + a + `} 0x20`, 0},

		{"NightowlRestarting", "restarts every few minutes", `process_start_time_seconds{` + a + `} 0+300x20`, 1},
		{"NightowlRestarting", "started once", `process_start_time_seconds{` + a + `} 100x20`, 0},

		{"NightowlFileDescriptorsRunningOut", "90 % used", `process_open_fds{` + a + `} 900x20
  process_max_fds{` + a + `} 1000x20`, 1},
		{"NightowlFileDescriptorsRunningOut", "10 % used", `process_open_fds{` + a + `} 100x20
  process_max_fds{` + a + `} 1000x20`, 0},

		{"NightowlHTTPErrors", "half the requests fail", `nightowl_http_requests_total{` + a + `, route="GET /api/v1/checks", code="500"} 0+60x20
  nightowl_http_requests_total{` + a + `, route="POST /ping/", code="200"} 0+60x20`, 1},
		{"NightowlHTTPErrors", "1 % fail", `nightowl_http_requests_total{` + a + `, route="GET /api/v1/checks", code="500"} 0+1x20
  nightowl_http_requests_total{` + a + `, route="POST /ping/", code="200"} 0+99x20`, 0},

		{"NightowlChecksLate", "checks late", `nightowl_checks_late{` + a + `} 3x20
  nightowl_checks_late{` + b + `} 0x20`, 1},
		{"NightowlChecksLate", "none late", `nightowl_checks_late{` + a + `} 0x20`, 0},

		{"NightowlSchedulerLagging", "runs start 5 to 10 s late", `nightowl_scheduler_lag_seconds_bucket{` + a + `, le="1"} 0x20
  nightowl_scheduler_lag_seconds_bucket{` + a + `, le="5"} 0x20
  nightowl_scheduler_lag_seconds_bucket{` + a + `, le="10"} 0+60x20
  nightowl_scheduler_lag_seconds_bucket{` + a + `, le="+Inf"} 0+60x20`, 1},
		{"NightowlSchedulerLagging", "runs start on time", `nightowl_scheduler_lag_seconds_bucket{` + a + `, le="0.01"} 0+60x20
  nightowl_scheduler_lag_seconds_bucket{` + a + `, le="1"} 0+60x20
  nightowl_scheduler_lag_seconds_bucket{` + a + `, le="10"} 0+60x20
  nightowl_scheduler_lag_seconds_bucket{` + a + `, le="+Inf"} 0+60x20`, 0},

		{"NightowlSchedulerSkippingRuns", "a third skipped", `nightowl_scheduler_skipped_runs_total{` + a + `} 0+30x20
  nightowl_check_runs_total{` + a + `, status="up"} 0+50x20
  nightowl_check_runs_total{` + a + `, status="down"} 0+10x20`, 1},
		{"NightowlSchedulerSkippingRuns", "none skipped", `nightowl_scheduler_skipped_runs_total{` + a + `} 0x20
  nightowl_check_runs_total{` + a + `, status="up"} 0+60x20`, 0},

		{"NightowlNotificationsFailing", "one given up on, seen by two nodes", `nightowl_notifications_failed_total{` + a + `, receiver="ops[0]", kind="firing"} 0x15 1x5
  nightowl_notifications_failed_total{` + b + `, receiver="ops[0]", kind="firing"} 0x20
  nightowl_notifications_failed_total{` + b + `, receiver="chat[0]", kind="firing"} 0x20`, 1},
		{"NightowlNotificationsFailing", "none given up on", `nightowl_notifications_failed_total{` + a + `, receiver="ops[0]", kind="firing"} 2x20`, 0},

		{"NightowlNotificationsRetrying", "retries for 20 minutes", `nightowl_notifications_retries_total{` + a + `, receiver="ops[0]", kind="firing"} 0+2x20`, 1},
		{"NightowlNotificationsRetrying", "retries long ago", `nightowl_notifications_retries_total{` + a + `, receiver="ops[0]", kind="firing"} 0 5x20`, 0},

		{"NightowlOutboxStuck", "a notification waits 10 minutes, every node says", `nightowl_outbox_oldest_pending_seconds{` + a + `, receiver="ops[0]"} 600x20
  nightowl_outbox_oldest_pending_seconds{` + b + `, receiver="ops[0]"} 600x20
  nightowl_outbox_oldest_pending_seconds{` + a + `, receiver="chat[0]"} 0x20`, 1},
		{"NightowlOutboxStuck", "sent within seconds", `nightowl_outbox_oldest_pending_seconds{` + a + `, receiver="ops[0]"} 2x20`, 0},

		{"NightowlOutboxGrowing", "grows past 50", `nightowl_outbox_pending{` + a + `, receiver="ops[0]"} 0+10x20
  nightowl_outbox_pending{` + b + `, receiver="ops[0]"} 0+10x20`, 1},
		{"NightowlOutboxGrowing", "large but draining", `nightowl_outbox_pending{` + a + `, receiver="ops[0]"} 400-10x20`, 0},
		{"NightowlOutboxGrowing", "growing but small", `nightowl_outbox_pending{` + a + `, receiver="ops[0]"} 0+1x20`, 0},

		{"NightowlStoreUnwritten", "results wait 2 minutes", `nightowl_store_oldest_unwritten_seconds{` + a + `} 120x20`, 1},
		{"NightowlStoreUnwritten", "written every second", `nightowl_store_oldest_unwritten_seconds{` + a + `} 1x20`, 0},

		{"NightowlStoreOffline", "events kept in memory", `nightowl_store_unwritten{` + a + `, kind="events"} 4x20
  nightowl_store_unwritten{` + a + `, kind="alerts"} 2x20
  nightowl_store_unwritten{` + a + `, kind="notifications"} 0x20`, 1},
		{"NightowlStoreOffline", "nothing kept", `nightowl_store_unwritten{` + a + `, kind="events"} 0x20
  nightowl_store_unwritten{` + a + `, kind="alerts"} 0x20`, 0},

		{"NightowlStoreWritesFailing", "writes fail", `nightowl_store_write_failures_total{` + a + `} 0+1x20`, 1},
		{"NightowlStoreWritesFailing", "failed long ago", `nightowl_store_write_failures_total{` + a + `} 0 3x20`, 0},

		{"NightowlStoreDroppingResults", "results dropped", `nightowl_store_dropped_results_total{` + a + `} 0x15 500x5
  nightowl_store_dropped_pings_total{` + a + `} 0x20`, 1},
		{"NightowlStoreDroppingResults", "results and pings dropped", `nightowl_store_dropped_results_total{` + a + `} 0x15 500x5
  nightowl_store_dropped_pings_total{` + a + `} 0x15 500x5`, 1},
		{"NightowlStoreDroppingResults", "nothing dropped lately", `nightowl_store_dropped_results_total{` + a + `} 0 500x20
  nightowl_store_dropped_pings_total{` + a + `} 7x20`, 0},

		{"NightowlClusterNodeLost", "a node lost, both others say", `nightowl_cluster_nodes{` + a + `, state="lost"} 1x20
  nightowl_cluster_nodes{` + b + `, state="lost"} 1x20
  nightowl_cluster_nodes{` + a + `, state="live"} 2x20`, 1},
		{"NightowlClusterNodeLost", "every node live", `nightowl_cluster_nodes{` + a + `, state="lost"} 0x20
  nightowl_cluster_nodes{` + a + `, state="live"} 3x20`, 0},

		{"NightowlAuditCheckpointRefused", "refused", `nightowl_audit_checkpoint_refused_total{` + a + `} 0x15 1x5`, 1},
		{"NightowlAuditCheckpointRefused", "never refused", `nightowl_audit_checkpoint_refused_total{` + a + `} 0x20`, 0},
	}

	exprs := alertExprs(t)
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 1e6)
	at := time.Unix(0, 0).Add(20 * time.Minute)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.alert+"/"+tc.name, func(t *testing.T) {
			e, ok := exprs[tc.alert]
			if !ok {
				t.Fatalf("no alert %s in %s", tc.alert, rulesFile)
			}
			st := promqltest.LoadedStorage(t, "load 1m\n  "+tc.series)
			q, err := engine.NewInstantQuery(context.Background(), st, nil, e, at)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			res := q.Exec(context.Background())
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			v, err := res.Vector()
			if err != nil {
				t.Fatal(err)
			}
			if len(v) != tc.want {
				var got []string
				for _, s := range v {
					got = append(got, s.String())
				}
				t.Errorf("%d alerts, want %d:\n%s\n%s", len(v), tc.want, e, strings.Join(got, "\n"))
			}
			for _, s := range v {
				if s.Metric.Get("job") != "nightowl" {
					t.Errorf("alert without job=\"nightowl\": %s", s.Metric)
				}
			}
		})
		if tc.want > 0 {
			fires[tc.alert] = true
		} else {
			quiet[tc.alert] = true
		}
	}
	for name := range exprs {
		if !fires[name] || !quiet[name] {
			t.Errorf("%s lacks a case that fires or one that does not", name)
		}
	}
}

// Package deploy holds what operators load into Prometheus and Grafana to
// watch nightowl itself (prometheus/nightowl-rules.yaml,
// grafana/nightowl-dashboard.json), and the test that keeps both true to
// the metrics `nightowl serve` serves. It is a module of its own so that
// Prometheus, which the test parses them with, stays out of nightowl's.
package deploy

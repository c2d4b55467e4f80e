package config

import (
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl/ingest"
)

func TestIntegrations(t *testing.T) {
	const src = `
integrations:
  - name: prometheus
    format: alertmanager
    token_file: /etc/nightowl/am.token
    labels: {team: infra}
    rate: 600/m
    resolve_after: 2h
  - name: grafana
    format: grafana
    token: ${GRAFANA_TOKEN}
`
	cfg, err := Parse("nightowl.yaml", []byte(src), Options{
		Getenv:   env(map[string]string{"GRAFANA_TOKEN": "grafana-token-0123456789"}),
		ReadFile: files(map[string]string{"/etc/nightowl/am.token": "am-token-0123456789abcdef\n"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Integrations) != 2 {
		t.Fatalf("%d integrations", len(cfg.Integrations))
	}
	am, gr := cfg.Integrations[0], cfg.Integrations[1]
	if am.Name != "prometheus" || am.Format != "alertmanager" || am.Token != "am-token-0123456789abcdef" || am.Labels["team"] != "infra" ||
		am.Rate != (ingest.Rate{N: 600, Per: time.Minute}) || am.ResolveAfter != 2*time.Hour {
		t.Errorf("prometheus: %+v", am)
	}
	if gr.Token != "grafana-token-0123456789" || gr.Rate != ingest.DefaultRate || gr.ResolveAfter != 0 {
		t.Errorf("grafana: %+v", gr)
	}
}

// A short token from a file is refused without showing it.
func TestIntegrationTokenNotShown(t *testing.T) {
	_, err := Parse("nightowl.yaml", []byte("integrations:\n  - name: x\n    format: generic\n    token_file: /t\n"), Options{
		ReadFile: files(map[string]string{"/t": "hunter2"}),
	})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "integrations[0].token: must be at least 16") {
		t.Errorf("error: %v", err)
	}
}

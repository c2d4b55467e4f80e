package config

import "testing"

// TestStarterValidates: the config nightowl init writes loads as it is.
func TestStarterValidates(t *testing.T) {
	cfg, err := Parse("nightowl.yaml", Starter, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Checks) != 1 || cfg.Checks[0].Name != "nightowl" || cfg.Server.Listen != "127.0.0.1:8080" {
		t.Errorf("starter config: %d checks, listen %s", len(cfg.Checks), cfg.Server.Listen)
	}
}

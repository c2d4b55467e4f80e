package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestExpansionBound: aliases that multiply a small file are refused
// before the decoder walks them, naming where; a big config that merges an
// anchor into every check is not.
func TestExpansionBound(t *testing.T) {
	t.Run("nested sequences of aliases", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("x0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n")
		for i := 1; i <= 9; i++ {
			fmt.Fprintf(&b, "x%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
		}
		_, err := Parse("bomb.yaml", []byte(b.String()), Options{Getenv: env(nil)})
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 || !strings.HasPrefix(es[0].Error(), "bomb.yaml:7:") || !strings.Contains(es[0].Error(), "more than 1000000 YAML nodes") {
			t.Fatalf("%v", err)
		}
		if es[0].Key != "x6[0]" {
			t.Errorf("key %q, want x6[0]", es[0].Key)
		}
	})
	t.Run("many merges of one anchor", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("checks:\n")
		for i := range 3000 {
			if i == 0 {
				fmt.Fprintf(&b, "  - &base {name: c0, interval: 1m, timeout: 5s, labels: {team: web, tier: front}, tcp: {addr: \"127.0.0.1:1\"}}\n")
				continue
			}
			fmt.Fprintf(&b, "  - {<<: *base, name: c%d}\n", i)
		}
		cfg, err := Parse("big.yaml", []byte(b.String()), Options{Getenv: env(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Checks) != 3000 || cfg.Checks[2999].Labels["tier"] != "front" {
			t.Fatalf("%d checks", len(cfg.Checks))
		}
	})
}

func TestFileSizeBound(t *testing.T) {
	big := append([]byte("checks: []\n"), bytes.Repeat([]byte("# padding\n"), MaxFileSize/10+1)...)
	_, err := Parse("big.yaml", big, Options{Getenv: env(nil)})
	if err == nil || err.Error() != "big.yaml:1:1: the file is larger than 4 MiB: refused unread" {
		t.Fatalf("%v", err)
	}
}

// FuzzParse: no input makes the decoder panic, hang or return both a
// config and errors, and every error names the file and says what is
// wrong; ${VAR} and merge keys included.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "checks: []\n", "checks:\n  - name: a\n    tcp: {addr: \"127.0.0.1:1\"}\n",
		"a: &a {x: 1}\nb: {<<: [*a, *a]}\n", "x: &x [*x]\n", "checks:\n  - {<<: {name: a}, tcp: {addr: 'h:1'}}\n",
		"server: {listen: ':8080'}\nnotify: {routes: [{escalation: x}]}\n",
		"checks:\n  - {name: a, tcp: {addr: \"${HOST}:${PORT}\"}}\n",
		"checks:\n  - {name: \"$${HOST}\", tcp: {addr: \"${NESTED}\"}}\n",
		"checks:\n  - {name: a, tcp: {addr: \"${UNSET}${ALSO_UNSET}\"}}\n",
		"checks:\n  - {name: a, tcp: {addr: \"${\"}}\n", "x: ${1BAD}\n",
		"base: &b {interval: 1m, labels: {team: ${TEAM}}}\nchecks:\n  - {<<: *b, name: a, tcp: {addr: 'h:1'}}\n  - {<<: [*b, {timeout: 5s}], name: b, tcp: {addr: 'h:2'}}\n",
		"checks:\n  - &c {name: a, tcp: {addr: 'h:1'}}\n  - *c\n",
	} {
		f.Add([]byte(s))
	}
	getenv := env(map[string]string{"HOST": "127.0.0.1", "PORT": "5432", "TEAM": "web", "NESTED": "${HOST}", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data, Options{Getenv: getenv, ReadFile: func(string) ([]byte, error) {
			return nil, errors.New("no files here")
		}})
		if (cfg == nil) == (err == nil) {
			t.Fatalf("config %v with error %v", cfg != nil, err)
		}
		if err == nil {
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("%T %v, not Errors", err, err)
		}
		for _, e := range es {
			if e.File != "fuzz.yaml" || e.Message == "" {
				t.Fatalf("%#v", e)
			}
		}
	})
}

// TestOnlyRegularFiles: a config file, or a file it names, that is a FIFO
// is refused unread, naming it, rather than waited on for ever (a
// reload would leave a goroutine behind on each try).
func TestOnlyRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "slow.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	secretFifo := filepath.Join(dir, "token")
	if err := syscall.Mkfifo(secretFifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "nightowl.yaml")
	if err := os.WriteFile(cfgFile, []byte("checks:\n  - name: api\n    http:\n      url: https://example.com/\n      bearer_token_file: "+secretFifo+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{fifo, fifo + " is not a regular file (a FIFO): refused unread"},
		{dir, dir + " is not a regular file (a directory): refused unread"},
		{cfgFile, secretFifo + " is not a regular file (a FIFO)"},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := LoadContext(context.Background(), c.path, Options{Getenv: env(nil)})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q", c.path, err, c.want)
			}
		case <-time.After(time.Minute):
			// Let the stuck read end, to report rather than hang.
			for _, f := range []string{fifo, secretFifo} {
				if w, err := os.OpenFile(f, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
			}
			t.Fatalf("%s: still reading after a minute", c.path)
		}
	}
}

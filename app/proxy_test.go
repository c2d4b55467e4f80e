//go:build linux

package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/access"
)

// TestSignInBehindAProxy: behind a reverse proxy (127.0.0.1, trusted) the
// sign-in limits count each client by the address the proxy names in
// X-Forwarded-For, so twenty wrong guesses at one account from one client
// hold up neither another user behind the same proxy nor the account's
// owner; a client cannot choose its address with a Forwarded header of its
// own that the proxy passed on, nor, when it is not a proxy, with
// X-Forwarded-For.
func TestSignInBehindAProxy(t *testing.T) {
	t.Parallel()
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, "server: {trusted_proxies: [127.0.0.1/32]}\n"+fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleViewer)
	userToken(t, a, "bo", nightowl.RoleViewer)

	login := func(c *http.Client, user, password, xff string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/v1/login",
			strings.NewReader(fmt.Sprintf(`{"name": %q, "password": %q}`, user, password)))
		req.Header.Set("Content-Type", "application/json")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	proxy := http.DefaultClient
	for i := range access.MaxAddressFailures {
		if code := login(proxy, fmt.Sprint("user", i), "wrong password here", "198.51.100.7").StatusCode; code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	if resp := login(proxy, "bo", "correct horse battery staple", "203.0.113.20"); resp.StatusCode != http.StatusOK {
		t.Fatalf("another user behind the proxy after twenty wrong guesses: %d", resp.StatusCode)
	}
	if resp := login(proxy, "bo", "correct horse battery staple", "198.51.100.7"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the guessing client is limited by its own address: %d, want 429", resp.StatusCode)
	}
	// The proxy appends to X-Forwarded-For and passes on the client's own
	// Forwarded header, which names an address the client chose.
	if resp := login(proxy, "bo", "correct horse battery staple", "198.51.100.7", "Forwarded", "for=203.0.113.77"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the guessing client naming another address in Forwarded: %d, want 429", resp.StatusCode)
	}

	// Twenty wrong guesses at one account slow the guesser down and
	// leave its owner, elsewhere, alone.
	for i := range access.MaxAddressFailures {
		code := login(proxy, "ana", "wrong password here", "198.51.100.8").StatusCode
		if code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
			t.Fatalf("guess %d at ana: %d", i, code)
		}
	}
	if resp := login(proxy, "ana", "correct horse battery staple", "203.0.113.21"); resp.StatusCode != http.StatusOK {
		t.Fatalf("the owner of the guessed account, from another address: %d, want 200", resp.StatusCode)
	}
	resp := login(proxy, "ana", "correct horse battery staple", "198.51.100.8")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the guesser's address at once: %d, want 429 for a while", resp.StatusCode)
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
		t.Fatalf("Retry-After %q, want 1 to 60 seconds", resp.Header.Get("Retry-After"))
	}

	// Not a proxy: its X-Forwarded-For is not believed, so changing it
	// does not get it past the per-address limit.
	stranger := clientFrom("127.0.0.2")
	for i := range access.MaxAddressFailures {
		login(stranger, fmt.Sprint("user", i), "wrong password here", fmt.Sprintf("192.0.2.%d", i+1))
	}
	if resp := login(stranger, "bo", "correct horse battery staple", "192.0.2.200"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a stranger naming a new address: %d, want 429", resp.StatusCode)
	}
}

// TestReloadWarnsProxiesNeedARestart: a reload that changes the trusted
// proxies or the header they write warns that the change waits for a
// restart; one that changes neither does not.
func TestReloadWarnsProxiesNeedARestart(t *testing.T) {
	t.Parallel()
	const base = "storage: {sqlite: test.db}\n"
	for _, tc := range []struct {
		name, before, after string
		warn                bool
	}{
		{"trusted proxies", "server: {trusted_proxies: [10.0.0.1]}\n", "server: {trusted_proxies: [10.0.0.2]}\n", true},
		{"a trusted proxy added", "server: {trusted_proxies: [10.0.0.1]}\n", "server: {trusted_proxies: [10.0.0.1, 10.0.0.2]}\n", true},
		{"the forwarded header", "server: {trusted_proxies: [10.0.0.1]}\n", "server: {trusted_proxies: [10.0.0.1], forwarded_header: Forwarded}\n", true},
		{"nothing", "server: {trusted_proxies: [10.0.0.1]}\n", "server: {trusted_proxies: [10.0.0.1/32], forwarded_header: x-forwarded-for}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "nightowl.yaml")
			writeConfig(t, cfg, base+tc.before)
			var logs strings.Builder
			var mu sync.Mutex
			a, err := New(context.Background(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0",
				Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelWarn})), BcryptCost: testCost, PublicTTL: -1})
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Stop(context.Background()) })
			writeConfig(t, cfg, base+tc.after)
			if err := a.Reload(context.Background()); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			warned := strings.Contains(logs.String(), "server.trusted_proxies, server.forwarded_header") &&
				strings.Contains(logs.String(), "take effect after a restart")
			if warned != tc.warn {
				t.Errorf("restart warning %v, want %v; logs:\n%s", warned, tc.warn, logs.String())
			}
		})
	}
}

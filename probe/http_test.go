package probe

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// runProbe builds the prober of s and runs it once under timeout, checking
// what every result must carry: a duration fact that matches Duration.
func runProbe(t testing.TB, clients *Clients, s Spec, timeout time.Duration) nightowl.Result {
	t.Helper()
	p, err := s.Prober(Env{Clients: clients})
	if err != nil {
		t.Fatalf("Prober: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r := p.Probe(ctx)
	d, ok := r.Facts["duration"].(float64)
	if !ok || d <= 0 {
		t.Fatalf("duration fact = %#v, want a positive float64", r.Facts["duration"])
	}
	if got := time.Duration(r.Duration).Seconds(); math.Abs(got-d) > 1e-9 {
		t.Errorf("Duration = %v, duration fact = %v", got, d)
	}
	return r
}

// checkFacts compares the named facts exactly.
func checkFacts(t *testing.T, got nightowl.Facts, want nightowl.Facts) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("fact %s missing; facts: %v", k, got)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("fact %s = %#v, want %#v", k, g, w)
		}
	}
}

func checkError(t *testing.T, r nightowl.Result, wantOK bool, wantErr string) {
	t.Helper()
	if r.OK != wantOK {
		t.Errorf("OK = %v, want %v (error %q)", r.OK, wantOK, r.Error)
	}
	if wantErr == "" && r.Error != "" || !strings.HasPrefix(r.Error, wantErr) {
		t.Errorf("Error = %q, want prefix %q", r.Error, wantErr)
	}
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "yes")
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "down for maintenance")
	})
	mux.HandleFunc("/readonly", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<p>The site is in read-only mode.</p>")
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"status": "ok", "db": {"up": true}, "queue": 3}`)
	})
	mux.HandleFunc("/json-as-text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "\n [1, 2]")
	})
	mux.HandleFunc("/json-broken", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status": `)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/stall-body", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{
			"method":        r.Method,
			"host":          r.Host,
			"authorization": r.Header.Get("Authorization"),
			"user_agent":    r.Header.Get("User-Agent"),
			"content_type":  r.Header.Get("Content-Type"),
			"x_custom":      r.Header.Get("X-Custom"),
			"body":          string(body),
		})
	})
	mux.HandleFunc("/cookies", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.Header().Add("X-Served-By", "a")
		w.Header().Add("X-Served-By", "b")
	})
	mux.HandleFunc("/credentials", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Set-Cookie", "sid=COOKIE-VALUE-1; HttpOnly")
		h.Add("Set-Cookie", "csrf=COOKIE-VALUE-2")
		h.Set("Set-Cookie2", "old=COOKIE-VALUE-3")
		h.Set("Authorization", "Bearer AUTH-VALUE")
		h.Set("X-Api-Key", "KEY-VALUE")
		h.Set("X-Auth-Token", "TOKEN-VALUE")
		h.Set("X-Session-Id", "SESSION-VALUE")
		h.Set("X-Client-Secret", "SECRET-VALUE")
		h.Set("WWW-Authenticate", `Basic realm="shop"`)
		h.Set("X-Request-Id", "req-42")
		w.WriteHeader(http.StatusUnauthorized)
	})
	mux.HandleFunc("/signed-in", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Location", "https://alice:PASS-VALUE@app.example.com/callback?code=CODE-VALUE&state=s#access_token=FRAG-VALUE")
		h.Set("Content-Location", "/docs/1?sig=SIG-VALUE")
		h.Set("Refresh", "0; url='/next?token=REFRESH-VALUE'")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/bad-location", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://[::1%zz/cb?code=CODE-VALUE")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100<<10))
	})
	return mux
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(testHandler())
	defer srv.Close()
	clients := NewClients()
	refused := closedAddr(t)
	no := false

	tests := []struct {
		name    string
		spec    HTTP
		timeout time.Duration
		wantOK  bool
		wantErr string // prefix; "" for none
		want    nightowl.Facts
		check   func(t *testing.T, f nightowl.Facts)
	}{
		{
			name:   "ok",
			spec:   HTTP{URL: "/ok"},
			wantOK: true,
			want:   nightowl.Facts{"status": 200, "body": "hello", "json": nil, "cert_days_left": nil},
			check: func(t *testing.T, f nightowl.Facts) {
				h := f["headers"].(map[string]any)
				if h["x-test"] != "yes" || h["content-length"] != "5" {
					t.Errorf("headers = %v", h)
				}
			},
		},
		{
			name:   "503 is a successful probe with status 503",
			spec:   HTTP{URL: "/unavailable"},
			wantOK: true,
			want:   nightowl.Facts{"status": 503, "body": "down for maintenance"},
		},
		{
			name:   "read-only mode in the body",
			spec:   HTTP{URL: "/readonly"},
			wantOK: true,
			want:   nightowl.Facts{"status": 200, "body": "<p>The site is in read-only mode.</p>", "json": nil},
		},
		{
			name:   "json by content type",
			spec:   HTTP{URL: "/json"},
			wantOK: true,
			want: nightowl.Facts{"json": map[string]any{
				"status": "ok", "db": map[string]any{"up": true}, "queue": 3.0,
			}},
		},
		{
			name:   "json array in a text body",
			spec:   HTTP{URL: "/json-as-text"},
			wantOK: true,
			want:   nightowl.Facts{"json": []any{1.0, 2.0}},
		},
		{
			name:   "broken json is nil",
			spec:   HTTP{URL: "/json-broken"},
			wantOK: true,
			want:   nightowl.Facts{"status": 200, "json": nil, "body": `{"status": `},
		},
		{
			name:   "redirect followed by default",
			spec:   HTTP{URL: "/redirect"},
			wantOK: true,
			want:   nightowl.Facts{"status": 200, "body": "hello"},
		},
		{
			name:   "redirect not followed",
			spec:   HTTP{URL: "/redirect", FollowRedirects: &no},
			wantOK: true,
			want:   nightowl.Facts{"status": 302},
			check: func(t *testing.T, f nightowl.Facts) {
				if loc := f["headers"].(map[string]any)["location"]; loc != "/ok" {
					t.Errorf("location = %v, want /ok", loc)
				}
			},
		},
		{
			name:    "redirect loop",
			spec:    HTTP{URL: "/loop"},
			wantErr: "http request: stopped after 10 redirects",
			want:    nightowl.Facts{"status": 302},
			check: func(t *testing.T, f nightowl.Facts) {
				if loc := f["headers"].(map[string]any)["location"]; loc != "/loop" {
					t.Errorf("location = %v, want /loop", loc)
				}
			},
		},
		{
			name:    "slow server times out",
			spec:    HTTP{URL: "/slow"},
			timeout: 300 * time.Millisecond,
			wantErr: "http request timed out after 300ms",
			want:    nightowl.Facts{"status": nil, "body": nil, "headers": nil},
			check: func(t *testing.T, f nightowl.Facts) {
				if d := f["duration"].(float64); d < 0.3 || d > 2 {
					t.Errorf("duration = %v, want about 0.3", d)
				}
			},
		},
		{
			name:    "body that stalls keeps what arrived",
			spec:    HTTP{URL: "/stall-body"},
			timeout: 300 * time.Millisecond,
			wantErr: "read body: timed out after 300ms",
			want:    nightowl.Facts{"status": 200, "body": "partial"},
		},
		{
			name:   "basic auth arrives",
			spec:   HTTP{URL: "/echo", BasicAuth: &BasicAuth{Username: "alice", Password: "s3cret"}},
			wantOK: true,
			check: func(t *testing.T, f nightowl.Facts) {
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
				if got := f["json"].(map[string]any)["authorization"]; got != want {
					t.Errorf("authorization = %v, want %v", got, want)
				}
			},
		},
		{
			name:   "bearer token arrives",
			spec:   HTTP{URL: "/echo", BearerToken: "tok123"},
			wantOK: true,
			check: func(t *testing.T, f nightowl.Facts) {
				if got := f["json"].(map[string]any)["authorization"]; got != "Bearer tok123" {
					t.Errorf("authorization = %v", got)
				}
			},
		},
		{
			name:   "default user agent",
			spec:   HTTP{URL: "/echo"},
			wantOK: true,
			check: func(t *testing.T, f nightowl.Facts) {
				j := f["json"].(map[string]any)
				if ua := j["user_agent"].(string); ua != userAgent || !strings.HasPrefix(ua, "nightowl/") {
					t.Errorf("user agent = %q", ua)
				}
				if j["method"] != "GET" || j["body"] != "" {
					t.Errorf("method, body = %v, %q", j["method"], j["body"])
				}
			},
		},
		{
			name:   "user agent and host from headers",
			spec:   HTTP{URL: "/echo", Headers: map[string]string{"user-agent": "probe-test", "Host": "example.test"}},
			wantOK: true,
			check: func(t *testing.T, f nightowl.Facts) {
				j := f["json"].(map[string]any)
				if j["user_agent"] != "probe-test" || j["host"] != "example.test" {
					t.Errorf("user agent, host = %v, %v", j["user_agent"], j["host"])
				}
			},
		},
		{
			name: "post body and headers arrive",
			spec: HTTP{URL: "/echo", Method: "POST", Body: `{"a": 1}`,
				Headers: map[string]string{"Content-Type": "application/json", "X-Custom": "v1"}},
			wantOK: true,
			want: nightowl.Facts{"json": map[string]any{
				"method": "POST", "host": strings.TrimPrefix(srv.URL, "http://"), "authorization": "",
				"user_agent": userAgent, "content_type": "application/json", "x_custom": "v1", "body": `{"a": 1}`,
			}},
		},
		{
			name:   "repeated headers are joined",
			spec:   HTTP{URL: "/cookies"},
			wantOK: true,
			check: func(t *testing.T, f nightowl.Facts) {
				if got := f["headers"].(map[string]any)["x-served-by"]; got != "a, b" {
					t.Errorf("x-served-by = %q", got)
				}
			},
		},
		{
			name:   "credentials in headers are redacted",
			spec:   HTTP{URL: "/credentials"},
			wantOK: true,
			check: func(t *testing.T, f nightowl.Facts) {
				h := f["headers"].(map[string]any)
				for _, name := range []string{"set-cookie", "set-cookie2", "authorization", "x-api-key", "x-auth-token",
					"x-session-id", "x-client-secret"} {
					if h[name] != Redacted {
						t.Errorf("%s = %q, want %q", name, h[name], Redacted)
					}
				}
				if h["www-authenticate"] != `Basic realm="shop"` || h["x-request-id"] != "req-42" {
					t.Errorf("headers without credentials: %v", h)
				}
				if s := fmt.Sprint(f); strings.Contains(s, "-VALUE") {
					t.Errorf("the facts carry a credential: %s", s)
				}
			},
		},
		{
			name:   "keep_headers keeps the headers it names",
			spec:   HTTP{URL: "/credentials", KeepHeaders: []string{"x-session-ID"}},
			wantOK: true,
			check: func(t *testing.T, f nightowl.Facts) {
				h := f["headers"].(map[string]any)
				if h["x-session-id"] != "SESSION-VALUE" || h["set-cookie"] != Redacted {
					t.Errorf("headers: %v", h)
				}
			},
		},
		{
			name:   "the query, fragment and user of a redirect's URLs are redacted",
			spec:   HTTP{URL: "/signed-in", FollowRedirects: &no},
			wantOK: true,
			check: func(t *testing.T, f nightowl.Facts) {
				h := f["headers"].(map[string]any)
				want := map[string]any{
					"location":         "https://[redacted]@app.example.com/callback?[redacted]#[redacted]",
					"content-location": "/docs/1?[redacted]",
					"refresh":          "0; url='/next?[redacted]'",
				}
				for k, v := range want {
					if h[k] != v {
						t.Errorf("%s = %q, want %q", k, h[k], v)
					}
				}
				if s := fmt.Sprint(f); strings.Contains(s, "-VALUE") {
					t.Errorf("the facts carry a credential: %s", s)
				}
			},
		},
		{
			name:   "keep_headers keeps a redirect's URL whole",
			spec:   HTTP{URL: "/signed-in", FollowRedirects: &no, KeepHeaders: []string{"Location"}},
			wantOK: true,
			check: func(t *testing.T, f nightowl.Facts) {
				h := f["headers"].(map[string]any)
				if !strings.HasSuffix(fmt.Sprint(h["location"]), "?code=CODE-VALUE&state=s#access_token=FRAG-VALUE") ||
					h["content-location"] != "/docs/1?[redacted]" {
					t.Errorf("headers: %v", h)
				}
			},
		},
		{
			name:    "a Location that is not a URL stays out of the error",
			spec:    HTTP{URL: "/bad-location"},
			wantErr: "http request: the server redirected to a Location that is not a valid URL",
			check: func(t *testing.T, f nightowl.Facts) {
				if s := fmt.Sprint(f); strings.Contains(s, "-VALUE") {
					t.Errorf("the facts carry a credential: %s", s)
				}
			},
		},
		{
			name:   "body is cut at 64 KiB",
			spec:   HTTP{URL: "/big"},
			wantOK: true,
			want:   nightowl.Facts{"body": strings.Repeat("x", 64<<10)},
		},
		{
			name:   "head has an empty body",
			spec:   HTTP{URL: "/ok", Method: "HEAD"},
			wantOK: true,
			want:   nightowl.Facts{"status": 200, "body": ""},
		},
		{
			name:    "connection refused",
			spec:    HTTP{URL: "http://" + refused + "/"},
			wantErr: "connect " + refused + ": connection refused",
			want:    nightowl.Facts{"status": nil, "body": nil, "json": nil, "cert_days_left": nil},
		},
		{
			name:    "credentials stay out of errors",
			spec:    HTTP{URL: "http://alice:s3cret@" + refused + "/?token=abc123"},
			wantErr: "connect " + refused + ": connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			if strings.HasPrefix(spec.URL, "/") {
				spec.URL = srv.URL + spec.URL
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			r := runProbe(t, clients, &spec, timeout)
			checkError(t, r, tt.wantOK, tt.wantErr)
			if strings.Contains(r.Error, "s3cret") || strings.Contains(r.Error, "abc123") || strings.Contains(r.Error, "-VALUE") {
				t.Errorf("error leaks a credential: %q", r.Error)
			}
			checkFacts(t, r.Facts, tt.want)
			if tt.check != nil {
				tt.check(t, r.Facts)
			}
		})
	}
}

func TestHTTPS(t *testing.T) {
	ca := newTestCA(t, "nightowl test CA")
	srv := httptest.NewUnstartedServer(testHandler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{
		ca.issue(t, leafOpts{dnsNames: []string{"localhost"}, ips: localhost, expires: 30 * 24 * time.Hour}),
	}}
	// The "unknown authority" case makes the server log a handshake error.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	caFile := ca.caFile(t)
	clients := NewClients()

	tests := []struct {
		name     string
		spec     HTTP
		wantOK   bool
		wantErr  string
		wantDays float64 // 0 for a nil cert_days_left
	}{
		{"trusted through ca_file", HTTP{CAFile: caFile}, true, "", 30},
		{"unknown authority", HTTP{}, false, "verify certificate of 127.0.0.1: x509: certificate signed by unknown authority", 0},
		{"insecure_skip_verify", HTTP{InsecureSkipVerify: true}, true, "", 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.URL = srv.URL + "/ok"
			r := runProbe(t, clients, &spec, 5*time.Second)
			checkError(t, r, tt.wantOK, tt.wantErr)
			days := r.Facts["cert_days_left"]
			if tt.wantDays == 0 {
				if days != nil {
					t.Errorf("cert_days_left = %v, want nil", days)
				}
				return
			}
			if d, ok := days.(float64); !ok || math.Abs(d-tt.wantDays) > 0.01 {
				t.Errorf("cert_days_left = %#v, want about %v", days, tt.wantDays)
			}
			checkFacts(t, r.Facts, nightowl.Facts{"status": 200, "body": "hello"})
		})
	}
}

func TestHTTPProberErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec HTTP
		want string
	}{
		{"missing ca_file", HTTP{URL: "https://example.test/", CAFile: filepath.Join(dir, "nope.pem")}, "read ca_file: open " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{"ca_file without certificates", HTTP{URL: "https://example.test/", CAFile: notPEM}, "ca_file " + notPEM + ": no PEM certificates found"},
		{"bad url keeps it to itself", HTTP{URL: "http://alice:s3cret@exa mple/"}, "url: not a valid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.spec.Prober(Env{})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Prober() = %v, %v; want error %q", p, err, tt.want)
			}
		})
	}
}

// TestHTTPConnectionReuse checks that bodies are drained so that runs, also
// of different checks, share one keep-alive connection.
func TestHTTPConnectionReuse(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(testHandler())
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	clients := NewClients()
	for i, path := range []string{"/ok", "/big", "/json", "/big", "/unavailable", "/ok"} {
		r := runProbe(t, clients, &HTTP{URL: srv.URL + path}, 5*time.Second)
		if !r.OK {
			t.Fatalf("run %d (%s): %s", i, path, r.Error)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 6 runs, want 1", n)
	}
}

func TestClientsShareTransports(t *testing.T) {
	ca := newTestCA(t, "shared CA")
	file1, file2 := ca.caFile(t), ca.caFile(t)
	yes, no := true, false
	clients := NewClients()
	client := func(h HTTP) *http.Client {
		h.URL = "https://example.test/"
		p, err := h.Prober(Env{Clients: clients})
		if err != nil {
			t.Fatal(err)
		}
		return p.(*httpProber).client
	}
	tests := []struct {
		name  string
		a, b  HTTP
		share bool
	}{
		{"same settings", HTTP{Headers: map[string]string{"X": "1"}}, HTTP{Method: "POST"}, true},
		{"same ca content in two files", HTTP{CAFile: file1}, HTTP{CAFile: file2}, true},
		{"explicit follow_redirects is the default", HTTP{FollowRedirects: &yes}, HTTP{}, true},
		{"follow_redirects differs", HTTP{FollowRedirects: &no}, HTTP{}, false},
		{"insecure differs", HTTP{InsecureSkipVerify: true}, HTTP{}, false},
		{"ca_file differs", HTTP{CAFile: file1}, HTTP{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := client(tt.a) == client(tt.b); got != tt.share {
				t.Errorf("shared = %v, want %v", got, tt.share)
			}
		})
	}
	t.Run("no-follow client shares the transport", func(t *testing.T) {
		if client(HTTP{FollowRedirects: &no}).Transport != client(HTTP{}).Transport {
			t.Error("two transports for one TLS setting")
		}
	})
	t.Run("nil Clients works", func(t *testing.T) {
		srv := httptest.NewServer(testHandler())
		defer srv.Close()
		r := runProbe(t, nil, &HTTP{URL: srv.URL + "/ok"}, 5*time.Second)
		checkError(t, r, true, "")
		checkFacts(t, r.Facts, nightowl.Facts{"status": 200})
	})
}

func BenchmarkHTTPProbe(b *testing.B) {
	srv := httptest.NewServer(testHandler())
	defer srv.Close()
	p, err := (&HTTP{URL: srv.URL + "/json"}).Prober(Env{Clients: NewClients()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if r := p.Probe(ctx); !r.OK {
			b.Fatal(r.Error)
		}
	}
}

// TestRedactURLHeaders: the URL in a Location, Content-Location or Refresh
// header keeps its scheme, host and path, for assertions on redirects, and
// loses its user, query and fragment, where sign-in codes and magic-link
// tokens ride.
func TestRedactURLHeaders(t *testing.T) {
	for _, tc := range []struct{ name, header, in, want string }{
		{"absolute", "Location", "https://example.com/", "https://example.com/"},
		{"relative", "Location", "/login", "/login"},
		{"a query", "Location", "https://app.example.com/cb?code=SECRET&state=x", "https://app.example.com/cb?[redacted]"},
		{"an empty query", "Location", "/cb?", "/cb?[redacted]"},
		{"a fragment", "Location", "/cb#access_token=SECRET", "/cb#[redacted]"},
		{"user and password", "Location", "ftp://bob:SECRET@files.example.com/a", "ftp://[redacted]@files.example.com/a"},
		{"scheme-relative", "Location", "//cdn.example.com/x?sig=SECRET", "//cdn.example.com/x?[redacted]"},
		{"an escaped path", "Location", "/a%20b/c?x=SECRET", "/a%20b/c?[redacted]"},
		{"opaque", "Location", "mailto:ops@example.com?subject=SECRET", "mailto:[redacted]"},
		{"not a URL", "Location", "http://[::1%zz/?code=SECRET", "[redacted]"},
		{"content-location", "Content-Location", "/doc?sig=SECRET", "/doc?[redacted]"},
		{"refresh, a delay alone", "Refresh", "30", "30"},
		{"refresh with url=", "Refresh", "5; url=https://example.com/next?token=SECRET", "5; url=https://example.com/next?[redacted]"},
		{"refresh, quoted", "Refresh", `0;URL="/next?token=SECRET"`, `0;URL="/next?[redacted]"`},
		{"refresh without url=", "Refresh", "0, /next?token=SECRET", "0, /next?[redacted]"},
		{"refresh without a separator", "Refresh", "3 url=/next?token=SECRET", "3 url=/next?[redacted]"},
		{"refresh, text after the quote", "Refresh", "0; url='/next' ?token=SECRET", "0; url='/next' [redacted]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(tc.header, tc.in)
			got := headerFacts(h, nil)[strings.ToLower(tc.header)]
			if got != tc.want {
				t.Errorf("%s: %q = %q, want %q", tc.header, tc.in, got, tc.want)
			}
			if kept := headerFacts(h, map[string]bool{strings.ToLower(tc.header): true})[strings.ToLower(tc.header)]; kept != tc.in {
				t.Errorf("kept: %q, want %q", kept, tc.in)
			}
		})
	}
}

// FuzzRedactURLHeaders: whatever a server sends in Location or Refresh,
// redacting it does not panic, and every "?" and "#" left is followed by
// nothing but what Redacted put there: no query or fragment survives.
func FuzzRedactURLHeaders(f *testing.F) {
	for _, s := range []string{"", "/", "https://a.example/b?c=d#e", "//h/p?q", "mailto:x?y", "0; url='/n?t=1'",
		"5, \"/x?y\" ?z", "http://[::1%zz/?code=x", "a:b@c/?#", "3 URL = /n?x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{redactURL(s), redactRefresh(s)} {
			rest := out
			for {
				i := strings.IndexAny(rest, "?#")
				if i < 0 {
					break
				}
				if !strings.HasPrefix(rest[i+1:], Redacted) {
					t.Fatalf("%q redacted as %q: a query or fragment is left", s, out)
				}
				rest = rest[i+1+len(Redacted):]
			}
		}
	})
}

// TestKeepHeadersTakesURLHeaders: keep_headers may name the headers whose
// URLs are redacted, and still refuses those kept whole anyway.
func TestKeepHeadersTakesURLHeaders(t *testing.T) {
	h := HTTP{URL: "https://example.com/", Method: "GET", KeepHeaders: []string{"Location", "content-location", "Refresh"}}
	if errs := h.Validate(); len(errs) != 0 {
		t.Errorf("Validate() = %v", errs)
	}
	h.KeepHeaders = []string{"Link"}
	if errs := h.Validate(); len(errs) != 1 || !strings.Contains(errs[0].Message, "Link is kept anyway") {
		t.Errorf("Validate() = %v", errs)
	}
}

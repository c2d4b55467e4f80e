package kit

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

func TestRedact(t *testing.T) {
	const hook = "https://hooks.example.com/services/T0/B0/s3cr3t?token=q-s3cr3t"
	base := errors.New(`receiver answered 404 Not Found: Cannot POST /services/T0/B0/s3cr3t?token=q-s3cr3t (key k3y-value)`)
	err := Redact(&RetryAfterError{After: time.Minute, Err: base}, hook, "k3y-value", "")
	want := "receiver answered 404 Not Found: Cannot POST [redacted]?[redacted] (key [redacted])"
	if err.Error() != want {
		t.Errorf("Redact = %q, want %q", err, want)
	}
	if d := RetryAfter(err); d != time.Minute {
		t.Errorf("RetryAfter = %v, want 1m", d)
	}
	// A URL with a short path does not blank every slash.
	plain := errors.New("send: a/b/c")
	if got := Redact(plain, "https://example.com/"); got != plain {
		t.Errorf("Redact changed an error holding no secret: %v", got)
	}
	if Redact(nil, "x") != nil {
		t.Error("Redact(nil) is not nil")
	}
}

func TestValidateTemplates(t *testing.T) {
	if errs := ValidateTemplates(Templates{Title: "{{.Alert.Labels.missing}}"}); len(errs) != 0 {
		t.Errorf("a label the sample lacks: %v", errs)
	}
	errs := ValidateTemplates(Templates{Title: "{{.Alert.Nope}}", Text: "{{"})
	if len(errs) != 2 || errs[0].Key != "title_template" || errs[1].Key != "text_template" {
		t.Fatalf("errors = %v", errs)
	}
	for _, e := range errs {
		if e.Message == "" || e.Message[:9] == "title_tem" || e.Message[:9] == "text_temp" {
			t.Errorf("%s: message %q", e.Key, e.Message)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, tt := range []struct{ name, url, want string }{
		{"https", "https://hooks.example.com/x?token=1", ""},
		{"http with a port", "http://127.0.0.1:8080/", ""},
		{"empty", "", "required"},
		{"another scheme", "ftp://example.com/x", `scheme must be "http" or "https"`},
		{"no host", "https:///x", "has no host"},
		{"relative", "/x", `scheme must be "http" or "https"`},
		{"does not parse", "https://exa mple.com/x", "not a valid URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckURL(tt.url); got != tt.want {
				t.Errorf("CheckURL(%q) = %q, want %q", tt.url, got, tt.want)
			}
			errs := ValidateURL("url", tt.url)
			if (tt.want == "") != (len(errs) == 0) || len(errs) > 0 && (errs[0].Key != "url" || errs[0].Message != tt.want) {
				t.Errorf("ValidateURL = %v, want %q under url", errs, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in    string
		limit int
		want  string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"éééé", 3, "éé…"},
		{"abc", 1, "…"},
		{"abc", 0, ""},
	} {
		if got := Truncate(tt.in, tt.limit); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}

func TestSmallPrint(t *testing.T) {
	m := &nightowl.Message{Alert: nightowl.Alert{ID: "a1", Severity: nightowl.SeverityCritical,
		Labels: map[string]string{"tier": "web", "site": "math"}}}
	if got, want := SmallPrint(m), "alert a1 · critical · site=math tier=web"; got != want {
		t.Errorf("SmallPrint = %q, want %q", got, want)
	}
	if got, want := SmallPrint(&nightowl.Message{Alert: nightowl.Alert{ID: "a1"}}), "alert a1"; got != want {
		t.Errorf("SmallPrint = %q, want %q", got, want)
	}
}

func TestHTTPClient(t *testing.T) {
	c := NewHTTPClient()
	if c.Timeout != 0 {
		t.Errorf("NewHTTPClient has an overall timeout of %v: the sender's deadline is the one that counts", c.Timeout)
	}
	if c.Transport == http.DefaultTransport || c.Transport == nil {
		t.Error("NewHTTPClient shares the default transport")
	}
	if got := (Deps{Client: c}).HTTPClient(); got != c {
		t.Error("HTTPClient does not return Deps.Client")
	}
	if got := (Deps{}).HTTPClient(); got == nil || got.Timeout != 0 {
		t.Errorf("HTTPClient without a client = %+v", got)
	}
	(Deps{}).Log().Info("discarded")
}

func TestRendererJSON(t *testing.T) {
	r, err := NewRenderer(Templates{Title: "{{.Alert.Check}} < 2", Text: "t"})
	if err != nil {
		t.Fatal(err)
	}
	m := sample
	b, err := r.JSON(&m)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasSuffix(s, "}\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("JSON is not one line ending in a newline: %q", s)
	}
	for _, want := range []string{`"id":"sample"`, `"title":"sample-check < 2"`, `"text":"t"`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s: %s", want, s)
		}
	}
}

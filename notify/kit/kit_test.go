package kit

import (
	"errors"
	"testing"
	"time"
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

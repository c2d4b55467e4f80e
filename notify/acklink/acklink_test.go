package acklink

import (
	"bytes"
	"net/url"
	"testing"
	"time"
)

func TestLinks(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	s, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 18, 1, 28, 0, 0, time.UTC)
	q, _ := url.ParseQuery(s.Query("a1b2c3", now.Add(24*time.Hour)))
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	oq, _ := url.ParseQuery(other.Query("a1b2c3", now.Add(24*time.Hour)))
	stretched, _ := url.ParseQuery(q.Encode())
	stretched.Set("exp", "9999999999")

	tests := []struct {
		name  string
		alert string
		q     url.Values
		at    time.Time
		want  error
	}{
		{"valid", "a1b2c3", q, now, nil},
		{"valid until the last second", "a1b2c3", q, now.Add(24 * time.Hour), nil},
		{"expired", "a1b2c3", q, now.Add(24*time.Hour + time.Second), ErrExpired},
		{"another alert", "a1b2c4", q, now, ErrForged},
		{"another key", "a1b2c3", oq, now, ErrForged},
		{"expiry stretched", "a1b2c3", stretched, now, ErrForged},
		{"no signature", "a1b2c3", url.Values{"exp": q["exp"]}, now, ErrForged},
		{"no expiry", "a1b2c3", url.Values{"sig": q["sig"]}, now, ErrForged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Verify(tt.alert, tt.q, tt.at); err != tt.want {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := New(make([]byte, 16)); err == nil {
		t.Error("a 128-bit key was accepted")
	}
}

package web

import (
	"fmt"
	"testing"
	"time"
)

// TestBucketsFullOfKeys: once the most keys are held, a flood of fresh
// keys does not make new clients share one spent bucket: each new key gets
// a bucket of its own in place of the one used least recently.
func TestBucketsFullOfKeys(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := newBuckets(1, time.Minute, 3)
	for i := range 50 {
		if _, ok := b.take(fmt.Sprint("flood-", i), now); !ok {
			t.Fatalf("fresh key %d refused: it shares a spent bucket", i)
		}
	}
	if _, ok := b.take("you", now); !ok {
		t.Fatal("a client after the flood was refused")
	}
	if _, ok := b.take("you", now); ok {
		t.Fatal("a key's own limit no longer holds")
	}
	if len(b.keys) != 3 || b.lru.Len() != 3 {
		t.Fatalf("%d keys, %d in the list; want 3", len(b.keys), b.lru.Len())
	}
}

// TestAckLinkLimitPer64: posts of ack links from the addresses of one IPv6
// /64 share one limit; another /64 has its own.
func TestAckLinkLimitPer64(t *testing.T) {
	clock := &stillClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	f := &linkAlerter{acked: map[string]string{}}
	h := Handler(Options{Alerter: f, Clock: clock})
	for i := range ackAddrBurst {
		if w := postAck(h, fmt.Sprintf("v%d", i), fmt.Sprintf("[2001:db8:1:2::%x]", i+1), ""); w.Code != 200 {
			t.Fatalf("post %d: %d %s", i, w.Code, w.Body)
		}
	}
	if w := postAck(h, "v-next", "[2001:db8:1:2:ffff::1]", ""); w.Code != 429 {
		t.Fatalf("another address of the same /64: %d %s", w.Code, w.Body)
	}
	if w := postAck(h, "v-next", "[2001:db8:1:3::1]", ""); w.Code != 200 {
		t.Fatalf("another /64: %d %s", w.Code, w.Body)
	}
}

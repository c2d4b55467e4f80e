package web

import (
	"fmt"
	"testing"
	"time"
)

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

package audited

import (
	"context"
	"testing"

	"github.com/nightowl/nightowl"
)

// entries is an audit log in memory.
type entries []nightowl.AuditEntry

func (e *entries) Audit(_ context.Context, en nightowl.AuditEntry) error {
	*e = append(*e, en)
	return nil
}

type fakeAcker struct{ acked map[string]bool }

func (f fakeAcker) Ack(_ context.Context, id, by string) (nightowl.Alert, bool, error) {
	if f.acked[id] {
		return nightowl.Alert{ID: id, Check: "shop", AckedBy: "earlier"}, false, nil
	}
	f.acked[id] = true
	return nightowl.Alert{ID: id, Check: "shop", AckedBy: by}, true, nil
}

// TestAckRecordedOnce: only the acknowledgement that changed the alert is
// recorded; repeating it is no news.
func TestAckRecordedOnce(t *testing.T) {
	var log entries
	s := Acks{Acker: fakeAcker{acked: map[string]bool{}}, Recorder: &log}
	for range 2 {
		if _, _, err := s.Ack(t.Context(), "a-1", "ana"); err != nil {
			t.Fatal(err)
		}
	}
	if len(log) != 1 || log[0].Actor != "ana" || log[0].Action != "alert.ack" || log[0].Subject != "a-1" || log[0].Detail != "check shop" {
		t.Fatalf("recorded %+v, want one ack of a-1 by ana", log)
	}
}

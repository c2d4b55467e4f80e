package checkstore

import (
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

// WriteStats follow a writer through a write that fails, is put back and
// then lands: what waits keeps the time of its oldest save until written,
// and every write is counted with the time it took.
func TestWriteStats(t *testing.T) {
	t0 := time.Date(2026, 3, 17, 22, 0, 0, 0, time.UTC)
	now := t0
	q := New(Options{Now: func() time.Time { return now }})

	if st := q.WriteStats(); !st.OldestUnwritten.IsZero() || st.Queued != 0 || st.Writes+st.Failed != 0 {
		t.Fatalf("empty queue: %+v", st)
	}
	// Nothing to write is no write.
	q.Recycle(q.Take(true))
	if st := q.WriteStats(); st.Writes != 0 {
		t.Fatalf("an empty batch counted as a write: %+v", st)
	}

	q.SaveResult(nightowl.Result{Check: "a", Start: t0})
	now = t0.Add(time.Second)
	q.SaveState(nightowl.State{Check: "a"})
	q.SaveResult(nightowl.Result{Check: "a", Start: now})
	st := q.WriteStats()
	if st.Queued != 2 || !st.OldestUnwritten.Equal(t0) {
		t.Fatalf("two results queued since t0: %+v", st)
	}

	// The writer takes the batch; what is saved meanwhile is younger.
	now = t0.Add(2 * time.Second)
	b := q.Take(true)
	now = t0.Add(3 * time.Second)
	q.SaveResult(nightowl.Result{Check: "b", Start: now})
	if st := q.WriteStats(); st.Queued != 1 || !st.OldestUnwritten.Equal(t0) {
		t.Fatalf("while the batch of t0 is written: %+v", st)
	}
	// The write fails after 30 ms: the batch goes back, still of t0.
	now = now.Add(30 * time.Millisecond)
	q.Requeue(b)
	st = q.WriteStats()
	if st.Failed != 1 || st.Writes != 0 || st.Queued != 3 || !st.OldestUnwritten.Equal(t0) {
		t.Fatalf("after a failed write: %+v", st)
	}
	if st.TookTotal != 1030*time.Millisecond {
		t.Errorf("took %v in all, want 1.03s (taken at 2s, put back at 3.03s)", st.TookTotal)
	}

	// The next write lands in 4 ms: nothing is left unwritten.
	b = q.Take(true)
	now = now.Add(4 * time.Millisecond)
	q.Recycle(b)
	st = q.WriteStats()
	if st.Writes != 1 || st.Failed != 1 || st.Queued != 0 || !st.OldestUnwritten.IsZero() {
		t.Fatalf("after the write landed: %+v", st)
	}
	want := [len(WriteBounds) + 1]int64{}
	want[1] = 1 // 4 ms: within 5 ms
	want[9] = 1 // 1.03 s: within 2.5 s
	if st.Took != want {
		t.Errorf("writes by time taken %v, want %v (bounds %v)", st.Took, want, WriteBounds)
	}

	// A ping or a heartbeat state waits like a result.
	now = now.Add(time.Minute)
	at := now
	q.SavePing(nightowl.Ping{Check: "hb"})
	q.SaveHeartbeat(nightowl.Heartbeat{Check: "hb"})
	if st := q.WriteStats(); !st.OldestUnwritten.Equal(at) {
		t.Fatalf("a ping waits since %v, want %v", st.OldestUnwritten, at)
	}
}

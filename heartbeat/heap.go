package heartbeat

// deadline is one entry of the tracker's heap: the next moment at which a
// check's facts change by themselves (it becomes late, overdue, or a started
// run outlives its grace).
type deadline struct {
	at int64 // unix nanoseconds
	c  *check
}

// deadlines is a binary min-heap on at. Each check has at most one entry and
// knows its position (check.idx), so a ping that moves a deadline fixes the
// entry in place instead of leaving a stale one behind: a worker that pings
// every ten seconds against a one-hour period would otherwise pile up hundreds
// of dead entries. It is typed rather than built on container/heap so that a
// push does not box the entry in an interface (one allocation per ping).
// Every method must be called with Tracker.heapMu held.
type deadlines []deadline

func (q deadlines) less(i, j int) bool { return q[i].at < q[j].at }

func (q deadlines) swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].c.idx = int32(i)
	q[j].c.idx = int32(j)
}

func (q *deadlines) push(d deadline) {
	*q = append(*q, d)
	i := len(*q) - 1
	d.c.idx = int32(i)
	q.up(i)
}

// pop removes the earliest entry.
func (q *deadlines) pop() deadline {
	h := *q
	n := len(h) - 1
	h.swap(0, n)
	h.down(0, n)
	d := h[n]
	h[n] = deadline{} // drop the pointer so a removed check can be collected
	*q = h[:n]
	d.c.idx = -1
	return d
}

// remove takes entry i out of the heap.
func (q *deadlines) remove(i int) {
	h := *q
	n := len(h) - 1
	d := h[i]
	if i != n {
		h.swap(i, n)
		if !h.down(i, n) {
			h.up(i)
		}
	}
	h[n] = deadline{}
	*q = h[:n]
	d.c.idx = -1
}

// fix restores the heap after entry i's time changed.
func (q deadlines) fix(i int) {
	if !q.down(i, len(q)) {
		q.up(i)
	}
}

func (q deadlines) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !q.less(j, i) {
			break
		}
		q.swap(i, j)
		j = i
	}
}

// down sifts entry i0 down among the first n entries and reports whether it
// moved.
func (q deadlines) down(i0, n int) bool {
	i := i0
	for {
		l := 2*i + 1
		if l >= n || l < 0 {
			break
		}
		j := l
		if r := l + 1; r < n && q.less(r, l) {
			j = r
		}
		if !q.less(j, i) {
			break
		}
		q.swap(i, j)
		i = j
	}
	return i > i0
}

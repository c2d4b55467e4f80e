package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
)

// checksWriter writes one batch within one transaction. Rows go in order of
// check id (and key), so that two nodes writing the same checks take their
// locks in the same order rather than deadlock.
type checksWriter struct {
	s   *Store
	ctx context.Context
	tx  pgx.Tx
	ids map[string]int64 // check name to checks.id, for this transaction
	// refused holds the heartbeat states not written because another
	// check holds their token.
	refused []nightowl.Heartbeat
}

func (w *checksWriter) batch(b checkstore.Batch) error {
	names := make([]string, 0, len(b.States)+len(b.Heartbeats))
	for _, r := range b.Results {
		names = append(names, r.Check)
	}
	for k := range b.Aggs {
		names = append(names, k.Check)
	}
	for _, p := range b.Pings {
		names = append(names, p.Check)
	}
	for name := range b.Heartbeats {
		names = append(names, name)
	}
	if err := w.resolve(names, b.States); err != nil {
		return fmt.Errorf("add checks: %w", err)
	}
	return b.Write(w)
}

// resolve finds the ids of the named checks, and of the checks of states,
// adding those that are new. The ids are looked up in every transaction
// rather than cached: another node may forget a check, and its id with it,
// at any time. FOR KEY SHARE keeps a concurrent Forget from deleting them
// before this transaction commits.
func (w *checksWriter) resolve(names []string, states map[string]nightowl.State) error {
	set := make(map[string]bool, len(names)+len(states))
	for _, n := range names {
		set[n] = true
	}
	for n := range states {
		set[n] = true
	}
	all := slices.Sorted(maps.Keys(set))
	w.ids = make(map[string]int64, len(all))
	if len(all) == 0 {
		return nil
	}
	var b pgx.Batch
	// NOT EXISTS spares the identity values that ON CONFLICT would draw,
	// and throw away, for every check already there, every flush.
	b.Queue(`INSERT INTO checks (name) SELECT n FROM unnest($1::text[]) AS u(n)
		WHERE NOT EXISTS (SELECT 1 FROM checks c WHERE c.name = u.n) ORDER BY n
		ON CONFLICT (name) DO NOTHING`, all)
	b.Queue(`SELECT id, name FROM checks WHERE name = ANY($1) FOR KEY SHARE`, all).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				return err
			}
			w.ids[name] = id
		}
		return rows.Err()
	})
	if err := w.tx.SendBatch(w.ctx, &b).Close(); err != nil {
		return err
	}
	if len(w.ids) != len(all) {
		// Forgotten by another node between the insert and the select:
		// the batch is tried again with the next flush.
		return errors.New("a check was forgotten while being written")
	}
	return nil
}

// checksTime stores a time; the zero time, which has none, is NULL.
func checksTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (w *checksWriter) States(states map[string]nightowl.State) error {
	if len(states) == 0 {
		return nil
	}
	n := len(states)
	var (
		ids                    = make([]int64, 0, n)
		status, pending, cause = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		blockedBy, underlying  = make([]string, 0, n), make([]string, 0, n)
		since, lastRun         = make([]*time.Time, 0, n), make([]*time.Time, 0, n)
		streak                 = make([]int32, 0, n)
		runs, fails            = make([]int64, 0, n), make([]int64, 0, n)
	)
	for _, st := range w.sortedStates(states) {
		ids = append(ids, w.ids[st.Check])
		status = append(status, string(st.Status))
		since = append(since, checksTime(st.Since))
		pending = append(pending, string(st.Pending))
		streak = append(streak, int32(st.Streak))
		lastRun = append(lastRun, checksTime(st.LastRun))
		cause = append(cause, st.Cause)
		blockedBy = append(blockedBy, st.BlockedBy)
		underlying = append(underlying, string(st.Underlying))
		runs = append(runs, st.Runs)
		fails = append(fails, st.Fails)
	}
	_, err := w.tx.Exec(w.ctx, `INSERT INTO states
		(check_id, status, since, pending, streak, last_run, cause, blocked_by, underlying, runs, failures)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::integer[],
			$6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[])
		ON CONFLICT (check_id) DO UPDATE SET
		status = excluded.status, since = excluded.since, pending = excluded.pending,
		streak = excluded.streak, last_run = excluded.last_run, cause = excluded.cause,
		blocked_by = excluded.blocked_by, underlying = excluded.underlying,
		runs = excluded.runs, failures = excluded.failures`,
		ids, status, since, pending, streak, lastRun, cause, blockedBy, underlying, runs, fails)
	return err
}

func (w *checksWriter) sortedStates(states map[string]nightowl.State) []nightowl.State {
	out := slices.Collect(maps.Values(states))
	slices.SortFunc(out, func(a, b nightowl.State) int { return cmp.Compare(w.ids[a.Check], w.ids[b.Check]) })
	return out
}

// checksNewest returns the indexes of the n items that are among the newest
// keep of their check, in order: a check with more in the batch than its
// list holds (after a stall) writes only those, the rest would be deleted
// in the same transaction.
func checksNewest(n, keep int, check func(i int) string) []int {
	left := make(map[string]int)
	for i := range n {
		left[check(i)]++
	}
	out := make([]int, 0, n)
	for i := range n {
		c := check(i)
		left[c]--
		if left[c] < keep {
			out = append(out, i)
		}
	}
	return out
}

func (w *checksWriter) Results(results []nightowl.Result) error {
	if len(results) == 0 {
		return nil
	}
	keep := checksNewest(len(results), w.s.opts.ResultsPerCheck, func(i int) string { return results[i].Check })
	rows := make([][]any, 0, len(keep))
	for _, i := range keep {
		r := results[i]
		facts, assertions, warn := checkstore.EncodeResult(r)
		if warn != nil {
			w.s.log.Warn("postgres: result not stored whole", "check", r.Check, "err", warn)
		}
		rows = append(rows, []any{w.ids[r.Check], checksTime(r.Due), checksTime(r.Start), r.OK,
			int64(time.Duration(r.Duration)), string(r.Status), r.Error, facts, assertions})
	}
	_, err := w.tx.CopyFrom(w.ctx, pgx.Identifier{"results"},
		[]string{"check_id", "due", "start", "ok", "duration_ns", "status", "error", "facts", "assertions"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return err
	}
	return w.trim("results", w.s.opts.ResultsPerCheck, len(results), func(i int) string { return results[i].Check })
}

// trim deletes what lies beyond the newest keep rows of table of each check
// among the n items of the batch. Between two nodes writing one check at
// once, the later commit trims what the earlier added; should both trim
// before either commits, the next flush of that check trims the excess, and
// readers never see more than keep.
func (w *checksWriter) trim(table string, keep, n int, check func(i int) string) error {
	set := make(map[int64]bool)
	for i := range n {
		set[w.ids[check(i)]] = true
	}
	ids := slices.Sorted(maps.Keys(set))
	_, err := w.tx.Exec(w.ctx, `DELETE FROM `+table+` t USING (
			SELECT u.id AS check_id,
				(SELECT x.id FROM `+table+` x WHERE x.check_id = u.id ORDER BY x.id DESC OFFSET $2 LIMIT 1) AS cut
			FROM unnest($1::bigint[]) AS u(id)
		) k
		WHERE t.check_id = k.check_id AND t.id <= k.cut`, ids, keep)
	return err
}

// rollups adds the aggregates of the batch to their stored rows. The
// histogram can only be merged here, not in SQL, so each row is made to
// exist, then locked and read, then written back merged: a node merging the
// same row at the same time waits for the lock, and reads what this one
// wrote.
func (w *checksWriter) Rollups(aggs map[checkstore.Key]*checkstore.Agg) error {
	if len(aggs) == 0 {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(aggs), func(a, b checkstore.Key) int {
		return cmp.Or(cmp.Compare(w.ids[a.Check], w.ids[b.Check]), cmp.Compare(a.Period, b.Period), cmp.Compare(a.Start, b.Start))
	})
	type rowKey struct {
		id            int64
		period, start int64
	}
	ids, periods, starts := make([]int64, len(keys)), make([]int32, len(keys)), make([]time.Time, len(keys))
	byRow := make(map[rowKey]*checkstore.Agg, len(keys))
	for i, k := range keys {
		ids[i], periods[i], starts[i] = w.ids[k.Check], int32(k.Period), time.Unix(k.Start, 0).UTC()
		byRow[rowKey{ids[i], k.Period, k.Start}] = aggs[k]
	}
	const unnest = `unnest($1::bigint[], $2::integer[], $3::timestamptz[]) AS u(check_id, period, start)`
	if _, err := w.tx.Exec(w.ctx, `INSERT INTO rollups (check_id, period, start, runs, failures, max_ns, hist)
		SELECT u.check_id, u.period, u.start, 0, 0, 0, $4 FROM `+unnest+`
		ORDER BY u.check_id, u.period, u.start
		ON CONFLICT DO NOTHING`, ids, periods, starts, checkstore.Hist(nil).Encode()); err != nil {
		return err
	}
	rows, err := w.tx.Query(w.ctx, `SELECT r.check_id, r.period, r.start, r.runs, r.failures, r.max_ns, r.hist
		FROM rollups r JOIN `+unnest+` ON (r.check_id, r.period, r.start) = (u.check_id, u.period, u.start)
		ORDER BY r.check_id, r.period, r.start FOR UPDATE OF r`, ids, periods, starts)
	if err != nil {
		return err
	}
	var (
		runs, failures, maxes []int64
		hists                 [][]byte
	)
	ids, periods, starts = ids[:0], periods[:0], starts[:0]
	for rows.Next() {
		var k rowKey
		var period int32
		var start time.Time
		var stored checkstore.Agg
		var blob []byte
		if err := rows.Scan(&k.id, &period, &start, &stored.Runs, &stored.Failures, &stored.Max, &blob); err != nil {
			rows.Close()
			return err
		}
		k.period, k.start = int64(period), start.Unix()
		a := byRow[k]
		if a == nil {
			continue
		}
		if stored.Hist, err = checkstore.DecodeHist(blob); err != nil {
			// A damaged row loses its percentiles, but must not stop
			// every later write: its runs, failures and max still add
			// up.
			w.s.log.Warn("postgres: replacing a damaged rollup histogram", "err", err)
			stored.Hist = nil
		}
		stored.Merge(a)
		ids, periods, starts = append(ids, k.id), append(periods, period), append(starts, start)
		runs, failures, maxes = append(runs, stored.Runs), append(failures, stored.Failures), append(maxes, stored.Max)
		hists = append(hists, stored.Hist.Encode())
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(ids) != len(keys) {
		return errors.New("rollup rows vanished while being merged")
	}
	_, err = w.tx.Exec(w.ctx, `UPDATE rollups r SET runs = v.runs, failures = v.failures, max_ns = v.max_ns, hist = v.hist
		FROM unnest($1::bigint[], $2::integer[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bytea[])
			AS v(check_id, period, start, runs, failures, max_ns, hist)
		WHERE (r.check_id, r.period, r.start) = (v.check_id, v.period, v.start)`,
		ids, periods, starts, runs, failures, maxes, hists)
	return err
}

func (w *checksWriter) Pings(pings []nightowl.Ping) error {
	if len(pings) == 0 {
		return nil
	}
	keep := checksNewest(len(pings), w.s.opts.PingsPerCheck, func(i int) string { return pings[i].Check })
	rows := make([][]any, 0, len(keep))
	for _, i := range keep {
		p := pings[i]
		var body []byte
		if p.Body != "" {
			body = []byte(p.Body)
		}
		rows = append(rows, []any{w.ids[p.Check], p.Time, string(p.Kind), checksInt(p.ExitCode), p.RID,
			checksDuration(p.Duration), p.Method, body, p.Truncated, p.UserAgent, p.Remote})
	}
	_, err := w.tx.CopyFrom(w.ctx, pgx.Identifier{"pings"},
		[]string{"check_id", "time", "kind", "exit_code", "rid", "duration_ns", "method", "body", "truncated", "user_agent", "remote"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return err
	}
	return w.trim("pings", w.s.opts.PingsPerCheck, len(pings), func(i int) string { return pings[i].Check })
}

func checksInt(p *int) *int32 {
	if p == nil {
		return nil
	}
	v := int32(*p)
	return &v
}

func checksDuration(p *nightowl.Seconds) *int64 {
	if p == nil {
		return nil
	}
	v := int64(time.Duration(*p))
	return &v
}

// upsertHeartbeats writes the heartbeat states given whose token no other
// check holds, and returns the ids of the checks written. The subquery sees
// the table as it was when the statement began, so a token that moves from
// one check to another within the batch is refused to the new holder once,
// and written by the next pass.
const upsertHeartbeats = `INSERT INTO heartbeats
	(check_id, token, last_ping, last_success, started, last_duration_ns, exit_code, failed, since)
	SELECT u.* FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[],
		$6::bigint[], $7::integer[], $8::boolean[], $9::timestamptz[])
		AS u(check_id, token, last_ping, last_success, started, last_duration_ns, exit_code, failed, since)
	WHERE u.token IS NULL
		OR NOT EXISTS (SELECT 1 FROM heartbeats h WHERE h.token = u.token AND h.check_id <> u.check_id)
	ORDER BY u.check_id
	ON CONFLICT (check_id) DO UPDATE SET
	token = excluded.token, last_ping = excluded.last_ping, last_success = excluded.last_success,
	started = excluded.started, last_duration_ns = excluded.last_duration_ns,
	exit_code = excluded.exit_code, failed = excluded.failed, since = excluded.since
	RETURNING check_id`

// heartbeats writes the latest state of each heartbeat check. A state whose
// token another check holds is left out, into w.refused, rather than
// failing the whole batch: every other check's pings and states still get
// written, and the token stays with the check that had it first.
func (w *checksWriter) Heartbeats(hbs map[string]nightowl.Heartbeat) error {
	byID := func(a, b nightowl.Heartbeat) int { return cmp.Compare(w.ids[a.Check], w.ids[b.Check]) }
	left := slices.SortedFunc(maps.Values(hbs), byID)
	// Each pass writes some of what is left, or gives up on some: left
	// shrinks every time.
	for conflicts := 0; len(left) > 0; {
		// Two checks of the batch that want the same token would fail
		// the statement: one goes now, the other waits for a later
		// pass, which finds the token taken or still free.
		var now, later []nightowl.Heartbeat
		seen := make(map[string]bool)
		for _, h := range left {
			if h.Token != "" && seen[h.Token] {
				later = append(later, h)
				continue
			}
			seen[h.Token] = true
			now = append(now, h)
		}
		written, err := w.upsertHeartbeats(now)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" && conflicts < checksAttempts {
			// Another node took one of the tokens meanwhile; the
			// next try sees it taken.
			conflicts++
			continue
		}
		if err != nil {
			return err
		}
		var notNow []nightowl.Heartbeat
		for _, h := range now {
			if !written[w.ids[h.Check]] {
				notNow = append(notNow, h)
			}
		}
		if len(written) == 0 {
			// Nothing moved, so nothing that was refused can be
			// written now.
			w.refused = append(w.refused, notNow...)
			left = later
			continue
		}
		left = append(notNow, later...)
		slices.SortFunc(left, byID)
	}
	return nil
}

// upsertHeartbeats runs upsertHeartbeats in a savepoint, so that a token
// taken by another node in the meantime fails the statement and not the
// transaction.
func (w *checksWriter) upsertHeartbeats(hbs []nightowl.Heartbeat) (map[int64]bool, error) {
	n := len(hbs)
	var (
		ids                     = make([]int64, 0, n)
		tokens, started         = make([]*string, 0, n), make([]*string, 0, n)
		lastPing, lastOK, since = make([]*time.Time, 0, n), make([]*time.Time, 0, n), make([]*time.Time, 0, n)
		durs                    = make([]*int64, 0, n)
		codes                   = make([]*int32, 0, n)
		failed                  = make([]bool, 0, n)
	)
	for _, h := range hbs {
		var tok *string
		if h.Token != "" {
			tok = &h.Token
		}
		st, err := checkstore.EncodeStarted(h)
		if err != nil {
			return nil, err
		}
		ids = append(ids, w.ids[h.Check])
		tokens, started = append(tokens, tok), append(started, st)
		lastPing, lastOK, since = append(lastPing, checksTime(h.LastPing)), append(lastOK, checksTime(h.LastSuccess)), append(since, checksTime(h.Since))
		durs, codes, failed = append(durs, checksDuration(h.LastDuration)), append(codes, checksInt(h.ExitCode)), append(failed, h.Failed)
	}
	sp, err := w.tx.Begin(w.ctx)
	if err != nil {
		return nil, err
	}
	defer sp.Rollback(w.ctx)
	rows, err := sp.Query(w.ctx, upsertHeartbeats, ids, tokens, lastPing, lastOK, started, durs, codes, failed, since)
	if err != nil {
		return nil, err
	}
	written := make(map[int64]bool, n)
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		written[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return written, sp.Commit(w.ctx)
}

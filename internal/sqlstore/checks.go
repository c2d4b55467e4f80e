package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/checkstore"
)

// Reads of states, results, rollups and events see what has been written,
// not what is still queued: up to FlushInterval behind SaveResult and
// SaveState. Pings and heartbeats are read together with what the store
// has queued (see Pings and Heartbeats), which is the store's own.

// States returns the current state of every check, by name.
func (db *DB) States(ctx context.Context) ([]nightowl.State, error) {
	rows, err := db.query(ctx, db.read, `SELECT c.name, s.status, s.since, s.pending, s.streak,
		s.last_run, s.cause, s.blocked_by, s.underlying, s.runs, s.failures
		FROM states s JOIN checks c ON c.id = s.check_id ORDER BY c.name`+db.d.ByName)
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.State, error) {
		var st nightowl.State
		err := sc.Scan(&st.Check, &st.Status, At(&st.Since), &st.Pending, &st.Streak,
			At(&st.LastRun), &st.Cause, &st.BlockedBy, &st.Underlying, &st.Runs, &st.Fails)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("read states: %w", err)
	}
	return out, nil
}

// Results returns up to limit of the check's recent results, newest first;
// limit <= 0 means all that are kept.
func (db *DB) Results(ctx context.Context, check string, limit int) ([]nightowl.Result, error) {
	rows, err := db.query(ctx, db.read, `SELECT due, start, ok, duration_ns, status, error, facts, assertions
		FROM results WHERE check_id = (SELECT id FROM checks WHERE name = ?)
		ORDER BY `+db.d.Recent+` DESC LIMIT ?`, check, db.limit(limit))
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.Result, error) {
		r := nightowl.Result{Check: check}
		var dur int64
		var facts, assertions []byte
		if err := sc.Scan(At(&r.Due), At(&r.Start), &r.OK, &dur, &r.Status, &r.Error, &facts, &assertions); err != nil {
			return r, err
		}
		r.Duration = nightowl.Seconds(dur)
		return r, checkstore.DecodeResult(&r, facts, assertions)
	})
	if err != nil {
		return nil, fmt.Errorf("read results of %s: %w", check, err)
	}
	return out, nil
}

// Events returns up to limit events of a check, or of every check when check
// is "", newest first; limit <= 0 means all.
func (db *DB) Events(ctx context.Context, check string, limit int) ([]nightowl.Event, error) {
	var w Where
	if check != "" {
		w.Add(`e.check_id = (SELECT id FROM checks WHERE name = ?)`, check)
	}
	rows, err := db.query(ctx, db.read, `SELECT e.id, c.name, e.time, e.kind, e.from_status, e.to_status, e.cause
		FROM events e JOIN checks c ON c.id = e.check_id`+w.SQL()+` ORDER BY e.time DESC, e.id DESC LIMIT ?`,
		append(w.Args, db.limit(limit))...)
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.Event, error) {
		var e nightowl.Event
		err := sc.Scan(&e.ID, &e.Check, At(&e.Time), &e.Kind, &e.From, &e.To, &e.Cause)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// Rollups returns the check's rollups of period p, oldest first, from the
// one that contains since.
func (db *DB) Rollups(ctx context.Context, check string, p nightowl.Period, since time.Time) ([]nightowl.Rollup, error) {
	period, err := checkstore.PeriodSecs(p)
	if err != nil {
		return nil, err
	}
	from := since.Truncate(time.Duration(period) * time.Second)
	rows, err := db.query(ctx, db.read, `SELECT start, runs, failures, max_ns, hist FROM rollups
		WHERE check_id = (SELECT id FROM checks WHERE name = ?) AND period = ? AND start >= ?
		ORDER BY start`, check, period, db.d.RollupStart(from))
	out, err := Collect(rows, err, func(sc Scanner) (nightowl.Rollup, error) {
		var start time.Time
		var runs, failures, top int64
		var blob []byte
		err := sc.Scan(AtSecond(&start), &runs, &failures, &top, &blob)
		return checkstore.Rollup(check, p, start, runs, failures, top, blob), err
	})
	if err != nil {
		return nil, fmt.Errorf("read rollups of %s: %w", check, err)
	}
	return out, nil
}

// Pings returns up to limit of the check's recent pings, newest first:
// those q holds, not written yet, then the stored ones. limit <= 0, or
// above kept (PingsPerCheck), means kept. commitMu is the lock the store's
// writer holds while it commits: held from the look at memory to the end
// of the read, so that a commit cannot move pings from the one to the
// other in between, and a ping is seen exactly once.
func Pings(ctx context.Context, db *DB, q *checkstore.Queue, commitMu *sync.RWMutex, check string, limit, kept int) ([]nightowl.Ping, error) {
	if limit <= 0 || limit > kept {
		limit = kept
	}
	commitMu.RLock()
	defer commitMu.RUnlock()
	out := q.Pings(check, limit)
	if len(out) == limit {
		return out, nil
	}
	rows, err := db.query(ctx, db.read, `SELECT time, kind, exit_code, rid, duration_ns, method,
		body, truncated, user_agent, remote
		FROM pings WHERE check_id = (SELECT id FROM checks WHERE name = ?)
		ORDER BY `+db.d.Recent+` DESC LIMIT ?`, check, limit-len(out))
	stored, err := Collect(rows, err, func(sc Scanner) (nightowl.Ping, error) {
		p := nightowl.Ping{Check: check}
		var code, dur sql.NullInt64
		var body []byte // NULL, none, reads as empty
		err := sc.Scan(At(&p.Time), &p.Kind, &code, &p.RID, &dur, &p.Method,
			&body, &p.Truncated, &p.UserAgent, &p.Remote)
		p.Body, p.ExitCode, p.Duration = string(body), intFrom(code), durationFrom(dur)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read pings of %s: %w", check, err)
	}
	return append(out, stored...), nil
}

// Heartbeats returns the state of every heartbeat check, by name: what is
// stored, updated with mem, what the store has queued (see
// checkstore.WithQueued).
func Heartbeats(ctx context.Context, db *DB, mem map[string]nightowl.Heartbeat) ([]nightowl.Heartbeat, error) {
	rows, err := db.query(ctx, db.read, `SELECT c.name, COALESCE(h.token, ''), h.last_ping, h.last_success,
		h.started, h.last_duration_ns, h.exit_code, h.failed, h.since
		FROM heartbeats h JOIN checks c ON c.id = h.check_id ORDER BY c.name`+db.d.ByName)
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	defer rows.Close()
	var out []nightowl.Heartbeat
	for rows.Next() {
		var h nightowl.Heartbeat
		var dur, code sql.NullInt64
		var started sql.NullString
		if err := rows.Scan(&h.Check, &h.Token, At(&h.LastPing), At(&h.LastSuccess), &started, &dur, &code,
			&h.Failed, At(&h.Since)); err != nil {
			return nil, fmt.Errorf("read heartbeats: %w", err)
		}
		if q, ok := mem[h.Check]; ok {
			out = append(out, q)
			delete(mem, h.Check)
			continue
		}
		h.LastDuration, h.ExitCode = durationFrom(dur), intFrom(code)
		if started.Valid {
			if h.Started, err = checkstore.DecodeStarted(started.String); err != nil {
				return nil, fmt.Errorf("read heartbeats: started runs of %s: %w", h.Check, err)
			}
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	return checkstore.WithQueued(out, mem), nil
}

func intFrom(n sql.NullInt64) *int {
	if !n.Valid {
		return nil
	}
	v := int(n.Int64)
	return &v
}

func durationFrom(n sql.NullInt64) *nightowl.Seconds {
	if !n.Valid {
		return nil
	}
	v := nightowl.Seconds(n.Int64)
	return &v
}

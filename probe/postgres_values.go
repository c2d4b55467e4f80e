package probe

import (
	"database/sql/driver"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// pgValue turns a column value as pgx decodes it into what an assertion
// compares: whole numbers as int64, other numbers as float64, text as
// string, NULL as nil, arrays as lists. Intervals become seconds, so that
// `rows[0].age < 3600` reads as the query meant it.
func pgValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64, time.Time, map[string]any:
		return x
	case float64:
		return pgFloat(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return pgFloat(float64(x))
	case []byte:
		return string(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = pgValue(e)
		}
		return out
	case pgtype.Numeric:
		return pgNumeric(x)
	case pgtype.Interval:
		if !x.Valid {
			return nil
		}
		// PostgreSQL's own rule when it must compare an interval of
		// months with one of seconds: a month is 30 days.
		days := float64(x.Months)*30 + float64(x.Days)
		return days*86400 + float64(x.Microseconds)/1e6

	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case netip.Prefix:
		if x.IsSingleIP() {
			return x.Addr().String()
		}
		return x.String()
	case fmt.Stringer:
		return x.String()
	case driver.Valuer:
		// The pgtype values a query can return that are not above: Time,
		// Point, ranges. Their Value is a driver type, handled above.
		dv, err := x.Value()
		if err != nil {
			return fmt.Sprint(v)
		}
		if _, again := dv.(driver.Valuer); again {
			return fmt.Sprint(dv)
		}
		return pgValue(dv)
	}
	return fmt.Sprint(v)
}

// pgNumeric keeps sum(), count-like and LSN-difference results whole while
// they fit in an int64; anything with a fraction becomes a float64.
func pgNumeric(n pgtype.Numeric) any {
	if !n.Valid {
		return nil
	}
	if !n.NaN && n.InfinityModifier == pgtype.Finite && n.Exp >= 0 {
		if i, err := n.Int64Value(); err == nil {
			return i.Int64
		}
	}
	f, err := n.Float64Value()
	if err != nil {
		text, _ := n.Value()
		return text
	}
	return pgFloat(f.Float64)
}

// pgFloat spells NaN and the infinities as PostgreSQL does: results are
// stored as JSON, which has no number for them.
func pgFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}

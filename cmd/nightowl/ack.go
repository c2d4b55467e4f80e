package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"

	"github.com/nightowl/nightowl"
)

func cmdAck(e *env, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) int {
		ids, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(ids) == 0 {
			fmt.Fprintln(e.stderr, "nightowl ack: name the alert to acknowledge (nightowl status lists open alerts)")
			return exitBadConfig
		}
		code := exitOK
		for _, id := range ids {
			var body struct {
				Alert   nightowl.Alert `json:"alert"`
				Already bool           `json:"already"`
			}
			_, err := apiDo(ctx, e, "POST", "/api/v1/alerts/"+url.PathEscape(id)+"/ack", nil, &body)
			if err != nil {
				fmt.Fprintf(e.stderr, "nightowl ack %s: %v\n", id, err)
				code = exitNotUp
				continue
			}
			a := body.Alert
			what := "acknowledged"
			if body.Already {
				what = "already acknowledged"
			}
			fmt.Fprintf(e.stdout, "%s %s (%s) by %s at %s\n", what, cell(a.ID), cell(a.Check), cell(a.AckedBy), a.AckedAt.Format("2006-01-02 15:04:05 MST"))
		}
		return code
	}
}

// Command demo runs nightowl against a small local web shop, so that a new
// user sees checks go up, degraded and down without any setup or network:
//
//	go run ./examples/demo
//
// The shop listens on 127.0.0.1:8081 and switches itself into read-only mode
// for 30 seconds every three minutes; its queue grows and drains. nightowl
// serves its API on 127.0.0.1:8080 with examples/demo.yaml, and pages a
// stand-in pager that prints each alert, with its acknowledgement link.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nightowl/nightowl/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	started := time.Now()
	readOnly := func() bool { return int(time.Since(started).Seconds())%180 >= 150 }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		banner := ""
		if readOnly() {
			banner = `<p class="banner">This site is currently in read-only mode. We'll return with full functionality soon.</p>`
		}
		fmt.Fprintf(w, "<!doctype html><title>Demo Shop</title>%s<h1>Demo Shop</h1><p>Everything a night owl needs.</p>", banner)
	})
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		depth := int(60 + 60*math.Sin(time.Since(started).Seconds()/40))
		db := "ok"
		if readOnly() {
			db = "read-only"
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"db": %q, "queue_depth": %d}`, db, depth)
	})
	// The pager: what the on-call person's phone would show.
	mux.HandleFunc("POST /pager", func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(os.Stderr, "\n📟 PAGER  %s\n%s\n\n", m.Title, indent(m.Text))
	})
	shop := &http.Server{Addr: "127.0.0.1:8081", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := shop.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("demo shop", "err", err)
			stop()
		}
	}()

	a, err := app.New(ctx, app.Options{ConfigPath: "examples/demo.yaml", Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := a.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "\nnightowl demo running.\n  checks:  curl -s http://%s/api/v1/checks\n  status:  go run ./cmd/nightowl status\n  metrics: curl -s http://%s/metrics\nCtrl-C stops it.\n\n", a.Addr(), a.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Stop(sctx)
	shop.Shutdown(sctx)
}

func indent(s string) string {
	return "         " + strings.ReplaceAll(s, "\n", "\n         ")
}

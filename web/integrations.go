package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/ingest"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// Ingester takes the alerts other tools send to their integration's URL
// (package ingest): it checks the token and the rate, reads the body and
// stores every alert before it returns.
type Ingester interface {
	Receive(ctx context.Context, r ingest.Request) (ingest.Receipt, error)
}

// IntegrationPath is where the integration of a name takes alerts.
const IntegrationPath = "/api/v1/integrations/"

// ForwardedIngestHeader marks a request another node of the cluster passed on
// to the node that handles its integration: that node takes it, and
// passes it on no further. It gives no power: the token is checked all
// the same.
const ForwardedIngestHeader = "X-Nightowl-Forwarded"

// receiveAlerts serves POST /api/v1/integrations/{name}. The token is the
// only credential: Authorization: Bearer TOKEN (what Alertmanager's
// http_config.authorization and Grafana's webhook Authorization header
// send), or ?token=TOKEN for a tool that can only set a URL.
func receiveAlerts(in Ingester) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := r.URL.Query().Get("token")
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, cred, _ := strings.Cut(h, " ")
			if strings.EqualFold(scheme, "Bearer") {
				token = strings.TrimSpace(cred)
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, ingest.MaxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "the body is larger than %d bytes: send fewer alerts at once", ingest.MaxBody))
				return
			}
			kit.WriteError(w, nightowl.Errorf(nightowl.EInvalid, "the body was cut short"))
			return
		}
		rc, err := in.Receive(r.Context(), ingest.Request{
			Integration: r.PathValue("name"), Token: token, Body: body,
			Forwarded: r.Header.Get(ForwardedIngestHeader) != "",
		})
		if err != nil {
			kit.WriteError(w, err)
			return
		}
		kit.WriteJSON(w, http.StatusOK, rc)
	}
}

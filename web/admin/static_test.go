package admin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nightowl/nightowl/web"
)

func TestAdminStaticAssets(t *testing.T) {
	h := web.Handler(web.Options{})
	for _, path := range []string{"/static/admin.css", "/static/admin.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK || rec.Body.Len() < 100 {
			t.Errorf("%s: %d, %d bytes", path, rec.Code, rec.Body.Len())
		}
	}
}

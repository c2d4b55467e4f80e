package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/web"
)

// TestViewerCannotMakeTheServerSpool: a viewer's browser session posts a
// 40 MB multipart body to a route only admins may use. The answer is 403
// before the body is read, and nothing is written to the temporary
// directory meanwhile; a responder's multipart post to a route it may use
// is refused with 415.
func TestViewerCannotMakeTheServerSpool(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s := site(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(checksYAML, s.URL))
	a := startApp(t, cfg)
	base := "http://" + a.Addr()
	userToken(t, a, "vic", nightowl.RoleViewer)
	userToken(t, a, "ana", nightowl.RoleResponder)

	post := func(t *testing.T, user, path string) (int, string, []os.DirEntry) {
		t.Helper()
		_, cookie, err := a.Access().Login(context.Background(), user, "correct horse battery staple", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		sent := make(chan struct{})
		hold := make(chan struct{})
		go func() {
			defer pw.Close()
			fmt.Fprint(pw, "--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nnot-the-token\r\n"+
				"--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big\"\r\n\r\n")
			chunk := make([]byte, 1<<20)
			for range 40 {
				if _, err := pw.Write(chunk); err != nil {
					close(sent)
					return
				}
			}
			close(sent)
			<-hold // and never the closing boundary, until the test is done
		}()
		defer close(hold)
		req, _ := http.NewRequest("POST", base+path, pr)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: cookie})
		type answer struct {
			code int
			body string
			err  error
		}
		got := make(chan answer, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				got <- answer{err: err}
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got <- answer{code: resp.StatusCode, body: string(b)}
		}()
		var ans answer
		select {
		case ans = <-got:
		case <-time.After(10 * time.Second):
			// Guard against a hang: the server is reading the body.
			ans = answer{err: fmt.Errorf("no answer while the body was still being sent")}
		}
		<-sent
		spooled, _ := os.ReadDir(tmp)
		if ans.err != nil {
			t.Errorf("no answer: %v", ans.err)
		}
		return ans.code, ans.body, spooled
	}

	t.Run("viewer to an admin route", func(t *testing.T) {
		code, body, spooled := post(t, "vic", "/admin/users")
		if code != http.StatusForbidden || !strings.Contains(body, "needs the admin role") {
			t.Errorf("answer %d %s, want 403 for the role", code, body)
		}
		if len(spooled) != 0 {
			t.Errorf("the body was spooled to %s: %v", tmp, spooled)
		}
	})
	t.Run("responder to a route it may use", func(t *testing.T) {
		code, body, spooled := post(t, "ana", "/admin/maintenance")
		if code != http.StatusUnsupportedMediaType || !strings.Contains(body, "unsupported_media_type") {
			t.Errorf("answer %d %s, want 415", code, body)
		}
		if len(spooled) != 0 {
			t.Errorf("the body was spooled to %s: %v", tmp, spooled)
		}
	})
}

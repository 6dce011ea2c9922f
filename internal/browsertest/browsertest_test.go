package browsertest_test

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/browsertest"
)

const formPage = `<!doctype html>
<title>echo</title>
<form method="post" action="/echo">
  <input id="msg" name="msg">
  <button id="send" type="submit">Send</button>
</form>`

func echoServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, formPage)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>echoed</title><p id="echo">%s</p>`,
			html.EscapeString(r.FormValue("msg")))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestFormEcho(t *testing.T) {
	srv := echoServer(t)
	ctx := browsertest.New(t)

	const msg = "hello, mailschool"
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL),
		chromedp.SendKeys(chromedp.ID("msg"), msg),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.ID("echo")),
	)
	if err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("echo")))
	if err != nil {
		t.Fatal(err)
	}
	if got != msg {
		t.Errorf("echo = %q, want %q", got, msg)
	}

	browsertest.Screenshot(t, ctx, "echoed")
	png, err := os.ReadFile(filepath.Join(browsertest.ScreenshotDir(t), "echoed.png"))
	if err != nil {
		t.Fatal(err)
	}
	if sig := []byte("\x89PNG\r\n\x1a\n"); !bytes.HasPrefix(png, sig) {
		t.Errorf("screenshot starts with %q, want the PNG signature", png[:min(len(png), len(sig))])
	}
}

package web

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/mailschool/mailschool/internal/browsertest"
	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

// TestBrowserCertificate claims a certificate in Chromium and prints its
// page: the certificate shows with its QR code, and in print only the
// certificate is left.
func TestBrowserCertificate(t *testing.T) {
	db := storetest.NewSQLite(t)
	app := newTestApp(t, db)
	e, claim := completeCourse(t, app, app.loggedIn(adminEmail, adminPassword), "zoe@example.com")
	ctx := browsertest.New(t)

	err := chromedp.Do(ctx,
		chromedp.Navigate(app.srv.URL+claim),
		chromedp.WaitVisible(chromedp.ID("name")),
	)
	if err != nil {
		t.Fatalf("open the claim link: %v", err)
	}
	browsertest.Screenshot(t, ctx, "1-claim")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("name"), "Zoë Ünal-Øster"),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.certificate`)),
	)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	c, err := db.Read().CertificateOfEnrollment(t.Context(), 1, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	location, _ := chromedp.Run(ctx, chromedp.Location())
	name, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`.certificate-name`)))
	if !strings.HasSuffix(location, learning.CertificatePath(c.Number)) || name != "Zoë Ünal-Øster" {
		t.Errorf("after the claim the browser is at %q, showing %q", location, name)
	}
	qr, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const img = document.querySelector(".certificate-qr"); return img.complete && img.naturalWidth > 100 })()`))
	if err != nil || !qr {
		t.Errorf("the QR code did not load: %v", err)
	}
	browsertest.Screenshot(t, ctx, "2-certificate")

	shown := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`["header.public-site", "footer.public-site", ".no-print", ".certificate", ".certificate-qr"]
			.map(s => s + "=" + getComputedStyle(document.querySelector(s)).display).join(" ")`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := shown(); strings.Contains(got, "none") {
		t.Errorf("on screen: %s", got)
	}
	err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := "header.public-site=none footer.public-site=none .no-print=none .certificate=block .certificate-qr=block"
	if got := shown(); got != want {
		t.Errorf("printed: %s, want %s", got, want)
	}
	browsertest.Screenshot(t, ctx, "3-printed")
}

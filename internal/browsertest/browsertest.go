// Package browsertest runs end-to-end tests in a headless Chromium driven by
// chromedp.
//
// It uses the Chromium that Debian packages (apt-get install chromium), so the
// tests run the same browser on developer machines and in CI, and nothing is
// downloaded at run time: the machines that run the tests have no internet,
// and every background connection of the browser is switched off. Without a
// Chromium, the tests skip, except in CI (CI=true), where they fail.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeout bounds the actions of one test on the context that New returns.
const Timeout = 60 * time.Second

// PageTimeout is what NewFor gives each page of a test that visits many:
// a walk's budget grows with the pages it visits.
const PageTimeout = 10 * time.Second

// ExecPath returns the Chromium to run: $MAILSCHOOL_CHROMIUM when set, else
// Debian's /usr/bin/chromium, else chromium or chromium-browser on the PATH.
func ExecPath() (string, error) {
	if p := os.Getenv("MAILSCHOOL_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("MAILSCHOOL_CHROMIUM: %w", err)
		}
		return path, nil
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", errors.New("no Chromium found (apt-get install chromium, or set MAILSCHOOL_CHROMIUM)")
}

// New starts a fresh headless Chromium for one test, with a new profile in
// t.TempDir(), and returns a chromedp context for its tab. The context expires
// after Timeout. The browser closes in t.Cleanup.
//
// Without a Chromium, New skips the test, or fails it when CI=true.
//
// The output of the browser and of chromedp goes to the test log only when the
// test fails.
func New(t testing.TB) context.Context {
	t.Helper()
	return NewFor(t, Timeout)
}

// NewFor is New with a context that expires after d instead of Timeout,
// for a test whose length depends on what it visits.
func NewFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	path, err := ExecPath()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}

	// The profile directory is registered for removal before the browser is
	// closed, so the cleanups run in the right order: browser first.
	profile := t.TempDir()
	var logs syncBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.CombinedOutput(&logs),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(logs.printf), chromedp.WithErrorf(logs.printf))
	t.Cleanup(func() {
		closeCtx, cancel := context.WithTimeout(browserCtx, 10*time.Second)
		defer cancel()
		if err := chromedp.Cancel(closeCtx); err != nil {
			logs.printf("closing the browser: %v", err)
		}
		cancelBrowser()
		cancelAlloc() // waits for the browser process and its output
		if t.Failed() && logs.Len() > 0 {
			t.Logf("browser output:\n%s", logs.String())
		}
	})

	// Start the browser now, with a context that has no deadline: the first
	// action binds the life of the browser to its context. A hung start is
	// still cut off after Timeout.
	stop := time.AfterFunc(Timeout, cancelBrowser)
	err = chromedp.Do(browserCtx)
	stop.Stop()
	if err != nil {
		t.Fatalf("starting %s: %v", path, err) // the cleanup logs the output
	}

	ctx, cancel := context.WithTimeout(browserCtx, d)
	t.Cleanup(cancel)
	return ctx
}

// Screenshot saves a full-page PNG of the tab of ctx as <name>.png in
// ScreenshotDir(t), and logs its path.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(ScreenshotDir(t), sanitize(name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// ScreenshotDir returns the directory for the screenshots of t, and creates
// it: $MAILSCHOOL_SCREENSHOT_DIR/<test name> when the variable is set, else
// <os.TempDir()>/mailschool-screenshots/<test name>. Unlike t.TempDir, it
// outlives the test, so that the screenshots can be looked at (or kept as CI
// artifacts).
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	root := os.Getenv("MAILSCHOOL_SCREENSHOT_DIR")
	if root == "" {
		root = filepath.Join(os.TempDir(), "mailschool-screenshots")
	}
	dir := filepath.Join(root, sanitize(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// sanitize makes s safe as one file name: it keeps letters, digits, '.', '-'
// and '_', and replaces everything else, such as the '/' of subtests, by '_'.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
	if strings.Trim(s, ".") == "" {
		return "_" // never "", "." or ".."
	}
	return s
}

// syncBuffer collects the output of the browser and of chromedp, which write
// from their own goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) printf(format string, args ...any) {
	fmt.Fprintf(b, format+"\n", args...)
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package web

import (
	"testing"
	"time"
)

func TestPageCacheExpiresAndForgets(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newPageCache(2 * time.Second)
	c.now = func() time.Time { return clock }

	p := c.put(1, []byte("<p>one</p>"))
	if got, ok := c.get(1); !ok || string(got.body) != "<p>one</p>" || got.etag != p.etag || p.etag == "" {
		t.Fatalf("fresh page = %+v, %v", got, ok)
	}
	if again := c.put(2, []byte("<p>one</p>")); again.etag != p.etag {
		t.Error("the same bytes got another ETag")
	}
	clock = clock.Add(2*time.Second + time.Millisecond)
	if _, ok := c.get(1); ok {
		t.Error("a page is served after its time to live")
	}
	c.put(3, []byte("three"))
	if len(c.pages) != 1 {
		t.Errorf("expired pages kept: %d entries, want 1", len(c.pages))
	}
	c.forget(3)
	if _, ok := c.get(3); ok {
		t.Error("a forgotten page is still served")
	}
}

package learning

import (
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestRenderCacheKeepsTheLastBodiesUpToItsSize(t *testing.T) {
	c := newRenderCache(1000)
	for i := range 10 {
		c.put("body "+strconv.Itoa(i)+strings.Repeat(".", 50), "out "+strconv.Itoa(i)+strings.Repeat(".", 50))
	}
	// 10 entries of 111 bytes: the oldest went.
	for i, want := range []bool{false, true, true, true, true, true, true, true, true, true} {
		out, ok := c.get("body " + strconv.Itoa(i) + strings.Repeat(".", 50))
		if ok != want || ok && !strings.HasPrefix(out, "out "+strconv.Itoa(i)) {
			t.Errorf("body %d: %q, %v; want kept %v", i, out, ok, want)
		}
	}
	if c.size > c.max || c.order.Len() != len(c.entries) {
		t.Errorf("size %d of %d, %d in order, %d in map", c.size, c.max, c.order.Len(), len(c.entries))
	}
	c.get("body 1" + strings.Repeat(".", 50)) // now the most recent: body 2 goes next
	c.put("new", strings.Repeat("x", 60))
	if _, ok := c.get("body 1" + strings.Repeat(".", 50)); !ok {
		t.Error("a body just read was dropped")
	}
	if _, ok := c.get("body 2" + strings.Repeat(".", 50)); ok {
		t.Error("the least recently read body was kept")
	}
	c.put("huge", strings.Repeat("x", 500)) // more than a quarter of the cache
	if _, ok := c.get("huge"); ok {
		t.Error("a body larger than a quarter of the cache was kept")
	}
}

func TestRenderingsFromTheCacheAreTheSame(t *testing.T) {
	body := "# Title\n\nSome *text* <script>x</script> and a [link](https://example.com).\n\n- one\n- two\n"
	html, err := RenderMarkdown(body)
	if err != nil {
		t.Fatal(err)
	}
	text := PlainText(body)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if got, err := RenderMarkdown(body); err != nil || got != html {
					t.Errorf("cached HTML %q, %v; want %q", got, err, html)
					return
				}
				if got := PlainText(body); got != text {
					t.Errorf("cached text %q; want %q", got, text)
					return
				}
			}
		})
	}
	wg.Wait()
	src, doc, _ := parse(body)
	if text != plainText(src, doc) || strings.Contains(html, "<script>") {
		t.Errorf("the cached renderings differ from fresh ones")
	}
}

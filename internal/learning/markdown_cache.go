package learning

import (
	"container/list"
	"sync"
)

// Rendering a lesson costs far more than looking it up: the delivery
// engine renders the same lesson for every learner it is sent to, so the
// renderings of the bodies seen last are kept, up to a size. Rendering
// depends on nothing but the body, so a kept result is always right.
var (
	htmlCache = newRenderCache(renderCacheBytes)
	textCache = newRenderCache(renderCacheBytes)
)

// renderCacheBytes bounds each cache: the bodies and their renderings.
// An entry may take a quarter of it, 2 MiB, which holds a body of the
// largest size with any rendering the bounds of markdown_limits.go leave
// possible (a few hundred kilobytes), so that no lesson is rendered again
// for every view for being large; and hundreds of usual lessons.
const renderCacheBytes = 8 << 20

// renderCache is a least-recently-used map from a body to its rendering,
// bounded by the bytes it holds. Safe for concurrent use.
type renderCache struct {
	mu      sync.Mutex
	max     int
	size    int
	order   *list.List // of *renderEntry, most recent first
	entries map[string]*list.Element
}

type renderEntry struct{ body, out string }

func newRenderCache(maxBytes int) *renderCache {
	return &renderCache{max: maxBytes, order: list.New(), entries: map[string]*list.Element{}}
}

func (c *renderCache) get(body string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[body]
	if !ok {
		return "", false
	}
	c.order.MoveToFront(el)
	return el.Value.(*renderEntry).out, true
}

func (c *renderCache) put(body, out string) {
	n := len(body) + len(out)
	if n > c.max/4 {
		return // one body must not push out everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[body]; ok {
		return // rendered meanwhile by another goroutine
	}
	c.entries[body] = c.order.PushFront(&renderEntry{body: body, out: out})
	c.size += n
	for c.size > c.max {
		oldest := c.order.Remove(c.order.Back()).(*renderEntry)
		delete(c.entries, oldest.body)
		c.size -= len(oldest.body) + len(oldest.out)
	}
}

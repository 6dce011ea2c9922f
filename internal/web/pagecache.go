package web

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// pageCache keeps rendered public pages for a short time. Changes made on
// this node forget the page at once; changes made on another node show
// within the time to live.
type pageCache struct {
	ttl time.Duration
	now func() time.Time

	mu    sync.RWMutex
	pages map[int64]cachedPage
}

type cachedPage struct {
	body    []byte
	etag    string
	expires time.Time
}

func newPageCache(ttl time.Duration) *pageCache {
	return &pageCache{ttl: ttl, now: time.Now, pages: map[int64]cachedPage{}}
}

func (c *pageCache) get(id int64) (cachedPage, bool) {
	c.mu.RLock()
	p, ok := c.pages[id]
	c.mu.RUnlock()
	if !ok || c.now().After(p.expires) {
		return cachedPage{}, false
	}
	return p, true
}

func (c *pageCache) put(id int64, body []byte) cachedPage {
	sum := sha256.Sum256(body)
	p := cachedPage{body: body, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, expires: c.now().Add(c.ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Expired pages go when a new one comes, so the map holds at most the
	// pages requested within one time to live.
	for k, old := range c.pages {
		if c.now().After(old.expires) {
			delete(c.pages, k)
		}
	}
	c.pages[id] = p
	return p
}

func (c *pageCache) forget(id int64) {
	c.mu.Lock()
	delete(c.pages, id)
	c.mu.Unlock()
}

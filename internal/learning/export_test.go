package learning

// RenderingCached reports whether the renderings of a body, as HTML and as
// text, are in the caches.
func RenderingCached(body string) (html, text bool) {
	_, html = htmlCache.get(body)
	_, text = textCache.get(body)
	return html, text
}

package learning

import "time"

// RenderingCached reports whether the renderings of a body, as HTML and as
// text, are in the caches.
func RenderingCached(body string) (html, text bool) {
	_, html = htmlCache.get(body)
	_, text = textCache.get(body)
	return html, text
}

// SetImportPace sets how many rows a transaction of the import job
// enrolls and how long a run goes on, until the test ends.
func SetImportPace(t interface{ Cleanup(func()) }, rows int, runFor time.Duration) {
	oldRows, oldRunFor := importChunkRows, importRunFor
	importChunkRows, importRunFor = rows, runFor
	t.Cleanup(func() { importChunkRows, importRunFor = oldRows, oldRunFor })
}

// SetExportPageSize sets how many rows an export reads at a time, until
// the test ends.
func SetExportPageSize(t interface{ Cleanup(func()) }, rows int) {
	old := exportPageSize
	exportPageSize = rows
	t.Cleanup(func() { exportPageSize = old })
}

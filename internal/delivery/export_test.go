package delivery

import "time"

// SetClock makes the engine read the time from now, for tests that move it.
func (e *Engine) SetClock(now func() time.Time) { e.now = now }

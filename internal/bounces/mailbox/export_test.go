package mailbox

import "context"

// Run is one run of the periodic job, for tests.
func Run(p *Poller, ctx context.Context) { p.run(ctx) }

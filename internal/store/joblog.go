package store

import (
	"context"
	"log/slog"
	"strings"
)

// quieterHandler passes records on to a handler, lowering to Debug the
// Info records that routine says are routine: River reports, at Info,
// every migration it checks and its producers' job counts each minute,
// which an operator reading the logs has no use for.
type quieterHandler struct {
	slog.Handler
	routine func(msg string) bool
}

func (h quieterHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.Handler.Enabled(ctx, level)
}

func (h quieterHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo && h.routine(r.Message) {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h quieterHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quieterHandler{h.Handler.WithAttrs(attrs), h.routine}
}

func (h quieterHandler) WithGroup(name string) slog.Handler {
	return quieterHandler{h.Handler.WithGroup(name), h.routine}
}

// quieter returns logger with the Info records routine picks lowered to
// Debug; a nil logger stays nil (River then uses its own default).
func quieter(logger *slog.Logger, routine func(msg string) bool) *slog.Logger {
	if logger == nil {
		return nil
	}
	return slog.New(quieterHandler{logger.Handler(), routine})
}

// routineJobQueueLog picks River's routine Info lines: the producers'
// job counts, logged every minute whenever they changed.
func routineJobQueueLog(msg string) bool {
	return strings.HasSuffix(msg, ": Producer job counts")
}

// everyLine picks every line: the migrator's, whose migrations the store
// logs itself.
func everyLine(string) bool { return true }

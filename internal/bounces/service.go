package bounces

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// The rules' defaults: three soft bounces of an address within seven days
// count as a hard one.
const (
	DefaultSoftLimit  = 3
	DefaultSoftWindow = 7 * 24 * time.Hour
)

// Config holds the rules' settings.
type Config struct {
	// ReturnPaths checks the token of a report's return path.
	ReturnPaths mail.ReturnPaths
	// SoftLimit soft bounces of an address within SoftWindow count as a
	// hard bounce; DefaultSoftLimit and DefaultSoftWindow when zero.
	SoftLimit  int
	SoftWindow time.Duration
	// BlockPlatformWide blocks an address that bounced hard for every
	// organization, not only for the one whose email bounced.
	BlockPlatformWide bool
	Logger            *slog.Logger
}

// Service applies the bounce rules: it implements Recorder.
type Service struct {
	db     *store.DB
	learn  *learning.Service
	cfg    Config
	logger *slog.Logger
	now    func() time.Time
}

var _ Recorder = (*Service)(nil)

// NewService returns the bounce rules of db. Enrollments end through learn,
// so that its OnEnd hooks (the delivery engine cancelling what is
// pending, the report counters) run as when staff cancel one.
func NewService(db *store.DB, learn *learning.Service, cfg Config) *Service {
	if cfg.SoftLimit <= 0 {
		cfg.SoftLimit = DefaultSoftLimit
	}
	if cfg.SoftWindow <= 0 {
		cfg.SoftWindow = DefaultSoftWindow
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{db: db, learn: learn, cfg: cfg, logger: cfg.Logger, now: time.Now}
}

// SetClock replaces the service's clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// providerSources are the sources whose reports are authenticated by
// their provider's signature: they may name the email by its Message-ID.
// Anyone can write to a bounce mailbox, so a mailbox report must carry
// the email's signed return path.
var providerSources = map[string]bool{"ses": true, "sendgrid": true, "postmark": true, "mailgun": true}

// systemActor is who the audit log says acted for changes mailschool
// makes on its own.
var systemActor = &store.User{Email: "mailschool"}

// Record applies a report in one transaction: it finds the email the
// report is about, logs the bounce once per source and source id, and
// applies the rules. A report that names no email mailschool sent to
// that recipient for an organization (a forgery, another sender's
// bounce, an email deleted with its organization) changes nothing and is
// no error.
func (s *Service) Record(ctx context.Context, r Report) error {
	if r.Kind != Hard && r.Kind != Soft && r.Kind != Complaint {
		return fmt.Errorf("record bounce from %s: unknown kind %q", r.Source, r.Kind)
	}
	if r.Source == "" || r.SourceID == "" {
		return fmt.Errorf("record %s bounce of %s: no source or source id", r.Kind, r.Recipient)
	}
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		m, ok, err := s.find(ctx, q, r)
		if err != nil || !ok {
			return err
		}
		return s.apply(ctx, q, m, r)
	})
	if err != nil {
		return fmt.Errorf("record %s bounce of %s from %s: %w", r.Kind, r.Recipient, r.Source, err)
	}
	return nil
}

// RecordRefusal records an email refused for good at send time as a hard
// bounce, in the transaction that marks it failed: the mail service's
// RefusalRecorder.
func (s *Service) RecordRefusal(ctx context.Context, q *store.Queries, m store.MailMessage, diagnostic string) error {
	if m.OrganizationID == nil {
		return nil // the platform's own email: no organization's rules
	}
	return s.apply(ctx, q, m, Report{Kind: Hard, Recipient: m.Recipient, Diagnostic: diagnostic,
		Source: "smtp", SourceID: strconv.FormatInt(m.ID, 10), At: s.now()})
}

// find returns the email a report is about: the one its return path
// names, when the token is valid; for a provider's report, the one with
// its Message-ID. ok is false when there is none to apply it to.
func (s *Service) find(ctx context.Context, q *store.Queries, r Report) (store.MailMessage, bool, error) {
	log := s.logger.With("source", r.Source, "source_id", r.SourceID, "kind", string(r.Kind))
	var (
		m   store.MailMessage
		err error
	)
	if id, signature, ok := s.cfg.ReturnPaths.Parse(r.ReturnPath); ok {
		m, err = q.MailMessageSummary(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			log.Debug("bounce of an email no longer kept: dropped", "message", id)
			return store.MailMessage{}, false, nil
		case err != nil:
			return store.MailMessage{}, false, err
		case !s.cfg.ReturnPaths.Valid(id, m.MessageID, signature):
			log.Info("bounce with a forged return path: ignored", "return_path", r.ReturnPath)
			return store.MailMessage{}, false, nil
		}
	} else if providerSources[r.Source] && r.MessageID != "" {
		m, err = q.MailMessageByHeaderID(ctx, strings.Trim(r.MessageID, "<>"))
		if errors.Is(err, store.ErrNotFound) {
			log.Debug("bounce of an email not found by its Message-ID: dropped", "message_id", r.MessageID)
			return store.MailMessage{}, false, nil
		}
		if err != nil {
			return store.MailMessage{}, false, err
		}
	} else {
		log.Info("bounce naming no email of ours: ignored", "return_path", r.ReturnPath, "message_id", r.MessageID)
		return store.MailMessage{}, false, nil
	}
	if m.OrganizationID == nil {
		log.Debug("bounce of a platform email: no rules apply", "message", m.ID)
		return store.MailMessage{}, false, nil
	}
	if !strings.EqualFold(strings.TrimSpace(r.Recipient), m.Recipient) {
		log.Info("bounce of another recipient than the email's: ignored", "message", m.ID)
		return store.MailMessage{}, false, nil
	}
	return m, true, nil
}

// apply logs the bounce of m and applies the rules, unless a report of the
// same source and id was applied before.
func (s *Service) apply(ctx context.Context, q *store.Queries, m store.MailMessage, r Report) error {
	orgID := *m.OrganizationID
	email := strings.ToLower(m.Recipient)
	at := r.At
	if at.IsZero() {
		at = s.now()
	}
	at = at.UTC()
	added, err := q.AddBounce(ctx, store.Bounce{OrganizationID: orgID, MessageID: &m.ID, EnrollmentID: m.EnrollmentID,
		Email: email, Kind: string(r.Kind), Diagnostic: clip(r.Diagnostic, 1000), Source: r.Source, SourceID: r.SourceID,
		OccurredAt: at})
	if err != nil || !added {
		return err
	}
	if err := q.CountDaily(ctx, orgID, s.now(), store.BounceMetric+string(r.Kind), 1); err != nil {
		return err
	}
	switch r.Kind {
	case Complaint:
		if m.EnrollmentID != nil {
			if _, err := s.learn.End(ctx, q, orgID, *m.EnrollmentID, store.EnrollmentUnsubscribed); err != nil {
				return err
			}
		}
		return s.block(ctx, q, orgID, email, false, "complaint", r.Diagnostic)
	case Hard:
		return s.block(ctx, q, orgID, email, s.cfg.BlockPlatformWide, "hard", r.Diagnostic)
	}
	n, err := q.CountBounces(ctx, orgID, email, string(Soft), at.Add(-s.cfg.SoftWindow))
	if err != nil || n < s.cfg.SoftLimit {
		return err
	}
	// A full mailbox says nothing of other organizations' email: the
	// count blocks for this organization only.
	return s.block(ctx, q, orgID, email, false, fmt.Sprintf("%d soft bounces", n), r.Diagnostic)
}

// block blocks an address for the organization (and, with platformWide,
// for every organization), ends its open enrollments there as staff's
// cancelling does, and notes a new block in the audit log.
func (s *Service) block(ctx context.Context, q *store.Queries, orgID int64, email string, platformWide bool, reason, diagnostic string) error {
	added, err := q.BlockEmailIfNew(ctx, orgID, email)
	if err != nil {
		return err
	}
	scope := "this organization"
	if platformWide {
		addedEverywhere, err := q.BlockEmailIfNew(ctx, 0, email)
		if err != nil {
			return err
		}
		if addedEverywhere {
			scope = "every organization"
		}
		added = added || addedEverywhere
	}
	ids, err := q.OpenEnrollmentsOf(ctx, orgID, email)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.learn.End(ctx, q, orgID, id, store.EnrollmentCancelled); err != nil {
			return err
		}
	}
	if !added {
		return nil
	}
	s.logger.Info("address blocked after a bounce", "organization", orgID, "reason", reason, "platform_wide", scope != "this organization")
	return orgs.Record(ctx, q, orgs.Event{Kind: orgs.AddressBlocked, OrganizationID: orgID, Actor: systemActor, Target: email,
		New: map[string]string{"bounce": reason, "diagnostic": clip(diagnostic, 200), "scope": scope}})
}

// clip cuts s to at most n bytes, at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

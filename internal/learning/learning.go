// Package learning holds the rules of what organizations teach: courses
// and their content (lessons and quizzes), learners, enrollments from the
// public page with double opt-in, unsubscribing and blocked addresses,
// quizzes answered on their emailed pages.
package learning

import (
	"strings"
	"time"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
)

// Config configures a Service.
type Config struct {
	Mail      *mail.Service
	BaseURL   string // the site's absolute URL, for links in emails
	SecretKey string // signs unsubscribe, quiz and certificate claim links
}

// Service applies the learning rules on top of the store. Its methods take
// the acting user and the organization id first, and ask orgs.Authorize.
type Service struct {
	db        *store.DB
	mail      *mail.Service
	baseURL   string
	secretKey []byte
	now       func() time.Time

	// Hooks and the delivery list of enrollments (enrollment.go), set at
	// start-up by the delivery engine.
	onActivate []EnrollmentHook
	onEnd      []EnrollmentHook
	onFinish   []EnrollmentHook
	onEvent    []EventHook // events.go
	deliveries DeliveryLister
	scheduler  Scheduler // quiz.go
}

// NewService returns the learning service backed by db. It registers its
// own OnFinish hook first: a completed enrollment gets its certificate
// (certificates.go); then the hooks that count for the reports.
func NewService(db *store.DB, cfg Config) *Service {
	s := &Service{db: db, mail: cfg.Mail, baseURL: strings.TrimRight(cfg.BaseURL, "/"),
		secretKey: []byte(cfg.SecretKey), now: time.Now}
	s.OnFinish(s.issueCertificate)
	// The reports' counters (report_counters.go).
	s.OnActivate(s.countActivated)
	s.OnEnd(s.countEnded)
	s.OnFinish(s.countEnded)
	return s
}

// SetClock replaces the service's clock, for tests of expiry.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

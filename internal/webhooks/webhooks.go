// Package webhooks holds an organization's outgoing webhooks: the
// endpoints its admins set up (endpoints.go), the events of the
// organization and learning rules written as messages to them in the
// transaction of each change (events.go), and their sending.
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/mailschool/mailschool/internal/learning"
	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/store"
)

// Kick is told, still inside the transaction that wrote them, of the
// endpoints that have new pending messages, so that they are sent soon
// after it commits. The dispatcher provides it.
type Kick func(ctx context.Context, q *store.Queries, endpointIDs []int64) error

// Options configure a Service.
type Options struct {
	// CheckURL refuses an endpoint address the platform may not post to
	// (the server-side request forgery guard), with a plain sentence.
	// Without one only https addresses are taken.
	CheckURL func(ctx context.Context, rawURL string) error
	// Learning gives the links of certificates in the payloads; may be
	// nil, and then certificates have no link.
	Learning *learning.Service
}

// Service manages the endpoints and writes the events.
type Service struct {
	db       *store.DB
	checkURL func(ctx context.Context, rawURL string) error
	learning *learning.Service
	kick     Kick
	now      func() time.Time
}

// NewService returns the webhooks service backed by db.
func NewService(db *store.DB, opts Options) *Service {
	return &Service{db: db, checkURL: opts.CheckURL, learning: opts.Learning, now: time.Now}
}

// SetKick sets what is told of new pending messages; nil tells nobody, and
// the dispatcher's periodic pass still finds them. Set it at start-up.
func (s *Service) SetKick(k Kick) { s.kick = k }

// SetClock replaces the service's clock, for tests.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// Attach subscribes the service to the events of the organizations and of
// the learning rules: each becomes a message to every endpoint that wants
// it, in the transaction of the change. Attach at start-up.
func (s *Service) Attach(o *orgs.Service, l *learning.Service) {
	if o != nil {
		o.OnEvent(s.onOrganizationEvent)
	}
	if l != nil {
		l.OnEvent(s.onLearningEvent)
	}
}

// NewSecret is a new signing secret: "whsec_" and 24 random bytes in
// standard base64, as Standard Webhooks writes them.
func NewSecret() string {
	b := make([]byte, 24)
	rand.Read(b) // never fails (crypto/rand)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// NewEventID is a new event's id: "msg_" and 128 random bits in hex. It is
// the webhook-id of each of its messages.
func NewEventID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "msg_" + hex.EncodeToString(b)
}

// kickEndpoints tells the dispatcher of new messages, if there is one.
func (s *Service) kickEndpoints(ctx context.Context, q *store.Queries, ids []int64) error {
	if s.kick == nil || len(ids) == 0 {
		return nil
	}
	return s.kick(ctx, q, ids)
}

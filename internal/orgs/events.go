package orgs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/mailschool/mailschool/internal/store"
)

// EventKind names a change in an organization.
type EventKind string

const (
	OrganizationCreated EventKind = "organization.created"
	OrganizationUpdated EventKind = "organization.updated"
	OrganizationDeleted EventKind = "organization.deleted"
	// A platform admin suspended the organization, or resumed it.
	OrganizationSuspended EventKind = "organization.suspended"
	OrganizationResumed   EventKind = "organization.resumed"
	MemberAdded           EventKind = "member.added"
	MemberRemoved         EventKind = "member.removed"
	MemberLeft            EventKind = "member.left"
	// A member deleted their account, and with it their memberships.
	AccountDeleted       EventKind = "member.account_deleted"
	RoleChanged          EventKind = "member.role_changed"
	OwnershipTransferred EventKind = "ownership.transferred"
	OwnershipOffered     EventKind = "ownership.offered"
	// An offer ends without a transfer: withdrawn by the owner, or
	// declined by the member it named.
	OwnershipOfferWithdrawn EventKind = "ownership.offer_withdrawn"
	OwnershipOfferDeclined  EventKind = "ownership.offer_declined"
	InvitationCreated       EventKind = "invitation.created"
	InvitationRenewed       EventKind = "invitation.renewed" // invited again: new role, link and expiry
	InvitationResent        EventKind = "invitation.resent"
	InvitationRevoked       EventKind = "invitation.revoked"
	InvitationAccepted      EventKind = "invitation.accepted"
	APIKeyCreated           EventKind = "api_key.created"
	APIKeyRevoked           EventKind = "api_key.revoked"
	APIKeyRevokedUse        EventKind = "api_key.revoked_use" // a request came with a revoked key
	CertificateRevoked      EventKind = "certificate.revoked"
	// A CSV import of learners into a course ended: its counts, and who
	// stated the organization holds their consent, if anyone did.
	LearnersImported EventKind = "learners.imported"
	// Webhook endpoints: added, changed (address, events, description,
	// enabled), removed, and given a new signing secret.
	WebhookCreated       EventKind = "webhook.created"
	WebhookUpdated       EventKind = "webhook.updated"
	WebhookDeleted       EventKind = "webhook.deleted"
	WebhookSecretRotated EventKind = "webhook.secret_rotated"
	// mailschool blocked an address after a bounce or a complaint.
	AddressBlocked EventKind = "address.blocked"
	// An admin lifted the block of an address, with a note.
	AddressUnblocked EventKind = "address.unblocked"
)

// OrganizationImported: the organization was made from an export; the
// entries before it are the exported organization's.
const OrganizationImported EventKind = "organization.imported"

// Event is a change in an organization, announced inside the transaction
// that makes it.
type Event struct {
	Kind           EventKind
	OrganizationID int64
	Actor          *store.User
	UserID         int64  // the member concerned; 0 when none (or no account yet)
	Target         string // what was changed, as people name it: an email address, "settings"
	Old, New       map[string]string
}

// Hook is told of every event, inside the transaction that makes the
// change: it may write with q (or enqueue a job), and an error it returns
// undoes the change. Later features (webhooks, notifications) attach here.
type Hook func(ctx context.Context, q *store.Queries, e Event) error

// OnEvent adds a hook. Add hooks at start-up, before the service is used.
func (s *Service) OnEvent(h Hook) { s.hooks = append(s.hooks, h) }

// emit records an event in the organization's audit log and announces it
// to the hooks: every change of membership, role, ownership, invitation or
// settings passes here.
func (s *Service) emit(ctx context.Context, q *store.Queries, e Event) error {
	if err := Record(ctx, q, e); err != nil {
		return err
	}
	for _, h := range s.hooks {
		if err := h(ctx, q, e); err != nil {
			return fmt.Errorf("event %s: %w", e.Kind, err)
		}
	}
	return nil
}

// Record writes an event's row in the organization's audit log, for the
// other domain packages' changes (a certificate's revocation), inside
// their transaction. It runs no hooks: those are registered on the
// organizations' service, which the other packages do not hold.
func Record(ctx context.Context, q *store.Queries, e Event) error {
	entry := store.AuditEntry{
		OrganizationID: e.OrganizationID,
		Action:         string(e.Kind),
		Target:         e.Target,
		OldValue:       encodeValues(e.Old),
		NewValue:       encodeValues(e.New),
	}
	entry.ActorEmail = ActorName(e.Actor)
	if e.Actor != nil && e.Actor.ID != 0 {
		entry.ActorID = &e.Actor.ID
	}
	if e.UserID != 0 {
		entry.TargetUserID = &e.UserID
	}
	return q.AddAuditEntry(ctx, entry)
}

// ActorName names who acted as the audit log does: the account's address,
// or for an API key, which has no account, the key and the address of
// whoever created it.
func ActorName(actor *store.User) string {
	switch {
	case actor == nil:
		return ""
	case actor.APIKey != nil:
		return fmt.Sprintf("API key %q (%s)", actor.APIKey.Name, actor.Email)
	}
	return actor.Email
}

func encodeValues(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return string(b)
}

func decodeValues(s string) map[string]string {
	if s == "" {
		return nil
	}
	var m map[string]string
	if json.Unmarshal([]byte(s), &m) != nil {
		return map[string]string{"value": s}
	}
	return m
}

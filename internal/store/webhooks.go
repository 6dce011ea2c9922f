package store

import "time"

// WebhookEndpoint is where an organization's events are posted.
type WebhookEndpoint struct {
	ID             int64
	OrganizationID int64
	URL            string
	Description    string
	// Events are the subscribed event types; ["*"] for all.
	Events  []string
	Enabled bool
	// Secret signs each request ("whsec_" + base64). After a rotation
	// PreviousSecret signs too, until PreviousSecretUntil.
	Secret              string
	PreviousSecret      string
	PreviousSecretUntil *time.Time
	// FailingSince is when the current run of failed deliveries began;
	// nil while the last delivery succeeded.
	FailingSince   *time.Time
	DisabledReason string
	CreatedBy      *int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// WebhookMessageStatus is where a message to an endpoint stands.
type WebhookMessageStatus string

const (
	WebhookPending   WebhookMessageStatus = "pending"   // to be sent, or sent again after a failure
	WebhookDelivered WebhookMessageStatus = "delivered" // the endpoint answered 2xx
	WebhookFailed    WebhookMessageStatus = "failed"    // given up: a final answer, or retried for too long
)

// WebhookMessage is one event for one endpoint. EventID is the
// webhook-id header, the same on every attempt.
type WebhookMessage struct {
	ID             int64
	EndpointID     int64
	OrganizationID int64
	EventID        string
	EventType      string
	// Subject orders messages: those of one endpoint and one subject
	// ("enrollment:<id>") are delivered in id order; "" for none.
	Subject       string
	Payload       string
	Status        WebhookMessageStatus
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
	FinishedAt    *time.Time
}

// WebhookAttempt is one try at delivering a message: the delivery log.
type WebhookAttempt struct {
	ID         int64
	MessageID  int64
	EndpointID int64
	Attempt    int
	StatusCode *int // nil when no answer came; Error says what happened
	Duration   time.Duration
	Response   string // the answer's first 1 KiB
	Error      string
	CreatedAt  time.Time
}

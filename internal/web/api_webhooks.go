package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// webhookJSON is a webhook endpoint in the API; its secret only in the
// answers that make one (createdWebhookJSON, webhookSecretJSON).
type webhookJSON struct {
	ID                  int64      `json:"id"`
	URL                 string     `json:"url"`
	Description         string     `json:"description"`
	Events              []string   `json:"events"`
	Enabled             bool       `json:"enabled"`
	DisabledReason      string     `json:"disabled_reason"`
	FailingSince        *time.Time `json:"failing_since"`
	PreviousSecretUntil *time.Time `json:"previous_secret_until"`
	CreatedAt           time.Time  `json:"created_at"`
	UpdatedAt           time.Time  `json:"updated_at"`
}

func toWebhookJSON(w store.WebhookEndpoint) webhookJSON {
	j := webhookJSON{ID: w.ID, URL: w.URL, Description: w.Description, Events: w.Events, Enabled: w.Enabled,
		DisabledReason: w.DisabledReason, FailingSince: w.FailingSince, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if w.PreviousSecretUntil != nil && w.PreviousSecretUntil.After(time.Now()) {
		j.PreviousSecretUntil = w.PreviousSecretUntil
	}
	if j.Events == nil {
		j.Events = []string{}
	}
	return j
}

type createdWebhookJSON struct {
	webhookJSON
	Secret string `json:"secret"`
}

type webhookSecretJSON struct {
	ID                  int64      `json:"id"`
	Secret              string     `json:"secret"`
	PreviousSecretUntil *time.Time `json:"previous_secret_until"`
}

// webhookDeliveryJSON is one attempt of the delivery log. Status is the
// attempt's outcome: delivered (a 2xx answer) or failed.
type webhookDeliveryJSON struct {
	ID         int64     `json:"id"`
	MessageID  int64     `json:"message_id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Attempt    int       `json:"attempt"`
	Status     string    `json:"status"`
	StatusCode *int      `json:"status_code"`
	DurationMS int64     `json:"duration_ms"`
	Response   string    `json:"response"`
	Error      string    `json:"error"`
	CreatedAt  time.Time `json:"created_at"`
}

func toWebhookDeliveryJSON(d store.WebhookDelivery) webhookDeliveryJSON {
	return webhookDeliveryJSON{ID: d.ID, MessageID: d.MessageID, EventID: d.EventID, EventType: d.EventType, Attempt: d.Attempt,
		Status: deliveryOutcome(d.WebhookAttempt), StatusCode: d.StatusCode, DurationMS: d.Duration.Milliseconds(),
		Response: d.Response, Error: d.Error, CreatedAt: d.CreatedAt}
}

// deliveryOutcome names an attempt's outcome.
func deliveryOutcome(a store.WebhookAttempt) string {
	if a.StatusCode != nil && *a.StatusCode >= 200 && *a.StatusCode < 300 {
		return "delivered"
	}
	return "failed"
}

type webhookQueuedJSON struct {
	MessageID int64 `json:"message_id"`
}

type webhookInput struct {
	URL         *string  `json:"url"`
	Events      []string `json:"events"`
	Description *string  `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

// webhookID reads the webhook id of a path.
func webhookID(r *http.Request) (orgID, id int64, err error) {
	if orgID, err = pathID(r); err != nil {
		return 0, 0, err
	}
	id, err = strconv.ParseInt(r.PathValue("webhook_id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, 0, webhooks.ErrEndpointNotFound
	}
	return orgID, id, nil
}

func (s *Server) apiWebhookList(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	list, err := s.webhooks.Endpoints(r.Context(), currentUser(r.Context()), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listOf(list.Endpoints, 1, 1, toWebhookJSON))
	return nil
}

func (s *Server) apiWebhookCreate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in webhookInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	if in.Enabled != nil && !*in.Enabled {
		return problem.Field("enabled", "enabled_on_create", "A new webhook is enabled; disable it afterwards if need be.")
	}
	if in.Events == nil {
		in.Events = []string{}
	}
	created, err := s.webhooks.Create(r.Context(), currentUser(r.Context()), id, webhooks.Fields{URL: in.URL, Description: in.Description, Events: in.Events})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, createdWebhookJSON{webhookJSON: toWebhookJSON(created), Secret: created.Secret})
	return nil
}

func (s *Server) apiWebhookGet(w http.ResponseWriter, r *http.Request) error {
	orgID, id, err := webhookID(r)
	if err != nil {
		return err
	}
	p, err := s.webhooks.Endpoint(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWebhookJSON(p.Endpoint))
	return nil
}

func (s *Server) apiWebhookUpdate(w http.ResponseWriter, r *http.Request) error {
	orgID, id, err := webhookID(r)
	if err != nil {
		return err
	}
	var in webhookInput
	if err := readJSON(w, r, &in); err != nil {
		return err
	}
	updated, err := s.webhooks.Update(r.Context(), currentUser(r.Context()), orgID, id,
		webhooks.Fields{URL: in.URL, Description: in.Description, Events: in.Events, Enabled: in.Enabled})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toWebhookJSON(updated))
	return nil
}

func (s *Server) apiWebhookDelete(w http.ResponseWriter, r *http.Request) error {
	orgID, id, err := webhookID(r)
	if err != nil {
		return err
	}
	if err := s.webhooks.Delete(r.Context(), currentUser(r.Context()), orgID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiWebhookRotateSecret(w http.ResponseWriter, r *http.Request) error {
	orgID, id, err := webhookID(r)
	if err != nil {
		return err
	}
	rotated, err := s.webhooks.RotateSecret(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, webhookSecretJSON{ID: rotated.ID, Secret: rotated.Secret, PreviousSecretUntil: rotated.PreviousSecretUntil})
	return nil
}

func (s *Server) apiWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	orgID, id, err := webhookID(r)
	if err != nil {
		return err
	}
	before, err := idCursor(r)
	if err != nil {
		return err
	}
	p, err := s.webhooks.Deliveries(r.Context(), currentUser(r.Context()), orgID, id, before)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, listAfter(p.Deliveries, p.Next, toWebhookDeliveryJSON))
	return nil
}

// idCursor reads the cursor of a list that continues below an id.
func idCursor(r *http.Request) (int64, error) {
	c := r.URL.Query().Get("cursor")
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n < 1 {
		return 0, problem.New(problem.Malformed, "invalid_cursor", "The cursor is not one this API gave out.")
	}
	return n, nil
}

func (s *Server) apiWebhookTest(w http.ResponseWriter, r *http.Request) error {
	orgID, id, err := webhookID(r)
	if err != nil {
		return err
	}
	msgID, err := s.webhooks.SendTest(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, webhookQueuedJSON{MessageID: msgID})
	return nil
}

func (s *Server) apiWebhookRedeliver(w http.ResponseWriter, r *http.Request) error {
	orgID, id, err := webhookID(r)
	if err != nil {
		return err
	}
	msgID, err := strconv.ParseInt(r.PathValue("message_id"), 10, 64)
	if err != nil || msgID <= 0 {
		return webhooks.ErrMessageNotFound
	}
	if err := s.webhooks.Redeliver(r.Context(), currentUser(r.Context()), orgID, id, msgID); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, webhookQueuedJSON{MessageID: msgID})
	return nil
}

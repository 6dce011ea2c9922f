package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/mailschool/mailschool/internal/orgs"
	"github.com/mailschool/mailschool/internal/problem"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/webhooks"
)

func webhooksPath(orgID int64) string { return fmt.Sprintf(organizationsPath+"%d/webhooks/", orgID) }

func webhookPath(orgID, id int64) string {
	return fmt.Sprintf(organizationsPath+"%d/webhooks/%d/", orgID, id)
}

// webhooksPage lists an organization's webhooks.
type webhooksPage struct {
	orgs.View
	Endpoints []store.WebhookEndpoint
}

func (s *Server) webhooksList(w http.ResponseWriter, r *http.Request) {
	orgID, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	list, err := s.webhooks.Endpoints(r.Context(), currentUser(r.Context()), orgID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "webhooks.html", "Webhooks", webhooksPage{View: list.View, Endpoints: list.Endpoints})
}

// webhookForm is the form that adds or changes a webhook, with the values
// it shows.
type webhookForm struct {
	orgs.View
	Endpoint    *store.WebhookEndpoint // nil when adding
	URL         string
	Description string
	AllEvents   bool
	Events      map[string]bool
	Groups      []webhooks.EventGroup
	formErrors
}

func (f webhookForm) Checked(eventType string) bool { return f.Events[eventType] }

func formOf(w store.WebhookEndpoint) webhookForm {
	f := webhookForm{URL: w.URL, Description: w.Description, Events: map[string]bool{}}
	for _, e := range w.Events {
		if e == webhooks.AllEvents {
			f.AllEvents = true
		}
		f.Events[e] = true
	}
	return f
}

// postedWebhookForm reads the form's values; the events are ["*"] when
// "all events" is ticked.
func postedWebhookForm(r *http.Request) (webhookForm, []string) {
	f := webhookForm{URL: r.PostFormValue("url"), Description: r.PostFormValue("description"),
		AllEvents: r.PostFormValue("all_events") != "", Events: map[string]bool{}}
	events := r.PostForm["events"]
	for _, e := range events {
		f.Events[e] = true
	}
	if f.AllEvents {
		events = []string{webhooks.AllEvents}
	}
	if events == nil {
		events = []string{}
	}
	return f, events
}

func (s *Server) renderWebhookForm(w http.ResponseWriter, r *http.Request, status int, f webhookForm) {
	f.Groups = webhooks.EventGroups
	title := "Add a webhook"
	if f.Endpoint != nil {
		title = "Change the webhook"
	}
	s.render(w, r, status, "webhook_form.html", title, f)
}

func (s *Server) webhookNewForm(w http.ResponseWriter, r *http.Request) {
	orgID, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	list, err := s.webhooks.Endpoints(r.Context(), currentUser(r.Context()), orgID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.renderWebhookForm(w, r, http.StatusOK, webhookForm{View: list.View, AllEvents: true, Events: map[string]bool{}})
}

// webhookCreate adds a webhook and answers with its page showing the
// secret, not after a redirect: the secret is in no session and no later
// page.
func (s *Server) webhookCreate(w http.ResponseWriter, r *http.Request) {
	orgID, err := pathID(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	form, events := postedWebhookForm(r)
	actor := currentUser(r.Context())
	created, err := s.webhooks.Create(r.Context(), actor, orgID, webhooks.Fields{URL: &form.URL, Description: &form.Description, Events: events})
	if err != nil {
		s.webhookRefused(w, r, orgID, form, err)
		return
	}
	s.renderWebhook(w, r, http.StatusCreated, orgID, created.ID, created.Secret)
}

// webhookRefused shows the form again with the messages beside its
// fields.
func (s *Server) webhookRefused(w http.ResponseWriter, r *http.Request, orgID int64, form webhookForm, err error) {
	p, ok := problem.As(err)
	if !ok || p.Kind == problem.NotFound || p.Kind == problem.Forbidden {
		s.pageError(w, r, err)
		return
	}
	list, err := s.webhooks.Endpoints(r.Context(), currentUser(r.Context()), orgID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	form.View = list.View
	form.formErrors = errorsFor(p, postedFields(r, "url", "events", "description"))
	s.renderWebhookForm(w, r, statusOf(p.Kind), form)
}

// webhookPage is a webhook with a page of its delivery log; Secret is a
// secret just made, shown this once.
type webhookPage struct {
	webhooks.Page
	Secret string
	Cursor int64
}

// Outcome names a delivery's outcome for the page.
func (webhookPage) Outcome(d store.WebhookDelivery) string { return deliveryOutcome(d.WebhookAttempt) }

func (s *Server) renderWebhook(w http.ResponseWriter, r *http.Request, status int, orgID, id int64, secret string) {
	before, _ := strconv.ParseInt(r.URL.Query().Get("cursor"), 10, 64)
	p, err := s.webhooks.Deliveries(r.Context(), currentUser(r.Context()), orgID, id, before)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if secret != "" {
		w.Header().Set("Cache-Control", "no-store")
	}
	s.render(w, r, status, "webhook.html", p.Endpoint.URL, webhookPage{Page: p, Secret: secret, Cursor: before})
}

func webhookIDs(r *http.Request) (orgID, id int64, err error) {
	orgID, id, err = orgAndID(r, "webhook_id")
	if err != nil && orgID != 0 {
		err = webhooks.ErrEndpointNotFound
	}
	return orgID, id, err
}

func (s *Server) webhookShow(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := webhookIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.renderWebhook(w, r, http.StatusOK, orgID, id, "")
}

func (s *Server) webhookEditForm(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := webhookIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p, err := s.webhooks.Endpoint(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f := formOf(p.Endpoint)
	f.View, f.Endpoint = p.View, &p.Endpoint
	s.renderWebhookForm(w, r, http.StatusOK, f)
}

func (s *Server) webhookUpdate(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := webhookIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	form, events := postedWebhookForm(r)
	enabled := r.PostFormValue("enabled") != ""
	actor := currentUser(r.Context())
	_, err = s.webhooks.Update(r.Context(), actor, orgID, id, webhooks.Fields{URL: &form.URL, Description: &form.Description,
		Events: events, Enabled: &enabled})
	if err != nil {
		p, ok := problem.As(err)
		if !ok || p.Kind == problem.NotFound || p.Kind == problem.Forbidden {
			s.pageError(w, r, err)
			return
		}
		page, err := s.webhooks.Endpoint(r.Context(), actor, orgID, id)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		page.Endpoint.Enabled = enabled
		form.View, form.Endpoint = page.View, &page.Endpoint
		form.formErrors = errorsFor(p, postedFields(r, "url", "events", "description"))
		s.renderWebhookForm(w, r, statusOf(p.Kind), form)
		return
	}
	s.flashNext(r, "The webhook is saved.")
	http.Redirect(w, r, webhookPath(orgID, id), http.StatusSeeOther)
}

// webhookConfirmPage asks before a webhook is removed or given a new
// secret.
type webhookConfirmPage struct {
	webhooks.Page
	Rotate bool
}

func (s *Server) webhookConfirm(rotate bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		orgID, id, err := webhookIDs(r)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		p, err := s.webhooks.Endpoint(r.Context(), currentUser(r.Context()), orgID, id)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		title := "Remove the webhook"
		if rotate {
			title = "Rotate the webhook's secret"
		}
		s.render(w, r, http.StatusOK, "webhook_confirm.html", title, webhookConfirmPage{Page: p, Rotate: rotate})
	}
}

func (s *Server) webhookDelete(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := webhookIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := s.webhooks.Delete(r.Context(), currentUser(r.Context()), orgID, id); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, "The webhook is removed: no more events are sent to it.")
	http.Redirect(w, r, webhooksPath(orgID), http.StatusSeeOther)
}

// webhookRotateSecret answers with the webhook's page showing the new
// secret, this once.
func (s *Server) webhookRotateSecret(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := webhookIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	rotated, err := s.webhooks.RotateSecret(r.Context(), currentUser(r.Context()), orgID, id)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.renderWebhook(w, r, http.StatusOK, orgID, id, rotated.Secret)
}

func (s *Server) webhookSendTest(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := webhookIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if _, err := s.webhooks.SendTest(r.Context(), currentUser(r.Context()), orgID, id); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, "A test event is on its way; its delivery shows below in a moment.")
	http.Redirect(w, r, webhookPath(orgID, id), http.StatusSeeOther)
}

func (s *Server) webhookRedeliver(w http.ResponseWriter, r *http.Request) {
	orgID, id, err := webhookIDs(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	msgID, err := strconv.ParseInt(r.PathValue("message_id"), 10, 64)
	if err != nil || msgID <= 0 {
		s.pageError(w, r, webhooks.ErrMessageNotFound)
		return
	}
	if err := s.webhooks.Redeliver(r.Context(), currentUser(r.Context()), orgID, id, msgID); err != nil {
		s.pageError(w, r, err)
		return
	}
	s.flashNext(r, "The event is sent again; its delivery shows below in a moment.")
	http.Redirect(w, r, webhookPath(orgID, id), http.StatusSeeOther)
}

package main

import (
	"github.com/mailschool/mailschool/internal/config"
	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/netguard"
	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/webhooks"
)

// newGuard is what webhook requests may reach: public addresses, and the
// ranges MAILSCHOOL_WEBHOOK_ALLOWED_NETWORKS lists. The endpoints' URLs
// are checked with it when saved, and every connection when made.
func newGuard(cfg config.Config) *netguard.Guard {
	return netguard.New(netguard.Options{Allowed: cfg.WebhookAllowedNetworks})
}

// newDispatcher builds the webhook dispatcher, which sends through guard.
func newDispatcher(a *app, cfg config.Config, db *store.DB, mailer *mail.Service, guard *netguard.Guard) *webhooks.Dispatcher {
	return webhooks.NewDispatcher(db, webhooks.Config{
		Guard:   guard,
		Mail:    mailer,
		BaseURL: cfg.BaseURL,
		Logger:  a.logger.With("component", "webhooks"),
	})
}
